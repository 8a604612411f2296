"""Shared fixtures: every cache and every store, and managers built on them.

``data_cache`` and ``data_store`` are parametrized over every backend; a new
backend joins the whole contract and integration suites by adding one param to
``CACHE_PARAMS`` / ``STORE_PARAMS``. A backend whose server is missing is
skipped locally and fails under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dictrack.data_caches.base import BaseDataCache
from dictrack.data_caches.memory import MemoryDataCache
from dictrack.data_stores.base import BaseDataStore
from dictrack.data_stores.sqlite import SQLiteDataStore
from dictrack.manager import TrackingManager

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_server(reason: str) -> None:
    """Skip locally, fail in CI: a missing server must never pass silently."""
    if IN_CI:
        pytest.fail(f"required server missing in CI: {reason}")
    pytest.skip(reason)


#: Where the Redis suites connect; .ci/run starts these servers on loopback.
REDIS_URL = os.environ.get("DICTRACK_TEST_REDIS_URL", "redis://127.0.0.1:6390/0")
CLUSTER_URL = os.environ.get(
    "DICTRACK_TEST_REDIS_CLUSTER_URL", "redis://127.0.0.1:7000/0"
)


def _memory_cache(tmp_path) -> BaseDataCache:
    return MemoryDataCache()


def _prefix(tmp_path) -> str:
    """A fresh key prefix per test: tests never see each other's keys."""
    return f"dt{abs(hash(str(tmp_path))):x}"


_STARTED: list[bool] = []


def _start_local_servers() -> None:
    """Start the loopback Redis servers once, if redis-server is installed and the
    default URLs are in use (.ci/start-redis is idempotent)."""
    if _STARTED or "DICTRACK_TEST_REDIS_URL" in os.environ:
        return
    _STARTED.append(True)
    script = Path(__file__).resolve().parents[1] / ".ci" / "start-redis"
    if shutil.which("redis-server") and shutil.which("redis-cli"):
        subprocess.run(
            ["bash", str(script)], check=False, capture_output=True, timeout=120
        )


def _reachable(client, what: str) -> None:
    from redis.exceptions import RedisClusterException, RedisError

    try:
        client.ping()
    except (RedisError, RedisClusterException) as exc:
        need_server(
            f"{what} not reachable ({exc}); "
            "install redis-server and run .ci/start-redis"
        )


def _redis_cache(tmp_path) -> BaseDataCache:
    import redis

    from dictrack.data_caches.redis import RedisDataCache

    _start_local_servers()
    client = redis.Redis.from_url(REDIS_URL)
    _reachable(client, f"Redis at {REDIS_URL}")
    return RedisDataCache(client=client, prefix=_prefix(tmp_path), own_client=True)


def _cluster_cache(tmp_path) -> BaseDataCache:
    from redis.cluster import RedisCluster
    from redis.exceptions import RedisClusterException, RedisError

    from dictrack.data_caches.redis import RedisDataCache

    _start_local_servers()
    try:
        client = RedisCluster.from_url(CLUSTER_URL)
    except (RedisError, RedisClusterException) as exc:
        need_server(f"Redis Cluster at {CLUSTER_URL} not reachable ({exc})")
    _reachable(client, f"Redis Cluster at {CLUSTER_URL}")
    return RedisDataCache(client=client, prefix=_prefix(tmp_path), own_client=True)


_FAKE_SERVERS: dict[str, object] = {}


def _fakeredis_cache(tmp_path) -> BaseDataCache:
    import fakeredis

    from dictrack.data_caches.redis import RedisDataCache

    server = _FAKE_SERVERS.setdefault(str(tmp_path), fakeredis.FakeServer())
    client = fakeredis.FakeRedis(server=server)
    return RedisDataCache(client=client, prefix=_prefix(tmp_path), own_client=True)


def _sqlite_file(tmp_path) -> BaseDataStore:
    return SQLiteDataStore(tmp_path / "store.sqlite3")


def _sqlite_memory(tmp_path) -> BaseDataStore:
    return SQLiteDataStore(":memory:")


_MONGOMOCK_CLIENTS: dict[str, object] = {}


