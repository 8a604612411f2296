"""The engine behind TrackingManager: group views, compare-and-set writes, retries.

Every change follows one path: take the group's view (decoded trackers at a
cache version), compute new trackers on copies, write them to the cache with one
compare-and-set, then deliver the events. On a version conflict the view is
reloaded and the change recomputed, so concurrent writers never lose an update
and listeners never hear of a change that did not happen.

Within one process, changes to a group are serialised by a striped lock, so
threads sharing a manager never conflict (and never starve one another in
retries); the compare-and-set guards against other managers and processes.
Listeners are called after the lock is released, so they may call back in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from dictrack import _batch, codec
from dictrack._clock import back_off
from dictrack._group import GroupView
from dictrack._persist import WriteBehind
from dictrack.data_caches.base import (
    ApplyStatus,
    BaseDataCache,
    GroupSnapshot,
)
from dictrack.data_stores.base import BaseDataStore
from dictrack.errors import BackendError, ConflictError, DictrackError, StoreLoadError
from dictrack.events import BaseEvent, ListenerRegistry
from dictrack.records import TrackerRecord
from dictrack.results import TrackResult
from dictrack.trackers.base import BaseTracker
from dictrack.typing import EventData, JSONDict

logger = logging.getLogger(__name__)

#: name -> new tracker (None removes); what an admin change computes.
Changes = dict[str, BaseTracker | None]
Compute = Callable[[GroupView], tuple[Changes, list[BaseEvent]]]
Pairs = dict[str, tuple[BaseTracker, TrackerRecord] | None]
Outcome = tuple[TrackResult, Sequence[BaseEvent]]


class Planned(NamedTuple):
    """An event evaluated on a view: what to write, and the view after it."""

    before: GroupView
    changed: dict[str, BaseTracker]  # new trackers by name (see GroupView.evaluate)
    events: Sequence[BaseEvent]  # the events they caused
    writes: dict[str, TrackerRecord | None]
    after: GroupView


Written = tuple[GroupView, Changes, list[BaseEvent], dict[str, TrackerRecord | None]]

_ALWAYS = float("-inf")  # a "now" at which no tracker has expired
#: A named tuple from a full tuple, without its Python-level ``__new__`` (hot:
#: ``Planned`` and ``TrackResult`` per event).
_tuple = tuple.__new__
_STRIPES = 64  # locks shared by hash of group id: bounded memory, rare collisions


class Engine:
    """Views of groups over one cache and store, and the write paths."""

    def __init__(
        self,
        cache: BaseDataCache,
        store: BaseDataStore,
        listeners: ListenerRegistry,
        max_retries: int,
        owner: object,
    ) -> None:
        self.cache = cache
        self.store = store
        self.listeners = listeners
        self.max_retries = max_retries
        self.views: dict[str, GroupView] = {}
        #: Views kept in process (decoded groups); older ones are reloaded.
        self.max_views = 100_000
        self.write_behind = WriteBehind(cache, store, owner)
        self._locks = [threading.RLock() for _ in range(_STRIPES)]

    def _lock(self, group_id: str) -> threading.RLock:
        self.check_open()
        return self._locks[hash(group_id) % _STRIPES]

    def check_open(self) -> None:
        if self.write_behind.closed:
            raise DictrackError(
                "this TrackingManager is closed; create a new one to go on"
            )

    def _forget(self, view: GroupView) -> None:
        """Drop a view that lost a compare-and-set (unless already replaced)."""
        if self.views.get(view.group_id) is view:
            del self.views[view.group_id]

    def view(self, group_id: str) -> GroupView:
        """The group's view, checked against the cache's version (one round trip)."""
        self.check_open()
        cached_version = self.cache.version(group_id)
        view = self.views.get(group_id)
        if view is not None and view.version == cached_version:
            return view
        return self._reload(group_id, cached_version)

    def _held(self, group_id: str) -> GroupView:
        """The view held in process, possibly stale: writes validate it."""
        return self.views.get(group_id) or self.view(group_id)

    def _reload(self, group_id: str, cached_version: int | None) -> GroupView:
        snapshot = self.cache.load(group_id) if cached_version is not None else None
        if snapshot is None:  # a miss: the store has the group
            try:
                records = self.store.load_group(group_id)
            except BackendError as exc:
                raise StoreLoadError(
                    f"group {group_id!r} is not cached and the store failed: {exc}"
                ) from exc
            snapshot = self.cache.populate(group_id, codec.shared(records))
        return self._install(GroupView.build(group_id, snapshot))

    def _install(self, view: GroupView) -> GroupView:
        views = self.views
        views.pop(view.group_id, None)  # re-inserted last: oldest first
        views[view.group_id] = view
        if len(views) > self.max_views:  # forget the least recently loaded
            del views[next(iter(views))]
        return view

    def _after_conflict(
        self, view: GroupView, current: GroupSnapshot | None
    ) -> GroupView:
        """The view to retry with after losing a compare-and-set."""
        self._forget(view)
        if current is not None:
            return self._install(view.rebased(current))
        return self.view(view.group_id)

    def track(
        self,
        group_id: str,
        data: EventData,
        now: float,
        event_id: str | None,
        kwargs: dict[str, Any],
    ) -> TrackResult:
        """Apply one event to a group, retrying on conflicts.

        One cache call in the common case: the event is evaluated on the view
        held in process, then either written with a compare-and-set or, when it
        changes nothing, checked against the group's version.
        """
        with self._lock(group_id):
            view, fresh = self._held(group_id), False
            for attempt in range(self.max_retries):
                outcome = self._track_once(view, data, now, event_id, kwargs, fresh)
                if not isinstance(outcome, GroupView):
                    break
                view, fresh = outcome, True  # just read from the cache
                if back_off(attempt):  # paused: what was read is stale now
                    self._forget(view)
                    view = self.view(group_id)
            else:
                raise ConflictError(group_id, self.max_retries)
        result, events = outcome
        self.listeners.dispatch(events)
        return result

    def _track_once(
        self,
        view: GroupView,
        data: EventData,
        now: float,
        event_id: str | None,
        kwargs: dict[str, Any],
        fresh: bool = False,
    ) -> Outcome | GroupView:
        """The outcome, or the fresh view to retry with.

        An event that changes nothing needs the view to be current: a view
        just read from the cache (``fresh``) is, as of that read; a held one is
        checked against the cache's version.
        """
        plan = self.plan(view, data, now, kwargs)
        if not plan.writes and event_id is None:
            if fresh:
                return self.finish(plan, now)
            cached_version = self.cache.version(view.group_id)
            if cached_version != view.version:
                self._forget(view)
                return self._reload(view.group_id, cached_version)
            return self.finish(plan, now)
        status, current = self.cache.compare_and_set(
            view.group_id,
            view.version,
            plan.writes,
            event_id=event_id,
            states_only=True,  # an event changes states, never definitions
        )
        if status is ApplyStatus.CONFLICT:
            return self._after_conflict(view, current)
        if status is ApplyStatus.DUPLICATE:
            return self.duplicate(view, now), []
        return self.finish(plan, now)

    def track_many(
        self,
        items: Sequence[tuple[str, EventData, str | None]],
        now: float,
        kwargs: dict[str, Any],
    ) -> list[TrackResult]:
        """Track a batch (see ``_batch``): results as tracking each in order."""
        return _batch.track_many(self, items, now, kwargs)

    @staticmethod
    def plan(
        view: GroupView, data: EventData, now: float, kwargs: dict[str, Any]
    ) -> Planned:
        """Evaluate an event on ``view``: the writes it needs and the view after."""
        changed, events = view.evaluate(data, now, kwargs)
        if not changed:
            return _tuple(Planned, (view, changed, events, {}, view))
        writes, after = view.advanced(changed, view.version + 1)
        return _tuple(Planned, (view, changed, events, writes, after))

    def finish(self, plan: Planned, now: float) -> Outcome:
        """The outcome of a plan the cache accepted: install its view, report."""
        changed = plan.changed
        if not changed:
            limited = self._limited(plan.after, now) if plan.after.has_limited else []
            return _tuple(TrackResult, (True, [], [], limited)), plan.events
        self._install(plan.after)
        before = plan.before
        dirtied: list[BaseTracker] = []
        completed: list[BaseTracker] = []
        for tracker in changed.values():
            copy = tracker._clone()  # the caller's: the view keeps its own
            tracker._dirtied = False  # now the view's copy: as loaded
            dirtied.append(copy)
            # Newly completed (not a scheduled tracker done already moving on).
            if copy._completed and not (
                (was := before.get(copy._name, _ALWAYS)) and was._completed
            ):
                completed.append(copy)
                if copy._schedule is None:  # a scheduled one waits for its period
                    copy._removed = True
        after = plan.after
        limited = self._limited(after, now, dirtied) if after.has_limited else []
        result = _tuple(TrackResult, (True, dirtied, completed, limited))
        return result, plan.events

    def duplicate(self, view: GroupView, now: float) -> TrackResult:
        """The result of an event id the cache had applied already."""
        return TrackResult(True, [], [], self._limited(view, now), True)

    @staticmethod
    def _limited(
        view: GroupView, now: float, dirtied: list[BaseTracker] | None = None
    ) -> list[BaseTracker]:
        """Every limited live tracker of the group; those changed now as in
        ``dirtied`` (the same objects, as 2.1.5 returned them)."""
        changed = {tracker.name: tracker for tracker in dirtied or ()}
        return [changed.get(t.name) or t._clone() for t in view.limited(now)]

    def change(
        self,
        group_id: str,
        compute: Compute,
        definitions: dict[str, JSONDict] | None = None,
    ) -> tuple[GroupView, Changes]:
        """Compute changes on the current view and compare-and-set them
        (``definitions``: already encoded definitions of changed trackers)."""
        with self._lock(group_id):
            # Validated first: admin calls decide (duplicate? found?) on the view.
            view = self.view(group_id)
            for attempt in range(self.max_retries):
                written = self._change_once(view, compute, definitions or {})
                if not isinstance(written, GroupView):
                    break
                view = written
                if back_off(attempt):
                    self._forget(view)
                    view = self.view(group_id)
            else:
                raise ConflictError(group_id, self.max_retries)
        view, changes, events, writes = written
        if writes:
            self.write_behind.write_through(group_id, writes, view.version)
        self.listeners.dispatch(events)
        return view, changes

    def _change_once(
        self, view: GroupView, compute: Compute, definitions: dict[str, JSONDict]
    ) -> Written | GroupView:
        """What was written, or the fresh view to retry with."""
        changes, events = compute(view)
        if not changes:
            return view, changes, events, {}
        version = view.version + 1
        writes: dict[str, TrackerRecord | None] = {}
        pairs: Pairs = {}
        for name, tracker in changes.items():
            if tracker is None:
                writes[name] = pairs[name] = None
            else:
                definition = definitions.get(name) or codec.encode_definition(tracker)
                shared = codec.share_definition(definition)
                record = codec.encode(tracker, version, definition=shared)
                codec.share_parts(tracker, shared)  # as trackers decoded from it
                writes[name] = record
                pairs[name] = (tracker, record)
        status, current = self.cache.compare_and_set(
            view.group_id, view.version, writes
        )
        if status is not ApplyStatus.APPLIED:
            return self._after_conflict(view, current)
        new_view = view.with_changes(version, pairs)
        self._install(new_view)
        return new_view, changes, events, writes
