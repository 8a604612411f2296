"""Values held by conditions: private copies, hashing, failed comparisons."""

from __future__ import annotations

import copy
from typing import Any

#: What comparing a value of an unexpected type may raise (Decimal NaN raises
#: InvalidOperation, an ArithmeticError): the condition is then not met.
UNCOMPARABLE = (TypeError, ValueError, ArithmeticError)


def owned(value: Any) -> Any:
    """A private copy of a mutable value (a caller's later change must not leak in)."""
    if isinstance(value, (list, dict, set)):
        return copy.deepcopy(value)
    return value


def freeze(value: Any) -> Any:
    """A hashable stand-in for ``value`` (lists become tuples, dicts item sets)."""
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return frozenset((k, freeze(v)) for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return frozenset(freeze(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value
