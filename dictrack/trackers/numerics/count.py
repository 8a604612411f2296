"""CountTracker: one step of progress per matching event."""

from __future__ import annotations

from typing import Any

from dictrack.trackers.numerics.numeric import NumericTracker
from dictrack.typing import EventData


class CountTracker(NumericTracker):
    """Count matching events (``progress += 1`` each)."""

    type_name = "CountTracker"

    def _push_progress(self, data: EventData, *args: Any, **kwargs: Any) -> None:
        self._progress += 1
