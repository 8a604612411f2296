"""Argument checks for tracker constructors (messages name the argument)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from dictrack.typing import Number


def check_number(value: object, name: str) -> Number:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be an int or float, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite, got {value!r}")
    return value


def check_name(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"`{name}` must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError(f"`{name}` must not be empty")
    return value


def check_bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {type(value).__name__}")
    return value


def check_members(value: Any, kind: type[Any], name: str) -> tuple[Any, ...]:
    """Return the members of ``value`` as a tuple, without duplicates, in order."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(
            f"`{name}` must be a list, tuple or set of {kind.__name__}, "
            f"got {type(value).__name__}"
        )
    members: list[Any] = []
    for item in value:
        if not isinstance(item, kind):
            raise TypeError(
                f"every item of `{name}` must be a {kind.__name__}, "
                f"got {type(item).__name__}"
            )
        if item not in members:
            members.append(item)
    return tuple(members)


def check_targets(
    value: object, cumulative: bool, after: Number | None = None
) -> tuple[Number, ...]:
    """Validate stage targets: positive numbers, increasing when ``cumulative``.

    :param after: the last existing target, when targets are being appended.
    """
    if isinstance(value, (list, tuple)):
        targets = tuple(value)
    else:
        targets = (value,)
    if not targets:
        raise ValueError("`target` must hold at least one stage target")
    previous = after
    for item in targets:
        check_number(item, "target")
        if item <= 0:
            raise ValueError(f"every target must be positive, got {item!r}")
        if cumulative and previous is not None and item <= previous:
            raise ValueError(
                f"targets must increase ({previous!r} then {item!r}): progress is "
                "cumulative under this reset policy; use "
                "reset_policy=ResetPolicy.PROGRESS (or ALL) for stages that "
                "restart from zero"
            )
        previous = item
    return targets  # every item checked above
