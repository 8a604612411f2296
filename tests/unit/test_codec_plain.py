"""codec: the plain-value tags, and a property test over generated trackers."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dictrack import codec
from dictrack.conditions import keys
from dictrack.limiters.count import CountLimiter
from dictrack.limiters.time import TimeLimiter
from dictrack.records import TrackerRecord
from dictrack.trackers.base import BaseTracker, ResetPolicy
from dictrack.trackers.numerics.accumulation import AccumulationTracker
from dictrack.trackers.numerics.count import CountTracker


def typed(value: Any) -> Any:
    """``value`` with every container's type made explicit, for exact comparisons."""
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [typed(v) for v in value])
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, sorted(repr(typed(v)) for v in value))
    if isinstance(value, dict):
        return ("dict", sorted((repr(typed(k)), typed(v)) for k, v in value.items()))
    return (type(value).__name__, value)


def through_json(value: Any) -> Any:
    return json.loads(json.dumps(value, allow_nan=False))


# -- to_plain / from_plain ---------------------------------------------------------

VALUES = [
    None,
    True,
    0,
    -7,
    2.5,
    "",
    "text",
    [],
    [1, "a", None],
    (),
    (1, (2, [3, (4,)])),
    [(1, 2), {"a": (3,)}],
    {1, 2, 3},
    {(1, 2), "x"},
    frozenset({1, "a"}),
    {frozenset({1}), frozenset()},
    {frozenset({1, 2}): "key"},
    set(),
    timedelta(seconds=90.5),
    timedelta(days=2, microseconds=1),
    {},
    {"a": {"b": {"c": [1, 2.5]}}},
    {1: "one", 2.5: "two", None: 0, False: "f"},
    {(1, 2): "pair"},
    {"$tuple": [1]},
    {"$set": [1], "a": 2},
    {"$dict": 1},
    {"$weird": {"$timedelta": 1}},
    {"a": 1, 2: "b"},
    {"x": timedelta(seconds=1), "y": {"z": (None,)}},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_plain_round_trip_keeps_types(value) -> None:
    plain = codec.to_plain(value)
    back = codec.from_plain(through_json(plain))
    assert typed(back) == typed(value)
    assert back == value


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ((1, 2), {"$tuple": [1, 2]}),
        (timedelta(minutes=1), {"$timedelta": 60.0}),
        ({"a": (1,)}, {"a": {"$tuple": [1]}}),
        ({1: "a"}, {"$dict": [[1, "a"]]}),
        ({"$x": 1}, {"$dict": [["$x", 1]]}),
        ([1, "a"], [1, "a"]),
        ({3, 1, 2}, {"$set": [1, 2, 3]}),
        (frozenset({"b", "a"}), {"$frozenset": ["a", "b"]}),
    ],
)
def test_plain_forms(value, plain) -> None:
    assert codec.to_plain(value) == plain


@pytest.mark.parametrize(
    "value",
    [object(), b"bytes", bytearray(b"x"), 1j, [1, object()]],
    ids=repr,
)
def test_to_plain_refuses_other_objects(value) -> None:
    with pytest.raises(TypeError, match="cannot be stored"):
        codec.to_plain(value)
    with pytest.raises(TypeError):
        codec.to_plain({"k": (value,)})


def sparse_set() -> set[int]:
    """{1, 8} left in a large table: iterates as [1, 8]; a fresh one as [8, 1]."""
    value = set(range(20))
    for item in range(20):
        if item not in (1, 8):
            value.discard(item)
    return value


def test_set_encoding_is_canonical() -> None:
    value = sparse_set()
    assert value == {1, 8}
    assert codec.to_plain(value) == codec.to_plain({1, 8})
    t = CountTracker("t", [keys.KeyValueEQ("a", value)], 5)
    record = codec.encode(t)
    assert codec.encode(codec.decode(record, t.group_id)) == record


# -- property: decode(encode(t)) == t ------------------------------------------------

