"""Progress reaches the store, survives restarts, and is shared through a cache."""

from __future__ import annotations

import pytest

from dictrack.data_caches.memory import MemoryDataCache
from dictrack.errors import DuplicateTrackerError
from dictrack.limiters.count import CountLimiter
from dictrack.limiters.time import TimeLimiter
from dictrack.manager import TrackingManager
from dictrack.trackers import ResetPolicy
from tests.integration._manager_helpers import (
    T0,
    WIN,
    bets,
    progress,
    reloaded,
    state,
    wins,
)


@pytest.fixture
def store_url(tmp_path):
    return f"sqlite:///{tmp_path / 'persist.db'}"


# -- one store file, successive managers ---------------------------------------


def test_progress_survives_close_and_a_new_manager(data_cache, store_url):
    mgr = TrackingManager(data_cache, store_url)
    mgr.add_trackers(
        "g",
        [
            wins("stages", target=[2, 5]),
            bets("b", target=100),
            wins("lim", limiters=[CountLimiter(2)]),
            wins("done", target=1),
        ],
        now=T0,
    )
    for bet in (10, 20, 30):
        mgr.track("g", {**WIN, "bet": bet}, now=T0)
    expected = state(mgr.get_trackers("g"))
    mgr.close()

    with TrackingManager("memory://", store_url) as again:
        assert state(again.get_trackers("g")) == expected
        assert expected == {
            "stages": (3, 2, False, False),
            "b": (60, 1, False, False),
            "lim": (2, 1, False, True),
        }
        [lim] = again.get_trackers("g", "lim")[0].limiters
        assert lim.remaining == 0
        assert [t.name for t in again.track("g", WIN, now=T0).limited] == ["lim"]
        last = again.track("g", {**WIN, "bet": 40}, now=T0)
        assert sorted(t.name for t in last.completed) == ["b", "stages"]
    with TrackingManager("memory://", store_url) as third:
        assert progress(third, "g") == {"lim": 2}


def test_completed_trackers_stay_gone_after_a_restart(data_cache, store_url):
    with TrackingManager(data_cache, store_url) as mgr:
        mgr.add_trackers("g", [wins("a", target=1), wins("b", target=5)])
        assert [t.name for t in mgr.track("g", WIN).completed] == ["a"]
    with TrackingManager("memory://", store_url) as again:
        assert progress(again, "g") == {"b": 1}


def test_expiry_and_time_windows_survive_a_restart(data_cache, store_url):
    window = TimeLimiter(start_ts=T0, end_ts=T0 + 100)
    with TrackingManager(data_cache, store_url) as mgr:
        mgr.add_tracker("g", wins("w", limiters=[window]), expire_at=T0 + 50, now=T0)
    with TrackingManager("memory://", store_url) as again:
        [w] = again.get_trackers("g", now=T0)
        assert w.expire_at == T0 + 50
        [limiter] = w.limiters
        assert (limiter.start_ts, limiter.end_ts) == (T0, T0 + 100)
        assert again.get_trackers("g", now=T0 + 50) == []
        assert again.track("g", WIN, now=T0 + 60).dirtied == []


# -- persist() -----------------------------------------------------------------


def test_persist_returns_how_many_it_wrote(manual_manager):
    manager = manual_manager
    manager.add_trackers("g", [wins("a", target=2), bets("b"), wins("c")])
    manager.add_tracker("h", wins("a"))
    assert manager.persist() == 0  # admin changes are written through

    manager.track("g", {**WIN, "bet": 5})  # a, b and c change
    manager.track("g", {**WIN, "bet": 5})  # a completes, b and c change again
    manager.track("h", WIN)

    assert manager.persist() == 4
    assert manager.persist() == 0
    fresh = reloaded(manager.data_store)
    assert progress(fresh, "g") == {"b": 10, "c": 2}
    assert progress(fresh, "h") == {"a": 1}


def test_a_second_manager_sees_progress_only_from_the_store(manual_manager):
    manager = manual_manager
    manager.add_tracker("g", bets("b"))
    manager.track("g", {**WIN, "bet": 7})
    manager.persist()
    fresh = reloaded(manager.data_store)
    assert progress(fresh, "g") == {"b": 7}

    manager.track("g", {**WIN, "bet": 3})
    assert manager.persist() == 1
    # The second manager has its own cache: it keeps what it loaded ...
    assert progress(fresh, "g") == {"b": 7}
    # ... while a third one, loading now, sees the newest progress.
    assert progress(reloaded(manager.data_store), "g") == {"b": 10}


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.update_tracker("g", wins("a", target=9, init_progress=4)),
        lambda m: m.reset_tracker("g", "a", ResetPolicy.PROGRESS),
        lambda m: m.remove_tracker("g", "a"),
        lambda m: m.add_tracker("g", wins("z")),
    ],
    ids=["update", "reset", "remove", "add"],
)
def test_admin_changes_reach_the_store_without_persist(manager, change):
    manager.add_tracker("g", wins("a"))
    manager.track("g", WIN)
    manager.persist()
    change(manager)
    assert state(reloaded(manager.data_store).get_trackers("g")) == state(
        manager.get_trackers("g")
    )


