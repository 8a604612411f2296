"""The in-process view of one group: decoded trackers plus a matching plan.

A view is immutable once built: a change makes a new view (copy on write), so
threads may evaluate a view while another installs its successor. The plan is
built from the definitions only, so views that differ only in tracker state
share it, and so do groups holding the same (shared) definitions:

- conditions used by several trackers are checked once per event;
- trackers with a ``KeyValueEQ``-style condition are indexed by its key and
  value, so an event only visits the trackers whose value it carries (a group
  of 100 daily quests keyed on ``"quest"`` costs one dict lookup, not 100
  condition checks); trackers with limiters are always visited, because a
  limiter may act on any event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dictrack import codec
from dictrack._plan import Plan, shared_plan
from dictrack.data_caches.base import GroupSnapshot
from dictrack.events import BaseEvent
from dictrack.records import TrackerRecord
from dictrack.trackers._state import always
from dictrack.trackers.base import BaseTracker
from dictrack.typing import EventData

#: What one event did to a view: new trackers by name, and the events caused
#: (a list, or an empty tuple when there are none). A pair, not an object: it
#: is unpacked at once, so nothing of it outlives the evaluation.
Evaluation = tuple[dict[str, BaseTracker], Sequence[BaseEvent]]

#: The evaluation of an event no tracker can take (shared: never mutated).
_NOTHING: Evaluation = ({}, ())
#: A TrackerRecord from a full tuple, without its Python-level ``__new__``.
_record = tuple.__new__


class GroupView:
    """Decoded trackers of one group at one cache version."""

    __slots__ = (
        "_expiring",
        "_limited",
        "_plan",
        "_records",
        "_trackers",
        "group_id",
        "version",
    )

    def __init__(
        self,
        group_id: str,
        version: int,
        plan: Plan,
        trackers: list[BaseTracker],
        records: list[TrackerRecord],
        limited: tuple[int, ...] | None = None,
        expiring: bool | None = None,
    ) -> None:
        self.group_id = group_id
        self.version = version
        self._plan = plan
        self._trackers = trackers
        self._records = records
        if limited is None:
            limited = tuple(p for p, t in enumerate(trackers) if t._limited)
        self._limited = limited
        if expiring is None:
            expiring = any(t._expire_at is not None for t in trackers)
        self._expiring = expiring

    @classmethod
    def build(cls, group_id: str, snapshot: GroupSnapshot) -> GroupView:
        """Decode a cached group (raises DeserializationError naming a bad tracker)."""
        records = list(snapshot.records.values())
        trackers = [codec.decode(record, group_id) for record in records]
        plan = shared_plan(trackers, records)
        return cls(group_id, snapshot.version, plan, trackers, records)

    def rebased(self, snapshot: GroupSnapshot) -> GroupView:
        """This group at a newer version, reusing what did not change.

        When the snapshot has the same trackers with the same definitions (the
        usual case after losing a compare-and-set), the plan is kept and only
        trackers whose state changed are decoded again; else it is rebuilt.
        """
        records = list(snapshot.records.values())
        if [r.name for r in records] != list(self._plan.names) or any(
            new.definition is not old.definition or new.expire_at != old.expire_at
            for new, old in zip(records, self._records, strict=True)
        ):
            return GroupView.build(self.group_id, snapshot)
        trackers = [
            tracker if new.state == old.state else codec.with_state(tracker, new)
            for tracker, new, old in zip(
                self._trackers, records, self._records, strict=True
            )
        ]
        return GroupView(
            self.group_id, snapshot.version, self._plan, trackers, records, None,
            self._expiring,
        )  # fmt: skip

    def names(self) -> list[str]:
        return list(self._plan.names)

    def live(self, now: float) -> list[BaseTracker]:
        """Trackers not expired at ``now``, in insertion order."""
        if not self._expiring:
            return list(self._trackers)
        return [t for t in self._trackers if t._expire_at is None or now < t._expire_at]

    @property
    def has_limited(self) -> bool:
        return bool(self._limited)

    def limited(self, now: float) -> list[BaseTracker]:
        """Limited trackers not expired at ``now``, in insertion order."""
        found = [self._trackers[p] for p in self._limited]
        if not self._expiring:
            return found
        return [t for t in found if t._expire_at is None or now < t._expire_at]

    def get(self, name: str, now: float) -> BaseTracker | None:
        pos = self._plan.positions.get(name)
        if pos is None:
            return None
        tracker = self._trackers[pos]
        expire_at = tracker._expire_at
        return tracker if expire_at is None or now < expire_at else None

    def record(self, name: str) -> TrackerRecord:
        return self._records[self._plan.positions[name]]

    def evaluate(
        self, data: EventData, now: float, kwargs: dict[str, Any]
    ) -> Evaluation:
        """Run one event through the trackers it may advance, on copies."""
        plan = self._plan
        candidates = plan.candidates(data)
        if not candidates:
            return _NOTHING
        changed: dict[str, BaseTracker] = {}
        events: Sequence[BaseEvent] = ()
        conds = plan.conds
        results: list[bool | None] = [None] * len(conds)
        trackers = self._trackers
        for pos in candidates:
            tracker = trackers[pos]
            if (tracker._limited or tracker._completed) and not tracker._due(now):
                continue  # closed for this period (a new one may reopen it)
            if tracker._expire_at is not None and now >= tracker._expire_at:
                continue
            if tracker._limiters:
                caused = self._advance_limited(
                    tracker, plan.cond_idx[pos], data, now, kwargs, results, changed
                )
                if caused:
                    events = [*events, *caused] if events else caused
                continue
            # Fast path: nothing can change unless the conditions hold.
            for i in plan.residual[pos]:
                hit = results[i]
                if hit is None:
                    hit = results[i] = conds[i].check(data)
                if not hit:
                    break
            else:
                copy = tracker._clone()
                copy._dirtied = False
                caused = copy._advance(data, now, kwargs, always)
                changed[tracker._name] = copy
                if caused:  # the first list is kept as it is: the copy's own
                    events = [*events, *caused] if events else caused
        return changed, events

    def _advance_limited(
        self,
        tracker: BaseTracker,
        idx: tuple[int, ...],
        data: EventData,
        now: float,
        kwargs: dict[str, Any],
        results: list[bool | None],
        changed: dict[str, BaseTracker],
    ) -> list[BaseEvent]:
        """A tracker with limiters: they may act whether or not conditions
        hold. Its copy goes into ``changed`` if it changed; the events it
        caused are returned (none if it did not change)."""
        conds = self._plan.conds

        def met() -> bool:
            for i in idx:
                hit = results[i]
                if hit is None:
                    hit = results[i] = conds[i].check(data)
                if not hit:
                    return False
            return True

        copy = tracker._clone()
        copy._dirtied = False
        events = copy._advance(data, now, kwargs, met)
        if copy._dirtied or any(
            vars(a) != vars(b)
            for a, b in zip(tracker._limiters, copy._limiters, strict=True)
        ):
            changed[tracker._name] = copy
            return events
        return []

    def advanced(
        self, changed: Mapping[str, BaseTracker], version: int
    ) -> tuple[dict[str, TrackerRecord | None], GroupView]:
        """The writes for trackers an event changed (copies of this view's),
        and the view after them at ``version``.

        An event changes states only: definitions, expiry and so the plan stay,
        unless a tracker completed for good and is removed.
        """
        positions = self._plan.positions
        trackers = list(self._trackers)
        records = list(self._records)
        writes: dict[str, TrackerRecord | None] = {}
        limited_moved = removed = False
        for name, tracker in changed.items():
            if tracker._completed and tracker._schedule is None:
                writes[name] = None  # done for good: removed
                removed = True
                continue
            pos = positions[name]
            old = records[pos]
            writes[name] = records[pos] = _record(
                TrackerRecord,
                (name, old.definition, codec.encode_state(tracker), version,
                 old.expire_at),
            )  # fmt: skip
            if tracker._limited != trackers[pos]._limited:
                limited_moved = True
            trackers[pos] = tracker
        if removed:  # a new plan
            pairs = {
                name: None if record is None else (changed[name], record)
                for name, record in writes.items()
            }
            return writes, self.with_changes(version, pairs)
        return writes, GroupView(
            self.group_id, version, self._plan, trackers, records,
            None if limited_moved else self._limited, self._expiring,
        )  # fmt: skip

    def with_changes(
        self,
        version: int,
        changed: Mapping[str, tuple[BaseTracker, TrackerRecord] | None],
    ) -> GroupView:
        """Return the view after ``changed`` (None removes) at ``version``."""
        positions = self._plan.positions
        trackers = list(self._trackers)
        records = list(self._records)
        same_plan = True
        limited = set(self._limited)
        for name, pair in changed.items():
            pos = positions.get(name)
            if (
                pair is None
                or pos is None
                or pair[1].definition is not records[pos].definition
                or pair[0]._expire_at != trackers[pos]._expire_at
            ):
                same_plan = False
                break
            trackers[pos], records[pos] = pair
            if pair[0]._limited:
                limited.add(pos)
            else:
                limited.discard(pos)
        if same_plan:
            if len(limited) == len(self._limited) and limited.issuperset(self._limited):
                limited_positions = self._limited
            else:
                limited_positions = tuple(sorted(limited))
            return GroupView(
                self.group_id,
                version,
                self._plan,
                trackers,
                records,
                limited_positions,
                self._expiring,
            )
        kept: list[tuple[BaseTracker, TrackerRecord]] = []
        for pair in zip(self._trackers, self._records, strict=True):
            name = pair[0]._name
            if name not in changed:
                kept.append(pair)
            elif (new := changed[name]) is not None:  # keeps its place
                kept.append(new)
        kept.extend(
            pair
            for name, pair in changed.items()
            if pair is not None and name not in positions
        )
        new_trackers = [t for t, _ in kept]
        new_records = [r for _, r in kept]
        return GroupView(
            self.group_id,
            version,
            shared_plan(new_trackers, new_records),
            new_trackers,
            new_records,
        )
