"""Schedules: daily, weekly, monthly and cron periods in a local time zone.

A tracker with a ``schedule`` starts over at every period boundary::

    from dictrack.schedules import Daily, Weekly, Monthly, Cron

    Daily(at="04:00", tz="Europe/Berlin")          # every day at 04:00 Berlin time
    Weekly("monday", at="00:00", tz="America/New_York")
    Monthly(31, tz="Asia/Kolkata")                  # the last day of short months
    Cron("0 4 * * 1-5", tz="Asia/Kathmandu")        # pip install "dictrack[cron]"

Schedules are pure: they read no clock; every method takes the time as epoch
seconds. A boundary is the **first instant at which the local wall clock of
that day reads the given time or later**: a time that does not exist on a
day (skipped by a daylight-saving jump) falls at the end of the jump, and a
time that occurs twice (clocks set back) falls at its first occurrence. So a
day has exactly one boundary, whatever the zone does. Zones come from the
standard ``zoneinfo`` (with the ``tzdata`` package where the system has none).
"""

from __future__ import annotations

import calendar
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "WEEKDAYS",
    "Cron",
    "Daily",
    "Monthly",
    "Schedule",
    "Weekly",
    "schedule_from_plain",
]

#: Weekday names for :class:`Weekly` (Monday is 0, as in ``date.weekday()``).
WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)

_DAY = timedelta(days=1)


def _zone(tz: object) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    if not isinstance(tz, str) or not tz:
        raise TypeError(
            f"`tz` must be an IANA zone name such as 'Europe/Berlin', got {tz!r}"
        )
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {tz!r}; use an IANA name such as 'Europe/Berlin' "
            "or 'America/New_York' (pip install tzdata if the system has no zones)"
        ) from exc


def _wall_time(at: object) -> time:
    """``"HH:MM"``, ``"HH:MM:SS"`` or a naive ``datetime.time``."""
    if isinstance(at, time):
        if at.tzinfo is not None or at.microsecond:
            raise ValueError(
                f"`at` must be a wall time without zone or microseconds, got {at!r}"
            )
        return at
    if not isinstance(at, str):
        raise TypeError(f"`at` must be 'HH:MM' or a datetime.time, got {at!r}")
    parts = at.split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ValueError(f"`at` must look like 'HH:MM' or 'HH:MM:SS', got {at!r}")
    hour, minute, second = (int(p) for p in [*parts, "00"][:3])
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"`at` is not a time of day: {at!r} (00:00 to 23:59:59)")
    return time(hour, minute, second)


def _instant(day: date, at: time, tz: tzinfo) -> float:
    """The first instant of ``day`` whose local wall clock reads ``at`` or later."""
    local = datetime.combine(day, at, tzinfo=tz)
    ts = local.timestamp()  # fold=0: the first of two, or past a gap
    back = datetime.fromtimestamp(ts, tz)
    if back.replace(tzinfo=None) == local.replace(tzinfo=None):
        return ts
    # ``at`` falls in a gap: the boundary is the end of the gap, the first
    # instant after it on that day. Search between the two readings of ``at``.
    low = math.floor(datetime.combine(day, at, tzinfo=tz).replace(fold=1).timestamp())
    high = math.ceil(ts)
    low, high = min(low, high), max(low, high)
    while low < high:
        mid = (low + high) // 2
        wall = datetime.fromtimestamp(mid, tz)
        if (wall.date(), wall.time()) >= (day, at):
            high = mid
        else:
            low = mid + 1
    return float(low)


def _local_date(ts: float, tz: tzinfo) -> date:
    return datetime.fromtimestamp(ts, tz).date()


