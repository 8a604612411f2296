"""GroupView after an event: the view the engine keeps equals one built anew
from the records it writes (pure: no cache, no store, no clock)."""

from __future__ import annotations

import gc

from hypothesis import given, settings
from hypothesis import strategies as st

from dictrack import _plan, codec
from dictrack._engine import Engine
from dictrack._group import GroupView
from dictrack.conditions.keys import KeyValueEQ
from dictrack.data_caches.base import GroupSnapshot
from dictrack.limiters.count import CountLimiter
from dictrack.records import TrackerRecord
from dictrack.trackers.base import BaseTracker
from dictrack.trackers.numerics.accumulation import AccumulationTracker
from dictrack.trackers.numerics.count import CountTracker

NOW = 1_700_000_000.0
GROUP = "g"


def trackers() -> list[BaseTracker]:
    """Indexed and scanned trackers, one closed by a limiter, one that
    completes for good after two wins, one that loops."""
    win = KeyValueEQ("event", "win")
    made: list[BaseTracker] = [
        CountTracker("wins", [win], 1000),
        CountTracker("twice", [win], 2),
        AccumulationTracker("bets", [win], 10**9, key="bet"),
        CountTracker("capped", [win], 1000, limiters=[CountLimiter(3)]),
        CountTracker("q1", [win, KeyValueEQ("quest", "q1")], 1000),
        CountTracker("q2", [KeyValueEQ("quest", "q2")], [1, 2, 3], loop_forever=True),
        CountTracker("any", [], 1000),
    ]
    for tracker in made:
        tracker.group_id = GROUP
    return made


def start() -> GroupView:
    records = [codec.encode(t, 1) for t in trackers()]
    return GroupView.build(GROUP, GroupSnapshot(1, {r.name: r for r in records}))


def described(view: GroupView) -> tuple[object, ...]:
    """What a view holds, as plain data."""
    live = view.live(NOW)
    return (
        view.version,
        view.names(),
        [codec.encode_state(t) for t in live],
        [view.record(n) for n in view.names()],
        [t.name for t in view.limited(NOW)],
    )


