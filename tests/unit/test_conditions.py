from __future__ import annotations

import copy
import math
import operator
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dictrack.conditions import keys
from dictrack.conditions.base import CONDITION_TYPES
from dictrack.conditions.keys import (
    KeyExists,
    KeyNotExists,
    KeyValueComparison,
    KeyValueContained,
    KeyValueEQ,
    KeyValueGE,
    KeyValueGT,
    KeyValueInList,
    KeyValueLE,
    KeyValueListHasItem,
    KeyValueListIntersectList,
    KeyValueListNotHasItem,
    KeyValueListNotIntersectList,
    KeyValueLT,
    KeyValueNE,
    KeyValueNotContained,
    KeyValueNotInList,
)

#: One sample argument tuple per class; the key is always "a".
SAMPLES: dict[type[KeyExists], tuple[Any, ...]] = {
    KeyExists: ("a",),
    KeyNotExists: ("a",),
    KeyValueComparison: ("a", 1, operator.lt),
    KeyValueEQ: ("a", 1),
    KeyValueNE: ("a", 1),
    KeyValueLT: ("a", 1),
    KeyValueLE: ("a", 1),
    KeyValueGT: ("a", 1),
    KeyValueGE: ("a", 1),
    KeyValueContained: ("a", "x"),
    KeyValueNotContained: ("a", "x"),
    KeyValueInList: ("a", [1, 2]),
    KeyValueNotInList: ("a", [1, 2]),
    KeyValueListHasItem: ("a", 1),
    KeyValueListNotHasItem: ("a", 1),
    KeyValueListIntersectList: ("a", [1]),
    KeyValueListNotIntersectList: ("a", [1]),
}
ALL = pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda c: c.__name__)

PAIRS = [
    (KeyValueContained, KeyValueNotContained, "x"),
    (KeyValueInList, KeyValueNotInList, [1, "x"]),
    (KeyValueListHasItem, KeyValueListNotHasItem, "x"),
    (KeyValueListIntersectList, KeyValueListNotIntersectList, [1, "x"]),
]

EVENT = {
    "name": "Neo",
    "age": 10,
    "none": None,
    "tags": ["red", "blue"],
    "order": {"items": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 0}]},
}


def test_every_public_class_is_sampled_and_registered_by_name() -> None:
    assert {getattr(keys, name) for name in keys.__all__} == set(SAMPLES)
    for cls in SAMPLES:
        assert CONDITION_TYPES[cls.__name__] is cls


# --- check ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (KeyExists("name"), True),
        (KeyExists("none"), True),
        (KeyExists("order.items.0.sku"), True),
        (KeyExists("order.items.2.sku"), False),
        (KeyExists("name.first"), False),
        (KeyNotExists("nope"), True),
        (KeyNotExists("order.items.5"), True),
        (KeyNotExists("none"), False),
        (KeyValueEQ("order.items.0.sku", "A1"), True),
        (KeyValueEQ("none", None), True),
        (KeyValueNE("order.items.1.sku", "A1"), True),
        (KeyValueNE("age", 10), False),
        (KeyValueLT("age", 11), True),
        (KeyValueLE("age", 10), True),
        (KeyValueGT("age", 9), True),
        (KeyValueGE("order.items.0.qty", 2), True),
        (KeyValueComparison("age", 20, operator.lt), True),
        (KeyValueComparison("age", 20, "gt"), False),
        (KeyValueComparison("age", 10, str(operator.ge)), True),
        (KeyValueContained("name", "Ne"), True),
        (KeyValueContained("name", "ne"), False),
        (KeyValueContained("name", "ne", case_sensitive=False), True),
        (KeyValueContained("name", "NEO", False), True),
        (KeyValueNotContained("name", "ne"), True),
        (KeyValueNotContained("name", "ne", case_sensitive=False), False),
        (KeyValueInList("age", [1, 10]), True),
        (KeyValueInList("order.items.0.sku", ("A1", "B2")), True),
        (KeyValueNotInList("age", [1, 2]), True),
        (KeyValueListHasItem("tags", "red"), True),
        (KeyValueListHasItem("tags", "green"), False),
        (KeyValueListNotHasItem("tags", "blue"), False),
        (KeyValueListIntersectList("tags", ["green", "blue"]), True),
        (KeyValueListNotIntersectList("tags", ["red"]), False),
    ],
    ids=repr,
)
def test_check(condition: KeyExists, expected: bool) -> None:
    assert condition.check(EVENT) is expected


