"""Backend specifics that the shared contract cannot express: URLs, files, errors."""

from __future__ import annotations

import sqlite3

import pytest

from dictrack import data_caches, data_stores
from dictrack.data_caches.memory import MemoryDataCache
from dictrack.data_stores.sqlite import SQLiteDataStore
from dictrack.errors import BackendError, ConfigurationError, DeserializationError
from dictrack.records import TrackerRecord

RECORD = TrackerRecord("a", {"v": 1, "type": "CountTracker"}, {"v": 1}, 1)


def test_cache_from_url():
    assert isinstance(data_caches.from_url("memory://"), MemoryDataCache)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nosuch://x", "unknown data cache URL scheme 'nosuch'"),
        ("", "unknown data cache URL scheme ''"),
    ],
)
def test_cache_from_url_unknown_scheme(url, message):
    with pytest.raises(ConfigurationError, match=message):
        data_caches.from_url(url)


def test_from_url_rejects_non_strings():
    with pytest.raises(TypeError, match="URL must be a str"):
        data_stores.from_url(42)  # type: ignore[arg-type]


def test_register_scheme_missing_driver_names_the_extra():
    data_caches.register_scheme("fancy", "dictrack_no_such_module:Cache", extra="fancy")
    with pytest.raises(ConfigurationError, match=r"pip install 'dictrack\[fancy\]'"):
        data_caches.from_url("fancy://host")


def test_register_scheme_target_must_be_a_backend():
    data_stores.register_scheme("wrong", "dictrack.records:TrackerRecord")
    with pytest.raises(ConfigurationError, match="is not a BaseDataStore"):
        data_stores.from_url("wrong://x")


@pytest.mark.parametrize(
    ("scheme", "target"), [("not a scheme", "a:B"), ("ok", "no-colon")]
)
def test_register_scheme_validates(scheme, target):
    with pytest.raises(ValueError):
        data_caches.register_scheme(scheme, target)


def test_memory_cache_validates_window():
    with pytest.raises(ValueError, match="event_id_window"):
        MemoryDataCache(event_id_window=0)
    with pytest.raises(TypeError, match="event_id_window"):
        MemoryDataCache(event_id_window="10")  # type: ignore[arg-type]


def test_memory_cache_accepts_2_1_5_arguments():
    cache = MemoryDataCache(object, 10, 20)
    assert (cache.check_interval, cache.stale_threshold) == (10, 20)


def test_memory_cache_event_window_forgets_oldest():
    cache = MemoryDataCache(event_id_window=2)
    v = cache.populate("g", []).version
    for event_id in ("a", "b", "c"):
        cache.apply("g", v, {}, event_id=event_id)
    statuses = [cache.apply("g", v, {}, event_id=e).value for e in ("a", "c")]
    assert statuses == ["applied", "duplicate"]


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_from_url(url, path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = data_stores.from_url(url)
    assert isinstance(store, SQLiteDataStore) and store.path == path
    store.close()


def test_sqlite_from_url_absolute(tmp_path):
    store = data_stores.from_url(f"sqlite:///{tmp_path}/nested/dir/x.db")
    assert store.path == f"{tmp_path}/nested/dir/x.db"
    store.write([("g", RECORD)])
    store.close()
    assert (tmp_path / "nested" / "dir" / "x.db").exists()


def test_sqlite_from_url_without_path():
    with pytest.raises(ConfigurationError, match="no database path"):
        data_stores.from_url("sqlite://")


def test_sqlite_rejects_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ConfigurationError, match="not a usable dictrack SQLite"):
        SQLiteDataStore(path)


def test_sqlite_refuses_a_newer_schema(tmp_path):
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(ConfigurationError, match="newer dictrack"):
        SQLiteDataStore(path)


def test_sqlite_argument_checks(tmp_path):
    with pytest.raises(TypeError, match="path"):
        SQLiteDataStore(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="table"):
        SQLiteDataStore(tmp_path / "x.db", table="bad name;")


def test_sqlite_rows_are_readable_by_operators(tmp_path):
    store = SQLiteDataStore(tmp_path / "ops.db", table="quests")
    store.write([("player-1", RECORD)])
    store.close()
    with sqlite3.connect(tmp_path / "ops.db") as conn:
        row = conn.execute(
            "SELECT group_id, name, type, json_extract(state, '$.v'), version, "
            "completed FROM quests"
        ).fetchone()
    assert row == ("player-1", "a", "CountTracker", 1, 1, 0)


def test_sqlite_corrupt_row_names_group_and_tracker(tmp_path):
    store = SQLiteDataStore(tmp_path / "c.db")
    store.write([("g", RECORD)])
    store._conn.execute("UPDATE trackers SET state = '{not json'")
    with pytest.raises(DeserializationError, match="tracker 'a' of group 'g'"):
        store.load_group("g")
    assert store.load_group("other") == []
    store.close()


def test_sqlite_errors_after_close_are_backend_errors(tmp_path):
    store = SQLiteDataStore(tmp_path / "closed.db")
    store.close()
    assert store.check() is False
    with pytest.raises(BackendError, match="SQLite"):
        store.load_group("g")
    with pytest.raises(BackendError, match="SQLite write failed"):
        store.write([("g", RECORD)])


def test_sqlite_count(tmp_path):
    store = SQLiteDataStore(tmp_path / "n.db")
    store.write([("g", RECORD), ("h", RECORD)])
    assert store.count() == 2
    store.close()


def test_sqlite_file_is_shared_between_stores(tmp_path):
    first = SQLiteDataStore(tmp_path / "shared.db")
    second = SQLiteDataStore(tmp_path / "shared.db")
    first.write([("g", RECORD)])
    assert second.load_group("g") == [RECORD]
    first.close()
    second.close()
