"""Many processes on one Redis group: every event counted exactly once.

Four spawned processes, each with its own client and TrackingManager, track
5,000 events each on ONE group, released together by a start event. The
trackers' targets and the limiter's count are out of reach, so nothing
completes or closes, and every total is known exactly from the same event
generator the workers use. The totals are checked in Redis (a fresh manager)
and in the SQLite file the workers share (read directly, and through a
manager with an empty memory cache).

Variants: plain ``track`` on a server and on a cluster; ``track``, batches of
``track_many``, and 8 threads sharing one manager, in different processes at
once; and replayed ``event_id`` values, every id sent by two processes,
counting once. Callers retry ``track`` after a ConflictError (it guarantees
that nothing changed), and resume a ``track_many`` batch from the results the
error carries; the last two tests check that at the default retries no
ConflictError reaches a caller, and that a forced one can be resumed.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dictrack import codec
from dictrack.conditions.keys import KeyValueEQ
from dictrack.data_stores.sqlite import SQLiteDataStore
from dictrack.errors import ConflictError
from dictrack.limiters.count import CountLimiter
from dictrack.manager import TrackingManager
from dictrack.results import TrackResult
from dictrack.trackers.base import BaseTracker
from dictrack.trackers.numerics.accumulation import AccumulationTracker
from dictrack.trackers.numerics.count import CountTracker
from tests.conftest import CLUSTER_URL, REDIS_URL, _start_local_servers, need_server
from tests.integration._manager_helpers import run_threads

pytestmark = [pytest.mark.redis, pytest.mark.slow]

PROCESSES = 4
PER_PROCESS = 5_000
THREADS = 8  # of the "threads" worker, sharing its manager
BATCH = 50  # events per track_many call of the "many" worker
GROUP = "g"
T0 = 1_700_000_000.0  # every event's time: tests never read the clock
FAR = 10**12  # a target no test reaches
CAP = 10**9  # a CountLimiter that never closes
WORKER_TIMEOUT = 120.0  # seconds for a worker to get ready, and to finish
CONFLICT_RETRIES = 1_000  # ConflictErrors in a row before a worker gives up
PATIENT = 100_000  # max_retries of managers that must never raise ConflictError

KINDS = ("win", "lose", "win", "spin", "win", "lose", "bonus")  # spin, bonus: no match


# -- events and trackers (shared by the test and the workers) ------------------


def _event(n: int) -> dict[str, Any]:
    """Event number ``n``: about 3/7 wins, 2/7 loses, 2/7 matching nothing."""
    return {"event": KINDS[n % len(KINDS)], "bet": n * 7_919 % 97 + 1, "n": n}


def _trackers() -> list[BaseTracker]:
    return [
        CountTracker("wins", [KeyValueEQ("event", "win")], FAR),
        CountTracker("loses", [KeyValueEQ("event", "lose")], FAR),
        AccumulationTracker("won", [KeyValueEQ("event", "win")], FAR, key="bet"),
        AccumulationTracker("lost", [KeyValueEQ("event", "lose")], FAR, key="bet"),
        CountTracker(
            "capped", [KeyValueEQ("event", "win")], FAR, limiters=[CountLimiter(CAP)]
        ),
    ]


def _expected(numbers: Iterable[int]) -> dict[str, int]:
    events = [_event(n) for n in numbers]
    won = [e["bet"] for e in events if e["event"] == "win"]
    lost = [e["bet"] for e in events if e["event"] == "lose"]
    return {
        "wins": len(won),
        "loses": len(lost),
        "won": sum(won),
        "lost": sum(lost),
        "capped": len(won),
    }


def _plain_numbers(worker: int) -> list[int]:
    """Worker ``worker``'s own events: no two workers send the same one."""
    return list(range(worker * PER_PROCESS, (worker + 1) * PER_PROCESS))


def _replay_numbers(worker: int) -> list[int]:
    """Worker k sends its own half-slice of ids and worker k+1's, interleaved, so
    every id is sent by two processes at about the same moment."""
    half = PER_PROCESS // 2
    mine = range(worker * half, (worker + 1) * half)
    other = (worker + 1) % PROCESSES
    theirs = range(other * half, (other + 1) * half)
    return [n for pair in zip(mine, theirs, strict=True) for n in pair]


# -- the worker (module level: spawned processes import it) --------------------


