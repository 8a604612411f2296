"""TimeLimiter: a tracker only takes events inside a time window."""

from __future__ import annotations

import copy
import logging
import math
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dictrack import _clock
from dictrack.limiters.base import BaseLimiter
from dictrack.typing import EventData

if TYPE_CHECKING:
    from dictrack.trackers.base import BaseTracker

logger = logging.getLogger(__name__)


def _check_ts(value: object, name: str) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"`{name}` must be epoch seconds (int or float), got {type(value).__name__}"
        )
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite, got {value!r}")
    return value


class TimeLimiter(BaseLimiter):
    """Admit events with ``start <= now <= end`` (epoch seconds, inclusive).

    An event outside the window closes the tracker until it is reset; a reset
    moves the window to start at the reset time and last ``reset_seconds``
    (default: the current interval).

    :param start_ts: window start in epoch seconds; the current time if None.
    :param end_ts: window end in epoch seconds (give this or ``interval``).
    :param interval: window length, a :class:`~datetime.timedelta`.
    :raises TypeError: for values of the wrong type.
    :raises ValueError: if neither or both of ``end_ts`` and ``interval`` are
        given, or the window is empty.
    """

    type_name = "TimeLimiter"
    _setting_fields = ("interval",)  # a reset moves the window: start/end are state

    def __init__(
        self,
        start_ts: int | float | None = None,
        end_ts: int | float | None = None,
        interval: timedelta | None = None,
    ) -> None:
        super().__init__()
        start = _check_ts(start_ts, "start_ts")
        end = _check_ts(end_ts, "end_ts")
        if interval is not None and not isinstance(interval, timedelta):
            raise TypeError(
                "`interval` must be a datetime.timedelta, "
                f"got {type(interval).__name__}"
            )
        if (end is None) == (interval is None):
            raise ValueError(
                "give exactly one of `end_ts` or `interval` to bound the window"
            )
        if start is None:
            start = int(_clock.now_ts())
        if end is not None:
            if start > end:
                logger.warning("`start_ts` is after `end_ts`; swapping them")
                start, end = end, start
            interval = timedelta(seconds=end - start)
        else:
            assert interval is not None
            if interval.total_seconds() < 0:
                raise ValueError(f"`interval` must not be negative, got {interval}")
            end = start + interval.total_seconds()
        if start == end:
            raise ValueError(
                "the window is empty (`start_ts` equals `end_ts`); a tracker "
                "behind it could never advance"
            )
        self.start: float | int = start
        self.end: float | int = end
        self.interval: timedelta = interval

    @property
    def start_ts(self) -> float | int:
        """Window start, epoch seconds (alias of ``start``)."""
        return self.start

    @property
    def end_ts(self) -> float | int:
        """Window end, epoch seconds (alias of ``end``)."""
        return self.end

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TimeLimiter):
            return NotImplemented
        return (self.start, self.end, self.interval) == (
            other.start,
            other.end,
            other.interval,
        )

    def __hash__(self) -> int:
        return hash((self.start, self.end, self.interval))

    def __repr__(self) -> str:
        window = f"start={self.start} end={self.end} interval={self.interval}"
        return f"<TimeLimiter ({window})>"

    def is_open(self, now_ts: float) -> bool:
        """Return whether ``now_ts`` lies inside the window."""
        return self.start <= now_ts <= self.end

    def pre_track(
        self,
        data: EventData | None,
        pre_tracker: BaseTracker | None,
        *args: Any,
        now_ts: float | None = None,
        **kwargs: Any,
    ) -> bool:
        now = _clock.now_ts() if now_ts is None else now_ts
        self.limited = not self.is_open(now)
        return not self.limited

    def reset(
        self,
        *args: Any,
        now_ts: float | None = None,
        reset_seconds: float | None = None,
        **kwargs: Any,
    ) -> bool:
        """Restart the window at ``now_ts`` for ``reset_seconds`` (or the interval)."""
        now = _clock.now_ts() if now_ts is None else now_ts
        seconds = (
            self.interval.total_seconds() if reset_seconds is None else reset_seconds
        )
        _check_ts(seconds, "reset_seconds")
        if seconds < 0:
            raise ValueError(f"`reset_seconds` must not be negative, got {seconds}")
        self.interval = timedelta(seconds=seconds)
        self.start = now
        self.end = now + seconds
        return self.pre_track(None, None, now_ts=now)

    def _copy(self) -> TimeLimiter:
        return copy.copy(self)