def _mongomock_store(tmp_path) -> BaseDataStore:
    import mongomock

    from dictrack.data_stores.mongodb import MongoDBDataStore

    client = _MONGOMOCK_CLIENTS.setdefault(
        str(tmp_path), mongomock.MongoClient(tz_aware=True)
    )
    return MongoDBDataStore(client=client, database="dictrack_test")


MONGODB_URI = os.environ.get("DICTRACK_TEST_MONGODB_URI")


def _mongodb_store(tmp_path) -> BaseDataStore:
    """A real server; each test gets its own collection, dropped afterwards."""
    import pymongo

    from dictrack.data_stores.mongodb import MongoDBDataStore

    assert MONGODB_URI
    client: pymongo.MongoClient = pymongo.MongoClient(
        MONGODB_URI, tz_aware=True, serverSelectionTimeoutMS=3000
    )
    return MongoDBDataStore(
        client=client, database="dictrack_test", collection=_prefix(tmp_path)
    )


CACHE_PARAMS = [
    pytest.param(_memory_cache, id="memory"),
    pytest.param(_redis_cache, id="redis", marks=pytest.mark.redis),
    pytest.param(_cluster_cache, id="redis-cluster", marks=pytest.mark.redis),
    pytest.param(_fakeredis_cache, id="fakeredis", marks=pytest.mark.redis),
]
STORE_PARAMS = [
    pytest.param(_sqlite_file, id="sqlite-file"),
    pytest.param(_sqlite_memory, id="sqlite-memory"),
    pytest.param(_mongomock_store, id="mongomock", marks=pytest.mark.mongodb),
]
if MONGODB_URI:  # no MongoDB server package on the CI machines: opt-in
    STORE_PARAMS.append(
        pytest.param(
            _mongodb_store,
            id="mongodb",
            marks=[pytest.mark.mongodb, pytest.mark.mongodb_real],
        )
    )


@pytest.fixture(params=CACHE_PARAMS)
def cache_factory(request, tmp_path) -> Iterator[Callable[[], BaseDataCache]]:
    """Builds fresh caches of one backend that share state where the backend
    does. Once the test is over, its keys are removed from a Redis server (a
    real one outlives the test), whether or not it closed its caches."""
    built = False

    def build() -> BaseDataCache:
        nonlocal built
        built = True
        return request.param(tmp_path)

    yield build
    if built:  # a fresh cache: the test's own may be closed
        cleaner = request.param(tmp_path)
        if getattr(cleaner, "prefix", None) and hasattr(cleaner, "client"):
            cleaner.flush_all()
        cleaner.close()


@pytest.fixture
def data_cache(cache_factory) -> Iterator[BaseDataCache]:
    cache = cache_factory()
    yield cache
    cache.close()


@pytest.fixture(params=STORE_PARAMS)
def data_store(request, tmp_path) -> Iterator[BaseDataStore]:
    store = request.param(tmp_path)
    yield store
    if request.param is _mongodb_store:
        store.collection.drop()
        store.client.close()
    store.close()


@pytest.fixture
def manager(data_cache, data_store) -> Iterator[TrackingManager]:
    """A manager as applications get it: its job runner flushes every second."""
    with TrackingManager(data_cache, data_store) as mgr:
        yield mgr


@pytest.fixture
def manual_manager(data_cache, data_store) -> Iterator[TrackingManager]:
    """A manager without jobs: changes reach the store only on persist()."""
    with TrackingManager(data_cache, data_store, run_jobs=False) as mgr:
        yield mgr


@pytest.fixture(autouse=True)
def _no_thread_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch) -> None:
    """The default store location never touches the developer's home."""
    monkeypatch.setenv("DICTRACK_HOME", str(tmp_path / "home"))


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A fresh key prefix on the standalone test server (which must answer);
    every key under it is removed afterwards. For tests that hand the server
    to other processes by URL and prefix."""
    import uuid

    from dictrack.data_caches.redis import RedisDataCache

    _start_local_servers()
    prefix = f"dtr{uuid.uuid4().hex[:10]}"
    try:
        probe = RedisDataCache.from_url(REDIS_URL, prefix=prefix)
        probe.client.ping()
    except Exception as exc:  # any failure means no server
        need_server(f"Redis at {REDIS_URL} not reachable ({exc})")
    yield prefix
    probe.flush_all()
    probe.close()