def test_properties_and_extra_check_arguments() -> None:
    condition = KeyValueComparison("a.b", [1], "le")
    assert (condition.key, condition.value, condition.op) == ("a.b", [1], operator.le)
    assert KeyValueInList("k", (1,)).value == (1,)
    assert KeyValueEQ("age", 10).check(EVENT, "extra", now=123) is True
    # 2.1.5 default: case sensitive
    assert KeyValueContained("a", "x").case_sensitive is True
    assert KeyValueNotContained("a", "x").case_sensitive is True
    assert KeyValueContained("a", "x", case_sensitive=False).case_sensitive is False


def test_intersect_with_unhashable_items() -> None:
    assert KeyValueListIntersectList("a", [{"k": 1}]).check({"a": ({"k": 1},)}) is True
    assert KeyValueListIntersectList("a", [{"k": 3}]).check({"a": [{"k": 1}]}) is False


@ALL
def test_missing_key_only_satisfies_key_not_exists(cls: type[KeyExists]) -> None:
    condition = cls(*SAMPLES[cls])
    for data in ({}, {"b": 1}, {"A": 1}, {"a.b": 1}, {"b": {"a": 1}}):
        assert condition.check(data) is (cls is KeyNotExists)


@pytest.mark.parametrize(
    ("condition", "found"),
    [
        (KeyValueGT("a", 1), "text"),
        (KeyValueGE("a", 1), [1]),
        (KeyValueComparison("a", 1, operator.gt), {"b": 1}),
        (KeyValueContained("a", "x"), 5),
        (KeyValueInList("a", [1, 2]), {"b": 1}),
        (KeyValueListHasItem("a", 1), 5),
        (KeyValueListHasItem("a", 1), "abc"),
        (KeyValueListIntersectList("a", [1]), None),
        (KeyValueListIntersectList("a", [1]), 5),
    ],
    ids=repr,
)
def test_wrong_value_type_is_not_met(condition: KeyExists, found: Any) -> None:
    assert condition.check({"a": found}) is False


@pytest.mark.parametrize(("positive", "negated", "value"), PAIRS)
@pytest.mark.parametrize(
    "found", ["x", "axb", "y", 1, 5, None, ["x"], ["y"], (1,), {"x": 1}, 2.5]
)
def test_not_variant_is_complement_when_key_exists(
    positive: type[KeyExists], negated: type[KeyExists], value: Any, found: Any
) -> None:
    data = {"a": found}
    assert negated("a", value).check(data) is (not positive("a", value).check(data))
    assert positive("a", value).check({}) is negated("a", value).check({}) is False


# --- validation -------------------------------------------------------------


@ALL
@pytest.mark.parametrize(
    ("key", "error"),
    [(5, TypeError), (None, TypeError), (b"a", TypeError), ("", ValueError)],
)
def test_key_is_checked(cls: type[KeyExists], key: Any, error: type) -> None:
    with pytest.raises(error, match="key"):
        cls(key, *SAMPLES[cls][1:])


@pytest.mark.parametrize(
    ("classes", "bad_values"),
    [
        ((KeyValueContained, KeyValueNotContained), [5, None, ["x"], b"x"]),
        ((KeyValueInList, KeyValueNotInList), ["ab", {1, 2}, 1, None]),
        ((KeyValueListHasItem, KeyValueListNotHasItem), [[1], True, None, {"a": 1}]),
        ((KeyValueListIntersectList, KeyValueListNotIntersectList), ["ab", 1, None]),
    ],
)
def test_value_type_is_checked(classes: tuple[type, ...], bad_values: list) -> None:
    for cls in classes:
        for value in bad_values:
            with pytest.raises(TypeError, match=f"{cls.__name__} `value` must be"):
                cls("a", value)


@pytest.mark.parametrize(
    "op", [operator.add, operator.contains, "add", "<", lambda a, b: True, None]
)
def test_comparison_op_is_checked(op: Any) -> None:
    with pytest.raises(ValueError, match="`op` must be one of"):
        KeyValueComparison("a", 1, op)


