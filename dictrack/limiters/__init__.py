"""Pure gatekeepers: :class:`~dictrack.limiters.count.CountLimiter` and
:class:`~dictrack.limiters.time.TimeLimiter`."""

from __future__ import annotations

from dictrack.limiters.base import BaseLimiter

__all__ = ["BaseLimiter"]
