"""RedisDataCache faults: foreign data, lost scripts, a server that goes away.

Every failure must reach the caller as a DictrackError subclass naming the group
or key (``track`` and ``track_many`` log a BackendError and return
``ok=False``; the other calls raise), never as a raw redis, JSON or Unicode
exception, never half-applied, and never by unpickling anything.
"""

from __future__ import annotations

import logging
import pickle
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.exceptions import RedisError

from dictrack.data_caches.redis import RedisDataCache
from dictrack.data_stores.sqlite import SQLiteDataStore
from dictrack.errors import BackendError, DeserializationError, DictrackError
from dictrack.manager import TrackingManager
from tests.conftest import need_server

from ._manager_helpers import LOSE, T0, WIN, bets, progress, wins
from .test_redis_cache import (
    KINDS,
    NO_RETRY,
    Backend,
    CountingRedis,
    free_port,
    open_backend,
    text,
)

pytestmark = pytest.mark.redis


@pytest.fixture(params=KINDS)
def backend(request, tmp_path) -> Iterator[Backend]:
    yield from open_backend(request.param, tmp_path)


@pytest.fixture
def server(tmp_path) -> Iterator[Backend]:
    yield from open_backend("redis", tmp_path)


@pytest.fixture(autouse=True)
def no_unpickling(monkeypatch) -> None:
    """Any unpickling fails the test loudly (and not as a DictrackError)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("dictrack unpickled data read from Redis")

    for name in ("loads", "load", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)


def refusal(call: Callable[[], Any], caplog) -> DictrackError:
    """The error a manager call reports: raised, or logged by ``track``."""
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="dictrack.manager"):
        try:
            result = call()
        except DictrackError as exc:
            return exc
    assert not result.ok, "the call went through on foreign data"
    logged = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert len(logged) == 1 and isinstance(logged[0], DictrackError), logged
    return logged[0]


# -- foreign data -------------------------------------------------------------


def foreign_state_hash(client: Any, p: str) -> None:
    client.delete(f"{p}:{{g}}:s")
    client.set(f"{p}:{{g}}:s", "not a hash")


FOREIGN = {
    "state-hash-is-a-string": (foreign_state_hash, BackendError, r"\{g\}:s"),
    "garbage-state": (
        lambda c, p: c.hset(f"{p}:{{g}}:s", "wins", "abc"),
        DeserializationError,
        "group 'g'",
    ),
    "version-not-a-number": (
        lambda c, p: c.set(f"{p}:{{g}}:v", "xyz"),
        DeserializationError,
        "group 'g'.*'xyz'",
    ),
}


@pytest.mark.parametrize("case", FOREIGN)
def test_foreign_data_is_reported_and_other_groups_keep_working(backend, case, caplog):
    corrupt, error, message = FOREIGN[case]
    held = backend.manager()  # holds views of both groups
    for group in ("g", "h"):
        held.add_trackers(group, [wins(), bets()], now=T0)
    corrupt(backend.client(), backend.prefix)
    fresh = backend.manager()
    for call in (
        lambda: fresh.get_trackers("g"),
        lambda: fresh.track("g", WIN, now=T0),
        lambda: fresh.track("g", LOSE, now=T0),
        lambda: fresh.track_many([("g", WIN)], now=T0)[0],
    ):
        found = refusal(call, caplog)
        assert isinstance(found, error), repr(found)
        assert found.__cause__ is not None  # the driver's error is kept
        assert re.search(message, str(found)), str(found)
    if case != "garbage-state":  # a held view overwrites a bad state (version ok)
        found = refusal(lambda: held.track("g", WIN, now=T0), caplog)
        assert isinstance(found, error), repr(found)
    assert fresh.track("h", WIN, now=T0).dirtied[0].progress == 1
    assert held.track("h", WIN, now=T0).dirtied[0].progress == 2


def test_a_missing_definition_is_reported_by_id(backend, caplog):
    first = backend.manager()
    first.add_tracker("g", wins(), now=T0)
    first.add_tracker("h", bets(), now=T0)  # another definition
    client = backend.client()
    found = text(client.hget(f"{backend.prefix}:{{g}}:d", "wins"))
    assert client.delete(f"{backend.prefix}:def:{found}") == 1
    fresh = backend.manager()
    for call in (lambda: fresh.get_trackers("g"), lambda: fresh.track("g", WIN)):
        error = refusal(call, caplog)
        assert isinstance(error, BackendError) and found in str(error), repr(error)
    assert progress(fresh, "h") == {"bets": 0}
    assert first.track("g", WIN, now=T0).dirtied[0].progress == 1  # knows it
    assert first.persist() == 1  # the process that knows it can still store g


@pytest.mark.parametrize(
    ("decode", "where"),
    [
        pytest.param(False, "version", id="bytes-version"),
        pytest.param(
            False,
            "state",
            id="bytes-state",
        ),
        pytest.param(
            True,
            "state",
            id="decoded-state",
        ),
        pytest.param(
            True,
            "version",
            id="decoded-version",
        ),
    ],
)
def test_a_pickle_is_foreign_data(server, caplog, decode, where):
    setup = server.manager()
    setup.add_tracker("g", wins(), now=T0)
    setup.add_tracker("h", wins(), now=T0)
    blob = pickle.dumps({"v": 1, "progress": 99, "stage": 1})  # 2.1.5 wrote these
    client = server.client()
    if where == "state":
        client.hset(f"{server.prefix}:{{g}}:s", "wins", blob)
    else:
        client.set(f"{server.prefix}:{{g}}:v", blob)
    fresh = server.manager(server.cache(server.client(decode_responses=decode)))
    for call in (lambda: fresh.get_trackers("g"), lambda: fresh.track("g", WIN)):
        error = refusal(call, caplog)
        assert isinstance(error, DeserializationError) and "'g'" in str(error)
    assert progress(fresh, "h") == {"wins": 0}


@pytest.mark.parametrize("write", ["update", "complete"])
def test_a_refused_write_changes_nothing(backend, caplog, write):
    """A write that must touch the definition ids (a new definition, or a
    tracker removed on completion) is refused whole when that key is foreign."""
    manager = backend.manager()
    manager.add_tracker("g", wins(), now=T0)
    manager.add_tracker("g", wins("once", target=1), now=T0)
    assert manager.track("g", {"event": "lose"}, now=T0).ok  # the view is held
    client, states = backend.client(), f"{backend.prefix}:{{g}}:s"
    ids_key = f"{backend.prefix}:{{g}}:d"
    ids = client.hgetall(ids_key)
    client.delete(ids_key)
    client.set(ids_key, "foreign")
    before = client.hgetall(states)
    calls = {
        "update": lambda: manager.update_tracker("g", wins(target=20)),
        "complete": lambda: manager.track("g", WIN, now=T0),
    }
    try:
        error = refusal(calls[write], caplog)
        assert isinstance(error, BackendError)
        assert re.search(r"'g'|\{g\}", str(error)), str(error)
        assert client.hgetall(states) == before
    finally:  # repaired, so that closing the manager can persist
        client.delete(ids_key)
        client.hset(ids_key, mapping=ids)


# -- lost scripts ---------------------------------------------------------------


def track_across_script_flushes(manager: TrackingManager, flush: Callable[[], Any]):
    """Flush the server's scripts before each call; every call still lands."""
    groups = [f"g{i}" for i in range(5)]
    for group in groups:
        manager.add_tracker(group, wins(), now=T0)
    flush()
    assert manager.track("g0", WIN, now=T0).dirtied[0].progress == 1
    flush()
    assert manager.track("g0", LOSE, now=T0, event_id="e").ok  # no-write script
    flush()
    assert manager.track("g0", LOSE, now=T0, event_id="e").duplicate
    flush()
    results = manager.track_many([(g, WIN) for g in groups], now=T0)
    assert [r.dirtied[0].progress for r in results] == [2, 1, 1, 1, 1]
    flush()
    results = manager.track_many([(g, WIN, f"x{g}") for g in groups], now=T0)
    assert [r.dirtied[0].progress for r in results] == [3, 2, 2, 2, 2]
    flush()


