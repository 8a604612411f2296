"""Bad input to TrackingManager raises a clear error and changes nothing."""

from __future__ import annotations

import pytest

from dictrack.errors import DictrackError, DuplicateTrackerError, GroupIdError
from dictrack.events import EVENT_ALL, EVENT_TRACKER_ADDED
from dictrack.limiters.count import CountLimiter
from dictrack.manager import TrackingManager
from dictrack.trackers import ResetPolicy
from tests.integration._manager_helpers import T0, WIN, bets, progress, state, wins


@pytest.fixture
def heard(manager):
    """Every event the manager delivers from now on."""
    events = []
    for code in EVENT_ALL:
        manager.add_listener(code, events.append)
    return events


@pytest.fixture
def seeded(manager, heard):
    """Group "g" with trackers that have progress; listeners attached after."""
    manager.add_trackers(
        "g", [wins("a"), bets("b"), wins("c", limiters=[CountLimiter(5)])], now=T0
    )
    manager.track("g", {**WIN, "bet": 3}, now=T0)
    heard.clear()
    return manager


def _snapshot(manager):
    return manager.get_trackers("g", now=T0)


CALLS = {
    "add_tracker": lambda m, g: m.add_tracker(g, wins("x")),
    "add_trackers": lambda m, g: m.add_trackers(g, [wins("x")]),
    "get_trackers": lambda m, g: m.get_trackers(g),
    "update_tracker": lambda m, g: m.update_tracker(g, wins("x")),
    "remove_tracker": lambda m, g: m.remove_tracker(g),
    "reset_tracker": lambda m, g: m.reset_tracker(g, "a"),
    "track": lambda m, g: m.track(g, WIN),
}


@pytest.mark.parametrize("call", list(CALLS.values()), ids=list(CALLS))
@pytest.mark.parametrize("bad", [None, 1, b"g", ["g"]], ids=repr)
def test_non_str_group_id_is_a_type_error(seeded, heard, call, bad):
    before = _snapshot(seeded)
    with pytest.raises(TypeError, match="group_id"):
        call(seeded, bad)
    assert _snapshot(seeded) == before
    assert heard == []


@pytest.mark.parametrize("call", list(CALLS.values()), ids=list(CALLS))
def test_empty_group_id_is_a_value_error(seeded, heard, call):
    before = _snapshot(seeded)
    with pytest.raises(ValueError, match="group_id"):
        call(seeded, "")
    assert _snapshot(seeded) == before
    assert heard == []


@pytest.mark.parametrize("data", [None, "event=win", [("event", "win")], 42], ids=repr)
def test_non_dict_data_is_a_type_error(seeded, heard, data):
    before = _snapshot(seeded)
    with pytest.raises(TypeError, match="data"):
        seeded.track("g", data)
    assert _snapshot(seeded) == before
    assert heard == []


def test_non_str_event_id_is_a_type_error(seeded, heard):
    before = _snapshot(seeded)
    with pytest.raises(TypeError, match="event_id"):
        seeded.track("g", WIN, event_id=7)
    assert _snapshot(seeded) == before


@pytest.mark.parametrize("code", [999, 0, "1001", None, True, 1001.5], ids=repr)
def test_unknown_event_code_is_a_value_error(manager, code):
    with pytest.raises(ValueError, match="event code"):
        manager.add_listener(code, print)
    with pytest.raises(ValueError, match="event code"):
        manager.remove_listener(code, print)


@pytest.mark.parametrize("cb", [None, "print", 42], ids=repr)
def test_non_callable_listener_is_a_type_error(manager, cb):
    with pytest.raises(TypeError, match="callable"):
        manager.add_listener(EVENT_TRACKER_ADDED, cb)
    manager.add_tracker("g", wins("a"))  # and nothing broken was registered


def test_duplicate_names_in_one_batch_add_nothing(seeded, heard):
    with pytest.raises(DuplicateTrackerError) as info:
        seeded.add_trackers("g", [wins("new"), wins("dup"), bets("dup")])
    assert isinstance(info.value, DictrackError)
    assert isinstance(info.value, KeyError)
    assert (info.value.group_id, info.value.name) == ("g", "dup")
    assert "'dup'" in str(info.value)
    assert sorted(progress(seeded, "g")) == ["a", "b", "c"]
    assert heard == []


def test_a_name_taken_in_the_group_adds_nothing_of_the_batch(seeded, heard):
    before = _snapshot(seeded)
    with pytest.raises(DuplicateTrackerError, match="'b'"):
        seeded.add_trackers("g", [wins("new"), wins("b")])
    with pytest.raises(DuplicateTrackerError, match="'a'"):
        seeded.add_tracker("g", wins("a", target=99))
    assert _snapshot(seeded) == before
    assert heard == []


