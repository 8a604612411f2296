"""Listeners: every event code, snapshots taken at the moment, failures contained."""

from __future__ import annotations

import logging

import pytest

from dictrack.events import (
    EVENT_ALL,
    EVENT_TRACKER_ADDED,
    EVENT_TRACKER_ALL_COMPLETED,
    EVENT_TRACKER_LIMITED,
    EVENT_TRACKER_RESET,
    EVENT_TRACKER_STAGE_COMPLETED,
    LimitedTrackerEvent,
    TrackerEvent,
)
from dictrack.limiters.count import CountLimiter
from dictrack.limiters.time import TimeLimiter
from dictrack.trackers import ResetPolicy
from tests.integration._manager_helpers import LOSE, T0, WIN, bets, progress, wins


@pytest.fixture
def heard(manager):
    """Every delivered event, in delivery order."""
    events = []
    for code in EVENT_ALL:
        manager.add_listener(code, events.append)
    return events


def _codes(events):
    return [(e.code, e.name) for e in events]


def test_added_carries_the_tracker_as_added(manager, heard):
    manager.add_tracker("g", wins("a", init_progress=3), now=T0)
    manager.track("g", WIN, now=T0 + 1)

    [added] = heard[:1]
    assert type(added) is TrackerEvent
    assert (added.code, added.group_id, added.name) == (EVENT_TRACKER_ADDED, "g", "a")
    assert added.event_ts == T0
    assert (added.tracker.name, added.tracker.progress) == ("a", 3)
    assert added.tracker.group_id == "g"


def test_stage_completion_sends_reset_then_stage_completed(manager, heard):
    manager.add_tracker("g", wins("a", target=[2, 5]), now=T0)
    heard.clear()
    manager.track("g", WIN, now=T0 + 1)
    assert heard == []

    manager.track("g", WIN, now=T0 + 2)

    assert _codes(heard) == [
        (EVENT_TRACKER_RESET, "a"),
        (EVENT_TRACKER_STAGE_COMPLETED, "a"),
    ]
    reset, stage = heard
    assert {reset.event_ts, stage.event_ts} == {T0 + 2}
    assert (stage.tracker.completed, stage.tracker.current_stage) == (True, 1)
    assert (stage.tracker.progress, stage.tracker.target) == (2, 2)
    assert (reset.tracker.completed, reset.tracker.current_stage) == (False, 2)
    assert reset.tracker.target == 5


def test_all_completed_carries_the_finished_tracker(manager, heard):
    manager.add_tracker("g", bets("b", target=[10, 20]), now=T0)
    heard.clear()
    manager.track("g", {**WIN, "bet": 12}, now=T0)
    heard.clear()

    manager.track("g", {**WIN, "bet": 9}, now=T0 + 5)

    [done] = heard
    assert (done.code, done.group_id, done.name) == (
        EVENT_TRACKER_ALL_COMPLETED,
        "g",
        "b",
    )
    assert (done.tracker.completed, done.tracker.progress) == (True, 21)
    assert done.tracker.current_stage == 2
    assert done.event_ts == T0 + 5


def test_loop_forever_keeps_completing_stages(manager, heard):
    manager.add_tracker(
        "g",
        wins("loop", target=2, loop_forever=True, reset_policy=ResetPolicy.ALL),
    )
    heard.clear()
    for _ in range(6):
        manager.track("g", WIN, now=T0)
    stages = [e for e in heard if e.code == EVENT_TRACKER_STAGE_COMPLETED]
    assert len(stages) == 3
    assert all(e.tracker.completed and e.tracker.progress == 2 for e in stages)
    assert not any(e.code == EVENT_TRACKER_ALL_COMPLETED for e in heard)
    assert progress(manager, "g") == {"loop": 0}


def test_limited_carries_the_limiter_and_the_limited_tracker(manager, heard):
    manager.add_tracker("g", wins("a", limiters=[CountLimiter(2)]), now=T0)
    heard.clear()
    manager.track("g", WIN, now=T0)
    assert heard == []

    manager.track("g", WIN, now=T0 + 3)

    [limited] = heard
    assert isinstance(limited, LimitedTrackerEvent)
    assert (limited.code, limited.group_id, limited.name) == (
        EVENT_TRACKER_LIMITED,
        "g",
        "a",
    )
    assert (limited.tracker.limited, limited.tracker.progress) == (True, 2)
    assert isinstance(limited.limiter, CountLimiter)
    assert (limited.limiter.count, limited.limiter.remaining) == (2, 0)
    assert limited.event_ts == T0 + 3
    manager.track("g", WIN, now=T0 + 4)
    assert len(heard) == 1  # a limited tracker is not limited again


