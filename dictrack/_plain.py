"""Values of conditions and limiters as JSON-compatible data, and back.

Tuples, sets, timedeltas, decimals and dates have no JSON form: they are
tagged (``{"$tuple": [...]}``) so they come back as they went in. Public
through :mod:`dictrack.codec` (``codec.to_plain``, ``codec.from_plain``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any


def _canonical(items: list[Any]) -> list[Any]:
    """Sort encoded set members so equal sets always encode the same way."""
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


_SCALAR_BASES = (bool, int, float, str)
SCALARS = frozenset(_SCALAR_BASES)


def to_plain(value: Any) -> Any:
    """Return ``value`` as JSON-compatible data, tagging tuples, sets and timedeltas.

    :raises TypeError: for a value that has no plain form.
    """
    if type(value) in SCALARS or value is None or isinstance(value, _SCALAR_BASES):
        return value
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, tuple):
        return {"$tuple": [to_plain(item) for item in value]}
    if isinstance(value, frozenset):
        return {"$frozenset": _canonical([to_plain(item) for item in value])}
    if isinstance(value, set):
        return {"$set": _canonical([to_plain(item) for item in value])}
    if isinstance(value, timedelta):
        return {"$timedelta": value.total_seconds()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):  # before date: a datetime is a date
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if type(value) is dict or isinstance(value, Mapping):
        if all(type(k) is str and not k.startswith("$") for k in value):
            return {k: to_plain(v) for k, v in value.items()}
        return {"$dict": [[to_plain(k), to_plain(v)] for k, v in value.items()]}
    raise TypeError(
        f"a value of type {type(value).__name__} cannot be stored; conditions and "
        "limiters may hold JSON values, tuples, sets, timedeltas, decimals, dates "
        "and datetimes"
    )


def from_plain(value: Any) -> Any:
    """Invert :func:`to_plain`."""
    if isinstance(value, list):
        return [from_plain(item) for item in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((tag, inner),) = value.items()
            if tag == "$tuple":
                return tuple(from_plain(item) for item in inner)
            if tag == "$set":
                return {from_plain(item) for item in inner}
            if tag == "$frozenset":
                return frozenset(from_plain(item) for item in inner)
            if tag == "$timedelta":
                return timedelta(seconds=inner)
            if tag == "$decimal":
                return Decimal(inner)
            if tag == "$datetime":
                return datetime.fromisoformat(inner)
            if tag == "$date":
                return date.fromisoformat(inner)
            if tag == "$dict":
                return {from_plain(k): from_plain(v) for k, v in inner}
        return {k: from_plain(v) for k, v in value.items()}
    return value
