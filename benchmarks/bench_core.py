"""Core throughput benchmarks of dictrack; prints one JSON object to stdout.

Run from the repository root::

    .venv/bin/python benchmarks/bench_core.py            # full run (~1 min)
    .venv/bin/python benchmarks/bench_core.py --quick    # ~10x fewer operations
    .venv/bin/python benchmarks/bench_core.py --only track_memory_10x10pct

Progress goes to stderr; stdout carries only the JSON report. Each measurement
runs a fixed number of operations several times and reports the median rate;
track latencies (p50/p99, microseconds) come from one extra pass that times
every call. ``baseline_dict_loop`` runs the cheapest possible matching in plain
Python on the same kind of events right before each track rep, and
``ratio_to_baseline`` is the median of track rate / baseline rate over the
paired reps, so results stay comparable on noisy machines.

The manager builders here (and the workloads in ``bench_workload.py``) are
shared with ``test_bench_core.py`` (pytest-benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from bench_workload import (
    FIXED_NOW,
    MATCH_EVERY,
    N_GROUPS,
    Baseline,
    Clocks,
    Event,
    bench_track_loop,
    group_ids,
    log,
    machine,
    make_events,
    make_trackers,
    summary,
    time_calls,
)

from dictrack.data_caches.memory import MemoryDataCache
from dictrack.data_stores.base import BaseDataStore
from dictrack.data_stores.sqlite import SQLiteDataStore
from dictrack.manager import TrackingManager
from dictrack.trackers.base import BaseTracker

GOALS: dict[str, dict[str, float]] = {
    "track_memory_10x10pct": {"events_per_s": 100_000},
    "add_trackers_sqlite": {"trackers_per_s": 20_000},
}

#: Track measurements: name -> (trackers per group, events match?, fixed now?).
TRACKS: dict[str, tuple[int, bool, bool]] = {
    "track_memory_10x10pct": (10, True, True),
    "track_memory_10x10pct_clock": (10, True, False),
    "track_memory_nomatch": (10, False, True),
    "track_memory_nomatch_clock": (10, False, False),
    "track_memory_100x10pct": (100, True, True),
}

Batch = tuple[str, list[BaseTracker]]


# -- managers and runs (shared with test_bench_core.py) -----------------------


def track_manager(
    n_groups: int,
    per_group: int,
    store: BaseDataStore | None = None,
    **options: Any,
) -> TrackingManager:
    """Memory cache + SQLite (``:memory:`` by default), ``n_groups`` groups filled.

    Without jobs unless ``run_jobs=True`` is passed: these measure the engine
    (``bench_durability.py`` measures the job runner's cost).
    """
    if store is None:
        store = SQLiteDataStore(":memory:")
    options.setdefault("run_jobs", False)
    manager = TrackingManager(MemoryDataCache(), store, **options)
    for group_id in group_ids(n_groups):
        manager.add_trackers(group_id, make_trackers(per_group), now=FIXED_NOW)
    return manager


def sqlite_file_manager(folder: str | os.PathLike[str]) -> TrackingManager:
    """Memory cache + a new SQLite file in ``folder``."""
    path = Path(folder) / f"bench-{time.monotonic_ns()}.sqlite3"
    return TrackingManager(MemoryDataCache(), SQLiteDataStore(path), run_jobs=False)


def make_batches(n_groups: int, per_group: int, prefix: str = "g") -> list[Batch]:
    """Fresh trackers for ``add_trackers``, one batch per new group."""
    return [(gid, make_trackers(per_group)) for gid in group_ids(n_groups, prefix)]


def run_track(
    manager: TrackingManager, events: Sequence[Event], now: float | None = FIXED_NOW
) -> None:
    track = manager.track
    for group_id, data in events:
        track(group_id, data, now=now)


def run_add(manager: TrackingManager, batches: Sequence[Batch]) -> None:
    add = manager.add_trackers
    for group_id, trackers in batches:
        add(group_id, trackers, now=FIXED_NOW)


def dirty_all_events(n_groups: int, per_group: int) -> list[Event]:
    """One matching event per tracker (needs ``per_group <= MATCH_EVERY``)."""
    return [
        (gid, {"event": "win", "quest": f"q{i}", "amount": 1})
        for gid in group_ids(n_groups)
        for i in range(per_group)
    ]


# -- measurements ------------------------------------------------------------


def bench_track(
    *,
    n_events: int,
    per_group: int,
    match: bool,
    now: float | None,
    repeats: int,
    baseline: Baseline,
) -> dict[str, Any]:
    """``track`` over a memory cache: ``n_events`` events per rep."""
    manager = track_manager(N_GROUPS, per_group)
    events = make_events(n_events, N_GROUPS, match=match)
    track = manager.track
    try:
        run_track(manager, events[: max(N_GROUPS * MATCH_EVERY, n_events // 10)], now)
        out = bench_track_loop(
            partial(run_track, manager, events, now),
            lambda ev: track(ev[0], ev[1], now=now),
            events,
            repeats,
            baseline,
        )
        # The workload does what it says: the right number dirtied, none completed.
        result = track(events[0][0], events[0][1], now=now)
        assert len(result.dirtied) == (per_group // MATCH_EVERY if match else 0)
        assert not result.completed
    finally:
        manager.close()
    out.update(
        groups=N_GROUPS,
        trackers_per_group=per_group,
        matching_per_event=per_group // MATCH_EVERY if match else 0,
        now="fixed" if now is not None else "clock",
    )
    return out


def _add_timed(
    manager: TrackingManager, batches: Sequence[Batch], sink: list[int]
) -> None:
    add = manager.add_trackers
    sink += time_calls(lambda b: add(b[0], b[1], now=FIXED_NOW), batches)


def bench_add_trackers(
    *, n_groups: int, per_group: int, repeats: int, folder: str
) -> dict[str, Any]:
    """``add_trackers(group, per_group trackers)`` into ``n_groups`` new groups."""
    clocks = Clocks()
    latencies: list[int] = []
    for rep in range(repeats):
        batches = make_batches(n_groups, per_group, prefix=f"r{rep}g")
        manager = sqlite_file_manager(folder)
        try:
            clocks.run(partial(_add_timed, manager, batches, latencies))
            stored = manager.data_store.count()  # type: ignore[attr-defined]
            assert stored == n_groups * per_group, stored
        finally:
            manager.close()
    out = summary(n_groups * per_group, "trackers", clocks, latencies)
    out.update(groups=n_groups, trackers_per_call=per_group, latency_per="call")
    return out


def bench_persist(
    *, n_groups: int, per_group: int, repeats: int, folder: str
) -> dict[str, Any]:
    """``persist()`` of ``n_groups * per_group`` dirty trackers to a SQLite file."""
    manager = sqlite_file_manager(folder)
    n_trackers = n_groups * per_group
    clocks = Clocks()
    written: list[int] = []
    try:
        run_add(manager, make_batches(n_groups, per_group))
        events = dirty_all_events(n_groups, per_group)
        for _ in range(repeats):
            run_track(manager, events)  # every tracker dirty once more
            clocks.run(lambda: written.append(manager.persist()))
        assert written == [n_trackers] * repeats, written
    finally:
        manager.close()
    out = summary(n_trackers, "trackers", clocks)
    out.update(
        trackers=n_trackers,
        groups=n_groups,
        median_ms=round(statistics.median(clocks.wall) * 1000, 1),
        best_ms=round(min(clocks.wall) * 1000, 1),
    )
    return out


# -- the run -----------------------------------------------------------------


def git_commit() -> str | None:
    """The commit measured, with ``+dirty`` if dictrack/ has local changes."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "dictrack")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def plan(quick: bool) -> dict[str, int]:
    scale = 10 if quick else 1
    return {
        "repeats": 3 if quick else 5,
        "track_events": 50_000 // scale,
        "track_100_events": 10_000 // scale,
        "baseline_events": 200_000 // scale,
        "add_groups": 2_000 // scale,
        "persist_groups": 1_000 // scale,
    }


def run(quick: bool, only: set[str] | None) -> dict[str, Any]:
    p = plan(quick)
    repeats = p["repeats"]
    info = machine()
    info["sqlite"] = sqlite3.sqlite_version
    info["commit"] = git_commit()
    results: dict[str, dict[str, Any]] = {}

    def wanted(name: str) -> bool:
        return only is None or name in only

    baseline = Baseline(p["baseline_events"])
    for name, (per_group, match, fixed_now) in TRACKS.items():
        if wanted(name):
            log(f"{name} ...")
            results[name] = bench_track(
                n_events=p["track_100_events" if per_group > 10 else "track_events"],
                per_group=per_group,
                match=match,
                now=FIXED_NOW if fixed_now else None,
                repeats=repeats,
                baseline=baseline,
            )
    if not baseline.clocks.wall:
        log("baseline_dict_loop ...")
        for _ in range(repeats):
            baseline.rate()
    results["baseline_dict_loop"] = baseline.report()
    with tempfile.TemporaryDirectory(prefix="dictrack-bench-") as folder:
        if wanted("add_trackers_sqlite"):
            log("add_trackers_sqlite ...")
            results["add_trackers_sqlite"] = bench_add_trackers(
                n_groups=p["add_groups"], per_group=10, repeats=repeats, folder=folder
            )
        if wanted("persist_sqlite_10k"):
            log("persist_sqlite_10k ...")
            results["persist_sqlite_10k"] = bench_persist(
                n_groups=p["persist_groups"],
                per_group=10,
                repeats=repeats,
                folder=folder,
            )

    goals_met: dict[str, bool] = {}
    for name, goal in GOALS.items():
        if name in results:
            ((_, minimum),) = goal.items()
            goals_met[name] = results[name]["rate_per_s"] >= minimum
    return {
        "benchmark": "dictrack.core",
        "quick": quick,
        "machine": info,
        "plan": p,
        "goals": GOALS,
        "goals_met": goals_met,
        "ratio_to_baseline": {
            name: results[name]["ratio_to_baseline"]
            for name in TRACKS
            if name in results
        },
        "results": results,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="dictrack core benchmarks (JSON)")
    parser.add_argument(
        "--quick", action="store_true", help="~10x fewer operations (CI smoke run)"
    )
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated measurement names (default: all); "
        f"one of {', '.join([*TRACKS, 'add_trackers_sqlite', 'persist_sqlite_10k'])}",
    )
    args = parser.parse_args(argv)
    only = None if args.only is None else set(args.only.split(","))
    started = time.perf_counter()
    report = run(args.quick, only)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
