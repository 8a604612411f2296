"""The scripted session behind ``dictrack demo`` (output goes to a callback)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from dictrack.conditions.keys import KeyExists, KeyValueEQ, KeyValueGE, KeyValueInList
from dictrack.events import (
    EVENT_ALL,
    EVENT_NAMES,
    EVENT_TRACKER_LIMITED,
    BaseEvent,
    LimitedTrackerEvent,
    TrackerEvent,
)
from dictrack.limiters.count import CountLimiter
from dictrack.limiters.time import TimeLimiter
from dictrack.manager import TrackingManager
from dictrack.trackers.base import BaseTracker, ResetPolicy
from dictrack.trackers.numerics.accumulation import AccumulationTracker
from dictrack.trackers.numerics.count import CountTracker

#: 2030-01-01T00:00:00Z: the demo runs on a fixed clock so its output never varies.
START = 1_893_456_000.0

EVENTS: list[tuple[str, dict[str, object]]] = [
    ("alice", {"event": "login"}),
    ("alice", {"event": "spin", "game": "slots", "bet": 300}),
    ("alice", {"event": "spin", "game": "slots", "bet": 900, "win": 2500}),
    ("bob", {"event": "spin", "game": "poker", "bet": 50}),
    ("alice", {"event": "spin", "game": "slots", "bet": 1200}),
    ("alice", {"event": "spin", "game": "roulette", "bet": 400, "win": 0}),
    ("alice", {"event": "spin", "game": "slots", "bet": 700, "win": 9000}),
    ("alice", {"event": "spin", "game": "slots", "bet": 100}),
]


def _quests() -> list[BaseTracker]:
    return [
        CountTracker(
            "daily-login",
            [KeyValueEQ("event", "login")],
            1,
            reset_policy=ResetPolicy.ALL,
        ),
        AccumulationTracker(
            "high-roller",
            [KeyValueEQ("event", "spin"), KeyValueInList("game", ["slots", "poker"])],
            [1000, 2500, 5000],
            key="bet",
        ),
        CountTracker(
            "big-wins",
            [KeyExists("win"), KeyValueGE("win", 2000)],
            2,
            limiters=[TimeLimiter(START, interval=timedelta(days=1))],
        ),
        CountTracker(
            "spin-streak",
            [KeyValueEQ("event", "spin")],
            3,
            limiters=[CountLimiter(2)],
            reset_policy=ResetPolicy.ALL,
        ),
    ]


def _describe(tracker: BaseTracker) -> str:
    state = "completed" if tracker.completed else "limited" if tracker.limited else ""
    return (
        f"{tracker.name}: {tracker.progress}/{tracker.target} "
        f"(stage {tracker.current_stage} of {len(tracker.targets)}) {state}"
    ).rstrip()


def run_demo(out: Callable[[str], None], db_path: str) -> None:
    """Play a short session for two players and report everything that happens."""

    def on_event(event: BaseEvent) -> None:
        if isinstance(event, TrackerEvent):
            extra = ""
            if event.code == EVENT_TRACKER_LIMITED and isinstance(
                event, LimitedTrackerEvent
            ):
                extra = f" by {event.limiter!r}"
            name = EVENT_NAMES[event.code]
            out(f"    event {name}: {_describe(event.tracker)}{extra}")

    out(f"dictrack demo: memory cache + SQLite store at {db_path}")
    with TrackingManager("memory://", f"sqlite:///{db_path}") as manager:
        for code in EVENT_ALL:
            manager.add_listener(code, on_event)
        out("\nadding quests for alice and bob")
        for player in ("alice", "bob"):
            manager.add_trackers(player, _quests(), now=START)
        out("\ntracking events")
        for i, (player, data) in enumerate(EVENTS):
            out(f"  {player} <- {data}")
            result = manager.track(player, data, now=START + 60 * i, event_id=f"e{i}")
            for tracker in result.dirtied:
                out(f"    advanced {_describe(tracker)}")
        out("\nreplaying event e6 (same event_id): counted once")
        replay = manager.track("alice", EVENTS[6][1], now=START + 400, event_id="e6")
        out(f"    duplicate={replay.duplicate}")
        out("\nresetting alice's spin-streak (policy ALL reopens its CountLimiter)")
        manager.reset_tracker("alice", "spin-streak", now=START + 500)
        out("\nwhere everyone stands")
        for player in ("alice", "bob"):
            for tracker in manager.get_trackers(player, now=START + 600):
                out(f"  {player:<5} {_describe(tracker)}")
        written = manager.persist()
        out(f"\nwrote {written} changed trackers to {db_path}")
