"""NumericTracker: completes a stage when ``progress >= target``."""

from __future__ import annotations

from dictrack.trackers.base import BaseTracker


class NumericTracker(BaseTracker):
    """A tracker whose progress is a number; a stage completes at its target."""

    def _check_progress(self) -> bool:
        if self._progress < self.target:
            return False
        self._complete()
        return True
