"""Dotted key paths into nested dicts and lists.

``"order.items.0.sku"`` walks ``data["order"]["items"][0]["sku"]``. A part that
meets a list or tuple is an integer index (negative counts from the end); ``\\.``
escapes a literal dot inside a key. A path that cannot be walked resolves to
:data:`MISSING`, never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


#: Returned by :func:`resolve` when the path does not exist in the data.
MISSING: Final[Any] = _Missing()

_ESCAPED_DOT = "\\."


@lru_cache(maxsize=4096)
def split_path(path: str) -> tuple[str, ...]:
    """Split a dotted path into its parts, honouring ``\\.`` escapes.

    :raises TypeError: if ``path`` is not a string.
    :raises ValueError: if ``path`` is empty.
    """
    if not isinstance(path, str):
        raise TypeError(f"key path must be a str, got {type(path).__name__}")
    if not path:
        raise ValueError("key path must not be empty")
    if _ESCAPED_DOT not in path:
        return tuple(path.split("."))
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(path):
        if path.startswith(_ESCAPED_DOT, i):
            current.append(".")
            i += 2
            continue
        if path[i] == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(path[i])
        i += 1
    parts.append("".join(current))
    return tuple(parts)


def resolve_parts(data: Any, parts: tuple[str, ...]) -> Any:
    """Return the value at ``parts`` inside ``data``, or :data:`MISSING`."""
    current = data
    for part in parts:
        if type(current) is dict:
            current = current.get(part, MISSING)
            if current is MISSING:
                return MISSING
        elif isinstance(current, Mapping):
            # ``in`` first: indexing would run __missing__ (defaultdict, Counter)
            try:
                if part not in current:
                    return MISSING
                current = current[part]
            except (KeyError, TypeError):
                return MISSING
        elif isinstance(current, (list, tuple)):
            try:
                current = current[int(part)]
            except (ValueError, IndexError):
                return MISSING
        else:
            return MISSING
    return current


def resolve(data: Any, path: str) -> Any:
    """Return the value at the dotted ``path`` inside ``data``, or :data:`MISSING`."""
    return resolve_parts(data, split_path(path))
