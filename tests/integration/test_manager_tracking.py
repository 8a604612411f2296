"""TrackingManager.track and friends: results, time, idempotency, lifecycle."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from dictrack.data_caches.base import ApplyStatus, CASResult
from dictrack.data_caches.memory import MemoryDataCache
from dictrack.data_stores.sqlite import SQLiteDataStore
from dictrack.errors import ConflictError
from dictrack.events import EVENT_TRACKER_ALL_COMPLETED, EVENT_TRACKER_STAGE_COMPLETED
from dictrack.limiters.count import CountLimiter
from dictrack.limiters.time import TimeLimiter
from dictrack.manager import TrackingManager
from dictrack.results import TrackResult
from tests.integration._manager_helpers import (
    LOSE,
    T0,
    WIN,
    bets,
    progress,
    reloaded,
    state,
    wins,
)

# -- the result ----------------------------------------------------------------


def test_track_result_unpacks_as_the_2_1_5_tuple(manager):
    manager.add_trackers("g", [wins("a"), wins("b", target=1)])

    result = manager.track("g", WIN)
    ok, dirtied, completed, limited = result

    assert isinstance(result, tuple)
    assert isinstance(result, TrackResult)
    assert len(result) == 4
    assert ok is True and result.ok is True
    assert sorted(t.name for t in dirtied) == ["a", "b"]
    assert [t.name for t in result.dirtied] == [t.name for t in dirtied]
    assert [t.name for t in completed] == ["b"] == [t.name for t in result.completed]
    assert limited == [] == result.limited
    assert result.duplicate is False
    assert {t.name: t.progress for t in dirtied} == {"a": 1, "b": 1}
    assert "TrackResult(ok=True" in repr(result)


def test_track_on_an_unknown_group_is_ok_and_empty(manager):
    result = manager.track("nobody", WIN)
    assert result == (True, [], [], [])
    assert (result.ok, result.dirtied, result.completed, result.limited) == (
        True,
        [],
        [],
        [],
    )


def test_an_event_that_matches_nothing_dirties_nothing(manager):
    manager.add_tracker("g", wins("a"))
    assert manager.track("g", LOSE) == (True, [], [], [])
    assert progress(manager, "g") == {"a": 0}


def test_completed_trackers_are_returned_and_removed(manager):
    manager.add_trackers("g", [wins("done", target=2), wins("long", target=100)])
    manager.track("g", WIN)

    ok, dirtied, completed, limited = manager.track("g", WIN)

    assert ok
    [done] = completed
    assert (done.name, done.completed, done.removed, done.progress) == (
        "done",
        True,
        True,
        2,
    )
    assert [t.name for t in manager.get_trackers("g")] == ["long"]
    assert manager.get_trackers("g", "done") == []
    later = manager.track("g", WIN)
    assert [t.name for t in later.dirtied] == ["long"]
    assert later.completed == []
    manager.persist()
    assert reloaded(manager.data_store).get_trackers("g", "done") == []


def test_stages_advance_until_the_last_target(manager):
    manager.add_tracker("g", wins("a", target=[2, 4]))
    manager.track("g", WIN)
    result = manager.track("g", WIN)
    assert result.completed == []
    assert state(manager.get_trackers("g")) == {"a": (2, 2, False, False)}
    manager.track("g", WIN)
    assert [t.name for t in manager.track("g", WIN).completed] == ["a"]
    assert manager.get_trackers("g") == []


def test_accumulation_adds_numbers_and_numeric_strings(manager):
    manager.add_tracker("g", bets(target=100))
    manager.track("g", {**WIN, "bet": 10})
    manager.track("g", {**WIN, "bet": "2.5"})
    manager.track("g", {**WIN})  # no amount: nothing added
    manager.track("g", {**LOSE, "bet": 50})
    assert progress(manager, "g") == {"bets": 12.5}


def test_limited_lists_every_limited_tracker_on_every_later_call(manager):
    manager.add_trackers(
        "g",
        [
            wins("one", limiters=[CountLimiter(1)]),
            wins("two", limiters=[CountLimiter(2)]),
            wins("free"),
        ],
    )

    first = manager.track("g", WIN)
    assert [t.name for t in first.limited] == ["one"]
    assert all(t.limited for t in first.limited)
    second = manager.track("g", WIN)
    assert sorted(t.name for t in second.limited) == ["one", "two"]
    assert sorted(t.name for t in second.dirtied) == ["free", "two"]
    for data in (WIN, LOSE, {"unrelated": 1}):
        later = manager.track("g", data)
        assert sorted(t.name for t in later.limited) == ["one", "two"]
    assert manager.track("nobody", WIN).limited == []
    assert state(manager.get_trackers("g")) == {
        "one": (1, 1, False, True),
        "two": (2, 1, False, True),
        "free": (3, 1, False, False),
    }


# -- time ----------------------------------------------------------------------


def _windowed(manager):
    window = TimeLimiter(start_ts=T0, end_ts=T0 + 100)
    manager.add_tracker("g", wins("w", target=100, limiters=[window]))


@pytest.mark.parametrize(
    "inside",
    [
        {"now": T0 + 50},
        {"now": int(T0) + 50},
        {"now": datetime.fromtimestamp(T0 + 50, tz=timezone.utc)},
        {"now": datetime.fromtimestamp(T0 + 50, tz=timezone(timedelta(hours=8)))},
        {"now_ts": T0 + 50},
    ],
    ids=["epoch", "int", "utc-datetime", "tz-datetime", "now_ts"],
)
def test_now_decides_the_time_window(manager, inside):
    _windowed(manager)
    assert manager.track("g", WIN, **inside).dirtied[0].progress == 1
    assert [t.name for t in manager.track("g", WIN, now=T0 + 101).limited] == ["w"]
    assert state(manager.get_trackers("g")) == {"w": (1, 1, False, True)}


def test_now_before_the_window_limits(manager):
    _windowed(manager)
    assert [t.name for t in manager.track("g", WIN, now_ts=T0 - 1).limited] == ["w"]
    assert progress(manager, "g") == {"w": 0}


def test_naive_datetime_is_refused_and_changes_nothing(manager):
    _windowed(manager)
    with pytest.raises(ValueError, match="now"):
        manager.track("g", WIN, now=datetime(2023, 11, 14, 22, 14))
    with pytest.raises(TypeError, match="now"):
        manager.track("g", WIN, now="2023-11-14")
    assert state(manager.get_trackers("g")) == {"w": (0, 1, False, False)}


# -- event_id ------------------------------------------------------------------


def test_event_id_counts_an_event_once(manager):
    manager.add_trackers("g", [wins("a"), bets("b")])

    first = manager.track("g", {**WIN, "bet": 5}, event_id="evt-1")
    again = manager.track("g", {**WIN, "bet": 5}, event_id="evt-1")

    assert first.duplicate is False
    assert sorted(t.name for t in first.dirtied) == ["a", "b"]
    assert again.duplicate is True
    assert again == (True, [], [], [])
    assert progress(manager, "g") == {"a": 1, "b": 5}

    other = manager.track("g", {**WIN, "bet": 5}, event_id="evt-2")
    assert other.duplicate is False
    assert progress(manager, "g") == {"a": 2, "b": 10}


def test_event_ids_are_per_group(manager):
    manager.add_tracker("g1", wins("a"))
    manager.add_tracker("g2", wins("a"))
    manager.track("g1", WIN, event_id="same")
    assert manager.track("g2", WIN, event_id="same").duplicate is False
    assert progress(manager, "g2") == {"a": 1}


def test_event_id_of_an_event_that_matched_nothing_is_still_remembered(manager):
    manager.add_tracker("g", wins("a"))
    assert manager.track("g", LOSE, event_id="x").duplicate is False
    assert manager.track("g", WIN, event_id="x").duplicate is True
    assert progress(manager, "g") == {"a": 0}


def test_a_duplicate_still_reports_limited_trackers(manager):
    manager.add_tracker("g", wins("a", limiters=[CountLimiter(1)]))
    manager.track("g", WIN, event_id="x")
    again = manager.track("g", WIN, event_id="x")
    assert again.duplicate is True
    assert [t.name for t in again.limited] == ["a"]


# -- track_many ----------------------------------------------------------------


def test_track_many_equals_tracking_one_by_one(manager):
    def setup(group):
        manager.add_trackers(
            group,
            [
                wins("w", target=[2, 3], loop_forever=True),
                bets("b", target=20),
                wins("lim", limiters=[CountLimiter(2)]),
            ],
        )

    setup("batch")
    setup("single")
    events = [WIN, {**WIN, "bet": 7}, LOSE, {**WIN, "bet": 9}, WIN, {**WIN, "bet": 4}]

    batch = manager.track_many([("batch", e) for e in events], now=T0)
    single = [manager.track("single", e, now=T0) for e in events]

    def shape(result):
        return (
            result.ok,
            state(result.dirtied),
            state(result.completed),
            state(result.limited),
        )

    assert [shape(r) for r in batch] == [shape(r) for r in single]
    assert state(manager.get_trackers("batch")) == state(manager.get_trackers("single"))
    assert manager.track_many([]) == []


@pytest.mark.parametrize(
    ("n_groups", "calls"),
    [
        (5, [5]),
        (15, [15]),  # a first call of 5 joins the next
        (20, [10, 10]),
        (30, [20, 10]),
        (45, [15, 20, 10]),
        (60, [30, 20, 10]),
        (61, [31, 20, 10]),
        (100, [40, 30, 20, 10]),
        (101, [41, 30, 20, 10]),
        (130, [30, 40, 30, 20, 10]),
    ],
)
def test_a_round_goes_to_the_cache_in_chunks_with_a_short_last_one(n_groups, calls):
    cache = MemoryDataCache()
    manager = TrackingManager(cache, SQLiteDataStore(":memory:"), run_jobs=False)
    groups = [f"g{i}" for i in range(n_groups)]
    for group in groups:
        manager.add_tracker(group, wins())
    sizes: list[int] = []
    stream = cache.compare_and_set_stream

    def counted(chunks):
        def each():
            for chunk in chunks:
                sizes.append(len(chunk))
                yield chunk

        return stream(each())

    cache.compare_and_set_stream = counted  # type: ignore[method-assign]
    results = manager.track_many([(g, WIN) for g in groups], now=T0)
    assert sizes == calls
    assert [r.dirtied[0].progress for r in results] == [1] * n_groups
    manager.close()


def test_track_many_over_several_groups(manager):
    manager.add_tracker("g1", wins("a"))
    manager.add_tracker("g2", wins("a"))
    results = manager.track_many([("g1", WIN), ("g2", WIN), ("g1", WIN), ("g3", WIN)])
    assert [r.ok for r in results] == [True] * 4
    assert progress(manager, "g1") == {"a": 2}
    assert progress(manager, "g2") == {"a": 1}


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (["g1", WIN], TypeError, "each item must be"),
        (("g1",), TypeError, "each item must be"),
        (("g1", WIN, None, "extra"), TypeError, "each item must be"),
        ((1, WIN), TypeError, "group_id"),
        (("", WIN), ValueError, "group_id"),
        (("g1", ["not", "a", "dict"]), TypeError, "data"),
        (("g1", WIN, 7), TypeError, "event_id"),
    ],
)
def test_a_bad_item_of_a_batch_is_refused_before_anything_is_tracked(
    manager, bad, error, match
):
    manager.add_tracker("g1", wins("a"))
    with pytest.raises(error, match=match):
        manager.track_many([("g1", WIN), bad])
    assert progress(manager, "g1") == {"a": 0}


def test_a_batch_takes_any_mapping_and_three_item_tuples(manager):
    from collections import OrderedDict
    from types import MappingProxyType

    manager.add_tracker("g1", wins("a"))
    results = manager.track_many(
        [
            ("g1", OrderedDict(WIN)),
            ("g1", MappingProxyType(dict(WIN))),
            ("g1", WIN, "e1"),
            ("g1", WIN, "e1"),  # the same event id: counted once
            ("g1", WIN, None),
        ]
    )
    assert [r.duplicate for r in results] == [False, False, False, True, False]
    assert progress(manager, "g1") == {"a": 4}


def test_a_batch_larger_than_a_cache_call_equals_tracking_one_by_one(manager):
    """Rounds of 60 groups go to the cache in several pipelined calls."""
    groups = [f"g{i}" for i in range(60)]
    for group in groups:
        manager.add_trackers(group, [wins("w", target=[2, 3]), bets("b")], now=T0)
        manager.add_trackers(f"one-{group}", [wins("w", target=[2, 3]), bets("b")])
    events = [
        (g, {**WIN, "bet": i} if i % 4 else LOSE, f"e{i % 70}" if i % 5 == 0 else None)
        for i, g in enumerate(groups * 3)
    ]
    heard: list[tuple[str, str]] = []
    manager.add_listener(EVENT_TRACKER_STAGE_COMPLETED, lambda e: heard.append(
        (e.group_id, e.name)
    ))  # fmt: skip

    batch = manager.track_many(events, now=T0)
    in_batch = list(heard)
    heard.clear()
    single = [manager.track(f"one-{g}", d, now=T0, event_id=e) for g, d, e in events]

    def shape(result: TrackResult) -> tuple[object, ...]:
        return (
            result.ok,
            state(result.dirtied),
            state(result.completed),
            result.duplicate,
        )

    assert [shape(r) for r in batch] == [shape(r) for r in single]
    assert sorted(in_batch) == sorted((g.removeprefix("one-"), n) for g, n in heard)
    for group in groups:
        assert state(manager.get_trackers(group)) == state(
            manager.get_trackers(f"one-{group}")
        )


def test_an_event_a_tracker_refuses_stops_the_batch_there(manager):
    """Events before it stay applied and are heard; the rest are not tracked."""
    groups = [f"g{i}" for i in range(40)]
    for group in groups:
        manager.add_trackers(group, [bets("b")], now=T0)
    heard: list[str] = []
    manager.add_listener(
        EVENT_TRACKER_ALL_COMPLETED, lambda e: heard.append(e.group_id)
    )
    events = [(g, {**WIN, "bet": 1000}) for g in groups]
    events[30] = (groups[30], {**WIN, "bet": "lots"})

    with pytest.raises(ValueError, match="finite number"):
        manager.track_many(events, now=T0)

    assert [progress(manager, g) for g in groups[:30]] == [{}] * 30  # completed
    assert heard == groups[:30]
    assert [progress(manager, g) for g in groups[30:]] == [{"b": 0}] * 10


def test_a_batch_that_keeps_conflicting_says_where_to_resume(monkeypatch):
    """Group "g" is always changed elsewhere: its events go one by one after
    the round, and the ConflictError carries every result up to it."""
    manager = TrackingManager(run_jobs=False)
    for group in ("f", "g", "h"):
        manager.add_tracker(group, wins(), now=T0)
    cache = manager.data_cache
    real = cache.compare_and_set

    def conflicting(group_id, *args, **kwargs):
        if group_id == "g":
            return CASResult(ApplyStatus.CONFLICT)
        return real(group_id, *args, **kwargs)

    monkeypatch.setattr(cache, "compare_and_set", conflicting)
    with pytest.raises(ConflictError) as raised:
        manager.track_many([("f", WIN), ("g", WIN), ("h", WIN), ("g", WIN)], now=T0)
    assert raised.value.group_id == "g"
    done = [r and r.dirtied[0].progress for r in raised.value.results]
    assert done == [1, None, 1, None]
    assert progress(manager, "g") == {"wins": 0}
    manager.close()


# -- flush ---------------------------------------------------------------------


def test_flush_without_confirm_does_nothing(manager, caplog):
    manager.add_tracker("g", wins("a"))
    manager.track("g", WIN)
    with caplog.at_level(logging.WARNING, logger="dictrack"):
        assert manager.flush() is None
        manager.flush(confirm=False)
    assert "confirm=True" in caplog.text
    assert progress(manager, "g") == {"a": 1}
    assert [t.name for t in reloaded(manager.data_store).get_trackers("g")] == ["a"]


def test_flush_with_confirm_empties_cache_and_store(manager):
    manager.add_trackers("g1", [wins("a"), bets("b")])
    manager.add_tracker("g2", wins("c"))
    manager.track("g1", WIN)
    manager.persist()

    manager.flush(confirm=True)

    assert manager.get_trackers("g1") == []
    assert manager.get_trackers("g2") == []
    assert manager.track("g1", WIN) == (True, [], [], [])
    assert manager.persist() == 0
    fresh = reloaded(manager.data_store)
    assert fresh.get_trackers("g1") == []
    assert fresh.get_trackers("g2") == []
    manager.add_tracker("g1", wins("a"))
    assert progress(manager, "g1") == {"a": 0}


# -- lifecycle -----------------------------------------------------------------


def test_context_manager_persists_and_close_is_idempotent(data_cache, tmp_path):
    url = f"sqlite:///{tmp_path / 'ctx.db'}"
    with TrackingManager(data_cache, url) as mgr:
        assert isinstance(mgr, TrackingManager)
        mgr.add_tracker("g", wins("a"))
        mgr.track("g", WIN)
    mgr.close()
    mgr.close()
    with TrackingManager("memory://", url) as again:
        assert progress(again, "g") == {"a": 1}


def test_default_manager_keeps_its_data_in_dictrack_home(tmp_path):
    with TrackingManager() as mgr:
        assert isinstance(mgr.data_store, SQLiteDataStore)
        assert mgr.data_store.path == str(tmp_path / "home" / "dictrack.sqlite3")
        mgr.add_tracker("g", wins("a"))
        mgr.track("g", WIN)
    assert (tmp_path / "home" / "dictrack.sqlite3").is_file()
    with TrackingManager() as again:
        assert progress(again, "g") == {"a": 1}


def test_manager_from_urls(tmp_path):
    path = tmp_path / "sub" / "x.db"
    with TrackingManager("memory://", f"sqlite:///{path}") as mgr:
        mgr.add_tracker("g", wins("a"))
        assert mgr.track("g", WIN).dirtied[0].progress == 1
    assert path.is_file()
    with TrackingManager("memory://", f"sqlite:///{path}") as again:
        assert progress(again, "g") == {"a": 1}


def test_groups_loaded_from_the_store_share_definitions_and_plan(manager, data_store):
    for group_id in ("g1", "g2"):
        manager.add_trackers(group_id, [wins("a"), bets("b")])
    manager.track("g1", {**WIN, "bet": 3})
    manager.persist()
    fresh = reloaded(data_store)  # an empty cache: both groups load from the store
    assert progress(fresh, "g1") == {"a": 1, "b": 3}
    assert progress(fresh, "g2") == {"a": 0, "b": 0}
    first, second = (fresh._engine.views[g] for g in ("g1", "g2"))
    assert first._plan is second._plan
    assert all(
        first.record(name).definition is second.record(name).definition
        for name in ("a", "b")
    )


def test_groups_given_the_same_trackers_share_their_definition_values(manager):
    for group_id in ("g1", "g2"):
        manager.add_trackers(group_id, [wins("a"), bets("b")])
    views = manager._engine.views
    first, second = views["g1"], views["g2"]
    assert first._plan is second._plan
    for name in ("a", "b"):
        one, two = first.get(name, T0), second.get(name, T0)
        assert one._conditions is two._conditions and one._name is two._name
    manager.track("g1", {**WIN, "bet": 2})
    assert progress(manager, "g1") == {"a": 1, "b": 2}
    assert progress(manager, "g2") == {"a": 0, "b": 0}
