"""Reset policies and the state half of a tracker (progress, stage, flags)."""

from __future__ import annotations

from typing import Any, NamedTuple

from dictrack.errors import TrackerAlreadyCompletedError, TrackerAlreadyRemovedError
from dictrack.events import BaseEvent, ListenerRegistry
from dictrack.trackers import _validate as v
from dictrack.typing import Number


class ResetPolicy:
    """What a reset clears; combine with ``|``."""

    NONE = 0
    PROGRESS = 1
    LIMITER = 2
    ALL = PROGRESS | LIMITER
    DEFAULT = LIMITER


class _AutoPolicy(int):
    """The default ``reset_policy`` argument: ``ResetPolicy.DEFAULT``, or
    ``ResetPolicy.ALL`` for a tracker with a schedule (told apart by identity,
    so an explicit ``ResetPolicy.LIMITER`` is kept)."""

    def __repr__(self) -> str:
        return "ResetPolicy.DEFAULT (ResetPolicy.ALL with a schedule)"


AUTO_POLICY = _AutoPolicy(ResetPolicy.DEFAULT)


def check_policy(value: object, name: str = "reset_policy") -> int:
    """Return ``value`` if it is a valid :class:`ResetPolicy` combination."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"`{name}` must be a ResetPolicy int, got {type(value).__name__}"
        )
    if not ResetPolicy.NONE <= value <= ResetPolicy.ALL:
        raise ValueError(
            f"`{name}` must be a combination of ResetPolicy.PROGRESS and "
            f"ResetPolicy.LIMITER (0..{ResetPolicy.ALL}), got {value}"
        )
    return value


def always() -> bool:  # pragma: no cover - recognised, never called
    """A matcher for ``BaseTracker._advance`` when the conditions were
    checked already (recognised, not called)."""
    return True


class _Transition(NamedTuple):
    """What a running transition needs: the time, extra kwargs, the events
    (a tuple: one is built per event a tracker takes)."""

    now: float
    kwargs: dict[str, Any]
    events: list[BaseEvent]


class TrackerState:
    """Where a tracker stands; the attributes a :class:`BaseTracker` transitions."""

    _name: str
    _group_id: str
    _targets: tuple[Number, ...]
    _stage: int
    _progress: Number
    _conditions: tuple[Any, ...]
    _limiters: tuple[Any, ...]
    _loop_forever: bool
    _reset_policy: int
    _schedule: Any
    _period: float | None

    def _init_flags(self) -> None:
        self._completed = False
        self._removed = False
        self._dirtied = False
        self._limited = False
        self._matched = False
        self._listeners: ListenerRegistry | None = None
        self._txn: _Transition | None = None
        self._expire_at: float | None = None
        self._period: float | None = None  # start of the period counted in
        self._period_end: float | None = None  # its end, cached (not stored)

    @property
    def target(self) -> Number:
        """The target of the current stage."""
        return self._targets[self._stage - 1]

    @property
    def targets(self) -> tuple[Number, ...]:
        """Every stage target, done or not."""
        return self._targets

    @property
    def multi_target(self) -> list[Number]:
        """The targets of the stages after the current one."""
        return list(self._targets[self._stage :])

    @property
    def current_stage(self) -> int:
        """The current stage, from 1."""
        return self._stage

    @property
    def progress(self) -> Number:
        return self._progress

    @progress.setter
    def progress(self, value: Number) -> None:
        v.check_number(value, "progress")
        self._check_health()
        self._progress = value

    @property
    def completed(self) -> bool:
        return self._completed

    @property
    def removed(self) -> bool:
        return self._removed

    @removed.setter
    def removed(self, value: bool) -> None:
        v.check_bool(value, "removed")
        self._check_health(completed=False)
        self._removed = value

    @property
    def dirtied(self) -> bool:
        """Whether the tracker changed since it was loaded."""
        return self._dirtied

    @property
    def limited(self) -> bool:
        """Whether a limiter closed the tracker (until a LIMITER reset)."""
        return self._limited

    @property
    def matched(self) -> bool:
        """Whether the last tracked event met the conditions and advanced it."""
        return self._matched

    @property
    def expire_at(self) -> float | None:
        """When the tracker expires (epoch seconds), if it was added with one."""
        return self._expire_at

    def _check_health(self, removed: bool = True, completed: bool = True) -> None:
        if removed and self._removed:
            raise TrackerAlreadyRemovedError(
                f"tracker {self._name!r} of group {self._group_id!r} was removed"
            )
        if completed and self._completed:
            raise TrackerAlreadyCompletedError(
                f"tracker {self._name!r} of group {self._group_id!r} is completed"
            )

    # -- value semantics ----------------------------------------------------

    def _compare_key(self) -> tuple[Any, ...]:
        return (
            type(self),
            self._name,
            set(self._conditions),
            set(self._limiters),
            self._targets,
            self._stage,
            self._group_id,
            self._progress,
            self._completed,
            self._removed,
            self._dirtied,
            self._limited,
            self._loop_forever,
            self._reset_policy,
            self._schedule,
            self._period,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TrackerState):
            return NotImplemented
        return self._compare_key() == other._compare_key()

    __hash__ = None  # type: ignore[assignment]  # mutable, as in 2.1.5

    def _repr_fields(self) -> str:
        return (
            f"target={self.target} conditions={set(self._conditions)} "
            f"limiters={set(self._limiters)} group_id={self._group_id} "
            f"name={self._name} progress={self._progress}"
        )

    def __repr__(self) -> str:
        content = f"<{type(self).__name__} ({self._repr_fields()})>"
        if self._removed:
            return "[REMOVED] " + content
        if self._completed:
            return "[COMPLETED] " + content
        if self._limited:
            return "[LIMITED] " + content
        return content
