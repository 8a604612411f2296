"""codec: trackers to plain JSON-safe records and back, and the plain-value tags."""

from __future__ import annotations

import copy
import json
import operator
from datetime import timedelta
from typing import Any

import pytest

from dictrack import codec
from dictrack.conditions import keys
from dictrack.conditions.base import BaseCondition
from dictrack.errors import DeserializationError
from dictrack.limiters.base import BaseLimiter
from dictrack.limiters.count import CountLimiter
from dictrack.limiters.time import TimeLimiter
from dictrack.records import TrackerRecord
from dictrack.trackers.base import BaseTracker, ResetPolicy
from dictrack.trackers.numerics.accumulation import AccumulationTracker
from dictrack.trackers.numerics.count import CountTracker
from dictrack.trackers.numerics.numeric import NumericTracker

NOW = 1_000.0


def via_json(record: TrackerRecord) -> TrackerRecord:
    """The record as a store would hand it back: through strict JSON text."""
    return TrackerRecord(
        record.name,
        json.loads(json.dumps(record.definition, allow_nan=False)),
        json.loads(json.dumps(record.state, allow_nan=False)),
        record.version,
        record.expire_at,
    )


def roundtrip(tracker: BaseTracker, **kw: Any) -> BaseTracker:
    return codec.decode(via_json(codec.encode(tracker, **kw)), tracker.group_id)


