"""The condition ABC: a pure predicate over an event dict."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from dictrack._types import Registered
from dictrack.typing import EventData

#: Condition classes by stored type name (filled by ``__init_subclass__``).
CONDITION_TYPES: dict[str, type[BaseCondition]] = {}


class BaseCondition(Registered, ABC):
    """A predicate over an event dict; conditions of a tracker are ANDed.

    Subclasses implement :meth:`check`, equality and hashing, and
    ``__getstate__`` / ``__setstate__`` returning and taking a dict of
    JSON-compatible values (plus tuples, sets and timedeltas, which the codec
    tags): that dict is what the stores keep. Every subclass is registered under
    ``type_name`` (default ``"<module>:<qualname>"``) so stored conditions are
    rebuilt by looking the name up, never by importing or unpickling anything.
    """

    DEFAULT = "_THIS_IS_DEFAULT_VALUE"
    _registry = CONDITION_TYPES

    @abstractmethod
    def check(self, data: EventData, *args: Any, **kwargs: Any) -> bool:
        """Return whether ``data`` satisfies this condition (never raises on data)."""

    @abstractmethod
    def __eq__(self, other: object) -> bool: ...

    @abstractmethod
    def __hash__(self) -> int: ...

    @abstractmethod
    def __repr__(self) -> str: ...

    @abstractmethod
    def __getstate__(self) -> dict[str, Any]: ...

    @abstractmethod
    def __setstate__(self, state: dict[str, Any]) -> None: ...