@dataclass
class Stats:
    """What one worker saw."""

    applied: list[int] = field(default_factory=list)  # events its calls applied
    duplicates: int = 0  # results with duplicate=True
    conflict_errors: int = 0  # ConflictErrors that reached the caller
    batches_resent: int = 0  # track_many batches sent again after one
    seconds: float = 0.0  # from the start event to the last event

    def merge(self, other: Stats) -> None:
        self.applied += other.applied
        self.duplicates += other.duplicates
        self.conflict_errors += other.conflict_errors
        self.batches_resent += other.batches_resent


def _client(url: str, cluster: bool) -> Any:
    import redis
    from redis.cluster import RedisCluster

    return RedisCluster.from_url(url) if cluster else redis.Redis.from_url(url)


def _manager(spec: dict[str, Any], store_path: str | Path) -> TrackingManager:
    from dictrack.data_caches.redis import RedisDataCache

    cache = RedisDataCache(
        client=_client(spec["url"], spec["cluster"]),
        prefix=spec["prefix"],
        own_client=True,
    )
    retries = spec["max_retries"]
    options = {} if retries is None else {"max_retries": retries}
    return TrackingManager(cache, SQLiteDataStore(store_path), **options)


def _count(stats: Stats, n: int, result: TrackResult) -> None:
    assert result.ok, f"event {n} not tracked: {result}"
    if result.duplicate:
        stats.duplicates += 1
    else:
        stats.applied.append(n)


def _track(
    spec: dict[str, Any], manager: TrackingManager, n: int, stats: Stats
) -> None:
    """Track event ``n``; after a ConflictError (which guarantees that nothing
    changed) again, if ``spec["retry_conflicts"]``."""
    event_id = f"evt-{n}" if spec["replay"] else None
    for _ in range(CONFLICT_RETRIES):
        try:
            result = manager.track(GROUP, _event(n), now=T0, event_id=event_id)
        except ConflictError:  # a retry loop
            if not spec["retry_conflicts"]:
                raise
            stats.conflict_errors += 1
            continue
        _count(stats, n, result)
        return
    raise AssertionError(f"{CONFLICT_RETRIES} ConflictErrors in a row on event {n}")


def _track_batch(
    spec: dict[str, Any], manager: TrackingManager, numbers: list[int], stats: Stats
) -> None:
    """One ``track_many`` call. A ConflictError carries the results of the items
    applied before it (``exc.results``), so the caller resends only the rest."""
    replay = spec["replay"]
    for _ in range(CONFLICT_RETRIES):
        items = [
            (GROUP, _event(n), f"evt-{n}") if replay else (GROUP, _event(n))
            for n in numbers
        ]
        try:
            results = manager.track_many(items, now=T0)
        except ConflictError as exc:
            if not spec["retry_conflicts"]:
                raise
            stats.conflict_errors += 1
            stats.batches_resent += 1
            assert exc.results is not None and len(exc.results) == len(items)
            for n, result in zip(numbers, exc.results, strict=True):
                if result is not None:
                    _count(stats, n, result)
            numbers = [
                n for n, r in zip(numbers, exc.results, strict=True) if r is None
            ]
            continue
        assert len(results) == len(items)
        for n, result in zip(numbers, results, strict=True):
            _count(stats, n, result)
        return
    raise AssertionError(f"{CONFLICT_RETRIES} ConflictErrors in a row on a batch")


def _track_in_threads(
    spec: dict[str, Any], manager: TrackingManager, numbers: list[int], stats: Stats
) -> None:
    """THREADS threads share ``manager``, each tracking every THREADS-th event."""
    lock = threading.Lock()

    def work(k: int) -> None:
        mine = Stats()
        try:
            for n in numbers[k::THREADS]:
                _track(spec, manager, n, mine)
        finally:
            with lock:
                stats.merge(mine)

    run_threads(THREADS, work, timeout=WORKER_TIMEOUT)


def _worker(
    spec: dict[str, Any],
    worker: int,
    mode: str,
    store_path: str,
    start: Any,
    reports: Any,
) -> None:
    """Track this worker's events in ``mode`` ("track", "many" or "threads"), then
    close the manager; report ("ready" | "done" | "error", worker, detail)."""
    try:
        numbers = (_replay_numbers if spec["replay"] else _plain_numbers)(worker)
        stats = Stats()
        manager = _manager(spec, store_path)
        manager.get_trackers(GROUP)  # connected, scripts and group view loaded
        reports.put(("ready", worker, None))
        if not start.wait(WORKER_TIMEOUT):
            raise TimeoutError("the start event never came")
        began = time.perf_counter()
        if mode == "track":
            for n in numbers:
                _track(spec, manager, n, stats)
        elif mode == "many":
            for i in range(0, len(numbers), BATCH):
                _track_batch(spec, manager, numbers[i : i + BATCH], stats)
        elif mode == "threads":
            _track_in_threads(spec, manager, numbers, stats)
        else:
            raise ValueError(f"unknown mode {mode!r}")
        stats.seconds = round(time.perf_counter() - began, 3)
        manager.close()  # persists this worker's pending changes
        manager.data_store.close()
        reports.put(("done", worker, stats))
    except BaseException as exc:
        reports.put(("error", worker, (type(exc).__name__, traceback.format_exc())))
        raise


