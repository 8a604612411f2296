from __future__ import annotations

from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dictrack._plan import Plan
from dictrack.conditions.keys import KeyValueEQ
from dictrack.conditions.paths import MISSING, resolve, resolve_parts, split_path
from dictrack.trackers.numerics.accumulation import AccumulationTracker

# --- split_path -------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("a", ("a",)),
        ("a.b.c", ("a", "b", "c")),
        ("order.items.0.sku", ("order", "items", "0", "sku")),
        ("a\\.b", ("a.b",)),
        ("a\\.b.c", ("a.b", "c")),
        ("x.a\\.b\\.c.y", ("x", "a.b.c", "y")),
        ("\\.", (".",)),
        ("a..b", ("a", "", "b")),
        ("a.", ("a", "")),
        ("a\\b", ("a\\b",)),
    ],
)
def test_split_path(path: str, parts: tuple[str, ...]) -> None:
    assert split_path(path) == parts


@pytest.mark.parametrize("path", [None, 1, b"a.b", ("a",)])
def test_split_path_rejects_non_str(path: Any) -> None:
    with pytest.raises(TypeError, match="must be a str, got"):
        split_path(path)


def test_split_path_rejects_unhashable() -> None:
    with pytest.raises(TypeError):
        split_path(["a", "b"])  # type: ignore[arg-type]


def test_split_path_rejects_empty() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        split_path("")


def test_split_path_keeps_nul_in_key_next_to_escaped_dot() -> None:
    assert split_path("a\x00b\\.c") == ("a\x00b.c",)


# --- resolve ----------------------------------------------------------------

DATA = {
    "name": "neo",
    "none": None,
    "zero": 0,
    "order": {
        "id": 7,
        "items": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 1}],
        "tags": ("new", "gift"),
    },
    "a.b": {"c": 1},
    "matrix": [[1, 2], [3, 4]],
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("name", "neo"),
        ("order.id", 7),
        ("order.items.0.sku", "A1"),
        ("order.items.1.qty", 1),
        ("order.items.-1.sku", "B2"),
        ("order.items.-2.sku", "A1"),
        ("order.tags.1", "gift"),
        ("order.tags.-1", "gift"),
        ("matrix.1.0", 3),
        ("matrix.-1.-1", 4),
        ("a\\.b.c", 1),
        ("zero", 0),
    ],
)
def test_resolve_finds_value(path: str, expected: Any) -> None:
    assert resolve(DATA, path) == expected


def test_resolve_returns_the_object_itself() -> None:
    assert resolve(DATA, "order.items") is DATA["order"]["items"]
    assert resolve(DATA, "order") is DATA["order"]


@pytest.mark.parametrize(
    "path",
    [
        "missing",
        "order.missing",
        "order.items.2",  # past the end
        "order.items.-3",  # before the start
        "order.items.x",  # not an integer
        "order.items.",  # empty index
        "order.items.0\\.5",  # "0.5" is not an integer
        "order.tags.9",
        "a.b.c",  # the key is "a.b", not "a" then "b"
        "name.0",  # strings are leaves, not sequences
        "zero.x",
        "order.id.x",
        "none.x",
        "order.items.0.sku.x",
    ],
)
def test_resolve_missing(path: str) -> None:
    assert resolve(DATA, path) is MISSING


def test_resolve_none_value_is_present() -> None:
    assert resolve(DATA, "none") is None
    assert resolve({"a": [None]}, "a.0") is None


@pytest.mark.parametrize("data", [None, 5, "text", 1.5, object()])
def test_resolve_on_non_container_root(data: Any) -> None:
    assert resolve(data, "a") is MISSING
    assert resolve(data, "0") is MISSING


def test_resolve_parts_with_no_parts_returns_data() -> None:
    assert resolve_parts(DATA, ()) is DATA


class _ReadOnly(Mapping):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


