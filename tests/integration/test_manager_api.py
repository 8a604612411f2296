"""TrackingManager's 2.1.5 admin API: add, get, update, remove, reset."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dictrack.events import EVENT_TRACKER_ADDED, EVENT_TRACKER_RESET
from dictrack.limiters.count import CountLimiter
from dictrack.limiters.time import TimeLimiter
from dictrack.trackers import ResetPolicy
from dictrack.trackers.base import BaseTracker
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

# -- add_tracker / add_trackers ------------------------------------------------


def test_add_tracker_sets_group_id_and_announces_it(manager):
    heard = []
    manager.add_listener(EVENT_TRACKER_ADDED, heard.append)
    tracker = wins("daily")
    assert tracker.group_id == BaseTracker.DEFAULT_GROUP_ID

    assert manager.add_tracker("player-1", tracker, now=T0) is None

    assert tracker.group_id == "player-1"
    [event] = heard
    assert (event.code, event.group_id, event.name) == (1001, "player-1", "daily")
    assert event.tracker.group_id == "player-1"
    assert event.event_ts == T0
    assert [t.name for t in manager.get_trackers("player-1")] == ["daily"]


def test_add_trackers_adds_all_and_announces_each(manager):
    heard = []
    manager.add_listener(EVENT_TRACKER_ADDED, heard.append)
    batch = [wins("a"), wins("b"), bets("c")]

    manager.add_trackers("g", batch, now=T0)

    assert [t.group_id for t in batch] == ["g", "g", "g"]
    assert sorted(e.name for e in heard) == ["a", "b", "c"]
    assert {e.group_id for e in heard} == {"g"}
    assert sorted(t.name for t in manager.get_trackers("g")) == ["a", "b", "c"]


def test_add_tracker_keeps_a_copy_of_the_tracker(manager):
    tracker = wins("a")
    manager.add_tracker("g", tracker)
    tracker.progress = 7
    assert progress(manager, "g") == {"a": 0}


def test_a_tracker_built_for_the_group_can_be_added_to_it(manager):
    manager.add_tracker("g", wins("a", group_id="g"))
    assert [t.group_id for t in manager.get_trackers("g")] == ["g"]


@pytest.mark.parametrize(
    "when", [{"expire": 60}, {"expire_at": T0 + 60}], ids=["expire", "expire_at"]
)
def test_expired_trackers_disappear_and_stop_tracking(manager, when):
    manager.add_trackers("g", [wins("short"), bets("short-bets")], now=T0, **when)
    manager.add_tracker("g", wins("forever"), now=T0)

    assert progress(manager, "g", now=T0 + 59) == {
        "short": 0,
        "short-bets": 0,
        "forever": 0,
    }
    assert manager.get_trackers("g", "short", now=T0 + 60) == []
    assert [t.expire_at for t in manager.get_trackers("g", "short", now=T0)] == [
        T0 + 60
    ]

    live = manager.track("g", {**WIN, "bet": 5}, now=T0 + 30)
    assert sorted(t.name for t in live.dirtied) == ["forever", "short", "short-bets"]
    late = manager.track("g", {**WIN, "bet": 5}, now=T0 + 60)
    assert [t.name for t in late.dirtied] == ["forever"]
    assert progress(manager, "g", now=T0 + 60) == {"forever": 2}


def test_an_expired_name_can_be_added_again(manager):
    manager.add_tracker("g", wins("a"), expire=10, now=T0)
    manager.add_tracker("g", wins("a", target=3), now=T0 + 10)
    assert [t.target for t in manager.get_trackers("g", now=T0 + 10)] == [3]


def test_expired_limited_trackers_leave_the_limited_list(manager):
    manager.add_tracker("g", wins("a", limiters=[CountLimiter(1)]), expire=60, now=T0)
    assert [t.name for t in manager.track("g", WIN, now=T0).limited] == ["a"]
    assert manager.track("g", LOSE, now=T0 + 60).limited == []


# -- get_trackers --------------------------------------------------------------


def test_get_trackers_by_all_name_and_list(manager):
    manager.add_trackers("g", [wins("a"), wins("b"), bets("c")])

    assert sorted(t.name for t in manager.get_trackers("g")) == ["a", "b", "c"]
    assert [t.name for t in manager.get_trackers("g", "b")] == ["b"]
    assert sorted(t.name for t in manager.get_trackers("g", ["c", "a"])) == ["a", "c"]
    assert [t.name for t in manager.get_trackers("g", ["a", "zzz"])] == ["a"]
    assert manager.get_trackers("g", "zzz") == []
    assert manager.get_trackers("g", []) == []
    assert manager.get_trackers("nobody") == []


def test_get_trackers_returns_copies(manager):
    manager.add_tracker("g", wins("a"))
    manager.track("g", WIN)
    [copy] = manager.get_trackers("g")
    copy.progress = 99
    assert progress(manager, "g") == {"a": 1}


# -- update_tracker ------------------------------------------------------------


def test_update_tracker_replaces_the_tracker(manager):
    manager.add_trackers("g", [wins("a"), wins("b")])
    manager.track("g", WIN)

    manager.update_tracker("g", wins("a", target=5, init_progress=4))

    [a] = manager.get_trackers("g", "a")
    assert (a.target, a.progress, a.group_id) == (5, 4, "g")
    assert progress(manager, "g") == {"a": 4, "b": 1}
    assert [t.name for t in manager.track("g", WIN).completed] == ["a"]


def test_update_tracker_takes_an_edited_copy(manager):
    manager.add_tracker("g", wins("a"))
    [a] = manager.get_trackers("g", "a")
    a.progress = 7
    manager.update_tracker("g", a)
    assert progress(manager, "g") == {"a": 7}
    assert reloaded(manager.data_store).get_trackers("g")[0].progress == 7


def test_update_tracker_adds_a_missing_tracker(manager):
    manager.update_tracker("g", wins("new", target=2))
    assert [t.name for t in manager.get_trackers("g")] == ["new"]
    assert manager.track("g", WIN).dirtied[0].progress == 1


def test_update_tracker_keeps_the_expiry_of_the_tracker_it_replaces(manager):
    manager.add_tracker("g", wins("a"), expire_at=T0 + 100, now=T0)
    manager.update_tracker("g", wins("a", target=3), now=T0 + 50)
    assert [t.target for t in manager.get_trackers("g", now=T0 + 99)] == [3]
    assert manager.get_trackers("g", now=T0 + 100) == []


def test_update_tracker_over_an_expired_tracker_adds_a_live_one(manager):
    manager.add_tracker("g", wins("a"), expire_at=T0 + 100, now=T0)
    assert manager.get_trackers("g", now=T0 + 100) == []
    manager.update_tracker("g", wins("a", target=3), now=T0 + 100)
    assert [t.target for t in manager.get_trackers("g", now=T0 + 10**6)] == [3]
    assert manager.track("g", WIN, now=T0 + 10**6).dirtied[0].progress == 1


# -- remove_tracker ------------------------------------------------------------


def test_remove_one_tracker(manager):
    manager.add_trackers("g", [wins("a"), wins("b")])
    manager.track("g", WIN)

    removed = manager.remove_tracker("g", "a")

    assert [(t.name, t.removed, t.progress) for t in removed] == [("a", True, 1)]
    assert [t.name for t in manager.get_trackers("g")] == ["b"]
    assert [t.name for t in reloaded(manager.data_store).get_trackers("g")] == ["b"]


def test_remove_a_list_of_trackers(manager):
    manager.add_trackers("g", [wins("a"), wins("b"), wins("c")])

    removed = manager.remove_tracker("g", ["a", "c", "zzz"])

    assert sorted(t.name for t in removed) == ["a", "c"]
    assert all(t.removed for t in removed)
    assert [t.name for t in manager.get_trackers("g")] == ["b"]
    assert [t.name for t in reloaded(manager.data_store).get_trackers("g")] == ["b"]


def test_remove_all_trackers(manager):
    manager.add_trackers("g", [wins("a"), bets("b")])
    manager.add_tracker("other", wins("a"))

    removed = manager.remove_tracker("g")

    assert sorted(t.name for t in removed) == ["a", "b"]
    assert all(t.removed and t.group_id == "g" for t in removed)
    assert manager.get_trackers("g") == []
    assert manager.track("g", WIN) == (True, [], [], [])
    fresh = reloaded(manager.data_store)
    assert fresh.get_trackers("g") == []
    assert [t.name for t in fresh.get_trackers("other")] == ["a"]


def test_remove_unknown_names_returns_nothing(manager):
    manager.add_tracker("g", wins("a"))
    assert manager.remove_tracker("g", "zzz") == []
    assert manager.remove_tracker("nobody") == []
    assert progress(manager, "g") == {"a": 0}


def test_a_removed_name_can_be_added_again_and_is_stored(manager):
    manager.add_tracker("g", wins("a"))
    manager.track("g", WIN)
    manager.remove_tracker("g")
    manager.add_tracker("g", wins("a", target=3))

    assert progress(manager, "g") == {"a": 0}
    assert [t.target for t in reloaded(manager.data_store).get_trackers("g")] == [3]


# -- reset_tracker -------------------------------------------------------------


def _limited_quest(manager, **kwargs):
    """A quest with two wins counted and its CountLimiter(2) closed."""
    manager.add_tracker("g", wins("q", limiters=[CountLimiter(2)], **kwargs))
    manager.track("g", WIN, now=T0)
    manager.track("g", WIN, now=T0)
    assert state(manager.get_trackers("g")) == {"q": (2, 1, False, True)}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (ResetPolicy.NONE, (2, True)),
        (ResetPolicy.PROGRESS, (0, True)),
        (ResetPolicy.LIMITER, (2, False)),
        (ResetPolicy.ALL, (0, False)),
        (ResetPolicy.PROGRESS | ResetPolicy.LIMITER, (0, False)),
        (ResetPolicy.NONE | ResetPolicy.PROGRESS, (0, True)),
        (0, (2, True)),
        (3, (0, False)),
    ],
)
def test_reset_tracker_per_policy(manager, policy, expected):
    _limited_quest(manager)
    heard = []
    manager.add_listener(EVENT_TRACKER_RESET, heard.append)

    assert manager.reset_tracker("g", "q", policy) is True

    [q] = manager.get_trackers("g")
    assert (q.progress, q.limited) == expected
    [event] = heard
    assert (event.group_id, event.name, event.tracker.progress) == (
        "g",
        "q",
        q.progress,
    )
    assert event.tracker.limited == q.limited
    after = manager.track("g", WIN, now=T0)
    assert progress(manager, "g") == {"q": expected[0] + (not expected[1])}
    assert [t.name for t in after.limited] == ([] if not expected[1] else ["q"])


def test_reset_tracker_defaults_to_the_trackers_own_policy(manager):
    _limited_quest(manager, reset_policy=ResetPolicy.PROGRESS)
    assert manager.reset_tracker("g", "q") is True
    assert state(manager.get_trackers("g")) == {"q": (0, 1, False, True)}


def test_reset_tracker_reset_count_refills_the_count_limiter(manager):
    _limited_quest(manager)
    manager.reset_tracker("g", "q", ResetPolicy.LIMITER, reset_count=5)
    [limiter] = manager.get_trackers("g")[0].limiters
    assert (limiter.count, limiter.remaining) == (5, 5)
    for _ in range(7):
        manager.track("g", WIN, now=T0)
    assert state(manager.get_trackers("g")) == {"q": (7, 1, False, True)}


def test_reset_tracker_reset_count_zero_keeps_it_closed(manager):
    _limited_quest(manager)
    manager.reset_tracker("g", "q", ResetPolicy.ALL, reset_count=0)
    assert state(manager.get_trackers("g")) == {"q": (0, 1, False, True)}


@pytest.mark.parametrize(
    "when",
    [
        {"now_ts": T0 + 1000},
        {"now": T0 + 1000},
        {"now": datetime.fromtimestamp(T0 + 1000, tz=timezone.utc)},
    ],
    ids=["now_ts", "now", "now-datetime"],
)
def test_reset_tracker_moves_a_time_window(manager, when):
    window = TimeLimiter(start_ts=T0, end_ts=T0 + 100)
    manager.add_tracker("g", wins("q", target=100, limiters=[window]))
    assert [t.name for t in manager.track("g", WIN, now=T0 + 200).limited] == ["q"]

    manager.reset_tracker("g", "q", ResetPolicy.LIMITER, reset_seconds=50, **when)

    [q] = manager.get_trackers("g")
    [limiter] = q.limiters
    assert (limiter.start_ts, limiter.end_ts, q.limited) == (
        T0 + 1000,
        T0 + 1050,
        False,
    )
    assert manager.track("g", WIN, now=T0 + 1010).limited == []
    assert [t.name for t in manager.track("g", WIN, now=T0 + 1051).limited] == ["q"]
    assert progress(manager, "g") == {"q": 1}


def test_reset_tracker_of_an_unknown_name_returns_false(manager):
    heard = []
    manager.add_listener(EVENT_TRACKER_RESET, heard.append)
    manager.add_tracker("g", wins("a"))
    manager.track("g", WIN)

    assert manager.reset_tracker("g", "zzz", ResetPolicy.ALL) is False
    assert manager.reset_tracker("nobody", "a", ResetPolicy.ALL) is False
    assert heard == []
    assert progress(manager, "g") == {"a": 1}


def test_reset_tracker_is_stored(manager):
    manager.add_tracker("g", wins("a"))
    manager.track("g", WIN)
    manager.persist()
    manager.reset_tracker("g", "a", ResetPolicy.PROGRESS)
    assert progress(reloaded(manager.data_store), "g") == {"a": 0}
