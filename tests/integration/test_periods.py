"""Scheduled trackers through the manager: lazy rollover, one reset per
period, the reset job, next_reset, and the store round trip. Time is always
passed as ``now``; nothing sleeps."""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dictrack.conditions.keys import KeyValueEQ
from dictrack.data_caches.memory import MemoryDataCache
from dictrack.errors import TrackerNotFound
from dictrack.events import EVENT_TRACKER_RESET
from dictrack.jobs import ResetJob
from dictrack.limiters.count import CountLimiter
from dictrack.manager import TrackingManager
from dictrack.schedules import Daily, Weekly
from dictrack.trackers.base import ResetPolicy
from dictrack.trackers.numerics.accumulation import AccumulationTracker
from dictrack.trackers.numerics.count import CountTracker

from ._manager_helpers import WIN, progress, reloaded

BERLIN = "Europe/Berlin"


def at(text: str, zone: str = BERLIN) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def daily_wins(target=5, **kwargs) -> CountTracker:
    kwargs.setdefault("reset_policy", ResetPolicy.ALL)
    return CountTracker(
        "daily-wins",
        [KeyValueEQ("event", "win")],
        target,
        schedule=Daily("04:00", BERLIN),
        **kwargs,
    )


@pytest.fixture
def resets(manager) -> list:
    heard: list = []
    manager.add_listener(EVENT_TRACKER_RESET, heard.append)
    return heard


def test_progress_starts_over_at_the_first_event_of_a_new_day(manager, resets):
    manager.add_tracker("p", daily_wins(), now=at("2026-11-23T10:00"))
    for _ in range(3):
        manager.track("p", WIN, now=at("2026-11-23T12:00"))
    assert progress(manager, "p", now=at("2026-11-24T03:59:59")) == {"daily-wins": 3}
    result = manager.track("p", WIN, now=at("2026-11-24T04:00"))  # the boundary
    assert [t.progress for t in result.dirtied] == [1]
    assert [e.event_ts for e in resets] == [at("2026-11-24T04:00")]
    assert manager.get_trackers("p")[0].period == at("2026-11-24T04:00")


def test_an_event_exactly_at_the_boundary_counts_in_the_new_period(manager):
    manager.add_tracker("p", daily_wins(), now=at("2026-11-23T10:00"))
    manager.track("p", WIN, now=at("2026-11-23T10:00"))
    manager.track("p", WIN, now=at("2026-11-24T04:00"))
    manager.track("p", WIN, now=at("2026-11-24T04:00"))
    assert progress(manager, "p", now=at("2026-11-24T05:00")) == {"daily-wins": 2}


def test_a_completed_daily_stays_until_the_next_day_then_starts_over(manager, resets):
    manager.add_tracker("p", daily_wins(target=2), now=at("2026-11-23T10:00"))
    manager.track("p", WIN, now=at("2026-11-23T11:00"))
    result = manager.track("p", WIN, now=at("2026-11-23T11:01"))
    assert [t.name for t in result.completed] == ["daily-wins"]
    assert not result.completed[0].removed
    [done] = manager.get_trackers("p", now=at("2026-11-23T12:00"))
    assert done.completed and done.progress == 2
    assert not manager.track("p", WIN, now=at("2026-11-23T13:00")).dirtied  # done
    [fresh] = manager.get_trackers("p", now=at("2026-11-24T05:00"))
    assert not fresh.completed and fresh.progress == 0  # shown as the day starts it
    manager.track("p", WIN, now=at("2026-11-24T06:00"))
    assert progress(manager, "p", now=at("2026-11-24T06:00")) == {"daily-wins": 1}
    assert len(resets) == 1


