"""dictrack: gamified progress tracking for Python services.

Feed event dicts to a :class:`~dictrack.manager.TrackingManager`; it advances the
trackers of a group (quests, achievements, missions), enforces limiters and tells
listeners when a stage or a whole tracker completes.
"""

from __future__ import annotations

__version__ = "3.0.0.dev0"

__all__ = ["__version__"]