class Schedule(ABC):
    """When periods start; see the module docstring.

    Subclasses are immutable values: equal when they describe the same
    boundaries, and storable as plain data (:meth:`to_plain`).
    """

    #: the ``"type"`` of the plain form
    kind: ClassVar[str]
    tz: ZoneInfo

    @abstractmethod
    def period_start(self, now: float) -> float:
        """The boundary that started the period containing ``now`` (<= now)."""

    @abstractmethod
    def next_boundary(self, now: float) -> float:
        """The first boundary after ``now`` (> now): when its period ends."""

    @abstractmethod
    def _params(self) -> dict[str, Any]:
        """The plain parameters besides ``type`` and ``tz``."""

    def to_plain(self) -> dict[str, Any]:
        """A JSON-safe dict that :func:`schedule_from_plain` reads back."""
        return {"type": self.kind, **self._params(), "tz": self.tz.key}

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__:  # each is set once, by __init__
            raise AttributeError(
                f"{type(self).__name__} is immutable (trackers of many groups "
                f"may share it); build a new schedule instead of setting {name!r}"
            )
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Schedule)
        return self.to_plain() == other.to_plain()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.to_plain().items())))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args}, tz={self.tz.key!r})"


class _Calendar(Schedule):
    """Boundaries at a wall time on dates stepped by a calendar rule."""

    at: time

    @abstractmethod
    def _anchor(self, day: date) -> date:
        """The boundary date of the period that the local date ``day`` is in
        (or the one just before it)."""

    @abstractmethod
    def _step(self, day: date, n: int) -> date:
        """The boundary date ``n`` periods after (or before) ``day``."""

    def _bounds(self, now: float) -> tuple[float, float]:
        day = self._anchor(_local_date(now, self.tz))
        start = _instant(day, self.at, self.tz)
        while start > now:
            day = self._step(day, -1)
            start = _instant(day, self.at, self.tz)
        end = _instant(self._step(day, 1), self.at, self.tz)
        while end <= now:
            day = self._step(day, 1)
            start, end = end, _instant(self._step(day, 1), self.at, self.tz)
        return start, end

    def period_start(self, now: float) -> float:
        return self._bounds(now)[0]

    def next_boundary(self, now: float) -> float:
        return self._bounds(now)[1]


class Daily(_Calendar):
    """Every day at ``at`` (``"HH:MM"``, default midnight) in zone ``tz``."""

    kind = "daily"

    def __init__(self, at: str | time = "00:00", tz: str | ZoneInfo = "UTC") -> None:
        self.at = _wall_time(at)
        self.tz = _zone(tz)

    def _anchor(self, day: date) -> date:
        return day

    def _step(self, day: date, n: int) -> date:
        return day + n * _DAY

    def _params(self) -> dict[str, Any]:
        return {"at": self.at.isoformat()}


class Weekly(_Calendar):
    """Every week on ``weekday`` (0-6 from Monday, or its English name) at ``at``."""

    kind = "weekly"

    def __init__(
        self,
        weekday: int | str = 0,
        at: str | time = "00:00",
        tz: str | ZoneInfo = "UTC",
    ) -> None:
        if isinstance(weekday, str):
            if weekday.lower() not in WEEKDAYS:
                raise ValueError(
                    f"`weekday` must be one of {', '.join(WEEKDAYS)} or 0-6, "
                    f"got {weekday!r}"
                )
            weekday = WEEKDAYS.index(weekday.lower())
        if isinstance(weekday, bool) or not isinstance(weekday, int):
            raise TypeError(f"`weekday` must be 0-6 or a day name, got {weekday!r}")
        if not 0 <= weekday <= 6:
            raise ValueError(
                f"`weekday` must be 0 (Monday) to 6 (Sunday), got {weekday}"
            )
        self.weekday = weekday
        self.at = _wall_time(at)
        self.tz = _zone(tz)

    def _anchor(self, day: date) -> date:
        return day - timedelta(days=(day.weekday() - self.weekday) % 7)

    def _step(self, day: date, n: int) -> date:
        return day + timedelta(days=7 * n)

    def _params(self) -> dict[str, Any]:
        return {"weekday": self.weekday, "at": self.at.isoformat()}


