"""Optional context: track rate of upstream dictrack 2.1.5, on its Redis cache.

Runs under an interpreter that has PyPI ``dictrack==2.1.5`` (plus ``redis`` and
``mongomock``) installed, not this repository's venv::

    /tmp/up/bin/python benchmarks/bench_upstream.py [--quick] \
        [--redis-url redis://127.0.0.1:6379/14]

It tracks the same workload as ``bench_core.py``'s ``track_memory_10x10pct``
(100 groups x 10 trackers, each event matches 1 of 10) and ``..._nomatch``,
through ``RedisDataCache`` and ``MongoDBDataStore(mongomock)``: 2.1.5 has no
usable in-process cache, so this compares *different caches* (each upstream
event is a Redis lock, an HSCAN, decoding every tracker and a pipeline), and is
context, not a like-for-like race. The same pure-Python baseline runs before
each rep, so ``ratio_to_baseline`` is comparable with ``bench_core.py``'s.

Only keys under a per-run prefix are written to the Redis database, and they
are deleted at the end (the database is never flushed). Prints one JSON
object to stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench_workload import (
    MATCH_EVERY,
    N_GROUPS,
    Baseline,
    bench_track_loop,
    group_ids,
    log,
    machine,
    make_events,
    make_trackers,
)

import dictrack


def _require_upstream() -> None:
    version = getattr(dictrack, "__version__", "")
    if not version.startswith("2."):
        sys.exit(
            f"bench_upstream.py needs dictrack 2.x (found {version!r} at "
            f"{dictrack.__file__}); run it with the upstream interpreter"
        )


def build_manager(client: Any, prefix: str, per_group: int) -> Any:
    import mongomock

    from dictrack.data_caches.redis import RedisDataCache
    from dictrack.data_stores.mongodb import MongoDBDataStore
    from dictrack.manager import TrackingManager

    cache = RedisDataCache(
        client=client,
        data_key=f"{prefix}.data_cache",
        last_cached_key=f"{prefix}.last_cached",
        check_flag_key=f"{prefix}.check_flag",
    )
    store = MongoDBDataStore(client=mongomock.MongoClient(), strict=False)
    manager = TrackingManager(cache, store)
    for group_id in group_ids(N_GROUPS):
        manager.add_trackers(group_id, make_trackers(per_group))
    return manager


def shutdown(manager: Any) -> None:
    for backend in (manager.data_cache, manager.data_store):
        scheduler = getattr(backend, "scheduler", None)
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)


def delete_keys(client: Any, prefix: str) -> int:
    # The data keys, and python-redis-lock's lock and lock-signal keys.
    patterns = (f"{prefix}*", f"lock:{prefix}*", f"lock-signal:{prefix}*")
    keys = [key for pattern in patterns for key in client.scan_iter(pattern)]
    if keys:
        client.delete(*keys)
    return len(keys)


def bench(
    client: Any, *, match: bool, n_events: int, repeats: int, baseline: Baseline
) -> dict[str, Any]:
    prefix = f"dictrack-bench-{os.getpid()}-{time.monotonic_ns()}"
    manager = build_manager(client, prefix, MATCH_EVERY)
    events = make_events(n_events, match=match)
    track = manager.track
    try:

        def run_all() -> None:
            for group_id, data in events:
                track(group_id, data)

        for group_id, data in events[: max(N_GROUPS, n_events // 10)]:
            track(group_id, data)  # loads every group into Redis
        out = bench_track_loop(
            run_all, lambda ev: track(ev[0], ev[1]), events, repeats, baseline
        )
        ok, dirtied, completed, _ = track(*events[0])
        assert ok and len(dirtied) == (1 if match else 0) and not completed
    finally:
        shutdown(manager)
        delete_keys(client, prefix)
    out.update(
        groups=N_GROUPS,
        trackers_per_group=MATCH_EVERY,
        matching_per_event=1 if match else 0,
        now="clock",
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="upstream dictrack 2.1.5 track rate")
    parser.add_argument("--quick", action="store_true", help="~10x fewer events")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args(argv)
    _require_upstream()
    # 2.1.5 logs a warning per tracker per event once it is dirtied; do not
    # measure the console.
    logging.getLogger("dictrack").setLevel(logging.ERROR)

    import redis

    # 2.1.5 reads `decode_responses` from the pool settings: give it explicitly.
    client = redis.StrictRedis.from_url(args.redis_url, decode_responses=False)
    client.ping()
    scale = 10 if args.quick else 1
    repeats = 3 if args.quick else 5
    n_events = 5_000 // scale
    started = time.perf_counter()
    info = machine()
    info["redis_server"] = client.info("server").get("redis_version")
    baseline = Baseline(200_000 // scale)
    results: dict[str, Any] = {}
    for name, match in (("track_redis_10x10pct", True), ("track_redis_nomatch", False)):
        log(f"{name} ...")
        results[name] = bench(
            client, match=match, n_events=n_events, repeats=repeats, baseline=baseline
        )
    results["baseline_dict_loop"] = baseline.report()
    report = {
        "benchmark": "dictrack.upstream_2_1_5",
        "note": "upstream 2.1.5 on RedisDataCache + MongoDBDataStore(mongomock); "
        "a different cache from bench_core.py's MemoryDataCache: context only",
        "quick": args.quick,
        "machine": info,
        "redis_url": args.redis_url,
        "ratio_to_baseline": {
            name: results[name]["ratio_to_baseline"]
            for name in ("track_redis_10x10pct", "track_redis_nomatch")
        },
        "results": results,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