# --- repr -------------------------------------------------------------------

#: Reprs as 2.1.5 prints them, for the SAMPLES arguments.
REPRS = {
    KeyExists: "<KeyExists (key=a)>",
    KeyNotExists: "<KeyNotExists (key=a)>",
    KeyValueComparison: "<KeyValueComparison (key=a operator=lt value=1)>",
    KeyValueEQ: "<KeyValueEQ (key=a operator=eq value=1)>",
    KeyValueNE: "<KeyValueNE (key=a operator=ne value=1)>",
    KeyValueLT: "<KeyValueLT (key=a operator=lt value=1)>",
    KeyValueLE: "<KeyValueLE (key=a operator=le value=1)>",
    KeyValueGT: "<KeyValueGT (key=a operator=gt value=1)>",
    KeyValueGE: "<KeyValueGE (key=a operator=ge value=1)>",
    KeyValueContained: "<KeyValueContained (key=a value=x case_sensitive=True)>",
    KeyValueNotContained: "<KeyValueNotContained (key=a value=x case_sensitive=True)>",
    KeyValueInList: "<KeyValueInList (key=a value=[1, 2])>",
    KeyValueNotInList: "<KeyValueNotInList (key=a value=[1, 2])>",
    KeyValueListHasItem: "<KeyValueListHasItem (key=a value=1)>",
    KeyValueListNotHasItem: "<KeyValueListNotHasItem (key=a value=1)>",
    KeyValueListIntersectList: "<KeyValueListIntersectList (key=a value=[1])>",
    KeyValueListNotIntersectList: "<KeyValueListNotIntersectList (key=a value=[1])>",
}


@ALL
def test_repr(cls: type[KeyExists]) -> None:
    assert repr(cls(*SAMPLES[cls])) == REPRS[cls]


def test_repr_of_other_values() -> None:
    assert repr(KeyExists("name")) == "<KeyExists (key=name)>"
    assert repr(KeyValueComparison("age", 10)) == (
        "<KeyValueComparison (key=age operator=eq value=10)>"
    )
    assert repr(KeyValueEQ("a", None)) == "<KeyValueEQ (key=a operator=eq value=None)>"
    assert repr(KeyValueContained("a", "x", False)) == (
        "<KeyValueContained (key=a value=x case_sensitive=False)>"
    )
    assert repr(KeyValueInList("a", ("x",))) == "<KeyValueInList (key=a value=('x',))>"


# --- equality and hashing ---------------------------------------------------


@ALL
def test_equal_parameters_are_equal_and_hash_equal(cls: type[KeyExists]) -> None:
    first, second = cls(*SAMPLES[cls]), cls(*copy.deepcopy(SAMPLES[cls]))
    assert first == second
    assert not first != second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1


@ALL
def test_comparing_with_a_non_condition_is_false(cls: type[KeyExists]) -> None:
    for other in (None, "a", 1, object(), SAMPLES[cls]):
        assert (cls(*SAMPLES[cls]) == other) is False
        assert (cls(*SAMPLES[cls]) != other) is True


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (KeyValueGT("a", 1), KeyValueComparison("a", 1, operator.gt)),
        (KeyValueNE("a", 1), KeyValueComparison("a", 1, "ne")),
        (KeyValueLT("a", 1), KeyValueComparison("a", 1, str(operator.lt))),
        (KeyValueInList("a", [1, [2]]), KeyValueInList("a", [1, [2]])),
        (KeyValueEQ("a", {"b": [1, {"c": 2}]}), KeyValueEQ("a", {"b": [1, {"c": 2}]})),
        (KeyValueEQ("a", {1, 2}), KeyValueEQ("a", {2, 1})),
        (KeyValueEQ("a", bytearray(b"x")), KeyValueEQ("a", bytearray(b"x"))),
    ],
    ids=repr,
)
def test_equal_across_spellings(left: KeyExists, right: KeyExists) -> None:
    assert left == right
    assert hash(left) == hash(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (KeyExists("a"), KeyNotExists("a")),
        (KeyValueInList("a", [1]), KeyValueNotInList("a", [1])),
        (KeyValueContained("a", "x"), KeyValueNotContained("a", "x")),
        (KeyValueListHasItem("a", 1), KeyValueListNotHasItem("a", 1)),
        (KeyValueListIntersectList("a", [1]), KeyValueListNotIntersectList("a", [1])),
        (KeyValueInList("a", [1]), KeyValueListIntersectList("a", [1])),
        (KeyValueEQ("a", 1), KeyValueNE("a", 1)),
        (KeyValueEQ("a", 1), KeyValueEQ("a", 2)),
        (KeyValueEQ("a", 1), KeyExists("a")),
        (KeyValueContained("a", "x"), KeyValueContained("a", "x", False)),
    ],
    ids=repr,
)
def test_different_conditions_are_unequal(left: KeyExists, right: KeyExists) -> None:
    assert left != right
    assert right != left
    assert len({left, right}) == 2