@pytest.mark.parametrize(
    "wrap", [OrderedDict, MappingProxyType, _ReadOnly], ids=lambda w: w.__name__
)
def test_resolve_other_mapping_types(wrap: Any) -> None:
    data = wrap({"a": wrap({"b": [10, 20]})})
    assert resolve(data, "a.b.1") == 20
    assert resolve(data, "a.c") is MISSING


def test_resolve_mapping_that_raises_type_error_is_missing() -> None:
    class Picky(_ReadOnly):
        def __getitem__(self, key: str) -> Any:
            raise TypeError("no")

    assert resolve(Picky({"a": 1}), "a") is MISSING


def test_missing_is_falsy_and_named() -> None:
    assert not MISSING
    assert repr(MISSING) == "MISSING"


@pytest.mark.parametrize(
    "make", [lambda: defaultdict(list), Counter], ids=["defaultdict", "Counter"]
)
def test_resolve_does_not_invent_keys(make: Any) -> None:
    data = make()
    assert resolve(data, "x") is MISSING
    assert "x" not in data


# --- properties -------------------------------------------------------------

# Backslashes cannot be escaped (a key ending in one would swallow the next dot),
# so generated keys avoid them.
KEYS = st.text(st.characters(blacklist_characters="\\"), min_size=1, max_size=6)
LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
JSON = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(KEYS, inner, max_size=3)
    ),
    max_leaves=8,
)


def _escape(key: str) -> str:
    return key.replace(".", "\\.")


def _walk(
    value: Any, parts: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    if parts:
        yield parts, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _walk(child, (*parts, _escape(key)))
    elif isinstance(value, (list, tuple)):
        for index, child in enumerate(value):
            yield from _walk(child, (*parts, str(index)))
            yield parts + (str(index - len(value)),), child


@given(st.dictionaries(KEYS, JSON, max_size=3))
def test_every_walked_path_resolves_to_its_value(data: dict[str, Any]) -> None:
    for parts, value in _walk(data):
        assert resolve(data, ".".join(parts)) is value


@given(st.dictionaries(KEYS, JSON, max_size=3))
def test_one_part_past_a_leaf_is_missing(data: dict[str, Any]) -> None:
    for parts, value in _walk(data):
        if not isinstance(value, (dict, list, tuple)):
            for extra in ("0", "-1", "x"):
                assert resolve(data, ".".join((*parts, extra))) is MISSING


@given(st.lists(KEYS, min_size=1, max_size=5), LEAVES)
def test_dotted_keys_round_trip_when_escaped(keys: list[str], leaf: Any) -> None:
    data: Any = leaf
    for key in reversed(keys):
        data = {key: data}
    path = ".".join(_escape(k) for k in keys)
    assert split_path(path) == tuple(keys)
    assert resolve(data, path) is leaf


# --- conditions, the plan's index and amounts read keys as resolve does ------


@pytest.mark.parametrize(
    "make", [lambda: defaultdict(list), Counter], ids=["defaultdict", "Counter"]
)
def test_conditions_index_and_amounts_do_not_invent_keys(make: Any) -> None:
    data = make()
    tracker = AccumulationTracker("t", [KeyValueEQ("x", 1)], 10, "y")
    assert not KeyValueEQ("x", 1).check(data)
    assert list(Plan([tracker]).candidates(data)) == []
    tracker._conditions = ()  # always met: the amount is read
    tracker.track(data, now=0.0)
    assert tracker.progress == 0
    assert "x" not in data and "y" not in data


@given(st.dictionaries(KEYS, JSON, max_size=4), KEYS, LEAVES)
def test_a_key_condition_reads_what_resolve_reads(
    data: dict[str, Any], key: str, value: Any
) -> None:
    key = _escape(key)
    found = resolve(data, key)
    expected = found is not MISSING and found == value
    try:
        condition = KeyValueEQ(key, value)
    except (TypeError, ValueError):  # a value a condition refuses
        return
    assert condition.check(data) is expected