events = st.lists(
    st.fixed_dictionaries(
        {
            "event": st.sampled_from(["win", "lose"]),
            "quest": st.sampled_from(["q1", "q2", "q3"]),
            "bet": st.integers(0, 100),
        }
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(events)
def test_the_view_after_events_equals_one_built_from_its_records(
    sequence: list[dict[str, object]],
) -> None:
    view = start()
    for data in sequence:
        plan = Engine.plan(view, data, NOW, {})
        after = plan.after
        if plan.writes:
            assert after.version == view.version + 1
            assert {r.version for r in plan.writes.values() if r} <= {after.version}
        rebuilt = GroupView.build(
            GROUP,
            GroupSnapshot(after.version, {n: after.record(n) for n in after.names()}),
        )
        assert described(after) == described(rebuilt)
        # The view it came from is untouched (copy on write).
        assert described(view) == described(
            GroupView.build(
                GROUP,
                GroupSnapshot(view.version, {n: view.record(n) for n in view.names()}),
            )
        )
        view = after


def test_a_tracker_done_for_good_leaves_the_view() -> None:
    view = start()
    for _ in range(2):
        view = Engine.plan(view, {"event": "win"}, NOW, {}).after
    assert "twice" not in view.names()
    assert view.get("twice", NOW) is None


def test_a_limiter_closing_moves_the_tracker_into_limited() -> None:
    view = start()
    assert [t.name for t in view.limited(NOW)] == []
    for _ in range(3):
        view = Engine.plan(view, {"event": "win"}, NOW, {}).after
    assert [t.name for t in view.limited(NOW)] == ["capped"]


def shared_view(group_id: str, made: list[BaseTracker]) -> GroupView:
    """A view built as a cache returns a group: definitions shared."""
    records = codec.shared(codec.encode(t, 1) for t in made)
    return GroupView.build(group_id, GroupSnapshot(1, {r.name: r for r in records}))


def test_groups_with_the_same_definitions_share_one_plan() -> None:
    first, second = shared_view("a", trackers()), shared_view("b", trackers())
    assert first._plan is second._plan
    assert shared_view("c", trackers()[:3])._plan is not first._plan
    # Each view still advances its own trackers.
    plan = Engine.plan(second, {"event": "win", "quest": "q1", "bet": 7}, NOW, {})
    assert sorted(plan.writes) == ["any", "bets", "capped", "q1", "twice", "wins"]
    assert plan.after.get("bets", NOW).progress == 7  # type: ignore[union-attr]
    assert first.get("bets", NOW).progress == 0  # type: ignore[union-attr]
    assert plan.after._plan is first._plan  # a state change keeps the plan


def test_equal_definitions_not_shared_get_their_own_plan() -> None:
    records = [codec.encode(t, 1) for t in trackers()]  # fresh dicts: not shared
    view = GroupView.build(GROUP, GroupSnapshot(1, {r.name: r for r in records}))
    assert view._plan is not shared_view("a", trackers())._plan
    assert view._plan.names == shared_view("a", trackers())._plan.names


def test_a_shared_plan_lives_only_as_long_as_its_views() -> None:
    made = trackers()
    view = shared_view("a", made[:2])
    key = tuple(id(view.record(n).definition) for n in view.names())
    assert _plan._PLANS.get(key) is view._plan
    assert shared_view("b", made[:2])._plan is view._plan
    del view
    gc.collect()
    assert _plan._PLANS.get(key) is None  # nothing held once no view holds it


def test_records_have_the_fields_advanced_builds_them_with() -> None:
    # GroupView.advanced builds a TrackerRecord from a full tuple (no
    # NamedTuple __new__): a field added or moved must be added there too.
    assert TrackerRecord._fields == (
        "name", "definition", "state", "version", "expire_at"
    )  # fmt: skip


# -- the plan's index: one key, and the usual event -----------------------------

#: Index values, some equal across types: a set in an event equals a
#: frozenset key but cannot be looked up (unhashable).
QUESTS = ["q1", "q2", 3, 3.0, True, frozenset({1}), frozenset()]


def keyed(values: list[object]) -> list[BaseTracker]:
    """Trackers indexed by ``quest`` alone (a plan of a single index)."""
    made: list[BaseTracker] = []
    for i, value in enumerate(values):
        made.append(CountTracker(f"t{i}", [KeyValueEQ("quest", value)], 1000))
        made[-1].group_id = GROUP
    return made


quest_values = st.one_of(
    st.sampled_from(QUESTS),
    st.sets(st.integers(0, 2), max_size=2),  # unhashable, may equal a key
    st.lists(st.integers(0, 2), max_size=2),  # unhashable, equal to none
    st.integers(-1, 4),
    st.text(max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(QUESTS), min_size=1, max_size=8),
    st.one_of(st.none(), quest_values),
    st.booleans(),
)
def test_the_single_key_index_finds_what_checking_every_tracker_finds(
    values: list[object], quest: object, plain_dict: bool
) -> None:
    from collections import OrderedDict

    made = keyed(values)
    plan = _plan.Plan(made)
    assert plan.single is not None and plan.single[0] == ("quest",)
    data = {} if quest is None else {"quest": quest, "event": "win"}
    event = data if plain_dict else OrderedDict(data)  # a Mapping that is no dict
    found = list(plan.candidates(event))
    matching = [p for p, t in enumerate(made) if t._conditions[0].check(event)]
    assert found == matching
    plan.single = None  # the general lookup, for comparison
    assert list(plan.candidates(event)) == found


def test_only_a_plan_of_one_index_and_nothing_to_scan_has_a_single_index() -> None:
    scanned = keyed(["q1"]) + [CountTracker("any", [], 10)]
    assert _plan.Plan(scanned).single is None
    two = keyed(["q1"]) + [CountTracker("b", [KeyValueEQ("bet", 1)], 10)]
    assert _plan.Plan(two).single is None
    nested = _plan.Plan([CountTracker("n", [KeyValueEQ("a.b", 1)], 10)])
    assert nested.single is not None and nested.single[0] == ("a", "b")
    assert list(nested.candidates({"a": {"b": 1}})) == [0]
    assert list(nested.candidates({"a": {"b": 2}})) == []


@settings(max_examples=150, deadline=None)
@given(events)
def test_an_event_reports_what_its_trackers_caused_in_their_order(
    sequence: list[dict[str, object]],
) -> None:
    """Several trackers changed by one event: their events come in the
    group's order, as tracking each tracker alone gives them."""
    view = start()
    alone = {t.name: t._clone() for t in view.live(NOW)}
    for data in sequence:
        plan = Engine.plan(view, data, NOW, {})
        expected = []
        for name, tracker in alone.items():
            if name not in view.names() or tracker._removed:
                continue
            copy = tracker._clone()
            if all(c.check(data) for c in copy._conditions) or copy._limiters:
                expected += copy._advance(data, NOW, {})
            alone[name] = copy
        assert [(e.code, e.name) for e in plan.events] == [
            (e.code, e.name) for e in expected
        ]
        assert sorted(plan.changed) == sorted(plan.writes)
        view = plan.after
