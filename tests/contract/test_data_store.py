"""What every data store must do (runs on every ``data_store`` param)."""

from __future__ import annotations

import json

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
    record = rec("a", 4, 2, expire_at=1_900_000_000.5)
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