@pytest.fixture(params=["cluster", "fakeredis"])  # not 6390: see below
def scripted(request, tmp_path) -> Iterator[Backend]:
    yield from open_backend(request.param, tmp_path)


def test_scripts_are_reloaded_after_script_flush(scripted):
    manager = scripted.manager()
    track_across_script_flushes(manager, scripted.client().script_flush)
    assert progress(scripted.manager(), "g4") == {"wins": 2}  # load script


def test_noscript_recovery_on_a_private_server(throwaway, tmp_path):
    """On a server of its own (flushing 6390's scripts would disturb other
    suites), every call after a flush reloads its script: counted."""
    client = CountingRedis(port=throwaway.port, retry=NO_RETRY)
    cache = RedisDataCache(client=client, prefix="p", own_client=True)
    manager = TrackingManager(cache, SQLiteDataStore(tmp_path / "s.db"))
    loads: list[int] = []

    def flush() -> None:
        loads.append(sum(c[:2] == ("SCRIPT", "LOAD") for c in client.commands()))
        client.script_flush()

    other = open_manager(throwaway, "p", tmp_path / "s.db")
    try:
        track_across_script_flushes(manager, flush)
        assert all(b > a for a, b in zip(loads, loads[1:], strict=False)), loads
        assert progress(other, "g4") == {"wins": 2}  # load script
    finally:
        shut(other)
        shut(manager)


