"""apply.lua at its edges: batches in one call, foreign data in a batch, large
writes, and the dirty index that is only touched at a group's first mark."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dictrack.data_caches.base import ApplyStatus, CASOp
from dictrack.errors import BackendError
from dictrack.records import TrackerRecord

from ._manager_helpers import T0, WIN, progress, wins
from .test_redis_cache import KINDS, Backend, open_backend, text

pytestmark = pytest.mark.redis


@pytest.fixture(params=KINDS)
def backend(request, tmp_path) -> Iterator[Backend]:
    yield from open_backend(request.param, tmp_path)


def record(name: str, version: int, progress: int = 1) -> TrackerRecord:
    definition = {"v": 1, "type": "CountTracker", "name": name}
    state = {"v": 1, "progress": progress, "stage": 1}
    return TrackerRecord(name, definition, state, version)


def test_a_batch_applies_checks_and_refuses_each_op_on_its_own(backend):
    cache = backend.cache()
    versions = {g: cache.populate(g, [record("t", 5)]).version for g in "abcd"}
    client = backend.client()
    client.delete(f"{backend.prefix}:{{c}}:s")
    client.set(f"{backend.prefix}:{{c}}:s", "foreign")
    ops = [
        CASOp("a", versions["a"], {"t": record("t", versions["a"] + 1, 2)}),
        CASOp("b", versions["b"] - 1, {"t": record("t", versions["b"], 9)}),  # stale
        CASOp("c", versions["c"], {"t": record("t", versions["c"] + 1, 2)}),
        CASOp("d", versions["d"], {"t": None}, "e1"),
    ]
    with pytest.raises(BackendError, match=r"\{c\}:s"):
        cache.compare_and_set_many(ops)
    # The others went on: a and d applied, b refused, c untouched.
    assert cache.version("a") == versions["a"] + 1
    assert cache.version("b") == versions["b"]
    assert cache.version("c") == versions["c"]
    assert cache.version("d") == versions["d"] + 1
    assert cache.load("d").records == {}
    again = cache.compare_and_set_many([ops[3], ops[0]])
    assert again[0].status is ApplyStatus.DUPLICATE
    assert again[1].status is ApplyStatus.CONFLICT
    assert again[1].current.records["t"].state["progress"] == 2


def test_a_batch_of_one_group_twice_is_applied_in_order(backend):
    cache = backend.cache()
    version = cache.populate("g", [record("t", 5)]).version
    first = CASOp("g", version, {"t": record("t", version + 1, 2)})
    second = CASOp("g", version, {"t": record("t", version + 1, 3)})
    statuses = [r.status for r in cache.compare_and_set_many([first, second])]
    assert statuses == [ApplyStatus.APPLIED, ApplyStatus.CONFLICT]
    assert cache.load("g").records["t"].state["progress"] == 2


def test_large_writes_go_in_chunks(backend):
    cache = backend.cache()
    names = [f"t{i}" for i in range(1_200)]  # 2,400 hash fields in one op
    version = cache.populate("g", [record("seed", 5)]).version
    writes = {n: record(n, version + 1) for n in names}
    assert cache.compare_and_set("g", version, writes).status is ApplyStatus.APPLIED
    loaded = cache.load("g")
    assert len(loaded.records) == 1_201
    assert set(cache.dirty()["g"]) == set(names)
    removed = dict.fromkeys(names)
    assert cache.compare_and_set("g", version + 1, removed).status is (
        ApplyStatus.APPLIED
    )
    assert list(cache.load("g").records) == ["seed"]


def test_the_dirty_index_follows_first_marks(server):
    manager = server.manager()
    manager.add_tracker("g", wins(), now=T0)
    manager.persist()
    manager.persist()  # cleaned groups leave the index
    client, index = server.client(), f"{server.prefix}:dirty"
    assert client.zscore(index, "g") is None
    manager.track("g", WIN, now=T0)
    first = client.zscore(index, "g")
    assert first is not None
    manager.track("g", WIN, now=T0)  # marked already: the entry stays as it is
    assert client.zscore(index, "g") == first
    manager.persist()  # stores and cleans the marks; the entry goes next time
    manager.track("g", WIN, now=T0)  # a first mark again: the score grows
    assert client.zscore(index, "g") > first
    manager.persist()
    manager.persist()
    assert client.zscore(index, "g") is None
    assert not client.exists(f"{server.prefix}:{{g}}:m")
    assert progress(server.manager(), "g") == {"wins": 3}
    assert text(client.type(index)) in ("zset", "none")


@pytest.fixture
def server(tmp_path) -> Iterator[Backend]:
    yield from open_backend("redis", tmp_path)
