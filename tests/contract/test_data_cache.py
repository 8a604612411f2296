"""What every data cache must do (runs on every ``data_cache`` param)."""

from __future__ import annotations

import threading

from dictrack.data_caches.base import ApplyStatus
from dictrack.records import TrackerRecord

APPLIED, CONFLICT, DUPLICATE = (
    ApplyStatus.APPLIED,
    ApplyStatus.CONFLICT,
    ApplyStatus.DUPLICATE,
)


def rec(name: str, version: int = 1, progress: int = 0) -> TrackerRecord:
    return TrackerRecord(
        name,
        {"v": 1, "type": "CountTracker", "name": name},
        {"v": 1, "progress": progress, "stage": 1},
        version,
    )


def cached(cache, group="g", records=()) -> int:
    """Populate a group; return its version."""
    return cache.populate(group, list(records)).version


def test_miss_is_none(data_cache):
    assert data_cache.version("g") is None
    assert data_cache.load("g") is None


def test_populate_then_load(data_cache):
    snap = data_cache.populate("g", [rec("a", 3), rec("b", 5)])
    assert snap.version >= 5
    assert list(snap.records) == ["a", "b"]
    assert data_cache.version("g") == snap.version
    assert data_cache.load("g").records["a"] == rec("a", 3)


def test_populate_empty_group_is_cached(data_cache):
    snap = data_cache.populate("g", [])
    assert dict(snap.records) == {}
    assert data_cache.version("g") == snap.version


def test_populate_never_overwrites(data_cache):
    v = cached(data_cache, records=[rec("a")])
    assert data_cache.apply("g", v, {"a": rec("a", v + 1, progress=7)}) is APPLIED
    snap = data_cache.populate("g", [rec("a")])
    assert snap.version == v + 1
    assert snap.records["a"].state["progress"] == 7


def test_reloaded_group_never_reuses_a_version(data_cache):
    v = cached(data_cache, records=[rec("a")])
    data_cache.apply("g", v, {"a": None})
    data_cache.mark_clean("g", {"a": v + 1})
    assert data_cache.evict("g")
    again = cached(data_cache)  # the store lost its only record
    assert again > v + 1
    assert data_cache.apply("g", v + 1, {}) is CONFLICT


def test_apply_is_compare_and_set(data_cache):
    v = cached(data_cache, records=[rec("a")])
    assert data_cache.apply("g", v - 1, {"a": rec("a")}) is CONFLICT
    assert data_cache.apply("g", v, {"b": rec("b", v + 1)}) is APPLIED
    assert data_cache.version("g") == v + 1
    assert data_cache.apply("g", v, {"c": rec("c", v + 1)}) is CONFLICT
    assert set(data_cache.load("g").records) == {"a", "b"}


def test_compare_and_set_may_return_the_current_group(data_cache):
    v = cached(data_cache, records=[rec("a")])
    data_cache.apply("g", v, {"a": rec("a", v + 1, progress=3)})
    status, current = data_cache.compare_and_set("g", v, {"a": rec("a", v + 1)})
    assert status is CONFLICT
    assert current is None or current == data_cache.load("g")


def test_states_only_writes_keep_definitions(data_cache):
    """``states_only``: new states, same definitions, deletes still delete;
    the result is the one a plain compare-and-set gives."""
    v = cached(data_cache, records=[rec("a"), rec("b"), rec("c")])
    writes = {"a": rec("a", v + 1, progress=4), "b": None}
    status, _ = data_cache.compare_and_set("g", v, writes, states_only=True)
    assert status is APPLIED
    snap = data_cache.load("g")
    assert list(snap.records) == ["a", "c"]
    assert snap.records["a"] == rec("a", v + 1, progress=4)
    assert snap.records["c"].definition == rec("c").definition
    assert data_cache.dirty()["g"] == {"a": v + 1, "b": v + 1}
    stale = data_cache.compare_and_set("g", v, writes, states_only=True)
    assert stale.status is CONFLICT


def test_apply_to_missing_group_conflicts(data_cache):
    assert data_cache.apply("nope", 0, {"a": rec("a")}) is CONFLICT
    assert data_cache.load("nope") is None


def test_apply_deletes_with_none(data_cache):
    v = cached(data_cache, records=[rec("a"), rec("b")])
    assert data_cache.apply("g", v, {"a": None}) is APPLIED
    assert list(data_cache.load("g").records) == ["b"]


def test_empty_apply_keeps_version(data_cache):
    v = cached(data_cache, records=[rec("a", 4)])
    assert data_cache.apply("g", v, {}) is APPLIED
    assert data_cache.version("g") == v


def test_event_id_applies_once(data_cache):
    v = cached(data_cache)
    assert data_cache.apply("g", v, {"a": rec("a", v + 1)}, event_id="e1") is APPLIED
    assert data_cache.apply("g", v + 1, {"a": rec("a")}, event_id="e1") is DUPLICATE
    # A duplicate is reported even when the caller's version is stale.
    assert data_cache.apply("g", v, {}, event_id="e1") is DUPLICATE
    assert data_cache.apply("g", v + 1, {}, event_id="e2") is APPLIED
    assert data_cache.version("g") == v + 1


def test_event_ids_are_per_group(data_cache):
    v1, v2 = cached(data_cache, "g1"), cached(data_cache, "g2")
    assert data_cache.apply("g1", v1, {}, event_id="e") is APPLIED
    assert data_cache.apply("g2", v2, {}, event_id="e") is APPLIED


