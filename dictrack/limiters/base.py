"""The limiter ABC: a pure gatekeeper that can close a tracker."""

from __future__ import annotations

import copy
from abc import ABC
from typing import TYPE_CHECKING, Any, ClassVar

from dictrack._types import Registered
from dictrack.typing import EventData

if TYPE_CHECKING:
    from dictrack.trackers.base import BaseTracker

#: Limiter classes by stored type name (filled by ``__init_subclass__``).
LIMITER_TYPES: dict[str, type[BaseLimiter]] = {}


class BaseLimiter(Registered, ABC):  # hooks have defaults
    """Decides, around each tracked event, whether its tracker stays open.

    ``pre_track`` runs before the conditions are checked and ``post_track`` after
    progress was pushed; either returning False closes (limits) the tracker until
    it is reset with a policy that includes ``ResetPolicy.LIMITER``, which calls
    ``reset``. A limiter's attributes are stored (keep them JSON-compatible;
    timedeltas are fine): those named in ``_setting_fields`` with the
    tracker's definition, all others (counters, windows, ``limited``) with its
    state, so a custom limiter keeps its counters without declaring anything.
    Time arrives as the ``now_ts`` keyword (epoch seconds); limiters never read
    the clock.
    """

    _registry = LIMITER_TYPES
    #: Attributes that are settings (stored in the tracker's definition); all
    #: other attributes change as events are tracked (stored in its state).
    _setting_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.limited = False

    def pre_track(
        self, data: EventData, pre_tracker: BaseTracker, *args: Any, **kwargs: Any
    ) -> bool:
        """Return whether the tracker may take this event (True by default)."""
        return True

    def post_track(
        self, data: EventData, post_tracker: BaseTracker, *args: Any, **kwargs: Any
    ) -> bool:
        """Return whether the tracker stays open after this event (True by default)."""
        return True

    def reset(self, *args: Any, **kwargs: Any) -> bool:
        """Re-open the limiter; return whether it is open afterwards."""
        self.limited = False
        return True

    def _copy(self) -> BaseLimiter:
        """An independent copy (trackers are copied on write)."""
        return copy.deepcopy(self)
