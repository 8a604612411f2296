"""Durability on Redis: clean groups expire by themselves, dirty ones never do,
and job leases have one holder among every process sharing the server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from ._manager_helpers import T0, WIN, progress, wins
from .test_redis_cache import KINDS, Backend, open_backend

pytestmark = pytest.mark.redis


@pytest.fixture(params=KINDS)
def backend(request, tmp_path) -> Iterator[Backend]:
    yield from open_backend(request.param, tmp_path)


def ttls(cache, group_id: str) -> dict[str, int]:
    """PTTL of the group's keys that exist (-1: no time to live)."""
    out = {}
    for key in cache._keys(group_id, "v", "s", "d", "e", "n", "m"):
        ttl = cache.client.pttl(key)
        if ttl != -2:
            out[key.rsplit(":", 1)[1]] = ttl
    return out


def test_a_stored_group_gets_a_ttl_and_a_change_removes_it(backend):
    cache = backend.cache(stale_threshold=600)
    manager = backend.manager(cache)
    manager.add_tracker("g", wins(), now=T0)  # written through: clean
    clean = ttls(cache, "g")
    assert set(clean) == {"v", "s", "d"}
    assert all(0 < ttl <= 600_000 for ttl in clean.values()), clean
    manager.track("g", WIN, now=T0, event_id="e1")  # dirty: nothing may expire
    assert all(ttl == -1 for ttl in ttls(cache, "g").values())
    assert manager.persist() == 1
    after = ttls(cache, "g")
    assert set(after) == {"v", "s", "d", "e", "n"}
    assert all(0 < ttl <= 600_000 for ttl in after.values()), after


def test_a_group_loaded_from_the_store_gets_a_ttl(backend):
    first = backend.manager(backend.cache())
    first.add_tracker("g", wins(), now=T0)
    first.track("g", WIN, now=T0)
    first.persist()
    assert first.data_cache.evict("g")
    cache = backend.cache(stale_threshold=300)
    assert progress(backend.manager(cache), "g") == {"wins": 1}
    loaded = ttls(cache, "g")
    assert set(loaded) == {"v", "s", "d"}
    assert all(0 < ttl <= 300_000 for ttl in loaded.values()), loaded


def test_event_ids_on_a_clean_group_leave_with_it(backend):
    cache = backend.cache(stale_threshold=600)
    manager = backend.manager(cache)
    manager.add_tracker("g", wins(), now=T0)
    manager.track("g", {"event": "other"}, now=T0, event_id="x")  # no change
    found = ttls(cache, "g")
    assert 0 < found["e"] <= 600_000 and 0 < found["n"] <= 600_000


def test_an_expired_group_comes_back_from_the_store(backend):
    cache = backend.cache(stale_threshold=0.05)
    manager = backend.manager(cache)
    manager.add_tracker("g", wins(), now=T0)
    for _ in range(3):
        manager.track("g", WIN, now=T0)
    manager.persist()
    deadline = time.monotonic() + 10
    while cache.version("g") is not None:  # Redis expires the keys itself
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert manager.track("g", WIN, now=T0).ok
    assert progress(manager, "g") == {"wins": 4}


def test_a_dirty_group_never_expires(backend):
    cache = backend.cache(stale_threshold=0.05)
    manager = backend.manager(cache)
    manager.add_tracker("g", wins(), now=T0)
    manager.track("g", WIN, now=T0)
    time.sleep(0.2)
    assert cache.version("g") is not None
    assert progress(manager, "g") == {"wins": 1}


def test_hashes_left_by_an_expired_version_do_not_leak_into_a_reload(backend):
    cache = backend.cache()
    manager = backend.manager(cache)
    manager.add_tracker("g", wins(), now=T0)
    version_key, states_key = cache._keys("g", "v", "s")
    cache.client.hset(states_key, "ghost", "1||{}")
    cache.client.delete(version_key)  # as if the version expired first
    assert [t.name for t in manager.get_trackers("g")] == ["wins"]
    assert cache.client.hget(states_key, "ghost") is None


def test_a_lease_has_one_holder_among_processes(backend):
    one, two = backend.cache(), backend.cache()  # separate clients
    assert one.acquire_lease("job:flush", "p1", 0.2)
    assert not two.acquire_lease("job:flush", "p2", 0.2)
    assert one.acquire_lease("job:flush", "p1", 0.2)  # renewed
    assert not two.release_lease("job:flush", "p2")  # only its holder
    time.sleep(0.3)  # p1 stopped renewing
    assert two.acquire_lease("job:flush", "p2", 5)
    assert not one.acquire_lease("job:flush", "p1", 5)
    assert two.release_lease("job:flush", "p2")
    assert one.acquire_lease("job:flush", "p1", 5)


def test_bad_stale_threshold_is_refused(backend):
    with pytest.raises(ValueError, match="stale_threshold"):
        backend.cache(stale_threshold=0)


def test_event_ids_never_expire_while_their_group_is_dirty(backend):
    cache = backend.cache(stale_threshold=600)
    manager = backend.manager(cache)
    manager.add_tracker("g", wins(), now=T0)
    manager.track("g", WIN, now=T0, event_id="e1")
    manager.persist()  # clean: every key of the group has a time to live
    assert all(ttl > 0 for ttl in ttls(cache, "g").values())
    manager.track("g", WIN, now=T0)  # dirty again, without an event id
    assert all(ttl == -1 for ttl in ttls(cache, "g").values()), ttls(cache, "g")