def test_time_window_limits_at_the_event_time(manager, heard):
    window = TimeLimiter(start_ts=T0, end_ts=T0 + 10)
    manager.add_tracker("g", wins("a", limiters=[window]), now=T0)
    heard.clear()
    manager.track("g", WIN, now=T0 + 11)
    [limited] = heard
    assert limited.code == EVENT_TRACKER_LIMITED
    assert isinstance(limited.limiter, TimeLimiter)
    assert (limited.tracker.progress, limited.event_ts) == (0, T0 + 11)


def test_reset_tracker_sends_reset(manager, heard):
    manager.add_tracker("g", wins("a"), now=T0)
    manager.track("g", WIN, now=T0)
    heard.clear()
    manager.reset_tracker("g", "a", ResetPolicy.PROGRESS, now=T0 + 7)
    [reset] = heard
    assert (reset.code, reset.group_id, reset.name) == (EVENT_TRACKER_RESET, "g", "a")
    assert (reset.tracker.progress, reset.event_ts) == (0, T0 + 7)


def test_received_snapshots_never_change_afterwards(manager, heard):
    manager.add_tracker("g", wins("a", target=[2, 4], limiters=[CountLimiter(9)]))
    for _ in range(3):
        manager.track("g", WIN, now=T0)
    before = [
        (e.code, e.tracker.progress, e.tracker.current_stage, e.tracker.completed)
        for e in heard
    ]
    assert [c for c, *_ in before] == [
        EVENT_TRACKER_ADDED,
        EVENT_TRACKER_RESET,
        EVENT_TRACKER_STAGE_COMPLETED,
    ]

    manager.track("g", WIN, now=T0)
    manager.reset_tracker("g", "a", ResetPolicy.ALL)

    after = [
        (e.code, e.tracker.progress, e.tracker.current_stage, e.tracker.completed)
        for e in heard[:3]
    ]
    assert after == before
    assert before[0][1:] == (0, 1, False)
    assert before[2][1:] == (2, 1, True)


def test_results_and_events_do_not_share_trackers(manager, heard):
    manager.add_tracker("g", wins("a", target=[1, 3]))
    result = manager.track("g", WIN, now=T0)
    stage = next(e for e in heard if e.code == EVENT_TRACKER_STAGE_COMPLETED)
    result.dirtied[0].progress = 50
    assert stage.tracker.progress == 1
    assert progress(manager, "g") == {"a": 1}


def test_a_failing_listener_is_logged_and_the_rest_go_on(manager, caplog):
    calls = []

    def broken(event):
        calls.append("broken")
        raise RuntimeError("listener bug")

    manager.add_listener(EVENT_TRACKER_STAGE_COMPLETED, broken)
    manager.add_listener(EVENT_TRACKER_STAGE_COMPLETED, lambda e: calls.append("ok"))
    manager.add_listener(EVENT_TRACKER_ADDED, broken)
    manager.add_tracker("g", wins("a", target=[1, 2]))

    with caplog.at_level(logging.ERROR, logger="dictrack"):
        result = manager.track("g", WIN, now=T0)

    assert result.ok
    assert calls == ["broken", "broken", "ok"]
    assert progress(manager, "g") == {"a": 1}
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures
    assert any("listener bug" in (r.exc_text or "") for r in failures)
    assert "EVENT_TRACKER_STAGE_COMPLETED" in caplog.text


def test_remove_listener_stops_delivery(manager):
    got = []
    manager.add_listener(EVENT_TRACKER_ADDED, got.append)
    manager.add_tracker("g", wins("a"))

    assert manager.remove_listener(EVENT_TRACKER_ADDED, got.append) is True
    assert manager.remove_listener(EVENT_TRACKER_ADDED, got.append) is False
    assert manager.remove_listener(EVENT_TRACKER_RESET, print) is False
    manager.add_tracker("g", wins("b"))

    assert [e.name for e in got] == ["a"]


def test_nothing_is_heard_of_changes_that_did_not_happen(manager, heard):
    manager.add_trackers("g", [wins("a", target=1), bets("b")], now=T0)
    heard.clear()
    manager.track("g", LOSE, now=T0)
    with pytest.raises(ValueError, match="bet"):
        manager.track("g", {**WIN, "bet": "oops"}, now=T0)
    manager.track("g", {**WIN, "bet": 1}, now=T0, event_id="e")
    assert _codes(heard) == [(EVENT_TRACKER_ALL_COMPLETED, "a")]
    manager.track("g", {**WIN, "bet": 1}, now=T0, event_id="e")
    assert len(heard) == 1


def test_a_listener_may_call_back_into_the_manager(manager):
    def next_quest(event):
        manager.add_tracker(event.group_id, wins(f"{event.name}+", target=1))

    manager.add_listener(EVENT_TRACKER_ALL_COMPLETED, next_quest)
    manager.add_tracker("g", wins("q", target=1))

    manager.track("g", WIN)
    assert progress(manager, "g") == {"q+": 0}
    manager.track("g", WIN)
    assert progress(manager, "g") == {"q++": 0}
