"""TrackingManager: the one place that wires cache, store and listeners together.

Every change follows the same path: read the group's view (decoded trackers at a
cache version), compute the new trackers on copies, write them to the cache with
one compare-and-set, then deliver the events. On a version conflict the view is
reloaded and the change recomputed, so concurrent writers never lose an update
and listeners never hear of a change that did not happen.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Union

from dictrack import _clock, codec, data_caches, data_stores
from dictrack._group import GroupView
from dictrack._persist import WriteBehind
from dictrack.data_caches.base import ApplyStatus, BaseDataCache
from dictrack.data_caches.memory import MemoryDataCache
from dictrack.data_stores.base import BaseDataStore
from dictrack.errors import BackendError, ConflictError, DuplicateTrackerError
from dictrack.events import (
    EVENT_TRACKER_ADDED,
    BaseEvent,
    ListenerRegistry,
    TrackerEvent,
)
from dictrack.records import TrackerRecord
from dictrack.results import TrackResult
from dictrack.trackers.base import BaseTracker, check_policy
from dictrack.typing import EventData, Listener

logger = logging.getLogger(__name__)

Now = Union[float, int, datetime, None]
#: name -> new tracker (None removes); what an admin change computes.
Changes = dict[str, Union[BaseTracker, None]]


def default_store_path() -> Path:
    """Where ``TrackingManager()`` keeps its SQLite file.

    ``$DICTRACK_HOME/dictrack.sqlite3`` if set, else the XDG data folder
    (``~/.local/share/dictrack/dictrack.sqlite3``).
    """
    home = os.environ.get("DICTRACK_HOME")
    if home:
        return Path(home).expanduser() / "dictrack.sqlite3"
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "dictrack" / "dictrack.sqlite3"


def _check_group(group_id: object) -> str:
    if not isinstance(group_id, str):
        raise TypeError(f"`group_id` must be a str, got {type(group_id).__name__}")
    if not group_id:
        raise ValueError("`group_id` must not be empty")
    return group_id


def _names(name: object) -> list[str] | None:
    if name is None:
        return None
    if isinstance(name, str):
        return [name]
    if isinstance(name, (list, tuple)) and all(isinstance(n, str) for n in name):
        return list(name)
    raise TypeError(f"`name` must be a str, a list of str or None, got {name!r}")


def _expiry(expire: object, expire_at: object, now: float) -> float | None:
    for arg, value in (("expire", expire), ("expire_at", expire_at)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float))
        ):
            raise TypeError(f"`{arg}` must be seconds (int or float) or None")
    if expire is not None and expire_at is not None:
        raise ValueError("give `expire` (seconds from now) or `expire_at`, not both")
    if expire is not None:
        if expire <= 0:  # type: ignore[operator]  # checked to be a number
            raise ValueError(f"`expire` must be positive seconds, got {expire!r}")
        return now + expire  # type: ignore[operator]  # checked to be a number
    return None if expire_at is None else float(expire_at)  # type: ignore[arg-type]


class TrackingManager:
    """Track events against the trackers of groups; 2.1.5-compatible API.

    :param data_cache: a :class:`~dictrack.data_caches.base.BaseDataCache` or a
        URL (``"memory://"``); default: an in-process memory cache.
    :param data_store: a :class:`~dictrack.data_stores.base.BaseDataStore` or a
        URL (``"sqlite:///dictrack.db"``); default: SQLite at
        :func:`default_store_path`.
    :param max_retries: compare-and-set attempts before :class:`ConflictError`.
    """

    def __init__(
        self,
        data_cache: BaseDataCache | str | None = None,
        data_store: BaseDataStore | str | None = None,
        *,
        max_retries: int = 64,
    ) -> None:
        if isinstance(data_cache, str):
            data_cache = data_caches.from_url(data_cache)
        if isinstance(data_store, str):
            data_store = data_stores.from_url(data_store)
        if data_cache is None:
            data_cache = MemoryDataCache()
        if data_store is None:
            from dictrack.data_stores.sqlite import SQLiteDataStore

            data_store = SQLiteDataStore(default_store_path())
            logger.info("dictrack keeps its data in %s", data_store.path)
        if not isinstance(data_cache, BaseDataCache):
            raise TypeError(
                f"`data_cache` must be a BaseDataCache or URL, got {type(data_cache).__name__}"
            )
        if not isinstance(data_store, BaseDataStore):
            raise TypeError(
                f"`data_store` must be a BaseDataStore or URL, got {type(data_store).__name__}"
            )
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 1:
            raise ValueError(f"`max_retries` must be a positive int, got {max_retries!r}")
        self.data_cache = data_cache
        self.data_store = data_store
        self._max_retries = max_retries
        self._listeners = ListenerRegistry()
        self._views: dict[str, GroupView] = {}
        self._write_behind = WriteBehind(data_cache, data_store, owner=self)

    # -- listeners ----------------------------------------------------------

    def add_listener(self, code: int, cb: Listener) -> None:
        """Call ``cb(event)`` for every event of ``code`` (see :mod:`dictrack.events`).

        :raises ValueError: for an unknown code.
        :raises TypeError: if ``cb`` is not callable.
        """
        self._listeners.add(code, cb)

    def remove_listener(self, code: int, cb: Listener) -> bool:
        """Stop calling ``cb`` for ``code``; return whether it was registered."""
        return self._listeners.remove(code, cb)

    # -- reading ------------------------------------------------------------

    def _view(self, group_id: str) -> GroupView:
        """The current view of a group, loading it from the store on a miss."""
        cached_version = self.data_cache.version(group_id)
        view = self._views.get(group_id)
        if view is not None and view.version == cached_version:
            return view
        snapshot = self.data_cache.load(group_id) if cached_version is not None else None
        if snapshot is None:
            snapshot = self.data_cache.populate(
                group_id, self.data_store.load_group(group_id)
            )
        view = GroupView.build(group_id, snapshot)
        self._views[group_id] = view
        return view

    def get_trackers(
        self, group_id: str, name: str | list[str] | None = None, *, now: Now = None
    ) -> list[BaseTracker]:
        """Return copies of the group's trackers (all, one name, or a list of names).

        Missing names are skipped; completed trackers are gone.
        """
        _check_group(group_id)
        names = _names(name)
        ts = _clock.to_timestamp(now)
        view = self._view(group_id)
        if names is None:
            found = view.live(ts)
        else:
            found = [t for t in (view.get(n, ts) for n in names) if t is not None]
        return [t._clone() for t in found]

    # -- tracking -----------------------------------------------------------

    def track(
        self,
        group_id: str,
        data: EventData,
        *,
        now: Now = None,
        event_id: str | None = None,
        **kwargs: Any,
    ) -> TrackResult:
        """Feed one event to the group's trackers.

        :param now: the event time (epoch seconds or aware datetime); default the
            clock. ``now_ts=`` is accepted as in 2.1.5.
        :param event_id: makes tracking idempotent: an id already applied to this
            group changes nothing and returns ``duplicate=True``.
        :returns: ``(ok, dirtied, completed, limited)``; see :class:`TrackResult`.
        :raises ConflictError: if the group kept changing concurrently.
        """
        _check_group(group_id)
        if not isinstance(data, Mapping):
            raise TypeError(f"`data` must be a dict, got {type(data).__name__}")
        if event_id is not None and not isinstance(event_id, str):
            raise TypeError(f"`event_id` must be a str, got {type(event_id).__name__}")
        if now is None and "now_ts" in kwargs:
            now = kwargs.pop("now_ts")
        ts = _clock.to_timestamp(now)
        for _ in range(self._max_retries):
            try:
                view = self._view(group_id)
            except BackendError:
                logger.exception("cannot load group %r from the store", group_id)
                return TrackResult(False, [], [], [])
            result = self._track_once(view, data, ts, event_id, kwargs)
            if result is not None:
                return result
        raise ConflictError(group_id, self._max_retries)

    def _track_once(
        self, view: GroupView, data: EventData, now: float, event_id: str | None,
        kwargs: dict[str, Any],
    ) -> TrackResult | None:
        evaluation = view.evaluate(data, now, kwargs)
        changed = evaluation.changed
        if not changed and event_id is None:
            return TrackResult(True, [], [], self._limited(view))
        version = view.version + 1
        writes: dict[str, TrackerRecord | None] = {}
        pairs: dict[str, tuple[BaseTracker, TrackerRecord] | None] = {}
        for name, tracker in changed.items():
            if tracker._completed:
                writes[name] = pairs[name] = None
                continue
            old = view.record(name)
            record = TrackerRecord(
                name, old.definition, codec.encode_state(tracker), version, old.expire_at
            )
            writes[name] = record
            pairs[name] = (tracker, record)
        status = self.data_cache.apply(view.group_id, view.version, writes, event_id=event_id)
        if status is ApplyStatus.CONFLICT:
            self._views.pop(view.group_id, None)
            return None
        if status is ApplyStatus.DUPLICATE:
            return TrackResult(True, [], [], self._limited(view), duplicate=True)
        new_view = view.with_changes(version, pairs) if changed else view
        if changed:
            self._views[view.group_id] = new_view
        self._listeners.dispatch(evaluation.events)
        dirtied = [tracker._clone() for tracker in changed.values()]
        completed = [t for t in dirtied if t._completed]
        for tracker in completed:
            tracker._removed = True
        return TrackResult(True, dirtied, completed, self._limited(new_view))

    @staticmethod
    def _limited(view: GroupView) -> list[BaseTracker]:
        return [t._clone() for t in view.live(float("-inf")) if t._limited]

    def track_many(
        self, events: Iterable[tuple[str, EventData]], *, now: Now = None
    ) -> list[TrackResult]:
        """Track ``(group_id, data)`` pairs in order; same results as one by one."""
        return [self.track(group_id, data, now=now) for group_id, data in events]

    # -- changing trackers --------------------------------------------------

    def _change(
        self, group_id: str, compute: Callable[[GroupView], tuple[Changes, list[BaseEvent]]],
    ) -> tuple[GroupView, Changes]:
        """Compute changes on the current view and write them with compare-and-set."""
        for _ in range(self._max_retries):
            view = self._view(group_id)
            changes, events = compute(view)
            if not changes:
                return view, changes
            version = view.version + 1
            writes: dict[str, TrackerRecord | None] = {}
            pairs: dict[str, tuple[BaseTracker, TrackerRecord] | None] = {}
            for name, tracker in changes.items():
                if tracker is None:
                    writes[name] = pairs[name] = None
                else:
                    record = codec.encode(tracker, version)
                    writes[name] = record
                    pairs[name] = (tracker, record)
            status = self.data_cache.apply(group_id, view.version, writes)
            if status is ApplyStatus.APPLIED:
                new_view = view.with_changes(version, pairs)
                self._views[group_id] = new_view
                self._write_behind.write_through(group_id, writes, version)
                self._listeners.dispatch(events)
                return new_view, changes
            self._views.pop(group_id, None)
        raise ConflictError(group_id, self._max_retries)

    def add_tracker(
        self, group_id: str, tracker: BaseTracker, expire: float | None = None,
        expire_at: float | None = None, **kwargs: Any,
    ) -> None:
        """Add one tracker to a group (its ``group_id`` is set to the group).

        :param expire: seconds from now after which the tracker is gone.
        :param expire_at: epoch seconds at which the tracker is gone.
        :raises DuplicateTrackerError: if the group has a tracker of that name.
        """
        self.add_trackers(group_id, [tracker], expire=expire, expire_at=expire_at, **kwargs)

    def add_trackers(
        self, group_id: str, trackers: Iterable[BaseTracker], expire: float | None = None,
        expire_at: float | None = None, **kwargs: Any,
    ) -> None:
        """Add several trackers to a group, all or none.

        :raises DuplicateTrackerError: if a name is taken or given twice.
        """
        _check_group(group_id)
        if isinstance(trackers, BaseTracker) or not isinstance(trackers, Iterable):
            raise TypeError("`trackers` must be a list of trackers")
        trackers = list(trackers)
        now = _clock.to_timestamp(kwargs.pop("now", None))
        deadline = _expiry(expire, expire_at, now)
        copies: dict[str, BaseTracker] = {}
        for tracker in trackers:
            if not isinstance(tracker, BaseTracker):
                raise TypeError(f"expected trackers, got {type(tracker).__name__}")
            tracker._check_health()
            if tracker.group_id not in (group_id, BaseTracker.DEFAULT_GROUP_ID):
                tracker.group_id = group_id  # raises GroupIdError with the names
            if tracker.name in copies:
                raise DuplicateTrackerError(group_id, tracker.name)
            copy = copies[tracker.name] = tracker._clone()
            copy._group_id = group_id
            copy._dirtied = False
            copy._expire_at = deadline
            codec.encode_definition(copy)  # fail now on values that cannot be stored

        def compute(view: GroupView) -> tuple[Changes, list[BaseEvent]]:
            for name in copies:
                if view.get(name, now) is not None:
                    raise DuplicateTrackerError(group_id, name)
            events: list[BaseEvent] = [
                TrackerEvent(EVENT_TRACKER_ADDED, group_id, n, t._clone(), event_ts=now)
                for n, t in copies.items()
            ]
            return dict(copies), events

        self._change(group_id, compute)
        for tracker in trackers:
            tracker._group_id = group_id

    def update_tracker(self, group_id: str, tracker: BaseTracker) -> None:
        """Replace the group's tracker of the same name (or add it, as 2.1.5 did)."""
        _check_group(group_id)
        if not isinstance(tracker, BaseTracker):
            raise TypeError(f"`tracker` must be a tracker, got {type(tracker).__name__}")
        if tracker.group_id not in (group_id, BaseTracker.DEFAULT_GROUP_ID):
            tracker.group_id = group_id  # raises GroupIdError with the names
        copy = tracker._clone()
        copy._group_id = group_id
        copy._dirtied = False
        codec.encode_definition(copy)

        def compute(view: GroupView) -> tuple[Changes, list[BaseEvent]]:
            current = view.get(copy.name, float("-inf"))
            if current is not None and copy._expire_at is None:
                copy._expire_at = current._expire_at
            return {copy.name: None if copy._completed else copy}, []

        self._change(group_id, compute)

    def remove_tracker(
        self, group_id: str, name: str | list[str] | None = None
    ) -> list[BaseTracker]:
        """Remove one, several (list) or all (None) trackers of a group.

        :returns: the removed trackers, marked ``removed``.
        """
        _check_group(group_id)
        names = _names(name)

        def compute(view: GroupView) -> tuple[Changes, list[BaseEvent]]:
            wanted = view.names() if names is None else [n for n in names if n in view.names()]
            return dict.fromkeys(wanted), []

        view = self._view(group_id)
        before = {n: view.get(n, float("-inf")) for n in view.names()}
        _, changes = self._change(group_id, compute)
        if names is None:
            self._write_behind.delete_group(group_id)
        removed = [t._clone() for n in changes if (t := before.get(n)) is not None]
        for tracker in removed:
            tracker._removed = True
        return removed

    def reset_tracker(
        self, group_id: str, name: str, reset_policy: int | None = None,
        *args: Any, **kwargs: Any,
    ) -> bool:
        """Reset one tracker per ``reset_policy`` (default: its own policy).

        Keywords reach the limiters: ``reset_count=``, ``reset_seconds=``,
        ``now_ts=``. Listeners hear ``EVENT_TRACKER_RESET``.

        :returns: False if the group has no tracker of that name.
        """
        _check_group(group_id)
        if not isinstance(name, str):
            raise TypeError(f"`name` must be a str, got {type(name).__name__}")
        if reset_policy is not None:
            check_policy(reset_policy)
        now = kwargs.pop("now", None)
        ts = _clock.to_timestamp(kwargs.get("now_ts") if now is None else now)

        def compute(view: GroupView) -> tuple[Changes, list[BaseEvent]]:
            current = view.get(name, ts)
            if current is None:
                return {}, []
            copy = current._clone()
            policy = copy._reset_policy if reset_policy is None else reset_policy
            events = copy._reset(policy, ts, kwargs)
            return {name: copy}, events

        _, changes = self._change(group_id, compute)
        return bool(changes)

    # -- lifecycle ----------------------------------------------------------

    def persist(self) -> int:
        """Write every changed tracker to the store now; return how many.

        :raises BackendError: if the store failed (the changes stay pending).
        """
        return self._write_behind.persist()

    def flush(self, confirm: bool = False) -> None:
        """Delete every tracker of every group from cache and store.

        Irreversible; does nothing unless ``confirm=True``.
        """
        if not confirm:
            logger.warning(
                "flush() deletes all trackers irreversibly; pass confirm=True to proceed"
            )
            return
        self.data_cache.flush_all()
        self.data_store.flush_all()
        self._views.clear()

    def close(self) -> None:
        """Persist pending changes, then close the cache and store. Idempotent."""
        self._write_behind.close()

    def __enter__(self) -> TrackingManager:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
