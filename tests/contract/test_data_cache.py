"""What every data cache must do (runs on every ``data_cache`` param)."""

from __future__ import annotations

import threading

from dictrack.data_caches.base import ApplyStatus
from dictrack.records import TrackerRecord


def rec(name: str, version: int = 1, progress: int = 0) -> TrackerRecord:
    return TrackerRecord(
        name,
        {"v": 1, "type": "CountTracker", "name": name},
        {"v": 1, "progress": progress, "stage": 1},
        version,
    )


def test_miss_is_none(data_cache):
    assert data_cache.version("g") is None
    assert data_cache.load("g") is None


def test_populate_then_load(data_cache):
    snap = data_cache.populate("g", [rec("a", 3), rec("b", 5)])
    assert snap.version == 5
    assert list(snap.records) == ["a", "b"]
    assert data_cache.version("g") == 5
    assert data_cache.load("g").records["a"] == rec("a", 3)


def test_populate_empty_group_is_cached(data_cache):
    snap = data_cache.populate("g", [])
    assert snap.version == 0 and dict(snap.records) == {}
    assert data_cache.version("g") == 0


def test_populate_never_overwrites(data_cache):
    data_cache.populate("g", [rec("a", 1)])
    assert (
        data_cache.apply("g", 1, {"a": rec("a", 2, progress=7)}) is ApplyStatus.APPLIED
    )
    snap = data_cache.populate("g", [rec("a", 1)])
    assert snap.version == 2
    assert snap.records["a"].state["progress"] == 7


def test_apply_is_compare_and_set(data_cache):
    data_cache.populate("g", [rec("a", 1)])
    assert data_cache.apply("g", 0, {"a": rec("a", 1)}) is ApplyStatus.CONFLICT
    assert data_cache.apply("g", 1, {"b": rec("b", 2)}) is ApplyStatus.APPLIED
    assert data_cache.version("g") == 2
    assert data_cache.apply("g", 1, {"c": rec("c", 2)}) is ApplyStatus.CONFLICT
    assert set(data_cache.load("g").records) == {"a", "b"}


def test_apply_to_missing_group_conflicts(data_cache):
    assert data_cache.apply("nope", 0, {"a": rec("a")}) is ApplyStatus.CONFLICT
    assert data_cache.load("nope") is None


def test_apply_deletes_with_none(data_cache):
    data_cache.populate("g", [rec("a", 1), rec("b", 1)])
    assert data_cache.apply("g", 1, {"a": None}) is ApplyStatus.APPLIED
    assert list(data_cache.load("g").records) == ["b"]


def test_empty_apply_keeps_version(data_cache):
    data_cache.populate("g", [rec("a", 4)])
    assert data_cache.apply("g", 4, {}) is ApplyStatus.APPLIED
    assert data_cache.version("g") == 4


def test_event_id_applies_once(data_cache):
    data_cache.populate("g", [])
    assert (
        data_cache.apply("g", 0, {"a": rec("a")}, event_id="e1") is ApplyStatus.APPLIED
    )
    assert (
        data_cache.apply("g", 1, {"a": rec("a", 2)}, event_id="e1")
        is ApplyStatus.DUPLICATE
    )
    # A duplicate is reported even when the caller's version is stale.
    assert data_cache.apply("g", 0, {}, event_id="e1") is ApplyStatus.DUPLICATE
    assert data_cache.apply("g", 1, {}, event_id="e2") is ApplyStatus.APPLIED
    assert data_cache.version("g") == 1


def test_event_ids_are_per_group(data_cache):
    data_cache.populate("g1", [])
    data_cache.populate("g2", [])
    assert data_cache.apply("g1", 0, {}, event_id="e") is ApplyStatus.APPLIED
    assert data_cache.apply("g2", 0, {}, event_id="e") is ApplyStatus.APPLIED


def test_dirty_marks_follow_writes(data_cache):
    data_cache.populate("g", [])
    data_cache.apply("g", 0, {"a": rec("a", 1)})
    data_cache.apply("g", 1, {"a": rec("a", 2), "b": None})
    assert data_cache.take_dirty() == {"g": {"a": 2, "b": 2}}
    assert data_cache.take_dirty() == {}


def test_mark_dirty_keeps_the_higher_version(data_cache):
    data_cache.populate("g", [])
    data_cache.apply("g", 0, {"a": rec("a", 1)})
    taken = data_cache.take_dirty()
    data_cache.apply("g", 1, {"a": rec("a", 2)})
    data_cache.mark_dirty(taken)
    assert data_cache.take_dirty() == {"g": {"a": 2}}


def test_mark_clean_only_clears_stored_versions(data_cache):
    data_cache.populate("g", [])
    data_cache.apply("g", 0, {"a": rec("a", 1), "b": rec("b", 1)})
    data_cache.apply("g", 1, {"b": rec("b", 2)})
    data_cache.mark_clean("g", {"a": 1, "b": 1})
    assert data_cache.take_dirty() == {"g": {"b": 2}}
    data_cache.mark_clean("unknown", {"a": 1})


def test_evict_keeps_dirty_groups(data_cache):
    data_cache.populate("g", [])
    data_cache.apply("g", 0, {"a": rec("a", 1)})
    assert data_cache.evict("g") is False
    data_cache.mark_clean("g", {"a": 1})
    assert data_cache.evict("g") is True
    assert data_cache.load("g") is None
    assert data_cache.evict("g") is False


def test_flush_all(data_cache):
    data_cache.populate("g", [])
    data_cache.apply("g", 0, {"a": rec("a", 1)}, event_id="e")
    data_cache.flush_all()
    assert data_cache.load("g") is None
    assert data_cache.take_dirty() == {}
    data_cache.populate("g", [])
    assert data_cache.apply("g", 0, {}, event_id="e") is ApplyStatus.APPLIED


def test_check_is_true_when_up(data_cache):
    assert data_cache.check() is True


def test_concurrent_compare_and_set_loses_nothing(data_cache):
    data_cache.populate("g", [rec("n", 0)])
    per_thread, threads = 300, 8

    def bump() -> None:
        done = 0
        while done < per_thread:
            snap = data_cache.load("g")
            current = snap.records["n"].state["progress"]
            new = rec("n", snap.version + 1, current + 1)
            if data_cache.apply("g", snap.version, {"n": new}) is ApplyStatus.APPLIED:
                done += 1

    workers = [threading.Thread(target=bump) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    snap = data_cache.load("g")
    assert snap.records["n"].state["progress"] == per_thread * threads
    assert snap.version == per_thread * threads
