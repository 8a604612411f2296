"""MongoDBDataStore beyond the contract: construction, URLs, documents an
operator can read and query, and how driver failures surface."""

from __future__ import annotations

import threading
import time

import mongomock
import pymongo
import pytest
from pymongo.errors import BulkWriteError, ServerSelectionTimeoutError

from dictrack import data_stores
from dictrack.data_stores._mongo_format import from_bson, to_bson
from dictrack.data_stores.mongodb import MongoDBDataStore
from dictrack.errors import BackendError, ConfigurationError
from dictrack.records import TrackerRecord

pytestmark = pytest.mark.mongodb


def rec(name: str = "a", version: int = 1, progress: int = 0, expire_at=None):
    return TrackerRecord(
        name,
        {"v": 1, "type": "CountTracker", "name": name, "targets": [5]},
        {"v": 1, "progress": progress, "stage": 1},
        version,
        expire_at,
    )


@pytest.fixture
def client():
    return mongomock.MongoClient(tz_aware=True)


def test_documents_are_readable_and_queryable(client):
    store = MongoDBDataStore(client=client)
    store.write([("player-1", rec("a", 3, progress=7, expire_at=4_000_000_000.0))])
    doc = client["dictrack"]["data_store"].find_one({"state.progress": {"$gte": 5}})
    assert doc["group_id"] == "player-1" and doc["name"] == "a"
    assert doc["type"] == "CountTracker" and doc["version"] == 3
    assert doc["completed"] is False and doc["deleted"] is False
    assert doc["expire_at"].year == 2096 and doc["updated_at"].tzinfo is not None
    assert isinstance(doc["definition"], dict)


def test_indexes_are_created_and_creating_them_again_is_harmless(client):
    MongoDBDataStore(client=client, collection="c")
    store = MongoDBDataStore(client=client, collection="c")
    info = store.collection.index_information()
    assert info["group_id_name"]["unique"]
    assert info["expire_at_ttl"]["expireAfterSeconds"] == 0
    assert "group_id_seq" in info


def test_positional_arguments_follow_2_1_5(client):
    store = MongoDBDataStore(None, 60, "coll", "db", client)
    assert store.collection.full_name == "db.coll"
    assert store.check() is True


def test_strict_refuses_a_client_that_is_not_one(client):
    with pytest.raises(TypeError, match="MongoClient"):
        MongoDBDataStore(client=object())
    MongoDBDataStore(client=client, strict=True)  # mongomock is accepted


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"collection": ""}, TypeError),
        ({"database": 5}, TypeError),
        ({"tombstone_ttl": 0}, ValueError),
        ({"tombstone_ttl": "1"}, TypeError),
    ],
)
def test_bad_arguments_are_refused(client, kwargs, error):
    with pytest.raises(error):
        MongoDBDataStore(client=client, **kwargs)


def test_from_url_takes_database_and_collection(monkeypatch):
    seen = {}

    def fake_client(**kwargs):
        seen.update(kwargs)
        return mongomock.MongoClient()

    monkeypatch.setattr(pymongo, "MongoClient", fake_client)
    store = data_stores.from_url("mongodb://db.example:27017/quests?collection=t&w=1")
    assert store.collection.full_name == "quests.t"
    # The database stays in the URL: it is also the one that authenticates.
    assert seen["host"] == "mongodb://db.example:27017/quests?w=1"
    assert seen["tz_aware"] is True
    store.close()
    default = data_stores.from_url("mongodb+srv://cluster.example")
    assert default.collection.full_name == "dictrack.data_store"
    chosen = data_stores.from_url(
        "mongodb://h/", database="other", collection="c"
    )  # keywords fill what the URL leaves out
    assert chosen.collection.full_name == "other.c"
    from_path = data_stores.from_url("mongodb://h/appdb", database="other")
    assert from_path.collection.full_name == "appdb.data_store"


def test_an_unreachable_server_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="cannot prepare MongoDB"):
        MongoDBDataStore(host="mongodb://127.0.0.1:1/", serverSelectionTimeoutMS=50)
    # The client it built was closed: pymongo's threads end (asynchronously).
    deadline = time.monotonic() + 10
    while any(t.name.startswith("pymongo") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the failed store left its client open"
        time.sleep(0.01)


def test_driver_failures_become_backend_errors(client, monkeypatch):
    store = MongoDBDataStore(client=client)

    def down(*args, **kwargs):
        raise ServerSelectionTimeoutError("no server (test)")

    for method in ("find", "bulk_write", "delete_many"):
        monkeypatch.setattr(store.collection, method, down)
    with pytest.raises(BackendError, match="load of group 'g'"):
        store.load_group("g")
    with pytest.raises(BackendError, match="write failed"):
        store.write([("g", rec())])
    with pytest.raises(BackendError, match="flush failed"):
        store.flush_all()
    with pytest.raises(BackendError, match="expiry failed"):
        store.purge_expired(0)
    with pytest.raises(BackendError, match="expiry scan failed"):
        store.expired(0)


def test_only_duplicate_keys_count_as_superseded(client, monkeypatch):
    store = MongoDBDataStore(client=client)

    def fails(code):
        def bulk_write(*args, **kwargs):
            raise BulkWriteError({"writeErrors": [{"code": code, "errmsg": "x"}]})

        return bulk_write

    monkeypatch.setattr(store.collection, "bulk_write", fails(11000))
    store.write([("g", rec())])  # a newer version is stored: fine
    monkeypatch.setattr(store.collection, "bulk_write", fails(121))
    with pytest.raises(BackendError, match="121"):
        store.write([("g", rec())])


def test_check_is_false_when_the_server_is_gone(client, monkeypatch):
    store = MongoDBDataStore(client=client)

    def down(*args, **kwargs):
        raise ServerSelectionTimeoutError("gone")

    monkeypatch.setattr(type(store.collection.database), "command", down)
    assert store.check() is False


def test_close_closes_only_a_client_it_built(client):
    closed = []
    client.close = lambda: closed.append(True)
    MongoDBDataStore(client=client).close()
    assert closed == []


@pytest.mark.parametrize(
    "value",
    [
        {"a.b": 1, "$x": {"%": [2**70, -(2**63) - 1, 2**63 - 1]}},
        {"%int": "not a big int, a key"},
        [{"$tuple": [1, 2]}, "plain"],
    ],
)
def test_bson_escaping_round_trips(value):
    assert from_bson(to_bson(value)) == value


def test_a_duplicate_key_on_upsert_is_retried_as_a_versioned_update(client):
    store = MongoDBDataStore(client=client)
    real_bulk_write = store.collection.bulk_write
    raced = []

    def racing(operations, ordered=False):
        if not raced:  # another writer inserts v1 first; our v2 upsert collides
            raced.append(True)
            store.collection.insert_one(
                {"group_id": "g", "name": "a", "version": 1, "deleted": False,
                 "definition": rec().definition, "state": rec().state, "seq": 0}
            )  # fmt: skip
            raise BulkWriteError(
                {"writeErrors": [{"code": 11000, "index": 0, "errmsg": "dup"}]}
            )
        return real_bulk_write(operations, ordered=ordered)

    store.collection.bulk_write = racing
    store.write([("g", rec("a", 2, progress=2))])
    assert store.load_group("g")[0].version == 2
