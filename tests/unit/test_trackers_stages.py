"""Trackers called directly: stage progression, accumulation, events and
limiters inside a tracker."""

from __future__ import annotations

import logging

import pytest

from dictrack.conditions.keys import KeyExists, KeyValueEQ
from dictrack.events import (
    EVENT_TRACKER_ALL_COMPLETED,
    EVENT_TRACKER_LIMITED,
    EVENT_TRACKER_RESET,
    EVENT_TRACKER_STAGE_COMPLETED,
    LimitedTrackerEvent,
    TrackerEvent,
)
from dictrack.limiters.count import CountLimiter
from dictrack.limiters.time import TimeLimiter
from dictrack.trackers.base import BaseTracker, ResetPolicy
from dictrack.trackers.numerics.accumulation import AccumulationTracker
from dictrack.trackers.numerics.count import CountTracker

NOW = 1_000.0
HIT = {"a": 1}
MISS = {"b": 1}

RESET, STAGE, ALL, LIMITED = (
    EVENT_TRACKER_RESET,
    EVENT_TRACKER_STAGE_COMPLETED,
    EVENT_TRACKER_ALL_COMPLETED,
    EVENT_TRACKER_LIMITED,
)


def count(target, **kw) -> CountTracker:
    return CountTracker("t", [KeyExists("a")], target, **kw)


def acc(target, key: str = "bet", **kw) -> AccumulationTracker:
    return AccumulationTracker("acc", [], target, key=key, **kw)


def listen(tracker: BaseTracker) -> list:
    heard: list = []
    tracker.forward_event(heard.append)
    return heard


def codes(heard: list) -> list[int]:
    return [e.code for e in heard]


def state(t: BaseTracker) -> tuple:
    return (t.progress, t.current_stage, t.target, t.completed)


# -- stage progression ----------------------------------------------------------


def test_count_default_policy_is_cumulative() -> None:
    t = count([2, 4])
    seen = []
    for _ in range(4):
        t.track(HIT, now=NOW)
        seen.append(state(t))
    assert seen == [
        (1, 1, 2, False),
        (2, 2, 4, False),
        (3, 2, 4, False),
        (4, 2, 4, True),
    ]
    assert t.multi_target == []


def test_non_matching_events_do_not_count() -> None:
    t = count(2)
    for _ in range(5):
        t.track(MISS, now=NOW)
    assert state(t) == (0, 1, 2, False)


@pytest.mark.parametrize("policy", [ResetPolicy.PROGRESS, ResetPolicy.ALL])
def test_progress_policy_restarts_each_stage(policy) -> None:
    t = count([2, 1], reset_policy=policy)
    heard = listen(t)
    seen = []
    for _ in range(3):
        t.track(HIT, now=NOW)
        seen.append(state(t))
    assert seen == [(1, 1, 2, False), (0, 2, 1, False), (1, 2, 1, True)]
    assert codes(heard) == [RESET, STAGE, ALL]


def test_accumulation_completes_one_stage_per_event() -> None:
    t = acc([10, 20, 30])
    heard = listen(t)
    t.track({"bet": 35}, now=NOW)
    assert state(t) == (35, 2, 20, False)
    assert codes(heard) == [RESET, STAGE]
    t.track({"bet": 0}, now=NOW)
    assert state(t) == (35, 3, 30, False)
    t.track({"bet": 0}, now=NOW)
    assert state(t) == (35, 3, 30, True)
    assert codes(heard) == [RESET, STAGE, RESET, STAGE, ALL]
    assert [e.tracker.target for e in heard if e.code != RESET] == [10, 20, 30]


def test_loop_forever_restarting_repeats_the_last_target() -> None:
    t = count([1, 2], reset_policy=ResetPolicy.PROGRESS, loop_forever=True)
    heard = listen(t)
    for _ in range(7):
        t.track(HIT, now=NOW)
    assert state(t) == (0, 2, 2, False)
    assert codes(heard).count(STAGE) == 4
    assert ALL not in codes(heard)


def test_loop_forever_cumulative_completes_on_every_event() -> None:
    t = count(2, loop_forever=True)
    heard = listen(t)
    for _ in range(4):
        t.track(HIT, now=NOW)
    assert state(t) == (4, 1, 2, False)
    assert [e.tracker.progress for e in heard if e.code == STAGE] == [2, 3, 4]


def test_init_progress_counts_towards_the_first_target() -> None:
    t = count([5, 6], init_progress=4)
    t.track(MISS, now=NOW)
    assert state(t) == (4, 1, 5, False)
    t.track(HIT, now=NOW)
    assert state(t) == (5, 2, 6, False)

    over = count(3, init_progress=7)
    over.track(HIT, now=NOW)
    assert over.completed and over.progress == 8