# --- state ------------------------------------------------------------------


def _rebuild(condition: KeyExists) -> KeyExists:
    clone = type(condition).__new__(type(condition))
    clone.__setstate__(condition.__getstate__())
    return clone


@ALL
def test_state_round_trip(cls: type[KeyExists]) -> None:
    condition = cls(*SAMPLES[cls])
    pickled = pickle.loads(pickle.dumps(condition))
    for clone in (_rebuild(condition), pickled, copy.deepcopy(condition)):
        assert type(clone) is cls
        assert clone == condition
        assert hash(clone) == hash(condition)
        assert repr(clone) == repr(condition)
        for data in ({}, {"a": 1}, {"a": "x"}, {"a": [1, "x"]}, {"a": 0}):
            assert clone.check(data) is condition.check(data)


@pytest.mark.parametrize(
    ("condition", "state"),
    [
        (KeyExists("a.b"), {"key": "a.b"}),
        (KeyValueGT("a", 1), {"key": "a", "value": 1, "op": "gt"}),
        (
            KeyValueContained("a", "x", False),
            {"key": "a", "value": "x", "case_sensitive": False},
        ),
        (KeyValueInList("a", (1, 2)), {"key": "a", "value": (1, 2)}),
    ],
    ids=repr,
)
def test_getstate(condition: KeyExists, state: dict[str, Any]) -> None:
    assert condition.__getstate__() == state


@pytest.mark.parametrize("op", [operator.lt, operator.eq, operator.ge, operator.ne])
def test_setstate_accepts_the_2_1_5_operator_string(op: Any) -> None:
    condition = KeyValueComparison.__new__(KeyValueComparison)
    condition.__setstate__(
        {"cls": KeyValueComparison, "key": "a", "value": 3, "op": str(op)}
    )
    assert condition.op is op
    assert condition == KeyValueComparison("a", 3, op)
    assert condition.check({"a": 3}) is op(3, 3)


def test_setstate_rejects_an_unknown_operator() -> None:
    condition = KeyValueComparison.__new__(KeyValueComparison)
    with pytest.raises(ValueError, match="`op`"):
        condition.__setstate__(
            {"key": "a", "value": 3, "op": "<built-in function add>"}
        )


# --- properties -------------------------------------------------------------

KEYS = st.text(st.characters(blacklist_characters="\\\x00"), min_size=1, max_size=8)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
VALUES = st.recursive(
    SCALARS | st.text(max_size=8),
    lambda x: st.lists(x, max_size=3) | st.dictionaries(KEYS, x, max_size=3),
    max_leaves=8,
)


@given(KEYS, VALUES)
def test_eq_and_ne_on_the_value_itself(key: str, value: Any) -> None:
    path = key.replace(".", "\\.")
    data = {key: value}
    assert KeyValueEQ(path, value).check(data) is True
    assert KeyValueNE(path, value).check(data) is False
    assert KeyExists(path).check(data) is True
    assert hash(KeyValueEQ(path, value)) == hash(KeyValueEQ(path, copy.deepcopy(value)))


def test_nan_is_never_equal() -> None:
    assert KeyValueEQ("a", math.nan).check({"a": float("nan")}) is False
    assert KeyValueNE("a", math.nan).check({"a": float("nan")}) is True
