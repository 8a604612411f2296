"""Type aliases shared across the package (no runtime dependencies)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from dictrack.events import BaseEvent

#: A JSON-compatible value, as stored in caches and stores.
JSONValue: TypeAlias = (
    None | bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"]
)
#: A JSON object: the form of every stored definition and state.
JSONDict: TypeAlias = dict[str, Any]
#: An event dict fed to ``track``.
EventData: TypeAlias = Mapping[str, Any]
#: A group id (usually a player or user id).
GroupId: TypeAlias = str
#: A number usable as progress or target.
Number: TypeAlias = int | float
#: A listener callback.
Listener: TypeAlias = Callable[["BaseEvent"], object]
