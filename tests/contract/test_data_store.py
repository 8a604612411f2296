"""What every data store must do (runs on every ``data_store`` param)."""

from __future__ import annotations

import json
import time

from dictrack.records import TrackerRecord


def rec(
    name: str, version: int = 1, progress: int = 0, expire_at=None
) -> TrackerRecord:
    return TrackerRecord(
        name,
        {"v": 1, "type": "CountTracker", "name": name, "targets": [3, 5.5]},
        {"v": 1, "progress": progress, "stage": 1},
        version,
        expire_at,
    )


def test_unknown_group_is_empty(data_store):
    assert data_store.load_group("nobody") == []


def test_round_trip_keeps_every_field(data_store):
    record = rec("a", 4, 2, expire_at=4_000_000_000.5)
    data_store.write([("g", record)])
    assert data_store.load_group("g") == [record]


def test_load_keeps_first_stored_order(data_store):
    data_store.write([("g", rec("b")), ("g", rec("a")), ("g", rec("c"))])
    data_store.write([("g", rec("a", 2))])
    assert [r.name for r in data_store.load_group("g")] == ["b", "a", "c"]


def test_groups_are_separate(data_store):
    data_store.write([("g1", rec("a")), ("g2", rec("a", 1, 9))])
    assert data_store.load_group("g1")[0].state["progress"] == 0
    assert data_store.load_group("g2")[0].state["progress"] == 9


def test_newer_version_wins_and_older_is_skipped(data_store):
    data_store.write([("g", rec("a", 5, progress=5))])
    data_store.write([("g", rec("a", 3, progress=3))])
    data_store.write([("g", rec("a", 5, progress=99))])
    assert data_store.load_group("g")[0].state["progress"] == 5
    data_store.write([("g", rec("a", 6, progress=6))])
    assert data_store.load_group("g")[0].state["progress"] == 6


def test_delete_one_name_respects_versions(data_store):
    data_store.write([("g", rec("a", 5)), ("g", rec("b", 1))])
    data_store.write(deletes=[("g", "a", 4)])  # an older delete: the newer stays
    assert {r.name for r in data_store.load_group("g")} == {"a", "b"}
    data_store.write(deletes=[("g", "a", 5)])
    assert [r.name for r in data_store.load_group("g")] == ["b"]
    data_store.write(deletes=[("g", "missing", None)])


def test_delete_whole_group(data_store):
    data_store.write([("g", rec("a")), ("g", rec("b")), ("h", rec("a"))])
    data_store.write(deletes=[("g", None, None)])
    assert data_store.load_group("g") == []
    assert len(data_store.load_group("h")) == 1


def test_upserts_and_deletes_in_one_write(data_store):
    data_store.write([("g", rec("a"))])
    data_store.write([("g", rec("b"))], [("g", "a", None)])
    assert [r.name for r in data_store.load_group("g")] == ["b"]


def test_empty_write_is_a_no_op(data_store):
    data_store.write()
    assert data_store.load_group("g") == []


def test_flush_all(data_store):
    data_store.write([("g", rec("a")), ("h", rec("b"))])
    data_store.flush_all()
    assert data_store.load_group("g") == [] and data_store.load_group("h") == []


def test_unicode_and_nested_values(data_store):
    record = TrackerRecord(
        "ünï-✓",
        {
            "v": 1,
            "type": "CountTracker",
            "conditions": [{"params": {"k": [1, {"x": None}]}}],
        },
        {"v": 1, "progress": 1.25, "stage": 2},
        1,
    )
    data_store.write([("grüppe", record)])
    loaded = data_store.load_group("grüppe")
    assert loaded == [record]
    json.dumps(loaded[0].definition)


def test_check_is_true_when_up(data_store):
    assert data_store.check() is True


def test_a_deleted_tracker_is_not_revived_by_an_older_write(data_store):
    data_store.write([("g", rec("a", 3))])
    data_store.write(deletes=[("g", "a", 5)])
    data_store.write([("g", rec("a", 4, progress=4))])  # late, older than the delete
    assert data_store.load_group("g") == []
    data_store.write([("g", rec("a", 6, progress=6))])  # added again afterwards
    assert data_store.load_group("g") == [rec("a", 6, progress=6)]


def test_a_delete_of_a_never_stored_tracker_still_blocks_older_writes(data_store):
    data_store.write(deletes=[("g", "a", 5)])
    data_store.write([("g", rec("a", 5))])
    assert data_store.load_group("g") == []


def test_delete_without_version_removes_any_version(data_store):
    data_store.write([("g", rec("a", 9))])
    data_store.write(deletes=[("g", "a", None)])
    data_store.write([("g", rec("a", 1))])
    assert data_store.load_group("g") == [rec("a", 1)]


def test_whole_group_delete_respects_the_version_cap(data_store):
    data_store.write([("g", rec("a", 3)), ("g", rec("b", 8))])
    data_store.write(deletes=[("g", None, 5)])
    assert [r.name for r in data_store.load_group("g")] == ["b"]


def test_a_capped_group_delete_keeps_tombstones_guarding(data_store):
    data_store.write([("g", rec("a", 3))])
    data_store.write(deletes=[("g", "a", 6)])  # a tombstone at 6
    data_store.write(deletes=[("g", None, 6)])  # then the whole group up to 6
    data_store.write([("g", rec("a", 5))])  # a late flush of an older version
    assert data_store.load_group("g") == []
    data_store.write(deletes=[("g", None, None)])  # any version: everything
    data_store.write([("g", rec("a", 5))])
    assert data_store.load_group("g") == [rec("a", 5)]


# Deadlines lie in the real future: a MongoDB TTL index removes documents
# whose date has passed by the wall clock, whatever ``now`` a test passes.
SOON = time.time() + 86_400


def test_expired_lists_live_trackers_past_their_deadline(data_store):
    data_store.write(
        [
            ("g", rec("old", 1, expire_at=SOON + 1_000.0)),
            ("g", rec("new", 1, expire_at=SOON + 5_000.0)),
            ("h", rec("never", 1)),
            ("h", rec("old", 1, expire_at=SOON + 999.5)),
        ]
    )
    later = SOON + 2_000.0
    assert sorted(data_store.expired(later)) == [("g", "old", 1), ("h", "old", 1)]
    assert len(data_store.expired(later, limit=1)) == 1
    assert data_store.expired(SOON) == []


def test_purge_expired_removes_expired_trackers_and_old_tombstones(data_store):
    data_store.write(
        [("g", rec("old", 1, expire_at=SOON + 1_000.0)), ("g", rec("keep", 1))]
    )
    assert data_store.purge_expired(SOON + 2_000.0) == 1
    assert [r.name for r in data_store.load_group("g")] == ["keep"]
    data_store.write(deletes=[("g", "keep", 2)])
    far = 4_102_444_800.0  # 2100: past any tombstone's time to live
    assert data_store.purge_expired(far) == 1
    data_store.write([("g", rec("keep", 1))])  # the tombstone is gone
    assert [r.name for r in data_store.load_group("g")] == ["keep"]


def test_large_and_special_values_round_trip(data_store):
    record = TrackerRecord(
        "x",
        {"v": 1, "type": "CountTracker", "$tuple": [1, 2], "a.b": {"%25": "%"}},
        {"v": 1, "progress": 2**70, "neg": -(2**64), "$set": [], "f": 1e300},
        7,
        1_900_000_000.25,
    )
    data_store.write([("g", record)])
    assert data_store.load_group("g") == [record]
