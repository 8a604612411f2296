"""pytest-benchmark versions of the core measurements (fixed rounds, JSON report).

Run explicitly (the default test run deselects them)::

    .venv/bin/pytest benchmarks -m benchmark --benchmark-json=out.json

Workloads come from ``bench_core.py``; see benchmarks/README.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bench_core as bc
import bench_workload as wl
import pytest

from dictrack.data_caches.memory import MemoryDataCache
from dictrack.data_stores.sqlite import SQLiteDataStore
from dictrack.manager import TrackingManager

pytestmark = pytest.mark.benchmark

EVENTS_PER_ROUND = 2_000
ADD_GROUPS_PER_ROUND = 100
ROUNDS = 15

#: Stores the benchmarks run over: id -> factory(tmp folder). Add backends here.
STORES: dict[str, Callable[[Path], SQLiteDataStore]] = {
    "sqlite-file": lambda folder: SQLiteDataStore(folder / "bench.sqlite3"),
    "sqlite-memory": lambda folder: SQLiteDataStore(":memory:"),
}


@pytest.fixture(params=list(STORES))
def store_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], SQLiteDataStore]]:
    made: list[SQLiteDataStore] = []
    counter = iter(range(1_000_000))

    def make() -> SQLiteDataStore:
        folder = tmp_path / f"s{next(counter)}"
        folder.mkdir()
        made.append(STORES[request.param](folder))
        return made[-1]

    yield make
    for store in made:
        store.close()


@pytest.mark.parametrize(
    ("per_group", "match"),
    [(10, True), (10, False), (100, True)],
    ids=["10x10pct", "10xnomatch", "100x10pct"],
)
def test_track_memory(benchmark: Any, per_group: int, match: bool) -> None:
    manager = bc.track_manager(wl.N_GROUPS, per_group)
    n_events = EVENTS_PER_ROUND if per_group <= 10 else EVENTS_PER_ROUND // 10
    events = wl.make_events(n_events, match=match)
    bc.run_track(manager, events)  # load every group's view
    benchmark.group = "track (memory cache)"
    benchmark.extra_info.update(
        events_per_round=n_events,
        trackers_per_group=per_group,
        matching_per_event=per_group // wl.MATCH_EVERY if match else 0,
    )
    try:
        benchmark.pedantic(
            bc.run_track,
            args=(manager, events, wl.FIXED_NOW),
            rounds=ROUNDS,
            iterations=1,
            warmup_rounds=1,
        )
        result = manager.track(*events[0], now=wl.FIXED_NOW)
        assert not result.completed
    finally:
        manager.close()


def test_add_trackers(
    benchmark: Any, store_factory: Callable[[], SQLiteDataStore]
) -> None:
    managers: list[TrackingManager] = []
    rounds = iter(range(1_000_000))

    def setup() -> tuple[tuple[TrackingManager, list[bc.Batch]], dict[str, Any]]:
        manager = TrackingManager(MemoryDataCache(), store_factory(), run_jobs=False)
        managers.append(manager)
        batches = bc.make_batches(ADD_GROUPS_PER_ROUND, 10, prefix=f"r{next(rounds)}g")
        return (manager, batches), {}

    benchmark.group = "add_trackers (10 per call)"
    benchmark.extra_info.update(
        trackers_per_round=ADD_GROUPS_PER_ROUND * 10, trackers_per_call=10
    )
    try:
        benchmark.pedantic(bc.run_add, setup=setup, rounds=ROUNDS, warmup_rounds=1)
        for manager in managers:
            assert manager.data_store.count() == ADD_GROUPS_PER_ROUND * 10  # type: ignore[attr-defined]
    finally:
        for manager in managers:
            manager.close()
