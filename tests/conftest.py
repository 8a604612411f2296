"""Shared fixtures: every cache and every store, and managers built on them.

``data_cache`` and ``data_store`` are parametrized over every backend; a new
backend joins the whole contract and integration suites by adding one param to
``CACHE_PARAMS`` / ``STORE_PARAMS``. A backend whose server is missing is
skipped locally and fails under ``CI=true``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator

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


def _memory_cache(tmp_path) -> BaseDataCache:
    return MemoryDataCache()


def _sqlite_file(tmp_path) -> BaseDataStore:
    return SQLiteDataStore(tmp_path / "store.sqlite3")


def _sqlite_memory(tmp_path) -> BaseDataStore:
    return SQLiteDataStore(":memory:")


CACHE_PARAMS = [pytest.param(_memory_cache, id="memory")]
STORE_PARAMS = [
    pytest.param(_sqlite_file, id="sqlite-file"),
    pytest.param(_sqlite_memory, id="sqlite-memory"),
]


@pytest.fixture(params=CACHE_PARAMS)
def cache_factory(request, tmp_path) -> Callable[[], BaseDataCache]:
    """Builds fresh caches of one backend that share state where the backend does."""
    return lambda: request.param(tmp_path)


@pytest.fixture
def data_cache(cache_factory) -> Iterator[BaseDataCache]:
    cache = cache_factory()
    yield cache
    cache.close()


@pytest.fixture(params=STORE_PARAMS)
def data_store(request, tmp_path) -> Iterator[BaseDataStore]:
    store = request.param(tmp_path)
    yield store
    store.close()


@pytest.fixture
def manager(data_cache, data_store) -> Iterator[TrackingManager]:
    with TrackingManager(data_cache, data_store) as mgr:
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
