"""A store that goes away: tracking goes on in the cache and nothing is lost."""

from __future__ import annotations

import gc
import logging

import pytest

from dictrack.data_caches.memory import MemoryDataCache
from dictrack.errors import BackendError
from dictrack.manager import TrackingManager

from ._manager_helpers import T0, WIN, FlakyStore, progress, wins


@pytest.fixture
def flaky(data_store) -> FlakyStore:
    return FlakyStore(data_store)


def test_admin_writes_wait_in_the_cache_while_the_store_is_down(flaky, caplog):
    manager = TrackingManager(MemoryDataCache(), flaky, run_jobs=False)
    flaky.down = True
    with caplog.at_level(logging.WARNING, logger="dictrack._persist"):
        with pytest.raises(BackendError):  # a cache miss needs the store
            manager.add_tracker("g", wins())
    flaky.down = False
    manager.add_tracker("g", wins(), now=T0)  # the group is now cached
    flaky.down = True
    with caplog.at_level(logging.WARNING, logger="dictrack._persist"):
        manager.add_tracker("g", wins("later"), now=T0)
    assert "store write failed for group 'g'" in caplog.text
    for _ in range(3):
        assert manager.track("g", WIN, now=T0).ok
    with pytest.raises(BackendError):
        manager.persist()
    flaky.down = False
    assert manager.persist() == 2  # "wins" progress and the pending "later"
    assert manager.persist() == 0
    fresh = TrackingManager(MemoryDataCache(), flaky.inner, run_jobs=False)
    assert progress(fresh, "g") == {"wins": 3, "later": 3}


def test_track_reports_not_ok_when_the_group_cannot_be_loaded(flaky, caplog):
    manager = TrackingManager(MemoryDataCache(), flaky, run_jobs=False)
    flaky.down = True
    with caplog.at_level(logging.ERROR, logger="dictrack.manager"):
        result = manager.track("g", WIN, now=T0)
    assert tuple(result) == (False, [], [], [])
    assert "cannot load group 'g'" in caplog.text


def test_close_keeps_everything_when_the_final_persist_fails(flaky):
    manager = TrackingManager(MemoryDataCache(), flaky, run_jobs=False)
    manager.add_tracker("g", wins(), now=T0)
    manager.track("g", WIN, now=T0)
    flaky.down = True
    with pytest.raises(BackendError):
        manager.close()
    flaky.down = False
    manager.close()  # retried: now it persists and closes
    manager.close()  # idempotent
    assert progress(
        TrackingManager(MemoryDataCache(), flaky.inner, run_jobs=False), "g"
    ) == {"wins": 1}


def test_a_collected_manager_persists_its_changes(flaky):
    manager = TrackingManager(MemoryDataCache(), flaky, run_jobs=False)
    manager.add_tracker("g", wins(), now=T0)
    manager.track("g", WIN, now=T0)
    del manager
    gc.collect()
    assert progress(
        TrackingManager(MemoryDataCache(), flaky.inner, run_jobs=False), "g"
    ) == {"wins": 1}


def test_a_failed_final_persist_is_logged_not_raised(flaky, caplog):
    manager = TrackingManager(MemoryDataCache(), flaky, run_jobs=False)
    manager.add_tracker("g", wins(), now=T0)
    manager.track("g", WIN, now=T0)
    flaky.down = True
    with caplog.at_level(logging.ERROR, logger="dictrack._persist"):
        del manager
        gc.collect()
    assert "could not persist pending dictrack changes" in caplog.text


def test_removing_a_whole_group_clears_the_store(flaky):
    manager = TrackingManager(MemoryDataCache(), flaky, run_jobs=False)
    manager.add_trackers("g", [wins("a"), wins("b")], now=T0)
    manager.remove_tracker("g")
    assert flaky.inner.load_group("g") == []
