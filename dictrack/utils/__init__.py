"""Kept for 2.1.5 import paths; see :mod:`dictrack.utils.errors`."""

from __future__ import annotations
