"""Durability under faults: a store that goes down under steady tracking, a
tracking process killed with SIGKILL, two job runners at once, a corrupt
stored tracker. Every test ends by comparing the store with what was tracked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest

from dictrack.data_caches.memory import MemoryDataCache
from dictrack.data_caches.redis import RedisDataCache
from dictrack.data_stores.base import BaseDataStore
from dictrack.data_stores.sqlite import SQLiteDataStore
from dictrack.errors import DeserializationError
from dictrack.manager import TrackingManager
from dictrack.records import TrackerRecord
from dictrack.status import StoreStatus
from tests.conftest import REDIS_URL

from ._manager_helpers import T0, WIN, FlakyStore, progress, reloaded, wins

GROUPS = [f"player-{i}" for i in range(8)]


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def redis_cache(prefix: str) -> RedisDataCache:
    """A cache with its own client, as another process would have."""
    return RedisDataCache.from_url(REDIS_URL, prefix=prefix)


def totals(manager: TrackingManager) -> dict[str, dict[str, int]]:
    return {g: progress(manager, g) for g in GROUPS}


# -- the store goes down under steady tracking --------------------------------


@pytest.mark.parametrize(
    "cache_kind", ["memory", pytest.param("redis", marks=pytest.mark.redis)]
)
def test_store_down_under_steady_tracking_loses_nothing(
    cache_kind, data_store, request
):
    if cache_kind == "redis":
        cache: Any = redis_cache(request.getfixturevalue("redis_prefix"))
    else:
        cache = MemoryDataCache()
    flaky = FlakyStore(data_store)
    heard: list[StoreStatus] = []
    manager = TrackingManager(cache, flaky, flush_interval=0.02)
    manager.store_status.add_listener(heard.append)
    for group in GROUPS:
        manager.add_tracker(group, wins(target=10**9), now=T0)
    sent = dict.fromkeys(GROUPS, 0)
    stop = threading.Event()

    def track() -> None:
        n = 0
        while not stop.is_set():
            group = GROUPS[n % len(GROUPS)]
            assert manager.track(group, WIN, now=T0).ok
            sent[group] += 1
            n += 1

    tracker = threading.Thread(target=track)
    tracker.start()
    try:
        wait_for(lambda: sum(sent.values()) > 200)
        flaky.down = True
        wait_for(lambda: not manager.store_status.status.available)
        down_at = sum(sent.values())
        wait_for(lambda: sum(sent.values()) > down_at + 500)  # tracking goes on
        flaky.down = False
        wait_for(lambda: manager.store_status.status == StoreStatus(True, False))
    finally:
        stop.set()
        tracker.join()
    manager.close()
    assert heard[0] == StoreStatus(False, True)
    assert heard[-1] == StoreStatus(True, False)
    fresh = reloaded(data_store)
    assert totals(fresh) == {g: {"wins": n} for g, n in sent.items()}
    if cache_kind == "redis":
        cache.close()


# -- a tracking process killed with SIGKILL ------------------------------------

_TRACKER_SCRIPT = textwrap.dedent(
    """
    import sys
    from dictrack.data_caches.redis import RedisDataCache
    from dictrack.data_stores.sqlite import SQLiteDataStore
    from dictrack.manager import TrackingManager
    from tests.integration._manager_helpers import WIN, wins

    url, prefix, db = sys.argv[1:4]
    groups = [f"player-{i}" for i in range(8)]
    cache = RedisDataCache.from_url(url, prefix=prefix)
    manager = TrackingManager(cache, SQLiteDataStore(db), run_jobs=False)
    for group in groups:
        manager.add_tracker(group, wins(target=10**9))
    print("ready", flush=True)
    n = 0
    while True:
        manager.track(groups[n % len(groups)], WIN)
        n += 1
    """
)


@pytest.mark.redis
def test_changes_of_a_killed_process_are_flushed_by_another(redis_prefix, tmp_path):
    db = tmp_path / "store.sqlite3"
    child = subprocess.Popen(
        [sys.executable, "-c", _TRACKER_SCRIPT, REDIS_URL, redis_prefix, str(db)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        time.sleep(0.5)  # tracking, nothing flushed: the child has no jobs
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()
    cache = redis_cache(redis_prefix)
    assert cache.dirty(), "the killed process left no dirty marks (nothing tracked?)"
    in_cache = {g: cache.load(g).records["wins"].state["progress"] for g in GROUPS}
    assert sum(in_cache.values()) > 0
    store = SQLiteDataStore(db)
    survivor = TrackingManager(cache, store, flush_interval=0.02)
    wait_for(lambda: not cache.dirty())
    survivor.close()
    assert totals(reloaded(store)) == {g: {"wins": n} for g, n in in_cache.items()}
    store.close()
    cache.close()


# -- two job runners at once ---------------------------------------------------


class RecordingStore(BaseDataStore):
    """A store that notes who wrote which tracker version, then writes it."""

    def __init__(self, inner: BaseDataStore, who: str, log: list[Any]) -> None:
        self.inner, self.who, self.log = inner, who, log

    def load_group(self, group_id: str) -> list[TrackerRecord]:
        return self.inner.load_group(group_id)

    def write(self, upserts=(), deletes=()) -> None:
        for group_id, record in upserts:
            self.log.append((self.who, group_id, record.name, record.version))
        self.inner.write(upserts, deletes)

    def flush_all(self) -> None:
        self.inner.flush_all()

    def expired(self, now: float, limit: int = 1000) -> list[tuple[str, str, int]]:
        return self.inner.expired(now, limit)

    def purge_expired(self, now: float) -> int:
        return self.inner.purge_expired(now)


@pytest.mark.redis
def test_two_runners_flush_each_change_once_and_never_go_back(redis_prefix, tmp_path):
    db = tmp_path / "store.sqlite3"
    log: list[Any] = []
    app = TrackingManager(
        redis_cache(redis_prefix), SQLiteDataStore(db), run_jobs=False
    )
    for group in GROUPS:
        app.add_tracker(group, wins(target=10**9), now=T0)
    runners = {
        who: TrackingManager(
            redis_cache(redis_prefix),
            RecordingStore(SQLiteDataStore(db), who, log),
            flush_interval=0.02,
        )
        for who in ("a", "b")
    }
    sent = 0
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        app.track(GROUPS[sent % len(GROUPS)], WIN, now=T0)
        sent += 1
    holder = {who for who, *_ in log}
    assert len(holder) == 1, f"both runners flushed: {holder}"
    (first,) = holder
    other = "b" if first == "a" else "a"
    runners[first].close()  # releases the lease: the other takes over
    before = len(log)
    for _ in range(200):
        app.track(GROUPS[0], WIN, now=T0)
        sent += 1
    wait_for(lambda: not app.data_cache.dirty())
    assert {who for who, *_ in log[before:]} == {other}
    runners[other].close()
    app.close()
    # Each tracker's stored versions only ever grow, and no version twice.
    seen: dict[tuple[str, str], int] = {}
    for _, group, name, version in log:
        history = [x for x in log if x[1:3] == (group, name)][:6]
        assert version > seen.get((group, name), 0), (group, name, history)
        seen[group, name] = version
    stored = totals(reloaded(SQLiteDataStore(db)))
    assert sum(p["wins"] for p in stored.values()) == sent


# -- a corrupt stored tracker --------------------------------------------------


def corrupt(store: BaseDataStore, group_id: str) -> None:
    """Damage one stored tracker the way a bad manual edit would."""
    if isinstance(store, SQLiteDataStore):
        store._conn.execute(
            f"UPDATE {store.table} SET state = '{{not json' WHERE group_id = ?",
            (group_id,),
        )
    else:
        store.collection.update_many(
            {"group_id": group_id}, {"$set": {"state": "not a document"}}
        )


def test_a_corrupt_tracker_names_its_group_and_spares_the_others(data_store):
    with TrackingManager(MemoryDataCache(), data_store, run_jobs=False) as manager:
        for group in ("bad", "good"):
            manager.add_tracker(group, wins(), now=T0)
    corrupt(data_store, "bad")
    with TrackingManager(MemoryDataCache(), data_store, run_jobs=False) as manager:
        with pytest.raises(DeserializationError, match="'bad'"):
            manager.track("bad", WIN, now=T0)
        with pytest.raises(DeserializationError, match="repair or delete"):
            manager.get_trackers("bad")
        assert manager.track("good", WIN, now=T0).dirtied
        assert progress(manager, "good") == {"wins": 1}
