"""Numeric trackers: progress is a number compared with the stage target."""

from __future__ import annotations