# -- the test side ---------------------------------------------------------------


class WorkerFailed(AssertionError):
    """A worker raised, exited non-zero or timed out."""


class WorkerConflict(WorkerFailed):
    """A worker's call raised ConflictError."""


def _connect(cluster: bool) -> Any:
    from redis.exceptions import RedisClusterException, RedisError

    _start_local_servers()
    url = CLUSTER_URL if cluster else REDIS_URL
    what = f"Redis {'Cluster ' if cluster else ''}at {url}"
    try:
        client = _client(url, cluster)
        client.ping()
    except (RedisError, RedisClusterException) as exc:  # the latter: no RedisError
        need_server(f"{what} not reachable ({exc}); run .ci/start-redis")
    return client


@pytest.fixture
def spec(request) -> Iterator[dict[str, Any]]:
    """What the workers do and where they connect: a fresh key prefix, whose
    keys are removed afterwards."""
    cluster = getattr(request, "param", "standalone") == "cluster"
    _connect(cluster).close()
    made = {
        "url": CLUSTER_URL if cluster else REDIS_URL,
        "cluster": cluster,
        "prefix": f"dtproc{uuid.uuid4().hex[:12]}",
        "replay": False,  # plain events; True: event ids, each sent twice
        "max_retries": None,  # the manager's default
        "retry_conflicts": True,  # the caller retries after a ConflictError
    }
    yield made
    from dictrack.data_caches.redis import RedisDataCache

    cache = RedisDataCache(client=_connect(cluster), prefix=made["prefix"])
    cache.flush_all()
    cache.client.close()


def _run_workers(
    spec: dict[str, Any], modes: list[str], store_path: Path
) -> dict[int, Stats]:
    """Run one spawned worker per mode, released together; return their stats.

    A worker's exception, a non-zero exit code or a timeout raises
    WorkerFailed; every process is joined (or, after a failure, terminated)
    before this returns or raises.
    """
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    reports = ctx.Queue()
    processes = [
        ctx.Process(
            target=_worker,
            args=(spec, k, mode, str(store_path), start, reports),
            name=f"dictrack-worker-{k}-{mode}",
        )
        for k, mode in enumerate(modes)
    ]
    done: dict[int, Stats] = {}
    try:
        for process in processes:
            process.start()
        ready: set[int] = set()
        deadline = time.monotonic() + WORKER_TIMEOUT
        while len(done) < len(processes):
            try:
                kind, worker, detail = reports.get(
                    timeout=max(0.1, deadline - time.monotonic())
                )
            except queue.Empty:
                codes = {p.name: p.exitcode for p in processes}
                raise WorkerFailed(
                    f"workers timed out; exit codes {codes}, done {sorted(done)}"
                ) from None
            if kind == "error":
                name, text = detail
                error = WorkerConflict if name == "ConflictError" else WorkerFailed
                raise error(f"worker {worker} ({modes[worker]}) failed:\n{text}")
            if kind == "ready":
                ready.add(worker)
                if len(ready) == len(processes):
                    start.set()  # all connected: release them together
                    deadline = time.monotonic() + WORKER_TIMEOUT
            else:
                done[worker] = detail
        for process in processes:
            process.join(WORKER_TIMEOUT)
        codes = {p.name: p.exitcode for p in processes}
        if any(code != 0 for code in codes.values()):
            raise WorkerFailed(f"exit codes: {codes}")
    finally:  # after a failure the others are stopped: the test failed already
        for process in processes:
            if process.is_alive():
                process.terminate()
            if process.pid is not None:
                process.join(10)
        reports.close()
        reports.join_thread()
    return done


def _setup(spec: dict[str, Any], store_path: Path) -> None:
    """Add the trackers (written through to the store) with a manager of our own."""
    manager = _manager(spec, store_path)
    manager.add_trackers(GROUP, _trackers(), now=T0)
    manager.close()
    manager.data_store.close()