# -- a server that goes away ----------------------------------------------------


class Throwaway:
    """A redis-server of this test only, on a free loopback port, no persistence."""

    def __init__(self, executable: str, folder: Path) -> None:
        self.executable = executable
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = redis.Redis(port=self.port, retry=NO_RETRY, socket_timeout=1)
        try:
            for _ in range(100):  # up to ~5 s
                if self.process.poll() is not None:
                    raise AssertionError(
                        f"redis-server exited ({self.process.returncode})"
                    )
                try:
                    if probe.info("server")["process_id"] == self.process.pid:
                        return
                except RedisError:
                    time.sleep(0.05)
            raise AssertionError(f"redis-server on port {self.port} did not answer")
        finally:
            probe.close()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


@pytest.fixture
def throwaway(tmp_path) -> Iterator[Throwaway]:
    executable = shutil.which("redis-server")
    if executable is None:
        need_server("redis-server is not installed")
    server = Throwaway(executable, tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def open_manager(throwaway: Throwaway, prefix: str, store: Path) -> TrackingManager:
    client = redis.Redis(port=throwaway.port, retry=NO_RETRY, socket_timeout=5)
    cache = RedisDataCache(client=client, prefix=prefix, own_client=True)
    return TrackingManager(cache, SQLiteDataStore(store))


def shut(manager: TrackingManager) -> None:
    """Close a manager of a throwaway server (maybe down), its store and client."""
    try:
        manager.data_cache.flush_all()
        manager.close()
    except BackendError:
        pass  # the server is gone with its keys; nothing to persist
    finally:
        manager.data_store.close()
        manager.data_cache.close()


def stored(store: SQLiteDataStore, group_id: str) -> dict[str, int]:
    return {r.name: r.state["progress"] for r in store.load_group(group_id)}


def test_a_killed_server_fails_cleanly_and_a_restarted_one_reloads(
    throwaway, tmp_path, caplog
):
    manager = open_manager(throwaway, f"dtt{uuid.uuid4().hex[:12]}", tmp_path / "s.db")
    try:
        manager.add_tracker("g", wins(), now=T0)
        manager.add_tracker("h", wins(), now=T0)
        for _ in range(3):
            assert manager.track("g", WIN, now=T0).ok
        assert manager.persist() == 1
        for _ in range(2):  # in the cache only
            assert manager.track("g", WIN, now=T0).ok
        throwaway.kill()
        error = refusal(lambda: manager.track("g", WIN, now=T0), caplog)
        assert isinstance(error, BackendError) and "Redis unavailable" in str(error)
        assert isinstance(error.__cause__, redis.ConnectionError)
        assert refusal(lambda: manager.track("h", LOSE, now=T0), caplog)
        with pytest.raises(BackendError, match="Redis unavailable"):
            manager.get_trackers("g")
        with pytest.raises(BackendError, match="Redis unavailable"):
            manager.track_many([("g", WIN), ("h", WIN)], now=T0)
        with pytest.raises(BackendError):
            manager.persist()
        with pytest.raises(BackendError):
            manager.add_tracker("h", wins("more"), now=T0)
        assert manager.data_cache.check() is False
        assert stored(manager.data_store, "g") == {"wins": 3}  # nothing half-done
        assert stored(manager.data_store, "h") == {"wins": 0}

        throwaway.start()  # same port, empty
        result = manager.track("g", WIN, now=T0)
        assert result.ok and result.dirtied[0].progress == 4  # 3 stored + this one
        assert progress(manager, "g") == {"wins": 4}
        assert progress(manager, "h") == {"wins": 0}  # "more" was never added
        assert manager.track("h", WIN, now=T0).dirtied[0].progress == 1
        assert manager.persist() == 2
        assert stored(manager.data_store, "g") == {"wins": 4}
    finally:
        shut(manager)


def test_other_processes_load_a_group_repopulated_after_a_restart(throwaway, tmp_path):
    prefix, store = f"dtt{uuid.uuid4().hex[:12]}", tmp_path / "s.db"
    first = open_manager(throwaway, prefix, store)
    second = None
    try:
        first.add_tracker("g", wins(), now=T0)
        assert first.track("g", WIN, now=T0).ok
        assert first.persist() == 1
        throwaway.kill()
        throwaway.start()
        assert first.track("g", WIN, now=T0).dirtied[0].progress == 2
        second = open_manager(throwaway, prefix, store)
        assert progress(second, "g") == {"wins": 2}
    finally:
        for manager in (second, first):
            if manager is not None:
                shut(manager)


def test_one_broken_group_does_not_stop_persisting_the_others(server):
    manager = server.manager()
    for group in ("g", "h"):
        manager.add_tracker(group, wins(), now=T0)
        assert manager.track(group, WIN, now=T0).ok
    client, key = server.client(), f"{server.prefix}:{{g}}:s"
    good = client.hget(key, "wins")
    client.hset(key, "wins", "abc")
    try:
        try:
            manager.persist()
        except DeserializationError as exc:  # reporting g is fine
            assert "'g'" in str(exc)
        assert stored(manager.data_store, "h") == {"wins": 1}
    finally:
        client.hset(key, "wins", good)


@pytest.mark.parametrize("foreign", ["string", "hash"])
def test_a_group_with_foreign_dirty_marks_does_not_stop_the_flush(
    backend, caplog, foreign
):
    manager = backend.manager()
    for group in ("g", "h"):
        manager.add_tracker(group, wins(), now=T0)
        assert manager.track(group, WIN, now=T0).ok
    client, key = backend.client(), f"{backend.prefix}:{{g}}:m"
    client.delete(key)
    if foreign == "string":
        client.set(key, "foreign")
    else:  # a hash whose value is no version
        client.hset(key, "wins", "yesterday")
    with caplog.at_level(logging.ERROR, logger="dictrack"):
        manager.persist()
    assert stored(manager.data_store, "h") == {"wins": 1}
    assert "'g'" in caplog.text and "dirty marks" in caplog.text
    client.delete(key)