# -- two managers, one cache instance ------------------------------------------


@pytest.fixture
def twins(cache_factory, data_store):
    """Two managers over ONE cache instance and one store."""
    cache = cache_factory()
    first = TrackingManager(cache, data_store, run_jobs=False)
    second = TrackingManager(cache, data_store, run_jobs=False)
    yield first, second
    first.close()
    second.close()


def test_shared_cache_add_and_track(twins):
    one, two = twins
    one.add_trackers("g", [wins("a"), bets("b")])
    assert sorted(progress(two, "g")) == ["a", "b"]

    two.track("g", {**WIN, "bet": 4})
    assert progress(one, "g") == {"a": 1, "b": 4}
    one.track("g", {**WIN, "bet": 6})
    assert progress(two, "g") == {"a": 2, "b": 10}


def test_shared_cache_update_remove_and_reset(twins):
    one, two = twins
    one.add_trackers("g", [wins("a"), wins("b"), wins("c")])
    two.track("g", WIN)
    assert progress(one, "g") == {"a": 1, "b": 1, "c": 1}

    one.update_tracker("g", wins("a", target=3, init_progress=2))
    assert [(t.target, t.progress) for t in two.get_trackers("g", "a")] == [(3, 2)]

    two.reset_tracker("g", "b", ResetPolicy.PROGRESS)
    assert progress(one, "g") == {"a": 2, "b": 0, "c": 1}

    assert [t.name for t in one.remove_tracker("g", "c")] == ["c"]
    assert progress(two, "g") == {"a": 2, "b": 0}

    assert [t.name for t in two.track("g", WIN).completed] == ["a"]
    assert progress(one, "g") == {"b": 1}

    assert sorted(t.name for t in two.remove_tracker("g")) == ["b"]
    assert one.get_trackers("g") == []
    assert one.track("g", WIN) == (True, [], [], [])


def test_shared_cache_event_ids_and_limits(twins):
    one, two = twins
    one.add_tracker("g", wins("a", limiters=[CountLimiter(2)]))
    one.track("g", WIN, event_id="e1")
    assert two.track("g", WIN, event_id="e1").duplicate is True
    two.track("g", WIN, event_id="e2")
    assert [t.name for t in one.track("g", WIN, event_id="e3").limited] == ["a"]
    assert state(two.get_trackers("g")) == {"a": (2, 1, False, True)}
    one.reset_tracker("g", "a", ResetPolicy.LIMITER)
    assert two.track("g", WIN).limited == []
    assert progress(one, "g") == {"a": 3}


def test_shared_cache_duplicate_names_are_refused_across_managers(twins):
    one, two = twins
    one.add_tracker("g", wins("a"))
    with pytest.raises(DuplicateTrackerError):
        two.add_tracker("g", wins("a"))


def test_shared_cache_flush_is_seen_by_both(twins):
    one, two = twins
    one.add_tracker("g", wins("a"))
    two.track("g", WIN)
    one.flush(confirm=True)
    assert two.get_trackers("g") == []
    two.add_tracker("g", wins("a"))
    assert progress(one, "g") == {"a": 0}


def test_shared_cache_progress_is_persisted_once(twins, data_store):
    one, two = twins
    one.add_tracker("g", bets("b"))
    one.track("g", {**WIN, "bet": 1})
    two.track("g", {**WIN, "bet": 2})
    assert one.persist() + two.persist() == 1
    assert progress(reloaded(data_store), "g") == {"b": 3}


def test_a_removed_group_is_not_revived_by_a_late_flush(data_store):
    """One manager's flush has read a group; another removes the whole group
    before that flush is written; once the group leaves the cache, the store
    must not bring the removed tracker back."""
    cache = MemoryDataCache()  # shared, as Redis is by two processes
    late = TrackingManager(cache, data_store, run_jobs=False)
    other = TrackingManager(cache, data_store, run_jobs=False)
    late.add_tracker("g", wins())
    late.track("g", WIN)
    real_write = data_store.write
    calls = []

    def write_after_the_removal(upserts=(), deletes=()):
        if not calls:
            calls.append(1)
            other.remove_tracker("g")  # runs before the late write lands
        real_write(upserts, deletes)

    data_store.write = write_after_the_removal  # type: ignore[method-assign]
    try:
        late.persist()
    finally:
        data_store.write = real_write  # type: ignore[method-assign]
    assert other.get_trackers("g") == []
    assert reloaded(data_store).get_trackers("g") == []
    late.close()
    other.close()
