"""How MongoDBDataStore keeps plain data in BSON documents.

Field names MongoDB reserves are escaped (``%`` as ``%25``, ``$`` as ``%24``,
``.`` as ``%2E``; a name without them is stored as is, so documents stay
readable) and integers beyond 64 bits are kept as ``{"%int": "<digits>"}``,
a key no escaped name can produce.
"""

from __future__ import annotations

from typing import Any

__all__ = ["from_bson", "to_bson"]

_INT64 = 2**63
_BIG = "%int"


def _escape_key(key: str) -> str:
    if "%" in key or "$" in key or "." in key:
        return key.replace("%", "%25").replace("$", "%24").replace(".", "%2E")
    return key


def _unescape_key(key: str) -> str:
    if "%" in key:
        return key.replace("%2E", ".").replace("%24", "$").replace("%25", "%")
    return key


def to_bson(value: Any) -> Any:
    """A JSON-like value with keys and integers MongoDB can hold."""
    if isinstance(value, dict):
        return {_escape_key(k): to_bson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_bson(v) for v in value]
    if type(value) is int and not -_INT64 <= value < _INT64:
        return {_BIG: str(value)}
    return value


def from_bson(value: Any) -> Any:
    """The inverse of :func:`to_bson`."""
    if isinstance(value, dict):
        if len(value) == 1 and _BIG in value:
            return int(value[_BIG])
        return {_unescape_key(k): from_bson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_bson(v) for v in value]
    return value
