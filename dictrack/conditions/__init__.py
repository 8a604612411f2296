"""Pure predicates over event dicts (see :mod:`dictrack.conditions.keys`)."""

from __future__ import annotations

from dictrack.conditions.base import BaseCondition

__all__ = ["BaseCondition"]
