"""Periods of a scheduled tracker: which one it counts in, and moving on.

A mixin of :class:`~dictrack.trackers.base.BaseTracker` (pure: time comes in
as ``now``). See :mod:`dictrack.schedules` for the boundaries.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from dictrack.events import BaseEvent, TrackerEvent
from dictrack.schedules import Schedule
from dictrack.trackers._state import ResetPolicy

if TYPE_CHECKING:
    from dictrack.trackers.base import BaseTracker


class Periodic:
    """The period half of a tracker: ``_schedule``, ``_period`` and the
    cached end of that period."""

    #: set by BaseTracker.__init__ and the codec; a default for other objects
    _schedule: Schedule | None = None
    _period: float | None
    _period_end: float | None
    _reset_policy: int
    _completed: bool
    _dirtied: bool
    _stage: int

    if TYPE_CHECKING:

        def _reset(
            self, policy: int, now: float, kwargs: dict[str, Any]
        ) -> list[BaseEvent]: ...

        def _clone(self) -> BaseTracker: ...

    @property
    def schedule(self) -> Schedule | None:
        """The tracker's schedule, if it starts over every period."""
        return self._schedule

    @property
    def period(self) -> float | None:
        """When the period the tracker counts in started (epoch seconds)."""
        return self._period

    def _due(self, now: float) -> bool:
        """Whether ``now`` is past the tracker's period: a compare, once the
        period's end is cached (a pure function of schedule and period)."""
        schedule = self._schedule
        if schedule is None:
            return False
        end = self._period_end
        if end is None:
            if self._period is None:
                return True
            end = self._period_end = schedule.next_boundary(self._period)
        return now >= end

    def _roll(self, now: float) -> list[BaseEvent]:
        """Move to the period containing ``now``; return the RESET event of a
        new period (nothing for the first period or the same one).

        A ``now`` before the recorded period (a clock moved back, a late event)
        counts in the recorded period: periods only move forward.
        """
        schedule = self._schedule
        assert schedule is not None
        start = schedule.period_start(now)
        events: list[BaseEvent] = []
        if self._period is None:
            self._period = start
            self._dirtied = True
        elif start > self._period:
            policy = self._reset_policy
            # Progress that is kept keeps its completion too: reopening it
            # would complete it again at the next event.
            stays_done = self._completed and not policy & ResetPolicy.PROGRESS
            events = self._reset(policy, now, {})
            if policy & ResetPolicy.PROGRESS:
                self._stage = 1
            if stays_done:
                self._completed = True
                for event in events:
                    if isinstance(event, TrackerEvent):
                        event.tracker._completed = True
            self._period = start
            self._dirtied = True
        self._period_end = schedule.next_boundary(self._period)
        return events

    def _fresh(self, now: float) -> BaseTracker:
        """A copy as it stands at ``now``: rolled into the current period if
        one started since (what the next event or the reset job will write)."""
        copy = self._clone()
        if copy._due(now):
            copy._roll(now)
            copy._dirtied = self._dirtied
        return copy

    def _next_reset(self, now: float) -> datetime | None:
        """When the period containing ``now`` ends, in the schedule's zone."""
        schedule = self._schedule
        if schedule is None:
            return None
        return datetime.fromtimestamp(schedule.next_boundary(now), schedule.tz)