class Monthly(_Calendar):
    """Every month on ``day`` (1-31; a month without that day uses its last)."""

    kind = "monthly"

    def __init__(
        self, day: int = 1, at: str | time = "00:00", tz: str | ZoneInfo = "UTC"
    ) -> None:
        if isinstance(day, bool) or not isinstance(day, int):
            raise TypeError(f"`day` must be an int from 1 to 31, got {day!r}")
        if not 1 <= day <= 31:
            raise ValueError(f"`day` must be from 1 to 31, got {day}")
        self.day = day
        self.at = _wall_time(at)
        self.tz = _zone(tz)

    def _on(self, year: int, month: int) -> date:
        return date(year, month, min(self.day, calendar.monthrange(year, month)[1]))

    def _anchor(self, day: date) -> date:
        return self._on(day.year, day.month)

    def _step(self, day: date, n: int) -> date:
        months = day.year * 12 + day.month - 1 + n
        return self._on(months // 12, months % 12 + 1)

    def _params(self) -> dict[str, Any]:
        return {"day": self.day, "at": self.at.isoformat()}


class Cron(Schedule):
    """Boundaries at the times of a 5-field cron expression, in zone ``tz``.

    Parsed and stepped by ``cronsim`` (``pip install "dictrack[cron]"``), which
    handles daylight-saving changes.

    :raises ValueError: for an expression cronsim refuses.
    :raises ConfigurationError: if cronsim is not installed.
    """

    kind = "cron"

    def __init__(self, expression: str, tz: str | ZoneInfo = "UTC") -> None:
        cronsim = _cronsim()
        if not isinstance(expression, str):
            raise TypeError(f"`expression` must be a str, got {expression!r}")
        self.expression = " ".join(expression.split())
        self.tz = _zone(tz)
        try:
            next(cronsim.CronSim(self.expression, datetime.now(self.tz)))
        except (cronsim.CronSimError, StopIteration) as exc:
            raise ValueError(
                f"bad cron expression {expression!r} ({exc}); expected 5 fields: "
                "minute hour day-of-month month day-of-week"
            ) from exc

    def _sim(self, now: float, reverse: bool) -> Any:
        return _cronsim().CronSim(
            self.expression, datetime.fromtimestamp(now, self.tz), reverse=reverse
        )

    # cronsim steps local wall times and reads a repeated hour (clocks set
    # back) as its first pass, so it is started a few hours away from ``now``
    # and stepped until its instants pass ``now``, compared as epoch seconds.

    def period_start(self, now: float) -> float:
        for found in self._sim(math.floor(now) + _CRON_MARGIN, reverse=True):
            if found.timestamp() <= now:
                return float(found.timestamp())
        raise ValueError(f"cron {self.expression!r} has no time before {now}")

    def next_boundary(self, now: float) -> float:
        for found in self._sim(now - _CRON_MARGIN, reverse=False):
            if found.timestamp() > now:
                return float(found.timestamp())
        raise ValueError(f"cron {self.expression!r} has no time after {now}")

    def _params(self) -> dict[str, Any]:
        return {"expression": self.expression}


#: Seconds away from ``now`` that cron stepping starts: more than any change
#: of a zone's offset.
_CRON_MARGIN = 3 * 3600


def _cronsim() -> Any:
    try:
        import cronsim
    except ImportError as exc:
        from dictrack.errors import ConfigurationError

        raise ConfigurationError(
            "cron schedules need cronsim: pip install 'dictrack[cron]'"
        ) from exc
    return cronsim


_KINDS: dict[str, type[Schedule]] = {
    cls.kind: cls for cls in (Daily, Weekly, Monthly, Cron)
}


def schedule_from_plain(data: Mapping[str, Any]) -> Schedule:
    """The schedule of a plain dict written by :meth:`Schedule.to_plain`."""
    params = dict(data)
    kind = params.pop("type", None)
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown schedule type {kind!r}; known: {sorted(_KINDS)}")
    return cls(**params)