def test_added_targets_become_later_stages() -> None:
    t = count(1)
    t.add_targets([2, 3])
    for _ in range(3):
        t.track(HIT, now=NOW)
    assert state(t) == (3, 3, 3, True)


# -- AccumulationTracker --------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "data", "added"),
    [
        ("bet", {"bet": 3}, 3),
        ("bet", {"bet": 2.5}, 2.5),
        ("bet", {"bet": "12.5"}, 12.5),
        ("bet", {"bet": " 7 "}, 7),
        ("bet", {"bet": -2}, -2),
        ("order.total", {"order": {"total": 4}}, 4),
        ("order.items.1.price", {"order": {"items": [{}, {"price": 6}]}}, 6),
        ("a\\.b", {"a.b": 9}, 9),
    ],
)
def test_accumulation_adds_the_value_at_key(key, data, added) -> None:
    t = acc(100, key=key, init_progress=1)
    t.track(data, now=NOW)
    assert t.progress == 1 + added
    assert t.key == key


@pytest.mark.parametrize(
    "data",
    [{}, {"bet": None}, {"order": 5}, {"other": 5}],
    ids=["missing", "none", "not-a-dict", "other-key"],
)
def test_accumulation_missing_or_none_adds_nothing(data, caplog) -> None:
    t = acc(100, key="bet" if "bet" in data else "order.total")
    with caplog.at_level(logging.WARNING):
        t.track(data, now=NOW)
    assert t.progress == 0 and not t.completed
    assert any("nothing added" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("value", ["abc", [1], {"x": 1}, "nan", float("inf")])
def test_accumulation_non_numeric_value_raises_naming_the_key(value) -> None:
    t = acc(100, key="order.total", init_progress=2)
    with pytest.raises(ValueError, match="order.total"):
        t.track({"order": {"total": value}}, now=NOW)
    assert t.progress == 2


def test_rejected_accumulation_event_leaves_tracker_unchanged() -> None:
    t = acc(100)
    before = t._clone()
    with pytest.raises(ValueError):
        t.track({"bet": "x"}, now=NOW)
    assert (t.dirtied, t.matched) == (False, False)
    assert t == before


def test_accumulation_respects_conditions() -> None:
    t = AccumulationTracker("acc", [KeyValueEQ("game", "slots")], 10, key="bet")
    t.track({"game": "poker", "bet": 50}, now=NOW)
    t.track({"game": "slots", "bet": 4}, now=NOW)
    assert t.progress == 4


# -- events ---------------------------------------------------------------------


def test_stage_completion_emits_reset_then_stage_completed() -> None:
    t = count([1, 2], group_id="g")
    heard = listen(t)
    t.track(HIT, now=NOW)
    assert codes(heard) == [RESET, STAGE]
    for e in heard:
        assert type(e) is TrackerEvent
        assert (e.group_id, e.name, e.event_ts) == ("g", "t", NOW)
    reset, stage = heard
    assert (reset.tracker.current_stage, reset.tracker.target) == (2, 2)
    assert not reset.tracker.completed
    snap = stage.tracker
    assert snap.completed is True
    assert (snap.current_stage, snap.target, snap.progress) == (1, 1, 1)
    assert snap.multi_target == [2]
    assert not t.completed


def test_last_stage_emits_all_completed_only() -> None:
    t = count([1, 2])
    t.track(HIT, now=NOW)
    heard = listen(t)
    t.track(HIT, now=NOW + 1)
    assert codes(heard) == [ALL]
    (e,) = heard
    assert e.tracker.completed and t.completed
    assert (e.tracker.progress, e.tracker.target, e.event_ts) == (2, 2, NOW + 1)
    assert e.tracker is not t and repr(e.tracker) == repr(t)
    assert e.tracker.dirtied is False  # as 2.1.5's snapshot, a fresh copy


def test_event_tracker_is_a_snapshot() -> None:
    t = count([1, 5], limiters=[CountLimiter(10)])
    heard = listen(t)
    t.track(HIT, now=NOW)
    stage = heard[1].tracker
    (snap_lim,), (live_lim,) = stage.limiters, t.limiters
    assert snap_lim is not live_lim
    before = (repr(stage), stage.multi_target, stage.progress, snap_lim.remaining)
    t.track(HIT, now=NOW)
    t.add_targets(9)
    t.progress = 4
    assert live_lim.remaining == 8
    t.reset(ResetPolicy.ALL, reset_count=3)
    after = (repr(stage), stage.multi_target, stage.progress, snap_lim.remaining)
    assert after == before
    assert stage.completed and stage.current_stage == 1


def test_listener_only_hears_its_code() -> None:
    t = count([1, 2])
    stage, done = [], []
    t.add_listener(STAGE, stage.append)
    t.add_listener(ALL, done.append)
    t.track(HIT, now=NOW)
    assert (codes(stage), done) == ([STAGE], [])
    t.track(HIT, now=NOW)
    assert (codes(stage), codes(done)) == ([STAGE], [ALL])


def test_failing_listener_is_logged_and_others_still_run(caplog) -> None:
    t = count([1, 2])
    heard = []

    def boom(event) -> None:
        raise RuntimeError("listener exploded")

    t.add_listener(STAGE, boom)
    t.add_listener(STAGE, heard.append)
    t.add_listener(RESET, boom)
    with caplog.at_level(logging.ERROR):
        t.track(HIT, now=NOW)
    assert codes(heard) == [STAGE]
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 2
    assert all(
        r.exc_info and "listener exploded" in str(r.exc_info[1]) for r in failures
    )
    assert state(t) == (1, 2, 2, False)


# -- CountLimiter inside a tracker --------------------------------------------------


def test_count_limiter_counts_only_matching_events() -> None:
    t = count(10, limiters=[CountLimiter(2)])
    heard = listen(t)
    for data in (MISS, HIT, MISS, MISS):
        t.track(data, now=NOW)
    assert not t.limited and heard == []
    t.track(HIT, now=NOW)
    assert t.limited and t.progress == 2
    (e,) = heard
    assert isinstance(e, LimitedTrackerEvent) and e.code == LIMITED
    assert e.limiter == CountLimiter(2) and e.limiter.remaining == 0
    assert e.limiter is not next(iter(t.limiters))
    assert e.tracker.limited and e.tracker.progress == 2


def test_limited_tracker_ignores_events_until_limiter_reset() -> None:
    t = count(10, limiters=[CountLimiter(1)])
    t.track(HIT, now=NOW)
    heard = listen(t)
    for _ in range(3):
        t.track(HIT, now=NOW)
        assert not t.matched
    assert (t.progress, heard) == (1, [])
    t.reset(ResetPolicy.PROGRESS)
    assert t.limited and t.progress == 0
    t.track(HIT, now=NOW)
    assert t.progress == 0
    t.reset(ResetPolicy.LIMITER)
    assert not t.limited
    t.track(HIT, now=NOW)
    assert t.progress == 1 and t.limited


def test_count_limiter_does_not_limit_a_completing_event() -> None:
    t = count(2, limiters=[CountLimiter(2)])
    heard = listen(t)
    t.track(HIT, now=NOW)
    t.track(HIT, now=NOW)
    assert t.completed and not t.limited
    assert codes(heard) == [ALL]


def test_count_limiter_refill_at_stage_counts_the_completing_event() -> None:
    # As in 2.1.5: the stage reset refills the limiter before post_track runs,
    # so the event that completed the stage is the first one of the new stage.
    t = count([2, 4], limiters=[CountLimiter(2)])
    t.track(HIT, now=NOW)
    t.track(HIT, now=NOW)
    (lim,) = t.limiters
    assert (t.current_stage, lim.remaining, t.limited) == (2, 1, False)
    t.track(HIT, now=NOW)
    t.track(HIT, now=NOW)
    assert (t.progress, t.limited, t.completed) == (3, True, False)


# -- TimeLimiter inside a tracker ----------------------------------------------------


def test_time_limiter_admits_events_inside_its_window() -> None:
    t = count(10, limiters=[TimeLimiter(start_ts=100, end_ts=200)])
    for now in (100, 150, 200):
        t.track(HIT, now=now)
    assert t.progress == 3 and not t.limited


@pytest.mark.parametrize("now", [99, 200.5, 10_000])
def test_time_limiter_outside_window_limits(now) -> None:
    t = count(10, limiters=[TimeLimiter(start_ts=100, end_ts=200)])
    heard = listen(t)
    t.track(HIT, now=now)
    assert t.limited and t.progress == 0 and not t.matched
    (e,) = heard
    assert e.code == LIMITED and e.event_ts == now
    assert e.limiter == TimeLimiter(start_ts=100, end_ts=200)
    t.track(HIT, now=150)
    assert t.progress == 0 and len(heard) == 1


def test_time_limiter_reset_moves_the_window() -> None:
    t = count(10, limiters=[TimeLimiter(start_ts=100, end_ts=200)])
    t.track(HIT, now=300)
    t.reset(ResetPolicy.LIMITER, now_ts=300)
    assert not t.limited
    (lim,) = t.limiters
    assert (lim.start, lim.end) == (300, 400)
    t.track(HIT, now=350)
    t.reset(ResetPolicy.LIMITER, now_ts=500, reset_seconds=10)
    assert (lim.start, lim.end) == (500, 510)
    t.track(HIT, now=511)
    assert t.limited and t.progress == 1
