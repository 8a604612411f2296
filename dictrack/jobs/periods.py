"""The reset job: scheduled trackers start their new period on time.

A scheduled tracker rolls over by itself at the first event of a new period
(lazily). This job does it ahead of events for the groups this process holds
in memory, right after each boundary, so listeners hear
``EVENT_TRACKER_RESET`` when the period turns and readers see fresh values.
It goes through the engine's compare-and-set like any change: when several
processes (or an event) race at the boundary, one writes the new period and
the others find it already there, so the reset is heard once per period.
Groups no process holds roll over when next loaded (``get_trackers`` shows
them fresh) or at their next event.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from dictrack.errors import DictrackError

if TYPE_CHECKING:
    from dictrack._engine import Changes, Engine
    from dictrack._group import GroupView
    from dictrack.events import BaseEvent

logger = logging.getLogger(__name__)


class ResetJob:
    """Roll due scheduled trackers of the groups held in process."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval

    def __call__(self, now: float | None = None) -> float:
        """Run once; return the seconds until the next boundary it knows of
        (at most ``interval``: trackers added meanwhile are picked up)."""
        now = time.time() if now is None else now
        soonest = now + self.interval
        for view in list(self.engine.views.values()):
            due: list[str] = []
            for tracker in view.live(now):
                if tracker._schedule is None:
                    continue
                if tracker._due(now):
                    due.append(tracker._name)
                elif tracker._period_end is not None:
                    soonest = min(soonest, tracker._period_end)
            if due:
                self._roll(view.group_id, due, now)
        return max(0.0, soonest - now) + 0.001

    def _roll(self, group_id: str, names: list[str], now: float) -> None:
        def compute(view: GroupView) -> tuple[Changes, list[BaseEvent]]:
            changes: Changes = {}
            events: list[BaseEvent] = []
            for name in names:
                tracker = view.get(name, now)
                if tracker is None or not tracker._due(now):
                    continue
                copy = tracker._clone()
                copy._dirtied = False
                rolled = copy._roll(now)
                if copy._dirtied:  # a new period (or the first one recorded)
                    changes[name] = copy
                    events += rolled
            return changes, events

        try:
            self.engine.change(group_id, compute)
        except DictrackError:
            logger.warning(
                "could not roll the periods of group %r; the next event will",
                group_id,
                exc_info=True,
            )