def test_dirty_marks_follow_writes(data_cache):
    v = cached(data_cache)
    data_cache.apply("g", v, {"a": rec("a", v + 1)})
    data_cache.apply("g", v + 1, {"a": rec("a", v + 2), "b": None})
    assert data_cache.dirty() == {"g": {"a": v + 2, "b": v + 2}}
    assert data_cache.dirty() == {"g": {"a": v + 2, "b": v + 2}}  # reading keeps
    data_cache.mark_clean("g", {"a": v + 2, "b": v + 2})
    assert data_cache.dirty() == {}


def test_a_newer_change_survives_cleaning_an_older_mark(data_cache):
    v = cached(data_cache)
    data_cache.apply("g", v, {"a": rec("a", v + 1)})
    read = data_cache.dirty()
    data_cache.apply("g", v + 1, {"a": rec("a", v + 2)})
    data_cache.mark_clean("g", read["g"])
    assert data_cache.dirty() == {"g": {"a": v + 2}}


def test_mark_clean_only_clears_stored_versions(data_cache):
    v = cached(data_cache)
    data_cache.apply("g", v, {"a": rec("a", v + 1), "b": rec("b", v + 1)})
    data_cache.apply("g", v + 1, {"b": rec("b", v + 2)})
    data_cache.mark_clean("g", {"a": v + 1, "b": v + 1})
    assert data_cache.dirty() == {"g": {"b": v + 2}}
    data_cache.mark_clean("unknown", {"a": 1})


def test_evict_keeps_dirty_groups(data_cache):
    v = cached(data_cache)
    data_cache.apply("g", v, {"a": rec("a", v + 1)})
    assert data_cache.evict("g") is False
    data_cache.mark_clean("g", {"a": v + 1})
    assert data_cache.evict("g") is True
    assert data_cache.load("g") is None
    assert data_cache.evict("g") is False


def test_flush_all(data_cache):
    v = cached(data_cache)
    data_cache.apply("g", v, {"a": rec("a", v + 1)}, event_id="e")
    data_cache.flush_all()
    assert data_cache.load("g") is None
    assert data_cache.dirty() == {}
    v = cached(data_cache)
    assert data_cache.apply("g", v, {}, event_id="e") is APPLIED


def test_check_is_true_when_up(data_cache):
    assert data_cache.check() is True


def test_concurrent_compare_and_set_loses_nothing(data_cache):
    cached(data_cache, records=[rec("n", 0)])
    per_thread, threads = 300, 8

    def bump() -> None:
        done = 0
        while done < per_thread:
            snap = data_cache.load("g")
            current = snap.records["n"].state["progress"]
            new = rec("n", snap.version + 1, current + 1)
            if data_cache.apply("g", snap.version, {"n": new}) is APPLIED:
                done += 1

    workers = [threading.Thread(target=bump) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    snap = data_cache.load("g")
    assert snap.records["n"].state["progress"] == per_thread * threads


def test_compare_and_set_many_equals_one_by_one(data_cache):
    from dictrack.data_caches.base import CASOp

    v1, v2 = cached(data_cache, "g1"), cached(data_cache, "g2")
    ops = [
        CASOp("g1", v1, {"a": rec("a", v1 + 1)}),
        CASOp("g2", v2, {}, "e1"),  # only records the id
        CASOp("g2", v2 - 1, {"b": rec("b")}),  # stale: conflicts
        CASOp("g1", v1 + 1, {}),  # a version check that passes
        CASOp("g2", v2, {}, "e1"),  # duplicate id
    ]
    statuses = [r.status for r in data_cache.compare_and_set_many(ops)]
    assert statuses == [APPLIED, APPLIED, CONFLICT, APPLIED, DUPLICATE]
    assert list(data_cache.load("g1").records) == ["a"]
    assert dict(data_cache.load("g2").records) == {}
    assert data_cache.compare_and_set_many([]) == []


def test_compare_and_set_stream_yields_each_chunk_in_order(data_cache):
    from dictrack.data_caches.base import CASOp

    versions = {g: cached(data_cache, g) for g in ("g1", "g2", "g3")}
    pulled: list[int] = []

    def chunks():  # lazy: built while earlier chunks are on their way
        for n, ops in enumerate(
            [
                [CASOp(g, v, {"a": rec("a", v + 1, 1)}) for g, v in versions.items()],
                [],
                [
                    CASOp("g1", versions["g1"], {"a": rec("a")}),  # stale now
                    CASOp("g2", versions["g2"] + 1, {}, "e"),
                    CASOp("g2", versions["g2"] + 1, {}, "e"),  # the same group twice
                ],
                *([[]] * 5),  # enough chunks to see how far ahead it reads
            ]
        ):
            pulled.append(n)
            yield ops

    statuses, ahead = [], []
    for n, part in enumerate(data_cache.compare_and_set_stream(chunks())):
        statuses.append([r.status for r in part])
        ahead.append(len(pulled) - n - 1)  # chunks pulled beyond this one
    assert pulled == list(range(8))
    # Lazily: a pipelining backend pulls a few chunks ahead (Redis: DEPTH - 1),
    # not the whole stream before its first results.
    assert max(ahead) <= 3 and ahead[0] < 7, ahead
    assert statuses == [
        [APPLIED] * 3, [], [CONFLICT, APPLIED, DUPLICATE], *([[]] * 5)
    ]  # fmt: skip
    for group, version in versions.items():
        assert data_cache.load(group).records["a"].state["progress"] == 1
        assert data_cache.version(group) == version + 1
