"""CountLimiter: a tracker may advance at most ``count`` times between resets."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from dictrack.limiters.base import BaseLimiter
from dictrack.typing import EventData

if TYPE_CHECKING:
    from dictrack.trackers.base import BaseTracker


def _check_count(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be an int, got {type(value).__name__}")
    if value < minimum:
        bound = "a positive integer" if minimum else "zero or a positive integer"
        raise ValueError(f"`{name}` must be {bound}, got {value}")
    return value


class CountLimiter(BaseLimiter):
    """Close the tracker after ``count`` events that advanced it.

    Only events that met the tracker's conditions are counted (``remaining``
    goes down by one for each); the event that brings ``remaining`` to zero
    still counts and then closes the tracker, unless it completed the tracker.

    :param count: events allowed between resets, a positive int.
    :raises TypeError: if ``count`` is not an int.
    :raises ValueError: if ``count`` is not positive.
    """

    type_name = "CountLimiter"
    _setting_fields = ("count",)

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = self.remaining = _check_count(count, "count", 1)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CountLimiter):
            return NotImplemented
        return self.count == other.count

    def __hash__(self) -> int:
        return hash(self.count)

    def __repr__(self) -> str:
        return f"<CountLimiter (count={self.count} remaining={self.remaining})>"

    def post_track(
        self, data: EventData, post_tracker: BaseTracker, *args: Any, **kwargs: Any
    ) -> bool:
        if not post_tracker.matched:
            return not self.limited
        self.remaining -= 1
        self.limited = self.remaining <= 0 and not post_tracker.completed
        return not self.limited

    def reset(self, *args: Any, reset_count: int | None = None, **kwargs: Any) -> bool:
        """Refill the limiter, to ``reset_count`` if given (0 keeps it closed)."""
        count = self.count if reset_count is None else reset_count
        self.count = self.remaining = _check_count(count, "reset_count", 0)
        self.limited = count == 0
        return not self.limited

    def _copy(self) -> CountLimiter:
        return copy.copy(self)
