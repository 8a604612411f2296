"""Conditions on a key of the event dict (the ``dictrack.conditions.keys`` of 2.1.5).

Keys are dotted paths (see :mod:`dictrack.conditions.paths`). Two conditions are
equal, and hash equal, when they test the same thing: same kind, key and values.
A value of an unexpected type in the event never raises: the condition is simply
not met (``KeyValue<Not>*`` variants still require the key to exist).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, ClassVar

from dictrack.conditions._values import UNCOMPARABLE, freeze, owned
from dictrack.conditions.base import BaseCondition
from dictrack.conditions.paths import MISSING, resolve_parts, split_path
from dictrack.typing import EventData

__all__ = [
    "KeyExists",
    "KeyNotExists",
    "KeyValueComparison",
    "KeyValueContained",
    "KeyValueEQ",
    "KeyValueGE",
    "KeyValueGT",
    "KeyValueInList",
    "KeyValueLE",
    "KeyValueLT",
    "KeyValueListHasItem",
    "KeyValueListIntersectList",
    "KeyValueListNotHasItem",
    "KeyValueListNotIntersectList",
    "KeyValueNE",
    "KeyValueNotContained",
    "KeyValueNotInList",
]

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    op.__name__: op
    for op in (
        operator.eq,
        operator.ne,
        operator.lt,
        operator.le,
        operator.gt,
        operator.ge,
    )
}
# 2.1.5 stored operators as ``str(operator.eq)``; accept that form when decoding.
_OPERATORS_BY_STR = {str(op): op for op in _OPERATORS.values()}


class KeyExists(BaseCondition):
    """The key path exists in the event (its value may be anything, even None)."""

    type_name = "KeyExists"
    _fields: ClassVar[tuple[str, ...]] = ("key",)
    #: The codec's plain form of this (immutable) condition, once computed.
    _plain: dict[str, Any] | None = None

    def __init__(self, key: str, *args: Any, **kwargs: Any) -> None:
        self._parts = split_path(key)
        self._key = key
        self._setup()

    def _setup(self) -> None:
        self.__dict__.pop("_plain", None)  # re-initialised: encode afresh
        self._sig = (type(self)._kind(), *(self._sig_values()))
        self._hash = hash(freeze(self._sig))

    @classmethod
    def _kind(cls) -> str:
        return cls.type_name

    def _sig_values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self._fields)

    @property
    def key(self) -> str:
        return self._key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyExists):
            return NotImplemented
        return self._sig == other._sig

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"<{type(self).__name__} (key={self.key})>"

    def __getstate__(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self._fields}

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).__init__(self, **{f: state[f] for f in self._fields})

    def check(self, data: EventData, *args: Any, **kwargs: Any) -> bool:
        return resolve_parts(data, self._parts) is not MISSING


class KeyNotExists(KeyExists):
    """The key path does not exist in the event."""

    type_name = "KeyNotExists"

    def check(self, data: EventData, *args: Any, **kwargs: Any) -> bool:
        return resolve_parts(data, self._parts) is MISSING


class KeyValueComparison(KeyExists):
    """The value at the key compares to ``value`` with ``op`` (one of ``operator``'s
    ``eq ne lt le gt ge``); values that cannot be compared do not match."""

    type_name = "KeyValueComparison"
    _fields: ClassVar[tuple[str, ...]] = ("key", "value", "op")

    def __init__(
        self,
        key: str,
        value: Any,
        op: Callable[[Any, Any], Any] | str = operator.eq,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        if isinstance(op, str):
            resolved = _OPERATORS.get(op) or _OPERATORS_BY_STR.get(op)
        else:
            resolved = op if op in _OPERATORS.values() else None
        if resolved is None:
            raise ValueError(
                f"`op` must be one of operator.{', operator.'.join(_OPERATORS)}; "
                f"got {op!r}"
            )
        self._op = resolved
        self._value = owned(value)
        super().__init__(key)

    @classmethod
    def _kind(cls) -> str:
        # EQ..GE and KeyValueComparison test the same thing; a subclass with its
        # own check does not.
        if cls.check is KeyValueComparison.check:
            return "KeyValueComparison"
        return cls.type_name

    def _sig_values(self) -> tuple[Any, ...]:
        return (self._key, self._op.__name__, self._value)

    @property
    def op(self) -> Callable[[Any, Any], Any]:
        return self._op

    @property
    def value(self) -> Any:
        return owned(self._value)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} (key={self.key} operator={self._op.__name__} "
            f"value={self.value})>"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {"key": self._key, "value": self._value, "op": self._op.__name__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        KeyValueComparison.__init__(self, state["key"], state["value"], state["op"])

    def check(self, data: EventData, *args: Any, **kwargs: Any) -> bool:
        found = resolve_parts(data, self._parts)
        if found is MISSING:
            return False
        try:
            return bool(self._op(found, self._value))
        except UNCOMPARABLE:
            return False


class KeyValueEQ(KeyValueComparison):
    """The value at the key equals ``value``."""

    type_name = "KeyValueEQ"

    def __init__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(key, value, operator.eq)


class KeyValueNE(KeyValueEQ):
    """The value at the key differs from ``value``."""

    type_name = "KeyValueNE"

    def __init__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> None:
        KeyValueComparison.__init__(self, key, value, operator.ne)


class KeyValueLT(KeyValueEQ):
    """The value at the key is less than ``value``."""

    type_name = "KeyValueLT"

    def __init__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> None:
        KeyValueComparison.__init__(self, key, value, operator.lt)


class KeyValueLE(KeyValueEQ):
    """The value at the key is less than or equal to ``value``."""

    type_name = "KeyValueLE"

    def __init__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> None:
        KeyValueComparison.__init__(self, key, value, operator.le)


class KeyValueGT(KeyValueEQ):
    """The value at the key is greater than ``value``."""

    type_name = "KeyValueGT"

    def __init__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> None:
        KeyValueComparison.__init__(self, key, value, operator.gt)


class KeyValueGE(KeyValueEQ):
    """The value at the key is greater than or equal to ``value``."""

    type_name = "KeyValueGE"

    def __init__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> None:
        KeyValueComparison.__init__(self, key, value, operator.ge)


class _ValueCondition(KeyExists):
    """A key condition with a ``value``; ``_test`` decides on the found value."""

    _fields: ClassVar[tuple[str, ...]] = ("key", "value")
    _negated: ClassVar[bool] = False

    def __init__(self, key: str, value: Any, *args: Any, **kwargs: Any) -> None:
        self._value = owned(self._validate_value(value))
        super().__init__(key)

    @classmethod
    def _validate_value(cls, value: Any) -> Any:
        return value

    @property
    def value(self) -> Any:
        return owned(self._value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} (key={self.key} value={self.value})>"

    def _test(self, found: Any) -> bool:  # pragma: no cover - always overridden
        raise AssertionError("subclasses define _test")

    def check(self, data: EventData, *args: Any, **kwargs: Any) -> bool:
        found = resolve_parts(data, self._parts)
        if found is MISSING:
            return False
        try:
            matched = self._test(found)
        except (*UNCOMPARABLE, AttributeError):
            matched = False
        return matched is not self._negated


def _require(value: Any, types: tuple[type, ...], what: str, cls: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, types):
        raise TypeError(
            f"{cls.__name__} `value` must be {what}, got {type(value).__name__}"
        )
    return value


class KeyValueContained(_ValueCondition):
    """The value at the key contains ``value``: a substring of a str (or an item of
    a list); ``case_sensitive=False`` compares strings case-folded."""

    type_name = "KeyValueContained"
    _fields: ClassVar[tuple[str, ...]] = ("key", "value", "case_sensitive")

    def __init__(
        self,
        key: str,
        value: str,
        case_sensitive: bool = True,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        self._case_sensitive = bool(case_sensitive)
        self._folded = value.lower() if isinstance(value, str) else value
        super().__init__(key, value)

    @classmethod
    def _validate_value(cls, value: Any) -> Any:
        return _require(value, (str,), "a str", cls)

    @property
    def case_sensitive(self) -> bool:
        return self._case_sensitive

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} (key={self.key} value={self.value} "
            f"case_sensitive={self._case_sensitive})>"
        )

    def _test(self, found: Any) -> bool:
        # Python's ``in``, as 2.1.5: a substring of a str, an item of a list.
        if self._case_sensitive:
            return self._value in found
        return bool(self._folded in found.lower())


class KeyValueNotContained(KeyValueContained):
    """The key exists and its string does not contain ``value``."""

    type_name = "KeyValueNotContained"
    _negated = True


class KeyValueInList(_ValueCondition):
    """The value at the key is one of ``value`` (a list or tuple)."""

    type_name = "KeyValueInList"

    @classmethod
    def _validate_value(cls, value: Any) -> Any:
        return _require(value, (list, tuple), "a list or tuple", cls)

    def _test(self, found: Any) -> bool:
        return found in self._value


class KeyValueNotInList(KeyValueInList):
    """The key exists and its value is not one of ``value``."""

    type_name = "KeyValueNotInList"
    _negated = True


class KeyValueListHasItem(_ValueCondition):
    """The list at the key contains the item ``value``."""

    type_name = "KeyValueListHasItem"

    @classmethod
    def _validate_value(cls, value: Any) -> Any:
        return _require(value, (int, float, str), "an int, float or str", cls)

    def _test(self, found: Any) -> bool:
        return self._value in found


class KeyValueListNotHasItem(KeyValueListHasItem):
    """The key exists and its list does not contain ``value``."""

    type_name = "KeyValueListNotHasItem"
    _negated = True


class KeyValueListIntersectList(_ValueCondition):
    """The list at the key shares at least one item with ``value``."""

    type_name = "KeyValueListIntersectList"

    @classmethod
    def _validate_value(cls, value: Any) -> Any:
        return _require(value, (list, tuple), "a list or tuple", cls)

    def _test(self, found: Any) -> bool:
        try:
            return not set(self._value).isdisjoint(found)
        except TypeError:  # unhashable items: compare one by one
            return any(item in self._value for item in found)


class KeyValueListNotIntersectList(KeyValueListIntersectList):
    """The key exists and its list shares no item with ``value``."""

    type_name = "KeyValueListNotIntersectList"
    _negated = True