def test_a_multi_stage_daily_goes_back_to_stage_one(manager):
    manager.add_tracker("p", daily_wins(target=[1, 2, 3]), now=at("2026-11-23T10:00"))
    for _ in range(3):  # stage 1 takes one win, stage 2 two more
        manager.track("p", WIN, now=at("2026-11-23T11:00"))
    [before] = manager.get_trackers("p", now=at("2026-11-23T12:00"))
    assert before.current_stage == 3
    manager.track("p", WIN, now=at("2026-11-24T11:00"))
    [after] = manager.get_trackers("p", now=at("2026-11-24T12:00"))
    # Back to stage 1, where the new day's first win completes it at once.
    assert (after.current_stage, after.progress) == (2, 0)


def test_the_reset_policy_decides_what_a_new_period_clears(manager):
    capped = CountTracker(
        "capped",
        [KeyValueEQ("event", "win")],
        1000,
        limiters=[CountLimiter(2)],
        reset_policy=ResetPolicy.LIMITER,  # keep progress, reopen the limiter
        schedule=Daily("00:00", "UTC"),
    )
    manager.add_tracker("p", capped, now=at("2026-11-23T10:00", "UTC"))
    for _ in range(3):
        manager.track("p", WIN, now=at("2026-11-23T10:00", "UTC"))
    [limited] = manager.get_trackers("p", now=at("2026-11-23T11:00", "UTC"))
    assert limited.limited and limited.progress == 2
    manager.track("p", WIN, now=at("2026-11-24T10:00", "UTC"))
    [reopened] = manager.get_trackers("p", now=at("2026-11-24T11:00", "UTC"))
    assert not reopened.limited and reopened.progress == 3


def test_a_clock_moved_back_never_resets_twice(manager, resets):
    manager.add_tracker("p", daily_wins(), now=at("2026-11-23T10:00"))
    manager.track("p", WIN, now=at("2026-11-24T10:00"))  # new day: reset
    manager.track("p", WIN, now=at("2026-11-23T22:00"))  # late: counts today
    manager.track("p", WIN, now=at("2026-11-24T10:05"))
    assert len(resets) == 1
    assert progress(manager, "p", now=at("2026-11-24T11:00")) == {"daily-wins": 3}


def test_across_a_dst_gap_the_day_still_turns_once(manager, resets):
    tracker = CountTracker(
        "spring",
        [KeyValueEQ("event", "win")],
        10,
        reset_policy=ResetPolicy.ALL,
        schedule=Daily("02:30", BERLIN),  # 02:30 does not exist on 2026-03-29
    )
    manager.add_tracker("p", tracker, now=at("2026-03-28T12:00"))
    manager.track("p", WIN, now=at("2026-03-29T00:59:59", "UTC"))  # 01:59:59 CET
    manager.track("p", WIN, now=at("2026-03-29T01:00", "UTC"))  # 03:00 CEST
    manager.track("p", WIN, now=at("2026-03-29T01:30", "UTC"))
    assert len(resets) == 1
    assert resets[0].event_ts == at("2026-03-29T01:00", "UTC")


def test_next_reset_tells_when_the_period_ends(manager):
    manager.add_tracker("p", daily_wins(), now=at("2026-11-23T10:00"))
    manager.add_tracker("p", CountTracker("forever", [], 5), now=at("2026-11-23T10:00"))
    ends = manager.next_reset("p", "daily-wins", now=at("2026-11-23T10:00"))
    assert ends == datetime(2026, 11, 24, 4, 0, tzinfo=ZoneInfo(BERLIN))
    assert ends.tzinfo == ZoneInfo(BERLIN)
    assert manager.next_reset("p", "forever", now=at("2026-11-23T10:00")) is None
    with pytest.raises(TrackerNotFound, match="nope"):
        manager.next_reset("p", "nope")
    with pytest.raises(TypeError):
        manager.next_reset("p", 5)  # type: ignore[arg-type]