def _progress(trackers: list[BaseTracker]) -> dict[str, Any]:
    return {t.name: t.progress for t in trackers}


def _check_group(trackers: list[BaseTracker], expected: dict[str, int]) -> None:
    assert _progress(trackers) == expected
    assert not any(t.completed or t.limited for t in trackers)
    [capped] = [t for t in trackers if t.name == "capped"]
    [limiter] = capped.limiters
    assert limiter.remaining == CAP - expected["wins"]


def _stored(store_path: Path) -> list[BaseTracker]:
    """The group as the SQLite file holds it, decoded directly."""
    store = SQLiteDataStore(store_path)
    try:
        return [codec.decode(r, GROUP) for r in store.load_group(GROUP)]
    finally:
        store.close()


def _check_totals(
    spec: dict[str, Any], store_path: Path, expected: dict[str, int]
) -> None:
    """The group in Redis, then in the SQLite file, holds exactly ``expected``."""
    fresh = _manager(spec, store_path)  # its own client, the same prefix
    try:
        _check_group(fresh.get_trackers(GROUP), expected)
        # Each worker's close() persisted, the last one after the last change.
        _check_group(_stored(store_path), expected)
        assert fresh.persist() == 0, "changes left unpersisted after every close()"
    finally:
        fresh.close()
        fresh.data_store.close()
    store = SQLiteDataStore(store_path)  # a manager with only the store
    try:
        with TrackingManager("memory://", store) as reader:
            _check_group(reader.get_trackers(GROUP, now=T0), expected)
    finally:
        store.close()


def _run(spec: dict[str, Any], tmp_path: Path, modes: list[str]) -> dict[int, Stats]:
    """Set the group up, run the workers, check the totals; return the stats."""
    store_path = tmp_path / "store.sqlite3"
    _setup(spec, store_path)
    stats = _run_workers(spec, modes, store_path)
    events = PROCESSES * PER_PROCESS // (2 if spec["replay"] else 1)
    _check_totals(spec, store_path, _expected(range(events)))
    return stats


# -- tests -----------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["standalone", "cluster"], indirect=True)
def test_processes_count_every_event_exactly_once(spec, tmp_path):
    stats = _run(spec, tmp_path, ["track"] * PROCESSES)

    for worker, seen in stats.items():
        assert sorted(seen.applied) == _plain_numbers(worker)
        assert seen.duplicates == 0


def test_processes_mixing_track_track_many_and_threads(spec, tmp_path):
    # A ConflictError out of track_many cannot be recovered from without event
    # ids: these managers retry until the others are done.
    spec["max_retries"] = PATIENT
    spec["retry_conflicts"] = False  # so a ConflictError fails the test

    stats = _run(spec, tmp_path, ["track", "many", "threads", "track"])

    for worker, seen in stats.items():
        assert sorted(seen.applied) == _plain_numbers(worker)
        assert (seen.duplicates, seen.conflict_errors) == (0, 0)


@pytest.mark.parametrize("spec", ["standalone", "cluster"], indirect=True)
def test_processes_replaying_event_ids_count_each_once(spec, tmp_path):
    spec["replay"] = True
    ids = PROCESSES * PER_PROCESS // 2  # within the cache's 10,000-id window
    sent = sorted(n for k in range(PROCESSES) for n in _replay_numbers(k))
    assert sent == sorted(list(range(ids)) * 2)  # every id by two processes

    stats = _run(spec, tmp_path, ["track", "many", "track", "threads"])

    applied = [n for seen in stats.values() for n in seen.applied]
    assert len(applied) == len(set(applied)), "an event id applied twice"
    if not any(seen.batches_resent for seen in stats.values()):
        # (A resent batch reports its own applied events as duplicates.)
        assert sorted(applied) == list(range(ids))
        assert sum(seen.duplicates for seen in stats.values()) == ids


# -- contention ------------------------------------------------------------------


def test_processes_never_see_a_conflict_error_at_default_retries(spec, tmp_path):
    spec["retry_conflicts"] = False
    _run(spec, tmp_path, ["track"] * PROCESSES)


def test_track_many_without_event_ids_recovers_from_a_conflict(spec, tmp_path):
    # At the default max_retries=64 a ConflictError comes about once per 200
    # events here; 8 makes one certain within the first batches.
    spec["max_retries"] = 8
    _run(spec, tmp_path, ["many", "track", "many", "track"])
