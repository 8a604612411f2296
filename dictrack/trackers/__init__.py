"""Trackers: definitions plus pure state transitions."""

from __future__ import annotations

from dictrack.trackers.base import BaseTracker, ResetPolicy

__all__ = ["BaseTracker", "ResetPolicy"]