@pytest.mark.parametrize("how", ["add_tracker", "add_trackers", "update_tracker"])
def test_a_tracker_of_another_group_is_refused(seeded, heard, how):
    foreign = wins("x", group_id="other")
    before = _snapshot(seeded)
    with pytest.raises(GroupIdError, match="other") as info:
        if how == "add_trackers":
            seeded.add_trackers("g", [wins("fine"), foreign])
        else:
            getattr(seeded, how)("g", foreign)
    assert isinstance(info.value, ValueError)
    assert foreign.group_id == "other"
    assert _snapshot(seeded) == before
    assert seeded.get_trackers("other") == []
    assert heard == []


def test_a_tracker_added_to_one_group_cannot_join_another(manager):
    tracker = wins("a")
    manager.add_tracker("g1", tracker)
    with pytest.raises(GroupIdError, match="g1"):
        manager.add_tracker("g2", tracker)
    assert manager.get_trackers("g2") == []


@pytest.mark.parametrize("batch", [wins("a"), "a", None, [wins("a"), "b"]], ids=repr)
def test_add_trackers_wants_a_list_of_trackers(seeded, heard, batch):
    before = _snapshot(seeded)
    with pytest.raises(TypeError, match="tracker"):
        seeded.add_trackers("g2", batch)
    with pytest.raises(TypeError, match="tracker"):
        seeded.update_tracker("g", "a")
    assert _snapshot(seeded) == before
    assert seeded.get_trackers("g2") == []
    assert heard == []


@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        ({"expire": "60"}, TypeError, "expire"),
        ({"expire": True}, TypeError, "expire"),
        ({"expire": 0}, ValueError, "expire"),
        ({"expire": -5}, ValueError, "expire"),
        ({"expire_at": "tomorrow"}, TypeError, "expire_at"),
        ({"expire": 60, "expire_at": T0 + 60}, ValueError, "expire_at"),
        ({"expire": float("nan")}, ValueError, "expire"),
        ({"expire_at": float("nan")}, ValueError, "expire_at"),
        ({"expire": float("inf")}, ValueError, "expire"),
    ],
    ids=repr,
)
def test_bad_expire_adds_nothing(seeded, heard, kwargs, error, word):
    before = _snapshot(seeded)
    with pytest.raises(error, match=word):
        seeded.add_trackers("g", [wins("x")], now=T0, **kwargs)
    with pytest.raises(error, match=word):
        seeded.add_tracker("g2", wins("y"), now=T0, **kwargs)
    assert _snapshot(seeded) == before
    assert seeded.get_trackers("g2", now=T0) == []
    assert heard == []


@pytest.mark.parametrize(
    ("policy", "error"),
    [(4, ValueError), (-1, ValueError), ("1", TypeError), (True, TypeError)],
    ids=repr,
)
def test_bad_reset_policy_changes_nothing(seeded, heard, policy, error):
    before = _snapshot(seeded)
    with pytest.raises(error, match="reset_policy"):
        seeded.reset_tracker("g", "a", policy)
    assert _snapshot(seeded) == before
    assert heard == []


def test_bad_reset_tracker_name_and_keywords(seeded, heard):
    before = _snapshot(seeded)
    with pytest.raises(TypeError, match="name"):
        seeded.reset_tracker("g", ["a"], ResetPolicy.ALL)
    with pytest.raises(TypeError, match="reset_count"):
        seeded.reset_tracker("g", "c", ResetPolicy.LIMITER, reset_count="5")
    assert _snapshot(seeded) == before
    assert heard == []


@pytest.mark.parametrize("name", [1, [1], {"a"}], ids=repr)
def test_bad_names_are_type_errors(seeded, name):
    with pytest.raises(TypeError, match="name"):
        seeded.get_trackers("g", name)
    with pytest.raises(TypeError, match="name"):
        seeded.remove_tracker("g", name)
    assert sorted(progress(seeded, "g")) == ["a", "b", "c"]


@pytest.mark.parametrize("bet", ["lots", float("nan"), "inf", [5], {"v": 5}], ids=repr)
def test_a_non_numeric_amount_changes_no_tracker_of_the_group(seeded, heard, bet):
    before = _snapshot(seeded)
    with pytest.raises(ValueError, match="bet"):
        seeded.track("g", {**WIN, "bet": bet}, now=T0, event_id="e-1")
    assert _snapshot(seeded) == before
    assert heard == []
    # The failed event's id was not used up: the corrected event counts.
    fixed = seeded.track("g", {**WIN, "bet": 4}, now=T0, event_id="e-1")
    assert fixed.duplicate is False
    assert state(seeded.get_trackers("g")) == {
        "a": (2, 1, False, False),
        "b": (7, 1, False, False),
        "c": (2, 1, False, False),
    }


def test_bad_manager_arguments():
    with pytest.raises(TypeError, match="data_cache"):
        TrackingManager(object(), "sqlite:///:memory:")
    with pytest.raises(TypeError, match="data_store"):
        TrackingManager("memory://", object())
    with pytest.raises(ValueError, match="max_retries"):
        TrackingManager("memory://", "sqlite:///:memory:", max_retries=0)
    with pytest.raises(DictrackError, match="nosuch"):
        TrackingManager("nosuch://", "sqlite:///:memory:")
