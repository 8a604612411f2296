"""Processes racing at a period boundary on one Redis hear one reset."""

from __future__ import annotations

import multiprocessing
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import REDIS_URL

pytestmark = [pytest.mark.redis, pytest.mark.slow]

PROCESSES = 3
EVENTS = 20
BERLIN = ZoneInfo("Europe/Berlin")
DAY1 = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN).timestamp()
BOUNDARY = datetime(2026, 11, 24, 4, 0, tzinfo=BERLIN).timestamp()


def _quest() -> Any:
    from dictrack.conditions.keys import KeyValueEQ
    from dictrack.schedules import Daily
    from dictrack.trackers.numerics.count import CountTracker

    return CountTracker(
        "daily", [KeyValueEQ("event", "win")], 10**6, schedule=Daily("04:00", BERLIN)
    )


def _racer(prefix: str, store: str, barrier: Any, out: Any) -> None:
    """One process: hold the group in the old period, then race at the turn."""
    from dictrack.data_caches.redis import RedisDataCache
    from dictrack.events import EVENT_TRACKER_RESET
    from dictrack.manager import TrackingManager

    heard: list[Any] = []
    cache = RedisDataCache.from_url(REDIS_URL, prefix=prefix)
    with TrackingManager(cache, store, run_jobs=False) as manager:
        manager.add_listener(EVENT_TRACKER_RESET, heard.append)
        manager.get_trackers("p", now=DAY1)  # the view of the old period
        barrier.wait(30)
        for i in range(EVENTS):
            manager.track("p", {"event": "win"}, now=BOUNDARY + i / 1000)
    out.put(len(heard))


def test_processes_at_the_boundary_hear_one_reset(tmp_path, redis_prefix):
    from dictrack.data_caches.redis import RedisDataCache
    from dictrack.manager import TrackingManager

    prefix = redis_prefix
    cache = RedisDataCache.from_url(REDIS_URL, prefix=prefix)
    store = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    try:
        with TrackingManager(cache, store, run_jobs=False) as manager:
            manager.add_tracker("p", _quest(), now=DAY1)
            manager.track("p", {"event": "win"}, now=DAY1)
        ctx = multiprocessing.get_context("spawn")
        barrier, out = ctx.Barrier(PROCESSES), ctx.Queue()
        racers = [
            ctx.Process(target=_racer, args=(prefix, store, barrier, out))
            for _ in range(PROCESSES)
        ]
        for racer in racers:
            racer.start()
        heard = [out.get(timeout=120) for _ in racers]
        for racer in racers:
            racer.join(30)
            assert racer.exitcode == 0
        assert sum(heard) == 1, heard
        with TrackingManager(cache, store, run_jobs=False) as manager:
            [quest] = manager.get_trackers("p", now=BOUNDARY + 1)
        assert quest.progress == PROCESSES * EVENTS
        assert quest.period == BOUNDARY
    finally:
        cache.flush_all()
        cache.close()