def test_schedules_and_periods_survive_the_store(data_cache, data_store):
    weekly = AccumulationTracker(
        "weekly-bets",
        [KeyValueEQ("event", "win")],
        10_000,
        key="bet",
        reset_policy=ResetPolicy.ALL,
        schedule=Weekly("monday", "00:00", "America/New_York"),
    )
    with TrackingManager(data_cache, data_store, run_jobs=False) as manager:
        manager.add_tracker("p", weekly, now=at("2026-11-24T10:00", "UTC"))
        manager.track("p", {**WIN, "bet": 70}, now=at("2026-11-24T10:00", "UTC"))
    with TrackingManager(MemoryDataCache(), data_store, run_jobs=False) as fresh:
        [loaded] = fresh.get_trackers("p", now=at("2026-11-25T10:00", "UTC"))
        assert loaded.schedule == Weekly("monday", "00:00", "America/New_York")
        assert loaded.period == at("2026-11-23T00:00", "America/New_York")
        assert loaded.progress == 70
        fresh.track("p", {**WIN, "bet": 5}, now=at("2026-12-01T10:00", "UTC"))
    later = at("2026-12-01T11:00", "UTC")
    assert progress(reloaded(data_store), "p", now=later) == {"weekly-bets": 5}


def shared_caches(cache_factory, n: int) -> list:
    """``n`` caches over the same groups: separate clients where the backend is
    shared (Redis: as separate processes), else one instance."""
    first = cache_factory()
    if getattr(first, "prefix", None) is None:  # in-process only
        return [first] * n
    return [first] + [cache_factory() for _ in range(n - 1)]


def test_two_managers_racing_at_the_boundary_reset_once(cache_factory, data_store):
    heard: list = []
    cache_one, cache_two = shared_caches(cache_factory, 2)
    one = TrackingManager(cache_one, data_store, run_jobs=False)
    two = TrackingManager(cache_two, data_store, run_jobs=False)
    for mgr in (one, two):
        mgr.add_listener(EVENT_TRACKER_RESET, heard.append)
    one.add_tracker("p", daily_wins(target=100), now=at("2026-11-23T10:00"))
    one.track("p", WIN, now=at("2026-11-23T10:00"))
    two.track("p", WIN, now=at("2026-11-23T10:00"))  # both hold the group
    boundary = at("2026-11-24T04:00")
    one.track("p", WIN, now=boundary)
    two.track("p", WIN, now=boundary + 0.5)  # its view is stale: CAS, recompute
    assert len(heard) == 1
    assert progress(one, "p", now=boundary + 1) == {"daily-wins": 2}
    one.close()
    two.close()


def test_threads_of_many_managers_at_the_boundary_hear_one_reset(
    cache_factory, data_store
):
    caches = shared_caches(cache_factory, 4)
    managers = [TrackingManager(c, data_store, run_jobs=False) for c in caches]
    heard: list = []
    for mgr in managers:
        mgr.add_listener(EVENT_TRACKER_RESET, heard.append)
    managers[0].add_tracker("p", daily_wins(target=10**6), now=at("2026-11-23T10:00"))
    for mgr in managers:  # every manager holds the group in the old period
        mgr.track("p", WIN, now=at("2026-11-23T10:00"))
    boundary = at("2026-11-24T04:00")
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def race(mgr: TrackingManager) -> None:
        try:
            barrier.wait()
            for i in range(25):
                mgr.track("p", WIN, now=boundary + i / 100)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(m,)) for m in managers * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(heard) == 1
    assert heard[0].event_ts >= boundary
    assert progress(managers[0], "p", now=boundary + 1) == {"daily-wins": 200}
    for mgr in managers:
        mgr.close()


@pytest.mark.parametrize(
    "policy",
    [ResetPolicy.NONE, ResetPolicy.PROGRESS, ResetPolicy.LIMITER, ResetPolicy.ALL],
)
def test_reset_tracker_is_the_manual_form_with_every_policy(manager, policy):
    capped = daily_wins(target=100, limiters=[CountLimiter(2)])
    manager.add_tracker("p", capped, now=at("2026-11-23T10:00"))
    for _ in range(3):
        manager.track("p", WIN, now=at("2026-11-23T10:00"))
    assert manager.reset_tracker("p", "daily-wins", policy, now=at("2026-11-23T11:00"))
    [after] = manager.get_trackers("p", now=at("2026-11-23T11:00"))
    assert after.progress == (0 if policy & ResetPolicy.PROGRESS else 2)
    assert after.limited == (not policy & ResetPolicy.LIMITER)
    assert after.period == at("2026-11-23T04:00")  # a manual reset keeps the period


