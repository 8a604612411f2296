"""Durability benchmarks: flushing to the stores, and what the job runner costs.

Run from the repository root; prints one JSON object to stdout::

    .venv/bin/python benchmarks/bench_durability.py            # ~1 min
    .venv/bin/python benchmarks/bench_durability.py --quick

- ``flush_sqlite_10k`` / ``flush_mongomock``: ``persist()`` of dirty trackers
  (1,000 groups x 10 trackers for SQLite) from a memory cache to the store, as
  the flush job does it. mongomock scans its whole collection for every
  write, so its cost grows with the square of the trackers; it is measured on
  ``--mongomock-trackers`` (default 2,000) and the rate is reported with it.
- ``track_with_runner``: ``track`` on a memory cache + SQLite file with the job
  runner flushing every second, against the same manager without jobs, in
  alternating reps of the same run; ``ratio`` is the median of with / without.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_core import dirty_all_events, git_commit, make_batches, run_add, run_track
from bench_workload import FIXED_NOW, N_GROUPS, log, machine, make_events

from dictrack.data_caches.memory import MemoryDataCache
from dictrack.data_stores.base import BaseDataStore
from dictrack.data_stores.sqlite import SQLiteDataStore
from dictrack.manager import TrackingManager

GOALS = {
    "flush_sqlite_10k": {"max_seconds": 2.0},
    "flush_mongomock": {"max_seconds_for_10k": 2.0},
    "track_with_runner": {"min_ratio": 0.90},
}


def mongomock_store() -> BaseDataStore:
    import mongomock

    from dictrack.data_stores.mongodb import MongoDBDataStore

    return MongoDBDataStore(client=mongomock.MongoClient(tz_aware=True))


def bench_flush(store: BaseDataStore, n_groups: int, repeats: int) -> dict[str, Any]:
    """Seconds for ``persist()`` of ``n_groups * 10`` dirty trackers."""
    manager = TrackingManager(MemoryDataCache(), store, run_jobs=False)
    n = n_groups * 10
    seconds: list[float] = []
    try:
        run_add(manager, make_batches(n_groups, 10))
        events = dirty_all_events(n_groups, 10)
        for _ in range(repeats):
            run_track(manager, events)  # every tracker dirty once more
            start = time.perf_counter()
            written = manager.persist()
            seconds.append(time.perf_counter() - start)
            assert written == n, (written, n)
    finally:
        manager.close()
    median = statistics.median(seconds)
    return {
        "trackers": n,
        "median_s": round(median, 3),
        "best_s": round(min(seconds), 3),
        "trackers_per_s": round(n / median),
        "runs_s": [round(s, 3) for s in seconds],
    }


def bench_runner(n_events: int, repeats: int, folder: str) -> dict[str, Any]:
    """Track rate with the job runner (1 s flushes) over the rate without."""
    events = make_events(n_events, N_GROUPS, match=True)
    rates: dict[str, list[float]] = {"with_runner": [], "without": []}
    for rep in range(repeats):
        for kind in (
            ("without", "with_runner") if rep % 2 else ("with_runner", "without")
        ):
            store = SQLiteDataStore(Path(folder) / f"{kind}-{rep}.sqlite3")
            manager = TrackingManager(
                MemoryDataCache(), store, run_jobs=kind == "with_runner"
            )
            try:
                for batch in make_batches(N_GROUPS, 10):
                    manager.add_trackers(*batch, now=FIXED_NOW)
                start = time.perf_counter()
                run_track(manager, events)
                rates[kind].append(n_events / (time.perf_counter() - start))
            finally:
                manager.close()
    ratios = [
        w / o for w, o in zip(rates["with_runner"], rates["without"], strict=True)
    ]
    return {
        "events_per_rep": n_events,
        "with_runner_per_s": round(statistics.median(rates["with_runner"])),
        "without_per_s": round(statistics.median(rates["without"])),
        "ratio": round(statistics.median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
    }


def run(quick: bool, mongomock_trackers: int) -> dict[str, Any]:
    repeats = 3 if quick else 5
    results: dict[str, Any] = {}
    log("flush_sqlite_10k ...")
    with tempfile.TemporaryDirectory(prefix="dictrack-bench-") as folder:
        results["flush_sqlite_10k"] = bench_flush(
            SQLiteDataStore(Path(folder) / "flush.sqlite3"), 1_000, repeats
        )
        log("flush_mongomock ...")
        results["flush_mongomock"] = bench_flush(
            mongomock_store(), max(1, mongomock_trackers // 10), 1 if quick else 3
        )
        log("track_with_runner ...")
        results["track_with_runner"] = bench_runner(
            50_000 if quick else 300_000, repeats, folder
        )
    mongo = results["flush_mongomock"]
    goals_met = {
        "flush_sqlite_10k": results["flush_sqlite_10k"]["median_s"] <= 2.0,
        "flush_mongomock": mongo["trackers"] >= 10_000 and mongo["median_s"] <= 2.0,
        "track_with_runner": results["track_with_runner"]["ratio"] >= 0.90,
    }
    info = machine()
    info["commit"] = git_commit()
    return {
        "benchmark": "dictrack.durability",
        "quick": quick,
        "machine": info,
        "goals": GOALS,
        "goals_met": goals_met,
        "results": results,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="dictrack durability benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter reps")
    parser.add_argument(
        "--mongomock-trackers",
        type=int,
        default=2_000,
        help="dirty trackers flushed to mongomock (its cost grows as n^2)",
    )
    args = parser.parse_args(argv)
    json.dump(run(args.quick, args.mongomock_trackers), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