def assert_plain(value: Any) -> None:
    """Only JSON types: str-keyed dicts, lists and scalars (no bytes, no pickles)."""
    if isinstance(value, dict):
        assert all(isinstance(k, str) for k in value)
        for item in value.values():
            assert_plain(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain(item)
    else:
        assert value is None or type(value) in (bool, int, float, str), value


def typed(value: Any) -> Any:
    """``value`` with every container's type made explicit, for exact comparisons."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(v) for v in value])
    if isinstance(value, (set, frozenset)):
        return ("set", sorted(repr(typed(v)) for v in value))
    if isinstance(value, dict):
        return ("dict", sorted((repr(typed(k)), typed(v)) for k, v in value.items()))
    return (type(value).__name__, value)


# -- custom types defined here (registered by subclassing) ----------------------


class OddCondition(BaseCondition):
    """A 2.1.5-style custom condition: its state carries its class."""

    def __init__(self, key: str, *args: Any, **kwargs: Any) -> None:
        self.key = key

    def check(self, data: Any, *args: Any, **kwargs: Any) -> bool:
        value = data.get(self.key)
        return isinstance(value, int) and value % 2 == 1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OddCondition) and other.key == self.key

    def __hash__(self) -> int:
        return hash(("odd", self.key))

    def __repr__(self) -> str:
        return f"<OddCondition (key={self.key})>"

    def __getstate__(self) -> dict[str, Any]:
        return {"cls": self.__class__, "key": self.key}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.key = state["key"]


class BudgetLimiter(BaseLimiter):
    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget
        self.spent = 0
        self.cooldown = timedelta(minutes=5)
        self.tags = ("a", "b")

    def post_track(self, data: Any, post_tracker: Any, *args: Any, **kw: Any) -> bool:
        self.spent += 1
        self.limited = self.spent >= self.budget
        return not self.limited

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BudgetLimiter) and other.budget == self.budget

    def __hash__(self) -> int:
        return hash(self.budget)


class MaxTracker(NumericTracker):
    """Progress is the largest value seen at ``key``."""

    def __init__(self, name, conditions, target, key: str, **kwargs: Any) -> None:
        self._key = key
        self._bounds = (0, 100)
        super().__init__(name, conditions, target, **kwargs)

    def _push_progress(self, data: Any, *args: Any, **kwargs: Any) -> None:
        self._progress = max(self._progress, data.get(self._key, 0))

    def _compare_key(self) -> tuple[Any, ...]:
        return (*super()._compare_key(), self._key, self._bounds)

    def _definition_extra(self) -> dict[str, Any]:
        return {"key": self._key, "bounds": self._bounds}

    def _restore_extra(self, extra: Any) -> None:
        self._key = extra["key"]
        self._bounds = extra["bounds"]


# -- round trips --------------------------------------------------------------------

ALL_CONDITIONS = [
    keys.KeyExists("a"),
    keys.KeyExists("order.items.0.sku"),
    keys.KeyNotExists("a.b"),
    keys.KeyValueComparison("n", 3, operator.lt),
    keys.KeyValueComparison("n", 2.5, "ge"),
    keys.KeyValueComparison("n", None, operator.ne),
    keys.KeyValueComparison("n", (1, "x", None), operator.eq),
    keys.KeyValueComparison("n", [1, [2, (3,)]], operator.eq),
    keys.KeyValueComparison("n", {"a": {"b": [1, 2.5]}, "c": None}, operator.eq),
    keys.KeyValueComparison("n", {1: "one", "$tuple": (2,)}, operator.eq),
    keys.KeyValueEQ("a", "x"),
    keys.KeyValueEQ("a", 0.1),
    keys.KeyValueEQ("a", True),
    keys.KeyValueEQ("a", (1, 2)),
    keys.KeyValueEQ("a", [1, 2]),
    keys.KeyValueNE("a", None),
    keys.KeyValueLT("a", -1),
    keys.KeyValueLE("a", 1e-9),
    keys.KeyValueGT("a", 10**20),
    keys.KeyValueGE("a", "b"),
    keys.KeyValueContained("s", "abc"),
    keys.KeyValueContained("s", "AbC", case_sensitive=False),
    keys.KeyValueNotContained("s", "x", False),
    keys.KeyValueInList("a", [1, "x", None]),
    keys.KeyValueInList("a", (1.5, (2, 3))),
    keys.KeyValueNotInList("a", ["x"]),
    keys.KeyValueListHasItem("l", 3),
    keys.KeyValueListHasItem("l", 2.5),
    keys.KeyValueListNotHasItem("l", "x"),
    keys.KeyValueListIntersectList("l", [1, 2]),
    keys.KeyValueListNotIntersectList("l", ("a", "b")),
    OddCondition("n"),
]


def test_every_condition_class_in_keys_is_covered() -> None:
    covered = {type(c).__name__ for c in ALL_CONDITIONS}
    assert set(keys.__all__) <= covered


@pytest.mark.parametrize("condition", ALL_CONDITIONS, ids=repr)
def test_condition_round_trip(condition) -> None:
    t = CountTracker("t", [condition], 5, group_id="g")
    (back,) = roundtrip(t).conditions
    assert type(back) is type(condition)
    assert back == condition and hash(back) == hash(condition)
    assert repr(back) == repr(condition)
    assert typed(back.__getstate__()) == typed(condition.__getstate__())


def test_condition_values_keep_their_exact_types() -> None:
    t = CountTracker("t", [keys.KeyValueEQ("a", (1, [2, (3,)]))], 5)
    (back,) = roundtrip(t).conditions
    assert typed(back.value) == typed((1, [2, (3,)]))
    assert back.check({"a": (1, [2, (3,)])}) and not back.check({"a": [1, [2, [3]]]})


def test_2_1_5_operator_strings_are_accepted() -> None:
    record = codec.encode(CountTracker("t", [keys.KeyValueComparison("n", 3)], 5))
    record.definition["conditions"][0]["params"]["op"] = str(operator.lt)
    (back,) = codec.decode(record, "g").conditions
    assert back.op is operator.lt and back.check({"n": 2})


def tracked_tracker() -> BaseTracker:
    t = AccumulationTracker(
        "acc",
        [keys.KeyExists("bet"), keys.KeyValueInList("game", ("slots", "poker"))],
        [10, 20.5, 40],
        key="order.bet",
        group_id="g",
        limiters=[
            CountLimiter(3),
            TimeLimiter(start_ts=100, interval=timedelta(seconds=50.5)),
            BudgetLimiter(9),
        ],
        reset_policy=ResetPolicy.NONE,
        loop_forever=True,
        init_progress=1.5,
    )
    for bet in (12, 1):
        t.track({"bet": 1, "game": "slots", "order": {"bet": bet}}, now=120)
    return t


def test_every_tracker_field_round_trips() -> None:
    t = tracked_tracker()
    back = roundtrip(t, expire_at=12345.5)
    assert type(back) is AccumulationTracker
    assert back.key == "order.bet"
    assert (back.name, back.group_id) == ("acc", "g")
    assert back.conditions == t.conditions
    assert back.targets == (10, 20.5, 40) and isinstance(back.targets, tuple)
    assert (back.current_stage, back.target, back.progress) == (2, 20.5, 14.5)
    assert back.reset_policy == ResetPolicy.NONE and back.loop_forever is True
    assert (back.completed, back.limited, back.removed) == (False, False, False)
    assert back.expire_at == 12345.5
    by_type = {type(lim): lim for lim in back.limiters}
    count_lim, time_lim = by_type[CountLimiter], by_type[TimeLimiter]
    assert (count_lim.count, count_lim.remaining, count_lim.limited) == (3, 1, False)
    assert (time_lim.start, time_lim.end) == (100, 150.5)
    assert time_lim.interval == timedelta(seconds=50.5)
    budget = by_type[BudgetLimiter]
    assert (budget.budget, budget.spent, budget.tags) == (9, 2, ("a", "b"))
    assert budget.cooldown == timedelta(minutes=5)
    fresh = t._clone()
    fresh._dirtied = False  # dirtied is not stored: a loaded tracker is clean
    assert back == fresh
    assert codec.encode(back) == codec.encode(t, expire_at=12345.5)


def test_decoded_tracker_goes_on_tracking() -> None:
    t = tracked_tracker()
    back = roundtrip(t)
    for tracker in (t, back):
        tracker.track({"bet": 1, "game": "poker", "order": {"bet": "7"}}, now=130)
    assert codec.encode(back) == codec.encode(t)
    assert back.limited and back.progress == 21.5


def test_completed_and_limited_flags_round_trip() -> None:
    done = CountTracker("t", [], [1, 2], group_id="g")
    done.track({}, now=NOW)
    done.track({}, now=NOW)
    back = roundtrip(done)
    assert back.completed and back.current_stage == 2
    assert codec.encode(back).completed is True
    closed = CountTracker("t", [], 5, group_id="g", limiters=[CountLimiter(1)])
    closed.track({}, now=NOW)
    back = roundtrip(closed)
    assert back.limited and not back.completed
    (lim,) = back.limiters
    assert (lim.remaining, lim.limited) == (0, True)
    back.track({}, now=NOW)
    assert back.progress == 1


def test_expire_at_and_version() -> None:
    t = CountTracker("t", [], 5)
    record = codec.encode(t, version=7, expire_at=99.5)
    assert (record.version, record.expire_at, record.name) == (7, 99.5, "t")
    assert record.type == "CountTracker" and record.completed is False
    back = codec.decode(record, "g")
    assert back.expire_at == 99.5 and back.group_id == "g"
    assert codec.encode(back).expire_at == 99.5
    assert codec.encode(back, expire_at=5.0).expire_at == 5.0
    assert codec.encode(t).expire_at is None


def test_custom_types_round_trip_through_the_registry() -> None:
    t = MaxTracker(
        "max",
        [OddCondition("n")],
        [5, 9],
        key="n",
        limiters=[BudgetLimiter(4)],
        reset_policy=ResetPolicy.PROGRESS,
    )
    t.track({"n": 7}, now=NOW)
    record = codec.encode(t)
    assert record.type == f"{__name__}:MaxTracker"
    definition = record.definition
    assert definition["conditions"][0]["type"] == f"{__name__}:OddCondition"
    assert "cls" not in definition["conditions"][0]["params"]
    assert definition["limiters"][0]["type"] == f"{__name__}:BudgetLimiter"
    back = codec.decode(via_json(record), t.group_id)
    assert type(back) is MaxTracker and back._bounds == (0, 100)
    assert back.conditions == {OddCondition("n")}
    (lim,) = back.limiters
    assert (lim.spent, lim.tags) == (1, ("a", "b"))
    assert (back.current_stage, back.progress) == (2, 0)
    back.track({"n": 9}, now=NOW)
    assert back.completed


def test_records_are_json_and_hold_no_pickles() -> None:
    record = codec.encode(tracked_tracker(), expire_at=5.5)
    for part in (record.definition, record.state):
        assert_plain(part)
        text = json.dumps(part, allow_nan=False)
        assert "\\u0080" not in text and "pickle" not in text
    assert record.definition["v"] == record.state["v"] == codec.SCHEMA_VERSION
    assert record.definition["targets"] == [10, 20.5, 40]


def test_values_with_no_plain_form_are_refused_at_encode() -> None:
    for value in (object(), b"x", 1j):
        t = CountTracker("t", [keys.KeyValueEQ("a", value)], 5)
        with pytest.raises(TypeError, match="cannot be stored"):
            codec.encode(t)


def test_definition_does_not_change_when_tracking() -> None:
    t = CountTracker("t", [], 10, limiters=[CountLimiter(3)])
    before = codec.encode_definition(t)
    t.track({}, now=NOW)
    assert codec.encode_definition(t) == before
    assert codec.encode_state(t)["limiters"][0]["remaining"] == 2


# -- decode errors ----------------------------------------------------------------


@pytest.mark.parametrize("part", ["definition", "state"])
def test_newer_schema_is_refused(part) -> None:
    record = codec.encode(CountTracker("t", [], 5))
    getattr(record, part)["v"] = codec.SCHEMA_VERSION + 1
    with pytest.raises(DeserializationError, match="upgrade dictrack") as info:
        codec.decode(record, "g")
    assert f"schema {codec.SCHEMA_VERSION + 1}" in str(info.value)
    assert "'t'" in str(info.value) and "'g'" in str(info.value)


@pytest.mark.parametrize(
    ("where", "kind"),
    [
        (lambda d: d, "tracker"),
        (lambda d: d["conditions"][0], "condition"),
        (lambda d: d["limiters"][0], "limiter"),
    ],
    ids=["tracker", "condition", "limiter"],
)
def test_unknown_type_names_are_refused(where, kind) -> None:
    t = CountTracker("t", [keys.KeyExists("a")], 5, limiters=[CountLimiter(1)])
    record = codec.encode(t)
    where(record.definition)["type"] = "no.such:Type"
    with pytest.raises(DeserializationError) as info:
        codec.decode(record, "grp")
    message = str(info.value)
    assert "tracker 't' of group 'grp'" in message
    assert f"{kind} type 'no.such:Type' is not registered" in message


def _bad(name: str, mutate):
    return pytest.param(mutate, id=name)


BAD_RECORDS = [
    _bad("no-name", lambda d, s: d.pop("name")),
    _bad("no-type", lambda d, s: d.pop("type")),
    _bad("no-conditions", lambda d, s: d.pop("conditions")),
    _bad("no-targets", lambda d, s: d.pop("targets")),
    _bad("no-policy", lambda d, s: d.pop("reset_policy")),
    _bad("no-progress", lambda d, s: s.pop("progress")),
    _bad("no-stage", lambda d, s: s.pop("stage")),
    _bad("no-v", lambda d, s: s.pop("v")),
    _bad("no-condition-params", lambda d, s: d["conditions"][0].pop("params")),
    _bad("condition-no-key", lambda d, s: d["conditions"][0]["params"].clear()),
    _bad("bad-operator", lambda d, s: d["conditions"][0]["params"].update(op="pow")),
    _bad("conditions-not-list", lambda d, s: d.update(conditions=5)),
    _bad("limiter-params-not-dict", lambda d, s: d["limiters"][0].update(params=5)),
    _bad("no-accumulation-key", lambda d, s: d.pop("params")),
    _bad("stage-0", lambda d, s: s.update(stage=0)),
    _bad("stage-past-targets", lambda d, s: s.update(stage=3)),
    _bad("stage-str", lambda d, s: s.update(stage="1")),
    _bad("empty-targets", lambda d, s: d.update(targets=[])),
    _bad("stage-float", lambda d, s: s.update(stage=1.0)),
    _bad("targets-not-numbers", lambda d, s: d.update(targets=["x", "y"])),
    _bad("progress-not-number", lambda d, s: s.update(progress="x")),
    _bad("policy-out-of-range", lambda d, s: d.update(reset_policy=9)),
    _bad("loop-forever-not-bool", lambda d, s: d.update(loop_forever="y")),
    _bad("name-not-str", lambda d, s: d.update(name=5)),
    _bad("stage-bool", lambda d, s: s.update(stage=True)),
    _bad("target-not-positive", lambda d, s: d.update(targets=[0, 5])),
    _bad("progress-bool", lambda d, s: s.update(progress=True)),
]


@pytest.mark.parametrize("mutate", BAD_RECORDS)
def test_malformed_records_are_refused(mutate) -> None:
    t = AccumulationTracker(
        "t",
        [keys.KeyValueComparison("n", 1)],
        [5, 9],
        key="bet",
        limiters=[CountLimiter(2)],
    )
    record = codec.encode(t)
    definition, state = copy.deepcopy(record.definition), copy.deepcopy(record.state)
    mutate(definition, state)
    with pytest.raises(DeserializationError, match="tracker 't' of group 'g'"):
        codec.decode(TrackerRecord("t", definition, state), "g")


def test_decode_error_keeps_the_cause() -> None:
    record = codec.encode(CountTracker("t", [], 5))
    del record.state["progress"]
    with pytest.raises(DeserializationError, match="malformed") as info:
        codec.decode(record, "g")
    assert isinstance(info.value.__cause__, KeyError)


def test_trackers_of_a_shared_definition_share_what_it_decodes_to() -> None:
    record = codec.encode(
        AccumulationTracker(
            "bets",
            [keys.KeyValueEQ("event", "win")],
            [5, 9],
            key="bet",
            limiters=[CountLimiter(3)],
        )
    )
    shared = record._replace(
        definition=codec.share_definition(copy.deepcopy(record.definition))
    )
    a, b = codec.decode(shared, "a"), codec.decode(shared, "b")
    for name in ("_name", "_conditions", "_targets", "_key_parts", "_key"):
        assert getattr(a, name) is getattr(b, name), name
    assert a._limiters[0] is not b._limiters[0]  # state is each tracker's own
    a.track({"event": "win", "bet": 4}, now=NOW)
    assert (a.progress, b.progress) == (4, 0)
    assert codec.encode_state(b) == record.state
    assert (a.group_id, b.group_id) == ("a", "b")
    # A definition that is not shared decodes on its own, to equal values.
    alone = codec.decode(record, "c")
    assert alone._conditions is not a._conditions
    assert alone.conditions == a.conditions and alone.targets == a.targets


def test_a_users_tracker_type_restores_its_own_parameters_each_time() -> None:
    record = codec.encode(MaxTracker("max", [], 5, key="n"))
    shared = record._replace(
        definition=codec.share_definition(copy.deepcopy(record.definition))
    )
    a, b = codec.decode(shared, "a"), codec.decode(shared, "b")
    assert a._name is b._name  # the base definition is shared...
    assert a._bounds == b._bounds == (0, 100)
    assert a._bounds is not b._bounds  # ...its own parameters may be mutable


def test_share_parts_gives_a_tracker_the_shared_values() -> None:
    made = AccumulationTracker("bets", [keys.KeyValueEQ("event", "win")], 5, key="b")
    definition = codec.share_definition(codec.encode_definition(made))
    decoded = codec.decode(codec.encode(made, definition=definition), "g")
    codec.share_parts(made, definition)
    assert made._conditions is decoded._conditions
    assert made._key_parts is decoded._key_parts
    other = CountTracker("bets", [keys.KeyValueEQ("event", "win")], 5)
    codec.share_parts(other, definition)  # another type: left as it is
    assert other._conditions is not decoded._conditions
    mine = MaxTracker("max", [], 5, key="n")
    kept = mine._conditions
    codec.share_parts(mine, codec.share_definition(codec.encode_definition(mine)))
    assert mine._conditions is kept  # a user's type: left as it is


def test_a_newer_state_schema_is_reported_before_an_unknown_type() -> None:
    record = codec.encode(CountTracker("t", [], 5))
    definition = {**record.definition, "type": "NotDefinedHere"}
    with pytest.raises(DeserializationError, match="upgrade dictrack"):
        codec.decode(TrackerRecord("t", definition, {**record.state, "v": 99}), "g")


def test_a_tracker_with_a_users_condition_keeps_its_own_objects() -> None:
    mine = CountTracker("odd", [OddCondition("n")], 5)
    kept = mine._conditions
    codec.share_parts(mine, codec.share_definition(codec.encode_definition(mine)))
    assert mine._conditions is kept


def test_a_type_registered_again_is_used_by_the_next_decode() -> None:
    class Again(CountTracker):
        type_name = f"{__name__}:Again"

    record = codec.encode(Again("t", [], 5))
    shared = record._replace(
        definition=codec.share_definition(copy.deepcopy(record.definition))
    )
    assert type(codec.decode(shared, "g")) is Again

    class Again2(CountTracker):  # a module reloaded: same name, new class
        type_name = f"{__name__}:Again"

    assert type(codec.decode(shared, "g")) is Again2


def test_records_whose_definition_is_not_json_are_left_unshared() -> None:
    record = codec.encode(CountTracker("t", [], 5))
    odd = record._replace(definition={**record.definition, "when": object()})
    assert codec.shared([odd, record])[0] is odd
    assert codec.shared([record])[0].definition is codec.share_definition(
        copy.deepcopy(record.definition)
    )


def test_decoded_parts_are_dropped_when_full_and_decode_as_before(monkeypatch) -> None:
    monkeypatch.setattr(codec, "_MAX_PARTS", 2)
    monkeypatch.setattr(codec, "_PARTS", {})
    made = [
        CountTracker(f"t{i}", [keys.KeyValueEQ("event", "win")], 5) for i in range(3)
    ]
    records = codec.shared(codec.encode(t) for t in made)
    first = [codec.decode(r, "a") for r in records]
    assert len(codec._PARTS) == 1  # full at the third: cleared, then it alone
    assert codec.decode(records[2], "b")._conditions is first[2]._conditions
    again = [codec.decode(r, "b") for r in records]  # decoded afresh, the same
    assert [t.name for t in again] == ["t0", "t1", "t2"]
    assert [t.conditions for t in again] == [t.conditions for t in first]
    assert again[0]._conditions is not first[0]._conditions