def test_the_reset_job_resets_ahead_of_events_and_is_idempotent(manager, resets):
    manager.add_tracker("p", daily_wins(), now=at("2026-11-23T10:00"))
    manager.track("p", WIN, now=at("2026-11-23T10:00"))
    job = ResetJob(manager._engine, 60.0)
    delay = job(now=at("2026-11-23T10:00"))
    assert 0 < delay <= 60.001
    job(now=at("2026-11-24T04:00:01"))
    assert [e.name for e in resets] == ["daily-wins"]
    [fresh] = manager.get_trackers("p", now=at("2026-11-24T04:00:02"))
    assert fresh.progress == 0 and fresh.period == at("2026-11-24T04:00")
    job(now=at("2026-11-24T04:00:03"))  # nothing more to do
    manager.track("p", WIN, now=at("2026-11-24T05:00"))  # the lazy path agrees
    assert len(resets) == 1
    assert progress(manager, "p", now=at("2026-11-24T05:00")) == {"daily-wins": 1}


def test_the_reset_job_sleeps_until_the_next_boundary(data_store):
    with TrackingManager(MemoryDataCache(), data_store, run_jobs=False) as manager:
        now = 1_800_000_000.0
        start = Daily("04:00", BERLIN).next_boundary(now) - 10  # 10 s before
        manager.add_tracker("p", daily_wins(), now=start)
        manager.track("p", WIN, now=start)
        delay = ResetJob(manager._engine, 3600.0)(now=start)
        assert 10 <= delay < 11  # woken for the boundary, not the interval


def test_schedule_must_be_a_schedule():
    with pytest.raises(TypeError, match="Schedule"):
        CountTracker("x", [], 1, schedule="daily")  # type: ignore[arg-type]


def test_standalone_tracker_rolls_over_too():
    tracker = daily_wins(target=1)
    tracker.track(WIN, now=at("2026-11-23T10:00"))
    assert tracker.completed
    tracker.track(WIN, now=at("2026-11-23T11:00"))  # done today: no error
    assert tracker.progress == 1
    tracker.track(WIN, now=at("2026-11-24T11:00"))
    assert tracker.completed and tracker.period == at("2026-11-24T04:00")


def test_a_scheduled_tracker_starts_each_period_from_zero_by_default(manager):
    quest = CountTracker(
        "daily", [KeyValueEQ("event", "win")], 2, schedule=Daily("04:00", BERLIN)
    )
    assert quest.reset_policy == ResetPolicy.ALL
    assert CountTracker("plain", [], 2).reset_policy == ResetPolicy.DEFAULT
    manager.add_tracker("p", quest, now=at("2026-11-23T10:00"))
    for _ in range(2):
        manager.track("p", WIN, now=at("2026-11-23T10:00"))
    result = manager.track("p", WIN, now=at("2026-11-24T10:00"))
    assert [(t.progress, t.completed) for t in result.dirtied] == [(1, False)]


def test_progress_kept_across_periods_keeps_its_completion(manager, resets):
    keeps = CountTracker(
        "lifetime",
        [KeyValueEQ("event", "win")],
        2,
        reset_policy=ResetPolicy.LIMITER,
        schedule=Daily("04:00", BERLIN),
    )
    manager.add_tracker("p", keeps, now=at("2026-11-23T10:00"))
    for _ in range(2):
        manager.track("p", WIN, now=at("2026-11-23T10:00"))
    result = manager.track("p", WIN, now=at("2026-11-24T10:00"))
    assert result.completed == []  # no second completion
    assert [e.tracker.completed for e in resets] == [True]
    [after] = manager.get_trackers("p", now=at("2026-11-24T11:00"))
    assert after.completed and after.progress == 2
