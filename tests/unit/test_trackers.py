"""Trackers called directly: construction, 2.1.5 properties, value semantics,
equality and repr (stages: test_trackers_stages.py; reset: test_trackers_reset.py)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from dictrack.conditions.keys import KeyExists, KeyValueEQ, KeyValueGT
from dictrack.errors import GroupIdError
from dictrack.events import EVENT_TRACKER_RESET
from dictrack.limiters.count import CountLimiter
from dictrack.limiters.time import TimeLimiter
from dictrack.trackers.base import BaseTracker, ResetPolicy
from dictrack.trackers.numerics.accumulation import AccumulationTracker
from dictrack.trackers.numerics.count import CountTracker

NOW = 1_000.0
GID = BaseTracker.DEFAULT_GROUP_ID


def count(**kw) -> CountTracker:
    kw.setdefault("name", "t")
    kw.setdefault("conditions", [KeyExists("a")])
    kw.setdefault("target", 5)
    return CountTracker(**kw)


# -- constructor validation ---------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"name": 5}, TypeError),
        ({"name": None}, TypeError),
        ({"name": ""}, ValueError),
        ({"conditions": 5}, TypeError),
        ({"conditions": None}, TypeError),
        ({"conditions": "a"}, TypeError),
        ({"conditions": ["a"]}, TypeError),
        ({"conditions": [KeyExists("a"), 1]}, TypeError),
        ({"target": []}, ValueError),
        ({"target": ()}, ValueError),
        ({"target": "5"}, TypeError),
        ({"target": ["5"]}, TypeError),
        ({"target": None}, TypeError),
        ({"target": True}, TypeError),
        ({"target": [1, True]}, TypeError),
        ({"target": 0}, ValueError),
        ({"target": -1}, ValueError),
        ({"target": [2, -1]}, ValueError),
        ({"target": math.inf}, ValueError),
        ({"target": math.nan}, ValueError),
        ({"target": [5, 3]}, ValueError),
        ({"target": [5, 5]}, ValueError),
        ({"target": [5, 3], "reset_policy": ResetPolicy.NONE}, ValueError),
        ({"target": [5, 3], "reset_policy": ResetPolicy.LIMITER}, ValueError),
        ({"reset_policy": 4}, ValueError),
        ({"reset_policy": -1}, ValueError),
        ({"reset_policy": True}, TypeError),
        ({"reset_policy": "1"}, TypeError),
        ({"reset_policy": 1.0}, TypeError),
        ({"loop_forever": 1}, TypeError),
        ({"loop_forever": "yes"}, TypeError),
        ({"loop_forever": None}, TypeError),
        ({"init_progress": "0"}, TypeError),
        ({"init_progress": True}, TypeError),
        ({"init_progress": None}, TypeError),
        ({"init_progress": math.nan}, ValueError),
        ({"group_id": 5}, TypeError),
        ({"group_id": ""}, ValueError),
        ({"limiters": 5}, TypeError),
        ({"limiters": [CountLimiter(1), "x"]}, TypeError),
    ],
)
def test_constructor_rejects(kwargs, exc) -> None:
    with pytest.raises(exc):
        count(**kwargs)


def test_non_increasing_targets_message_suggests_progress_policy() -> None:
    with pytest.raises(ValueError, match="ResetPolicy.PROGRESS"):
        count(target=[3, 2])


@pytest.mark.parametrize("policy", [ResetPolicy.PROGRESS, ResetPolicy.ALL])
def test_non_increasing_targets_allowed_when_progress_restarts(policy) -> None:
    t = count(target=[5, 3, 3], reset_policy=policy)
    assert (t.target, t.multi_target) == (5, [3, 3])


def test_accumulation_key_validated() -> None:
    with pytest.raises(TypeError):
        AccumulationTracker("t", [], 5, key=5)
    with pytest.raises(ValueError):
        AccumulationTracker("t", [], 5, key="")


def test_duplicate_conditions_and_limiters_collapse() -> None:
    t = count(
        conditions=[KeyExists("a"), KeyExists("a"), KeyValueEQ("b", 1)],
        limiters=[CountLimiter(2), CountLimiter(2), CountLimiter(3)],
    )
    assert t.conditions == {KeyExists("a"), KeyValueEQ("b", 1)}
    assert len(t.conditions) == 2
    assert t.limiters == {CountLimiter(2), CountLimiter(3)}


def test_conditions_accept_any_iterable_and_empty() -> None:
    assert count(conditions=(KeyExists("a"),)).conditions == {KeyExists("a")}
    assert count(conditions={KeyExists("a")}).conditions == {KeyExists("a")}
    assert count(conditions=[]).conditions == set()


# -- 2.1.5 properties ---------------------------------------------------------


def test_default_properties() -> None:
    t = count(target=[2, 4, 6])
    assert t.name == "t"
    assert isinstance(t.conditions, set) and t.conditions == {KeyExists("a")}
    assert isinstance(t.limiters, set) and t.limiters == set()
    assert (t.target, t.multi_target, t.current_stage) == (2, [4, 6], 1)
    assert t.group_id == GID == "_THIS_IS_DEFAULT_GID"
    assert t.progress == 0
    assert not (t.completed or t.removed or t.dirtied or t.limited or t.matched)
    assert t.loop_forever is False
    assert t.reset_policy == ResetPolicy.DEFAULT == ResetPolicy.LIMITER
    assert t.expire_at is None


def test_properties_from_arguments() -> None:
    t = count(
        target=(3,),
        group_id="g",
        limiters=[CountLimiter(4)],
        reset_policy=ResetPolicy.ALL,
        loop_forever=True,
        init_progress=2.5,
    )
    assert (t.target, t.multi_target) == (3, [])
    assert t.group_id == "g"
    assert t.limiters == {CountLimiter(4)}
    assert t.reset_policy == ResetPolicy.ALL
    assert t.loop_forever is True
    assert t.progress == 2.5


def test_conditions_property_is_a_copy() -> None:
    t = count()
    t.conditions.add(KeyExists("zzz"))
    t.limiters.add(CountLimiter(1))
    assert t.conditions == {KeyExists("a")}
    assert t.limiters == set()


def test_group_id_setter_rules() -> None:
    t = count()
    t.group_id = "g"
    assert t.group_id == "g"
    t.group_id = "g"  # the same value again is fine
    with pytest.raises(ValueError, match="already belongs") as info:
        t.group_id = "h"
    assert isinstance(info.value, GroupIdError)
    assert t.group_id == "g"
    with pytest.raises(TypeError):
        t.group_id = 5


def test_group_id_given_at_construction_is_fixed() -> None:
    t = count(group_id="g")
    with pytest.raises(GroupIdError):
        t.group_id = "h"


def test_setters_validate() -> None:
    t = count()
    t.reset_policy = ResetPolicy.ALL
    t.loop_forever = True
    t.progress = 3
    assert (t.reset_policy, t.loop_forever, t.progress) == (3, True, 3)
    for attr, bad, exc in [
        ("reset_policy", 4, ValueError),
        ("loop_forever", 1, TypeError),
        ("progress", "1", TypeError),
        ("removed", 1, TypeError),
    ]:
        with pytest.raises(exc):
            setattr(t, attr, bad)


def test_dirtied_and_matched_follow_events() -> None:
    t = count()
    t.track({"b": 1}, now=NOW)
    assert (t.dirtied, t.matched, t.progress) == (False, False, 0)
    t.track({"a": 1}, now=NOW)
    assert (t.dirtied, t.matched, t.progress) == (True, True, 1)
    t.track({"b": 1}, now=NOW)
    assert (t.dirtied, t.matched) == (True, False)


def test_conditions_are_anded() -> None:
    t = count(conditions=[KeyExists("a"), KeyValueGT("n", 3)])
    for data in ({"a": 1}, {"n": 5}, {"a": 1, "n": 3}):
        t.track(data, now=NOW)
    assert t.progress == 0
    t.track({"a": 1, "n": 4}, now=NOW)
    assert t.progress == 1


def test_track_checks_arguments() -> None:
    t = count()
    with pytest.raises(TypeError):
        t.track([("a", 1)], now=NOW)
    with pytest.raises(ValueError):
        t.track({"a": 1}, now=datetime(2024, 1, 1))
    t.track({"a": 1}, now=datetime(2024, 1, 1, tzinfo=timezone.utc))
    t.track({"a": 1}, now_ts=NOW)
    assert t.progress == 2


# -- value semantics ----------------------------------------------------------


def test_equal_trackers_compare_equal() -> None:
    assert count() == count()
    assert count(target=[1, 2]) != count(target=[1, 3])
    assert count() != count(name="u")
    assert count() != count(group_id="g")
    assert count() != count(conditions=[KeyExists("b")])
    assert count() != count(limiters=[CountLimiter(1)])
    assert count() != count(loop_forever=True)
    assert count() != count(reset_policy=ResetPolicy.ALL)
    assert count() != AccumulationTracker("t", [KeyExists("a")], 5, key="a")
    a = AccumulationTracker("t", [], 5, key="a")
    assert a == AccumulationTracker("t", [], 5, key="a")
    assert a != AccumulationTracker("t", [], 5, key="b")


def test_progress_breaks_equality() -> None:
    t, u = count(), count()
    t.track({"a": 1}, now=NOW)
    assert t != u
    u.track({"a": 1}, now=NOW)
    assert t == u


def test_comparison_with_non_tracker_is_false() -> None:
    t = count()
    assert (t == 1) is False
    assert (t == "t") is False
    assert (t != None) is True  # noqa: E711
    assert t not in [1, "t", None]


def test_trackers_are_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(count())
    with pytest.raises(TypeError):
        {count()}


def test_repr_matches_2_1_5() -> None:
    assert repr(count(name="t")) == (
        "<CountTracker (target=5 conditions={<KeyExists (key=a)>} limiters=set() "
        "group_id=_THIS_IS_DEFAULT_GID name=t progress=0)>"
    )
    a = AccumulationTracker("acc", [], [10, 20], key="bet", group_id="g")
    assert repr(a) == (
        "<AccumulationTracker (target=10 conditions=set() limiters=set() "
        "group_id=g name=acc progress=0 key=bet)>"
    )
    t = count(limiters=[CountLimiter(2)])
    assert "limiters={<CountLimiter (count=2 remaining=2)>}" in repr(t)


def test_repr_prefixes() -> None:
    t = count(target=1, limiters=[TimeLimiter(start_ts=0, end_ts=10)])
    t.track({"a": 1}, now=20)
    assert repr(t).startswith("[LIMITED] <CountTracker (")
    t.reset(ResetPolicy.LIMITER, now_ts=NOW)
    assert repr(t).startswith("<CountTracker (")
    t.track({"a": 1}, now=NOW)
    assert repr(t).startswith("[COMPLETED] <CountTracker (")
    t.removed = True
    assert repr(t).startswith("[REMOVED] <CountTracker (")


def test_clone_shares_no_mutable_state() -> None:
    t = count(target=[5, 8], limiters=[CountLimiter(3)])
    t.track({"a": 1}, now=NOW)
    c = t._clone()
    assert c == t and c is not t
    (orig,), (copied,) = t.limiters, c.limiters
    assert copied is not orig
    assert (copied.count, copied.remaining) == (orig.count, orig.remaining) == (3, 2)
    c.track({"a": 1}, now=NOW)
    c.add_targets(9)
    c.progress = 1
    assert (orig.remaining, copied.remaining) == (2, 1)
    assert (t.progress, t.current_stage, t.targets) == (1, 1, (5, 8))
    assert c.targets == (5, 8, 9)


class Audited(CountTracker):
    """A user's tracker that records every attribute set on it."""

    def __setattr__(self, name: str, value: object) -> None:
        if name == "__dict__":
            raise AttributeError("replacing the attribute table is not allowed")
        object.__setattr__(self, name, value)
        self.__dict__.setdefault("_set_names", []).append(name)


def test_clone_of_a_user_tracker_does_not_go_through_its_setattr() -> None:
    t = Audited("a", [KeyExists("a")], 3)
    t.track({"a": 1}, now=NOW)
    c = t._clone()  # copies the attribute table: no __dict__ assignment seen
    assert c == t and c is not t and c.progress == 1
    c.track({"a": 1}, now=NOW)
    assert (t.progress, c.progress) == (1, 2)
    assert c._set_names is not t._set_names  # a user's attribute: deep-copied


def test_clone_has_no_listeners() -> None:
    heard = []
    t = count(target=1)
    t.add_listener(EVENT_TRACKER_RESET, heard.append)
    t._clone().reset()
    assert heard == []
