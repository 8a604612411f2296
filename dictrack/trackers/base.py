"""The tracker ABC: a definition (name, conditions, targets, limiters, policy)
plus a small state (progress, stage, flags), and its pure transitions.

Trackers do no I/O and read no clock. A transition (``_advance``, ``_reset``)
mutates the tracker and returns the events it caused; the manager runs it on a
copy, writes the copy, and only then delivers the events.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from dictrack import _clock
from dictrack._types import Registered
from dictrack.conditions.base import BaseCondition
from dictrack.errors import GroupIdError, TrackerStateError
from dictrack.events import (
    EVENT_ALL,
    EVENT_TRACKER_ALL_COMPLETED,
    EVENT_TRACKER_LIMITED,
    EVENT_TRACKER_RESET,
    EVENT_TRACKER_STAGE_COMPLETED,
    BaseEvent,
    LimitedTrackerEvent,
    ListenerRegistry,
    TrackerEvent,
)
from dictrack.limiters.base import BaseLimiter
from dictrack.schedules import Schedule
from dictrack.trackers import _validate as v
from dictrack.trackers._periods import Periodic
from dictrack.trackers._state import (
    AUTO_POLICY,
    ResetPolicy,
    TrackerState,
    _Transition,
    always,
    check_policy,
)
from dictrack.typing import EventData, Listener, Number

#: Tracker classes by stored type name (filled by ``__init_subclass__``).
TRACKER_TYPES: dict[str, type[BaseTracker]] = {}

#: A transition from a full tuple, without the named tuple's ``__new__``.
_tuple = tuple.__new__


#: The attributes every tracker has.
BASE_FIELDS = frozenset(
    {
        "_name", "_conditions", "_reset_policy", "_targets", "_stage", "_group_id",
        "_limiters", "_loop_forever", "_progress", "_completed", "_removed",
        "_dirtied", "_limited", "_matched", "_listeners", "_txn", "_expire_at",
        "_schedule", "_period", "_period_end",
    }
)  # fmt: skip

__all__ = ["BASE_FIELDS", "TRACKER_TYPES", "BaseTracker", "ResetPolicy", "check_policy"]


class BaseTracker(Periodic, TrackerState, Registered, ABC):
    """Tracks progress of one group towards one or more stage targets.

    :param name: unique within its group.
    :param conditions: all must hold for an event to count (empty: every event).
    :param target: a positive number, or a list/tuple of stage targets.
    :param group_id: the owning group; set by ``TrackingManager.add_tracker``.
    :param limiters: :class:`~dictrack.limiters.base.BaseLimiter` instances.
    :param reset_policy: what a reset (and a stage completion) clears; default
        ``ResetPolicy.LIMITER``, or ``ResetPolicy.ALL`` with a ``schedule``.
    :param loop_forever: repeat the last target forever instead of completing.
    :param init_progress: the starting progress.
    :param schedule: keyword only: a :class:`~dictrack.schedules.Schedule`
        (daily, weekly, monthly, cron) at whose boundaries the tracker starts
        over: the first event of a new period resets it per ``reset_policy``
        (and back to stage 1 when the policy clears progress) before it
        counts, and a tracker completed in a period stays, completed, until
        the next one.
    :raises TypeError: for arguments of the wrong type.
    :raises ValueError: for bad values (empty or non-increasing targets, ...).
    """

    DEFAULT_GROUP_ID = "_THIS_IS_DEFAULT_GID"
    _registry = TRACKER_TYPES
    #: Attributes a subclass adds and stores through ``_definition_extra``.
    _own_fields: ClassVar[frozenset[str]] = frozenset()
    #: Whether instances hold only known attributes (classes of this package);
    #: a user's subclass may add its own, which are stored and copied too.
    _known_only: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._known_only = cls.__module__.startswith("dictrack.")

    def __init__(
        self,
        name: str,
        conditions: Any,
        target: Number | list[Number] | tuple[Number, ...],
        group_id: str | None = None,
        limiters: Any = None,
        reset_policy: int = AUTO_POLICY,
        loop_forever: bool = False,
        init_progress: Number = 0,
        *args: Any,
        schedule: Schedule | None = None,
        **kwargs: Any,
    ) -> None:
        self._name = v.check_name(name, "name")
        self._conditions = v.check_members(conditions, BaseCondition, "conditions")
        if reset_policy is AUTO_POLICY:  # a period starts from zero, unless told
            reset_policy = ResetPolicy.DEFAULT if schedule is None else ResetPolicy.ALL
        self._reset_policy = check_policy(reset_policy)
        self._targets = v.check_targets(target, self._cumulative(self._reset_policy))
        self._stage = 1
        if group_id is not None:
            v.check_name(group_id, "group_id")
        self._group_id = self.DEFAULT_GROUP_ID if group_id is None else group_id
        self._limiters: tuple[BaseLimiter, ...] = (
            ()
            if limiters is None
            else v.check_members(limiters, BaseLimiter, "limiters")
        )
        self._loop_forever = v.check_bool(loop_forever, "loop_forever")
        self._progress: Number = v.check_number(init_progress, "init_progress")
        self._init_flags()
        if schedule is not None and not isinstance(schedule, Schedule):
            raise TypeError(
                "`schedule` must be a dictrack.schedules.Schedule (Daily, Weekly, "
                f"Monthly, Cron), got {type(schedule).__name__}"
            )
        self._schedule = schedule

    @staticmethod
    def _cumulative(policy: int) -> bool:
        return not policy & ResetPolicy.PROGRESS

    # -- 2.1.5 attributes ---------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def conditions(self) -> set[BaseCondition]:
        return set(self._conditions)

    @property
    def limiters(self) -> set[BaseLimiter]:
        return set(self._limiters)

    @property
    def group_id(self) -> str:
        return self._group_id

    @group_id.setter
    def group_id(self, value: str) -> None:
        v.check_name(value, "group_id")
        self._check_health()
        if value != self._group_id and self._group_id != self.DEFAULT_GROUP_ID:
            raise GroupIdError(
                f"tracker {self._name!r} already belongs to group "
                f"{self._group_id!r}; create another tracker for group {value!r}"
            )
        self._group_id = value

    @property
    def reset_policy(self) -> int:
        return self._reset_policy

    @reset_policy.setter
    def reset_policy(self, value: int) -> None:
        check_policy(value)
        self._check_health()
        self._reset_policy = value

    @property
    def loop_forever(self) -> bool:
        return self._loop_forever

    @loop_forever.setter
    def loop_forever(self, value: bool) -> None:
        v.check_bool(value, "loop_forever")
        self._check_health()
        self._loop_forever = value

    def _clone(self) -> BaseTracker:
        """A copy that shares nothing mutable with this tracker."""
        new = object.__new__(type(self))
        # A copy of the whole table (~2x faster than filling a new one), set
        # past any __setattr__ a user's subclass defines.
        object.__setattr__(new, "__dict__", self.__dict__.copy())
        if (  # one test on the hot path: usually none of these
            self._limiters
            or self._listeners is not None
            or self._txn is not None
            or not self._known_only
        ):
            if self._limiters:
                new._limiters = tuple(limiter._copy() for limiter in self._limiters)
            new._listeners = None  # listeners belong to the caller's object
            new._txn = None  # a snapshot taken during a transition
            for key, value in self._extra_state().items():  # a user's attributes
                new.__dict__[key] = copy.deepcopy(value)  # may be mutable
        return new

    def _extra_state(self) -> dict[str, Any]:
        """Attributes a user's subclass added (stored with the state)."""
        if self._known_only:
            return {}
        known = BASE_FIELDS | type(self)._own_fields
        return {k: v for k, v in vars(self).items() if k not in known}

    # -- public operations (2.1.5) -------------------------------------------

    def add_listener(self, code: int, cb: Listener) -> None:
        """Call ``cb(event)`` for events of ``code`` caused by direct calls."""
        self._check_health(completed=False)
        if self._listeners is None:
            self._listeners = ListenerRegistry()
        self._listeners.add(code, cb)

    def forward_event(self, cb: Listener) -> None:
        """Call ``cb(event)`` for every event code."""
        if not callable(cb):
            raise TypeError(f"listener must be callable, got {type(cb).__name__}")
        for code in EVENT_ALL:
            self.add_listener(code, cb)

    def track(self, data: EventData, *args: Any, **kwargs: Any) -> None:
        """Advance this tracker with one event (outside a manager).

        :param data: the event dict.
        :param now: keyword, the event time (epoch seconds or aware datetime);
            ``now_ts`` is accepted as in 2.1.5.
        :raises TrackerStateError: if the tracker is completed or removed.
        """
        self._check_health(completed=self._schedule is None)
        if not isinstance(data, Mapping):
            raise TypeError(f"`data` must be a dict, got {type(data).__name__}")
        now = kwargs.pop("now", None)
        now_ts = kwargs.pop("now_ts", None)
        now = _clock.to_timestamp(now_ts if now is None else now)
        self._dispatch(self._advance(data, now, kwargs))

    def reset(self, reset_policy: int | None = None, *args: Any, **kwargs: Any) -> None:
        """Reset per ``reset_policy`` (default: the tracker's own policy).

        Keywords go to the limiters: ``reset_count=`` (CountLimiter),
        ``reset_seconds=`` and ``now_ts=`` (TimeLimiter); ``now=`` (epoch
        seconds or aware datetime) is the reset time, as in ``track``.
        """
        policy = (
            self._reset_policy if reset_policy is None else check_policy(reset_policy)
        )
        self._check_health(completed=False)
        now_arg = kwargs.pop("now", None)
        now = _clock.to_timestamp(kwargs.get("now_ts") if now_arg is None else now_arg)
        self._dispatch(self._reset(policy, now, kwargs))

    def add_targets(self, target: Number | list[Number] | tuple[Number, ...]) -> None:
        """Append stage targets after the existing ones."""
        self._check_health()
        self._targets += v.check_targets(
            target, self._cumulative(self._reset_policy), after=self._targets[-1]
        )

    # -- transitions ----------------------------------------------------------

    def _advance(
        self,
        data: EventData,
        now: float,
        kwargs: dict[str, Any],
        matcher: Callable[[], bool] | None = None,
    ) -> list[BaseEvent]:
        """Apply one event; return the events it caused (in order)."""
        self._matched = False
        rolled = (
            self._roll(now)
            if self._schedule is not None and self._due(now)  # inlined: hot
            else None
        )
        if self._limited or self._completed:
            return rolled or []
        txn = self._txn = _tuple(_Transition, (now, kwargs, []))  # hot: no __new__
        if rolled:
            txn.events.extend(rolled)
        limiters = self._limiters  # usually none: no limiter work at all
        limiter_kwargs = {**kwargs, "now_ts": now} if limiters else kwargs
        try:
            if limiters:
                for limiter in limiters:
                    if not limiter.pre_track(data, self, **limiter_kwargs):
                        self._close(limiter)
                if self._limited:
                    return txn.events
            if matcher is always or (
                matcher() if matcher is not None else self._conditions_met(data)
            ):
                # may raise: nothing changed yet (no keywords: a plain call, hot)
                if kwargs:
                    self._push_progress(data, **kwargs)
                else:
                    self._push_progress(data)
                self._matched = self._dirtied = True
                self._check_progress()
            for limiter in limiters:
                if not limiter.post_track(data, self, **limiter_kwargs):
                    self._close(limiter)
            return txn.events
        finally:
            self._txn = None

    def _conditions_met(self, data: EventData) -> bool:
        return all(condition.check(data) for condition in self._conditions)

    def _close(self, limiter: BaseLimiter) -> None:
        assert self._txn is not None
        self._limited = self._dirtied = True
        self._txn.events.append(
            LimitedTrackerEvent(
                EVENT_TRACKER_LIMITED,
                self._group_id,
                self._name,
                self._clone(),
                limiter._copy(),
                event_ts=self._txn.now,
            )
        )

    def _reset(
        self, policy: int, now: float, kwargs: dict[str, Any]
    ) -> list[BaseEvent]:
        """Reset per ``policy``; return the RESET event."""
        if policy & ResetPolicy.PROGRESS:
            self._progress = 0
        if policy & ResetPolicy.LIMITER:
            limiter_kwargs = {**kwargs, "now_ts": now}
            still_closed = [not lim.reset(**limiter_kwargs) for lim in self._limiters]
            self._limited = any(still_closed)
        self._completed = False
        return [
            TrackerEvent(
                EVENT_TRACKER_RESET,
                self._group_id,
                self._name,
                self._clone(),
                event_ts=now,
            )
        ]

    def _complete(self) -> None:
        """The current stage's target is reached: next stage, loop or complete."""
        txn = self._txn
        if txn is None:
            raise TrackerStateError("_complete() runs only inside a transition")
        snapshot = self._clone()
        snapshot._completed = True
        snapshot._dirtied = False  # as 2.1.5 reported it: a fresh copy
        if self._stage < len(self._targets) or self._loop_forever:
            if self._stage < len(self._targets):
                self._stage += 1
            code = EVENT_TRACKER_STAGE_COMPLETED
            txn.events.extend(self._reset(self._reset_policy, txn.now, {}))
        else:
            code = EVENT_TRACKER_ALL_COMPLETED
            self._completed = True
        txn.events.append(
            TrackerEvent(code, self._group_id, self._name, snapshot, event_ts=txn.now)
        )

    def _dispatch(self, events: list[BaseEvent]) -> None:
        if self._listeners is not None:
            self._listeners.dispatch(events)

    # -- what a tracker type defines -----------------------------------------

    @abstractmethod
    def _push_progress(self, data: EventData, *args: Any, **kwargs: Any) -> None:
        """Add this event's contribution to ``self._progress``."""

    @abstractmethod
    def _check_progress(self) -> bool:
        """Call ``self._complete()`` if the stage target is reached; return whether."""

    def _definition_extra(self) -> dict[str, Any]:
        """Constructor parameters a subclass adds (JSON-compatible)."""
        return {}

    def _restore_extra(self, extra: Mapping[str, Any]) -> None:
        """Set the parameters returned by :meth:`_definition_extra`."""
        return None
