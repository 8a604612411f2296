"""The in-process view of one group: decoded trackers plus a matching plan.

A view is immutable once built: a change makes a new view (copy on write), so
threads may evaluate the same view while another installs its successor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dictrack import codec
from dictrack.conditions.base import BaseCondition
from dictrack.data_caches.base import GroupSnapshot
from dictrack.events import BaseEvent
from dictrack.records import TrackerRecord
from dictrack.trackers.base import BaseTracker
from dictrack.typing import EventData


def _always() -> bool:
    return True


class _Entry:
    """One tracker of the view and the indexes of its conditions."""

    __slots__ = ("cond_idx", "record", "tracker")

    def __init__(
        self, tracker: BaseTracker, record: TrackerRecord, cond_idx: tuple[int, ...]
    ) -> None:
        self.tracker = tracker
        self.record = record
        self.cond_idx = cond_idx


class Evaluation:
    """What one event did to a view: new trackers by name, and events."""

    __slots__ = ("changed", "events")

    def __init__(self) -> None:
        self.changed: dict[str, BaseTracker] = {}
        self.events: list[BaseEvent] = []


class GroupView:
    """Decoded trackers of one group at one cache version."""

    __slots__ = ("_conds", "_entries", "group_id", "version")

    def __init__(
        self,
        group_id: str,
        version: int,
        entries: dict[str, _Entry],
        conds: tuple[BaseCondition, ...],
    ) -> None:
        self.group_id = group_id
        self.version = version
        self._entries = entries
        self._conds = conds

    @classmethod
    def build(cls, group_id: str, snapshot: GroupSnapshot) -> GroupView:
        """Decode a cached group (raises DeserializationError naming a bad tracker)."""
        pairs = [
            (codec.decode(record, group_id), record)
            for record in snapshot.records.values()
        ]
        return cls._assemble(group_id, snapshot.version, pairs)

    @classmethod
    def _assemble(
        cls,
        group_id: str,
        version: int,
        pairs: list[tuple[BaseTracker, TrackerRecord]],
    ) -> GroupView:
        # Conditions shared by several trackers are checked once per event.
        index: dict[BaseCondition, int] = {}
        entries: dict[str, _Entry] = {}
        for tracker, record in pairs:
            idx = tuple(index.setdefault(c, len(index)) for c in tracker._conditions)
            entries[tracker._name] = _Entry(tracker, record, idx)
        return cls(group_id, version, entries, tuple(index))

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def live(self, now: float) -> list[BaseTracker]:
        """Trackers not expired at ``now``, in insertion order."""
        return [
            e.tracker
            for e in self._entries.values()
            if e.tracker._expire_at is None or now < e.tracker._expire_at
        ]

    def get(self, name: str, now: float) -> BaseTracker | None:
        entry = self._entries.get(name)
        if entry is None:
            return None
        expire_at = entry.tracker._expire_at
        return entry.tracker if expire_at is None or now < expire_at else None

    def record(self, name: str) -> TrackerRecord:
        return self._entries[name].record

    def evaluate(
        self, data: EventData, now: float, kwargs: dict[str, Any]
    ) -> Evaluation:
        """Run one event through every open tracker, on copies."""
        out = Evaluation()
        conds = self._conds
        results: list[bool | None] = [None] * len(conds)

        def matcher(idx: tuple[int, ...]) -> Callable[[], bool]:
            def met() -> bool:
                for i in idx:
                    hit = results[i]
                    if hit is None:
                        hit = results[i] = conds[i].check(data)
                    if not hit:
                        return False
                return True

            return met

        for name, entry in self._entries.items():
            tracker = entry.tracker
            if tracker._limited or (
                tracker._expire_at is not None and now >= tracker._expire_at
            ):
                continue
            if not tracker._limiters:
                # Fast path: nothing can change unless the conditions hold.
                for i in entry.cond_idx:
                    hit = results[i]
                    if hit is None:
                        hit = results[i] = conds[i].check(data)
                    if not hit:
                        break
                else:
                    copy = tracker._clone()
                    copy._dirtied = False
                    out.events += copy._advance(data, now, kwargs, _always)
                    out.changed[name] = copy
                continue
            copy = tracker._clone()
            copy._dirtied = False
            events = copy._advance(data, now, kwargs, matcher(entry.cond_idx))
            if copy._dirtied or any(
                vars(a) != vars(b)
                for a, b in zip(tracker._limiters, copy._limiters, strict=True)
            ):
                out.events += events
                out.changed[name] = copy
        return out

    def with_changes(
        self,
        version: int,
        changed: Mapping[str, tuple[BaseTracker, TrackerRecord] | None],
    ) -> GroupView:
        """Return the view after ``changed`` (None removes) at ``version``."""
        pairs: list[tuple[BaseTracker, TrackerRecord]] = []
        for name, entry in self._entries.items():
            if name not in changed:
                pairs.append((entry.tracker, entry.record))
            elif changed[name] is not None:
                pairs.append(changed[name])  # type: ignore[arg-type]  # not None
        pairs.extend(
            pair
            for name, pair in changed.items()
            if pair is not None and name not in self._entries
        )
        same_defs = all(
            name in self._entries
            and pair is not None
            and pair[1].definition is self._entries[name].record.definition
            for name, pair in changed.items()
        )
        if same_defs:
            entries = {
                name: _Entry(t, r, self._entries[name].cond_idx)
                for t, r in pairs
                for name in (t._name,)
            }
            return GroupView(self.group_id, version, entries, self._conds)
        return self._assemble(self.group_id, version, pairs)
