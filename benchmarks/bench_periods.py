"""What a schedule costs on the hot path; prints one JSON object to stdout.

    .venv/bin/python benchmarks/bench_periods.py [--quick]

``track`` on the memory cache, 100 groups x 10 trackers, 10 % of trackers
matching each event (the ``track_memory_10x10pct`` workload of
``bench_core.py``), once with plain trackers and once with every tracker on a
``Daily("04:00", "Europe/Berlin")`` schedule, in alternating reps of one run.
Events stay inside one period (the fixed clock of the workload), so this is
the per-event check, not the rollover. ``overhead`` is the median over reps
of 1 - (scheduled rate / plain rate); the goal is at most 5 %.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench_core import git_commit, run_track
from bench_workload import (
    FIXED_NOW,
    N_GROUPS,
    group_ids,
    log,
    machine,
    make_events,
    make_trackers,
)

from dictrack.data_caches.memory import MemoryDataCache
from dictrack.data_stores.sqlite import SQLiteDataStore
from dictrack.manager import TrackingManager
from dictrack.schedules import Daily

GOAL_MAX_OVERHEAD = 0.05


def build(scheduled: bool) -> TrackingManager:
    manager = TrackingManager(
        MemoryDataCache(), SQLiteDataStore(":memory:"), run_jobs=False
    )
    schedule = Daily("04:00", "Europe/Berlin") if scheduled else None
    for group_id in group_ids(N_GROUPS):
        manager.add_trackers(group_id, make_trackers(10, schedule), now=FIXED_NOW)
    return manager


def run(quick: bool) -> dict[str, Any]:
    n_events = 20_000 if quick else 100_000
    repeats = 5 if quick else 9
    events = make_events(n_events, N_GROUPS, match=True)
    managers = {"plain": build(False), "scheduled": build(True)}
    for manager in managers.values():
        run_track(manager, events[: n_events // 5])  # warm up
    rates: dict[str, list[float]] = {"plain": [], "scheduled": []}
    for rep in range(repeats):
        order = ("plain", "scheduled") if rep % 2 else ("scheduled", "plain")
        for kind in order:
            start = time.perf_counter()
            run_track(managers[kind], events)
            rates[kind].append(n_events / (time.perf_counter() - start))
    for manager in managers.values():
        manager.close()
    overheads = [
        1 - s / p for s, p in zip(rates["scheduled"], rates["plain"], strict=True)
    ]
    overhead = statistics.median(overheads)
    info = machine()
    info["commit"] = git_commit()
    return {
        "benchmark": "dictrack.periods",
        "quick": quick,
        "machine": info,
        "events_per_rep": n_events,
        "plain_per_s": round(statistics.median(rates["plain"])),
        "scheduled_per_s": round(statistics.median(rates["scheduled"])),
        "overhead": round(overhead, 4),
        "overheads": [round(o, 4) for o in overheads],
        "goal_max_overhead": GOAL_MAX_OVERHEAD,
        "goal_met": overhead <= GOAL_MAX_OVERHEAD,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="dictrack schedule overhead")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter reps")
    args = parser.parse_args(argv)
    log("track plain vs scheduled ...")
    json.dump(run(args.quick), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