KEY = st.from_regex(r"[a-z]{1,4}(\.[a-z0-9]{1,3}){0,2}", fullmatch=True)
TEXT = st.text(st.sampled_from("ab$x. é"), max_size=5)
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
DICT_KEY = st.one_of(
    TEXT, st.sampled_from(["$tuple", "$set", "$dict", "$x"]), st.integers()
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(DICT_KEY, inner, max_size=3),
        st.sets(st.one_of(st.integers(), TEXT), max_size=3),
        st.frozensets(st.one_of(st.integers(), TEXT), max_size=3),
    ),
    max_leaves=8,
)
LIST_VALUE = st.lists(SCALAR, max_size=3).flatmap(
    lambda items: st.sampled_from([items, tuple(items)])
)
ITEM = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), TEXT)
CONDITION = st.one_of(
    st.builds(keys.KeyExists, KEY),
    st.builds(keys.KeyNotExists, KEY),
    st.builds(
        keys.KeyValueComparison,
        KEY,
        VALUE,
        st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]),
    ),
    *(
        st.builds(cls, KEY, VALUE)
        for cls in (
            keys.KeyValueEQ,
            keys.KeyValueNE,
            keys.KeyValueLT,
            keys.KeyValueLE,
            keys.KeyValueGT,
            keys.KeyValueGE,
        )
    ),
    st.builds(keys.KeyValueContained, KEY, TEXT, st.booleans()),
    st.builds(keys.KeyValueNotContained, KEY, TEXT, st.booleans()),
    st.builds(keys.KeyValueInList, KEY, LIST_VALUE),
    st.builds(keys.KeyValueNotInList, KEY, LIST_VALUE),
    st.builds(keys.KeyValueListHasItem, KEY, ITEM),
    st.builds(keys.KeyValueListNotHasItem, KEY, ITEM),
    st.builds(keys.KeyValueListIntersectList, KEY, LIST_VALUE),
    st.builds(keys.KeyValueListNotIntersectList, KEY, LIST_VALUE),
)
NUMBER = st.one_of(
    st.integers(1, 10**6), st.floats(0.001, 1e6, allow_nan=False, allow_infinity=False)
)


@st.composite
def count_limiters(draw) -> CountLimiter:
    lim = CountLimiter(draw(st.integers(1, 50)))
    lim.remaining = draw(st.integers(0, lim.count))
    lim.limited = draw(st.booleans())
    return lim


@st.composite
def time_limiters(draw) -> TimeLimiter:
    start = draw(st.one_of(st.integers(0, 2 * 10**9), st.floats(0, 2e9)))
    seconds = draw(st.integers(1, 10**6))
    if draw(st.booleans()):
        lim = TimeLimiter(start_ts=start, interval=timedelta(seconds=seconds))
    else:
        lim = TimeLimiter(start_ts=start, end_ts=start + seconds)
    lim.limited = draw(st.booleans())
    return lim


@st.composite
def trackers(draw) -> BaseTracker:
    policy = draw(st.integers(ResetPolicy.NONE, ResetPolicy.ALL))
    targets = draw(st.lists(NUMBER, min_size=1, max_size=4))
    if not policy & ResetPolicy.PROGRESS:
        targets = sorted(set(targets))
    kwargs = {
        "group_id": draw(st.none() | st.text(min_size=1, max_size=5)),
        "limiters": draw(st.lists(count_limiters() | time_limiters(), max_size=2)),
        "reset_policy": policy,
        "loop_forever": draw(st.booleans()),
        "init_progress": draw(st.integers(0, 10**6) | st.floats(-1e6, 1e6)),
    }
    name = draw(st.text(min_size=1, max_size=8))
    conditions = draw(st.lists(CONDITION, max_size=3))
    target = targets if len(targets) > 1 or draw(st.booleans()) else targets[0]
    if draw(st.booleans()):
        t: BaseTracker = CountTracker(name, conditions, target, **kwargs)
    else:
        t = AccumulationTracker(name, conditions, target, key=draw(KEY), **kwargs)
    t._stage = draw(st.integers(1, len(targets)))
    t._completed = draw(st.booleans())
    t._limited = draw(st.booleans())
    t._expire_at = draw(st.none() | st.floats(0, 4e9))
    return t


def via_json(record: TrackerRecord) -> TrackerRecord:
    return TrackerRecord(
        record.name,
        through_json(record.definition),
        through_json(record.state),
        record.version,
        record.expire_at,
    )


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(trackers())
def test_decode_encode_round_trip(tracker) -> None:
    record = codec.encode(tracker)
    back = codec.decode(via_json(record), tracker.group_id)
    assert back == tracker
    assert codec.encode(back) == record
    assert back.expire_at == tracker.expire_at
    assert [typed(vars(lim)) for lim in back._limiters] == [
        typed(vars(lim)) for lim in tracker._limiters
    ]
    assert [typed(c.__getstate__()) for c in back._conditions] == [
        typed(c.__getstate__()) for c in tracker._conditions
    ]


@pytest.mark.parametrize(
    "value",
    [
        Decimal("10.50"),
        datetime(2030, 1, 1, 12, 30, tzinfo=timezone.utc),
        datetime(2030, 1, 1, 12, 30),
        date(2030, 2, 28),
    ],
)
def test_decimals_and_dates_round_trip_exactly(value):
    plain = codec.to_plain(value)
    json.dumps(plain)
    back = codec.from_plain(plain)
    assert back == value and type(back) is type(value)
