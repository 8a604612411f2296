"""The matching plan of a group: what stays the same while states change.

- conditions used by several trackers are checked once per event;
- trackers with a ``KeyValueEQ``-style condition are indexed by its key and
  value, so an event only visits the trackers whose value it carries;
  trackers with limiters are always visited (a limiter may act on any event).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from typing import Any

from dictrack.conditions.base import BaseCondition
from dictrack.conditions.keys import KeyValueComparison
from dictrack.conditions.paths import MISSING, resolve_parts
from dictrack.records import TrackerRecord
from dictrack.trackers.base import BaseTracker
from dictrack.typing import EventData

#: (key path parts, {value: positions}) for one indexed key.
Index = tuple[tuple[str, ...], dict[Any, tuple[int, ...]]]

#: Small index tuples recur across groups with the same trackers: share them.
_TUPLES: dict[tuple[int, ...], tuple[int, ...]] = {}


def _shared(value: tuple[int, ...]) -> tuple[int, ...]:
    if len(_TUPLES) > 65_536:
        _TUPLES.clear()
    return _TUPLES.setdefault(value, value)


def _equal(found: Any, key: Any) -> bool:
    """``found == key`` as KeyValueEQ decides it (an error means no)."""
    try:
        return bool(found == key)
    except (TypeError, ValueError, ArithmeticError):
        return False


def _index_key(condition: BaseCondition) -> tuple[tuple[str, ...], Any] | None:
    """The (path, value) a tracker may be indexed by, if ``condition`` allows."""
    if not isinstance(condition, KeyValueComparison):
        return None
    if type(condition).check is not KeyValueComparison.check:
        return None  # a subclass with its own check: no shortcut
    if condition.op.__name__ != "eq":
        return None
    value = condition.value
    try:
        hash(value)
    except TypeError:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return condition._parts, value


#: Plans by the ids of their records' definitions, while a view holds them: a
#: view keeps a plan only with records of those very definitions, so the ids
#: stay theirs until the plan is gone (and its entry with it).
_PLANS: weakref.WeakValueDictionary[tuple[int, ...], Plan] = (
    weakref.WeakValueDictionary()
)


def shared_plan(trackers: list[BaseTracker], records: Sequence[TrackerRecord]) -> Plan:
    """The plan of ``trackers`` (as ``records`` define them), one for every
    group whose records hold the same definition objects.

    Groups given the same trackers (a quest catalogue) hold the same shared
    definitions (``codec.share_definition``), so they share one plan: less
    memory, and a plan that stays in the CPU's caches while a batch visits
    many groups.
    """
    key = tuple(id(record.definition) for record in records)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = Plan(trackers)
    return plan


class Plan:
    """What does not change while only tracker states change."""

    __slots__ = (
        "__weakref__",
        "cond_idx",
        "conds",
        "has_limiters",
        "indexes",
        "names",
        "positions",
        "residual",
        "scan",
        "single",
    )

    def __init__(self, trackers: list[BaseTracker]) -> None:
        index: dict[BaseCondition, int] = {}
        self.cond_idx = tuple(
            _shared(tuple(index.setdefault(c, len(index)) for c in t._conditions))
            for t in trackers
        )
        self.conds = tuple(index)
        self.names = tuple(t._name for t in trackers)
        self.positions = {name: pos for pos, name in enumerate(self.names)}
        self.has_limiters = any(t._limiters for t in trackers)
        self.scan, self.indexes, indexed_by = self._index(trackers)
        #: The usual plan: one index and nothing to scan, so the positions
        #: the index finds are the candidates, as they are.
        self.single = (
            self.indexes[0] if len(self.indexes) == 1 and not self.scan else None
        )
        # What is left to check once the index lookup proved one condition.
        residual = list(self.cond_idx)
        for pos, condition in indexed_by.items():
            skip = index[condition]
            residual[pos] = _shared(tuple(i for i in self.cond_idx[pos] if i != skip))
        self.residual = tuple(residual)

    @staticmethod
    def _index(
        trackers: list[BaseTracker],
    ) -> tuple[tuple[int, ...], tuple[Index, ...], dict[int, BaseCondition]]:
        keys = [
            [(k, c) for c in t._conditions if (k := _index_key(c)) is not None]
            if not t._limiters
            else []
            for t in trackers
        ]
        # The most selective path: the one with the most distinct values.
        spread: dict[tuple[str, ...], set[Any]] = {}
        for options in keys:
            for (parts, value), _ in options:
                spread.setdefault(parts, set()).add(value)
        scan: list[int] = []
        by_path: dict[tuple[str, ...], dict[Any, list[int]]] = {}
        indexed_by: dict[int, BaseCondition] = {}
        for pos, options in enumerate(keys):
            if not options:
                scan.append(pos)
                continue
            (parts, value), condition = max(
                options, key=lambda option: len(spread[option[0][0]])
            )
            by_path.setdefault(parts, {}).setdefault(value, []).append(pos)
            indexed_by[pos] = condition
        indexes = tuple(
            (parts, {v: tuple(p) for v, p in values.items()})
            for parts, values in by_path.items()
        )
        return tuple(scan), indexes, indexed_by

    def candidates(self, data: EventData) -> list[int] | tuple[int, ...]:
        """Positions of the trackers ``data`` may advance, in insertion order."""
        single = self.single
        if single is not None:
            value = resolve_parts(data, single[0])
            if value is MISSING:
                return ()
            try:
                indexed: tuple[int, ...] | None = single[1].get(value, ())
            except TypeError:  # unhashable: compared one by one below
                indexed = None
            if indexed is not None:
                return indexed
        if not self.indexes:
            return self.scan
        found = list(self.scan)
        mixed = len(self.indexes) > 1 or bool(self.scan)
        for parts, values in self.indexes:
            value = resolve_parts(data, parts)
            if value is MISSING:
                continue
            hit: Sequence[int] | None
            try:
                hit = values.get(value)
            except TypeError:  # unhashable, e.g. a set equal to a frozenset key
                hit = [
                    p for key, ps in values.items() if _equal(value, key) for p in ps
                ]
                mixed = True
            if hit:
                found.extend(hit)
        if mixed:
            found.sort()
        return found
