"""Workloads and timing helpers shared by every benchmark script in this folder.

Only the tracker and condition classes are imported, by their 2.1.5 module
paths, so this module works both with this dictrack and with upstream 2.1.5
(``bench_upstream.py`` runs under another interpreter). No side effects at
import time.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import dictrack
from dictrack.conditions.keys import KeyValueEQ
from dictrack.trackers.numerics.accumulation import AccumulationTracker
from dictrack.trackers.numerics.count import CountTracker

#: Every timed call passes this ``now=`` unless a measurement reads the clock.
FIXED_NOW = 1_700_000_000.0
#: A target no run can reach, so no tracker completes (completion is not measured).
BIG_TARGET = 10**12
#: One tracker in MATCH_EVERY matches each event (10 %).
MATCH_EVERY = 10
#: Groups the track workloads spread their events over (round-robin).
N_GROUPS = 100

Event = tuple[str, dict[str, Any]]


def log(message: str) -> None:
    """Progress for humans, on stderr (stdout is for the JSON report)."""
    print(message, file=sys.stderr, flush=True)


# -- workloads ---------------------------------------------------------------


def group_ids(n_groups: int, prefix: str = "g") -> list[str]:
    return [f"{prefix}{i}" for i in range(n_groups)]


def make_trackers(per_group: int, schedule: Any = None) -> list[Any]:
    """``per_group`` new trackers: Count and Accumulation alternating (each
    with ``schedule``, a dictrack.schedules.Schedule, if given).

    Tracker ``i`` needs ``quest == "q{i % MATCH_EVERY}"`` (its own condition
    object) and ``event == "win"`` (one object shared by all). With 10 trackers
    each quest value is unique; with 100, ten trackers ask for each value, so
    there are 11 distinct conditions either way. Targets are unreachable.
    """
    win = KeyValueEQ("event", "win")
    trackers: list[Any] = []
    for i in range(per_group):
        conditions = [KeyValueEQ("quest", f"q{i % MATCH_EVERY}"), win]
        if i % 2 == 0:
            trackers.append(
                CountTracker(f"t{i}", conditions, BIG_TARGET, schedule=schedule)
            )
        else:
            trackers.append(
                AccumulationTracker(
                    f"t{i}", conditions, BIG_TARGET, "amount", schedule=schedule
                )
            )
    return trackers


def make_events(
    n_events: int, n_groups: int = N_GROUPS, *, match: bool = True
) -> list[Event]:
    """Events round-robin over groups; each matches 1 tracker in MATCH_EVERY.

    Successive rounds over the groups cycle the quest value, so every tracker
    is hit equally often. With ``match=False`` the quest is one no tracker asks
    for: every tracker checks its quest condition and fails.
    """
    ids = group_ids(n_groups)
    events: list[Event] = []
    for k in range(n_events):
        quest = f"q{(k // n_groups) % MATCH_EVERY}" if match else "none"
        events.append(
            (ids[k % n_groups], {"event": "win", "quest": quest, "amount": 1 + k % 5})
        )
    return events


def baseline_rows(n_groups: int = N_GROUPS) -> dict[str, list[dict[str, Any]]]:
    """Per group, MATCH_EVERY plain dicts standing in for trackers."""
    return {
        gid: [
            {"quest": f"q{i}", "event": "win", "progress": 0}
            for i in range(MATCH_EVERY)
        ]
        for gid in group_ids(n_groups)
    }


def run_baseline(
    rows: dict[str, list[dict[str, Any]]], events: Sequence[Event]
) -> None:
    """The cheapest matching in Python: compare two keys against each dict."""
    for group_id, data in events:
        for row in rows[group_id]:
            if data.get("quest") == row["quest"] and data.get("event") == row["event"]:
                row["progress"] += 1


# -- measuring ---------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (any order), ``q`` in [0, 100]."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil, at least 1
    return ordered[int(rank) - 1]


def time_calls(fn: Callable[[Any], object], items: Sequence[Any]) -> list[int]:
    """Nanoseconds of each ``fn(item)`` call."""
    clock = time.perf_counter_ns
    out: list[int] = []
    append = out.append
    for item in items:
        start = clock()
        fn(item)
        append(clock() - start)
    return out


class Clocks:
    """Wall and process-CPU seconds of a series of timed runs."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def run(self, fn: Callable[[], object]) -> float:
        """Run ``fn`` once (after a full GC pass); return its wall seconds."""
        gc.collect()
        cpu = time.process_time()
        start = time.perf_counter()
        fn()
        wall = time.perf_counter() - start
        self.cpu.append(time.process_time() - cpu)
        self.wall.append(wall)
        return wall


def summary(
    ops: int, unit: str, clocks: Clocks, latencies_ns: Sequence[int] = ()
) -> dict[str, Any]:
    """Median and best wall rates, median CPU rate, per-call latency percentiles."""
    rates = [ops / s for s in clocks.wall]
    cpu_rates = [ops / s for s in clocks.cpu if s > 0]
    out: dict[str, Any] = {
        "ops": ops,
        "unit": unit,
        "rate_per_s": round(statistics.median(rates)),
        "best_rate_per_s": round(max(rates)),
        "cpu_rate_per_s": round(statistics.median(cpu_rates)) if cpu_rates else None,
        "rates_per_s": [round(r) for r in rates],
    }
    if latencies_ns:
        out["p50_us"] = round(percentile(latencies_ns, 50) / 1000, 2)
        out["p99_us"] = round(percentile(latencies_ns, 99) / 1000, 2)
        out["latency_samples"] = len(latencies_ns)
    return out


class Baseline:
    """The pure-Python baseline, run right before each rep it normalises."""

    def __init__(self, n_events: int, n_groups: int = N_GROUPS) -> None:
        self.rows = baseline_rows(n_groups)
        self.events = make_events(n_events, n_groups)
        self.clocks = Clocks()
        run_baseline(self.rows, self.events)  # warm up

    def rate(self) -> float:
        """Run once; return events per second."""
        wall = self.clocks.run(lambda: run_baseline(self.rows, self.events))
        return len(self.events) / wall

    def report(self) -> dict[str, Any]:
        out = summary(len(self.events), "events", self.clocks)
        out["dicts_per_event"] = MATCH_EVERY
        return out


def bench_track_loop(
    run_all: Callable[[], object],
    track_one: Callable[[Event], object],
    events: Sequence[Event],
    repeats: int,
    baseline: Baseline,
) -> dict[str, Any]:
    """Time ``run_all()`` (which tracks ``events`` in a tight loop) ``repeats`` times.

    Each rep is paired with a baseline run just before it; the median of the
    paired ratios is ``ratio_to_baseline``. Then one more pass times each
    ``track_one(event)`` for the latency percentiles. The caller warms up first.
    """
    clocks = Clocks()
    ratios: list[float] = []
    for _ in range(repeats):
        base = baseline.rate()
        wall = clocks.run(run_all)
        ratios.append(len(events) / wall / base)
    gc.collect()
    latencies = time_calls(track_one, events)
    out = summary(len(events), "events", clocks, latencies)
    out["ratio_to_baseline"] = round(statistics.median(ratios), 4)
    return out


def machine() -> dict[str, Any]:
    """The interpreter, machine and load the numbers were taken on."""
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # not on every platform
        load = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "loadavg": load,
        "dictrack": getattr(dictrack, "__version__", "?"),
    }
