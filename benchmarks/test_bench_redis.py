"""pytest-benchmark versions of the Redis measurements (fixed rounds, JSON report).

Run explicitly, with a Redis server (``.ci/start-redis``; the tests skip if it
is unreachable)::

    .venv/bin/pytest benchmarks/test_bench_redis.py -m benchmark --no-cov

The server is ``DICTRACK_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6390/0``).
Each test writes under a fresh key prefix and deletes only those keys.
Workloads come from ``bench_redis.py``; see benchmarks/README.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

redis = pytest.importorskip("redis")

import bench_core as bc  # noqa: E402
import bench_redis as br  # noqa: E402
import bench_workload as wl  # noqa: E402

pytestmark = [pytest.mark.benchmark, pytest.mark.redis]

EVENTS_PER_ROUND = 1_000
ROUNDS = 15


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    url = os.environ.get("DICTRACK_TEST_REDIS_URL", br.DEFAULT_URL)
    made = redis.Redis.from_url(url)
    try:
        made.ping()
    except redis.exceptions.RedisError as exc:
        made.close()
        pytest.skip(f"Redis at {url} not reachable ({exc}); run .ci/start-redis")
    yield made
    made.close()


@pytest.fixture
def prefix(client: Any) -> Iterator[str]:
    """A fresh key prefix; its keys (and only those) are deleted afterwards."""
    fresh = f"dictrack-bench-{os.getpid()}-{time.monotonic_ns()}"
    yield fresh
    br.delete_keys(client, fresh)


@pytest.mark.parametrize(
    ("per_group", "match"),
    [(10, True), (10, False), (100, True)],
    ids=["10x10pct", "10xnomatch", "100x10pct"],
)
def test_track_redis(
    benchmark: Any, client: Any, prefix: str, per_group: int, match: bool
) -> None:
    manager = br.redis_manager(client, prefix, wl.N_GROUPS, per_group)
    n_events = EVENTS_PER_ROUND if per_group <= 10 else EVENTS_PER_ROUND // 5
    events = wl.make_events(n_events, match=match)
    benchmark.group = "track (Redis cache)"
    benchmark.extra_info.update(
        events_per_round=n_events,
        trackers_per_group=per_group,
        matching_per_event=per_group // wl.MATCH_EVERY if match else 0,
    )
    try:
        bc.run_track(manager, events)  # load every group's view
        benchmark.pedantic(
            bc.run_track,
            args=(manager, events, wl.FIXED_NOW),
            rounds=ROUNDS,
            iterations=1,
            warmup_rounds=1,
        )
        result = manager.track(*events[0], now=wl.FIXED_NOW)
        assert result.ok and not result.completed
    finally:
        manager.close()


def test_track_many_redis(benchmark: Any, client: Any, prefix: str) -> None:
    manager = br.redis_manager(client, prefix, wl.N_GROUPS, wl.MATCH_EVERY)
    events = wl.make_events(EVENTS_PER_ROUND)
    batches = [events[i : i + br.BATCH] for i in range(0, len(events), br.BATCH)]
    benchmark.group = "track_many (Redis cache)"
    benchmark.extra_info.update(
        events_per_round=len(events),
        events_per_batch=br.BATCH,
        trackers_per_group=wl.MATCH_EVERY,
        matching_per_event=1,
    )
    try:
        br.run_track_many(manager, batches)  # load every group's view
        benchmark.pedantic(
            br.run_track_many,
            args=(manager, batches),
            rounds=ROUNDS,
            iterations=1,
            warmup_rounds=1,
        )
        results = manager.track_many(batches[0], now=wl.FIXED_NOW)
        assert all(r.ok and len(r.dirtied) == 1 for r in results)
    finally:
        manager.close()
