"""TrackingManager: the public API, compatible with dictrack 2.1.5.

The manager checks arguments and turns each call into a change computed by the
engine (:mod:`dictrack._engine`), which owns views, compare-and-set writes and
retries; it is the only place that wires the cache, store and listeners.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from types import TracebackType
from typing import Any

from dictrack import _clock, codec
from dictrack._args import (
    Now,
    adopt,
    check_event,
    check_group,
    check_items,
    check_name,
    check_names,
    default_store_path,
    expiry,
    open_backends,
    positive_int,
)
from dictrack._engine import Changes, Engine
from dictrack._group import GroupView
from dictrack.data_caches.base import BaseDataCache
from dictrack.data_stores.base import BaseDataStore
from dictrack.errors import DuplicateTrackerError, StoreLoadError, TrackerNotFound
from dictrack.events import (
    EVENT_TRACKER_ADDED,
    BaseEvent,
    ListenerRegistry,
    TrackerEvent,
)
from dictrack.jobs import JobRunner, check_intervals, durability_jobs
from dictrack.results import TrackResult
from dictrack.status import StoreStatusProvider
from dictrack.trackers.base import BaseTracker, check_policy
from dictrack.typing import EventData, JSONDict, Listener

logger = logging.getLogger(__name__)

__all__ = ["TrackingManager", "default_store_path"]


class TrackingManager:
    """Track events against the trackers of groups; 2.1.5-compatible API.

    :param data_cache: a :class:`~dictrack.data_caches.base.BaseDataCache` or a
        URL (``"memory://"``); default: an in-process memory cache.
    :param data_store: a :class:`~dictrack.data_stores.base.BaseDataStore` or a
        URL (``"sqlite:///dictrack.db"``); default: SQLite at
        :func:`default_store_path`.
    :param max_retries: compare-and-set attempts before :class:`ConflictError`.
    :param flush_interval: seconds within which a change reaches the store.
    :param expire_interval: seconds between removals of expired trackers.
    :param run_jobs: run the jobs (:mod:`dictrack.jobs`) on a thread here;
        False leaves them to ``dictrack worker`` (and :meth:`persist`).
    """

    def __init__(
        self,
        data_cache: BaseDataCache | str | None = None,
        data_store: BaseDataStore | str | None = None,
        *,
        max_retries: int = 256,
        flush_interval: float = 1.0,
        expire_interval: float = 60.0,
        run_jobs: bool = True,
    ) -> None:
        if not isinstance(run_jobs, bool):
            raise TypeError(f"`run_jobs` must be a bool, got {run_jobs!r}")
        max_retries = positive_int(max_retries, "`max_retries`")
        jobs = {"flush_interval": flush_interval, "expire_interval": expire_interval}
        check_intervals(jobs)
        cache, store, owned = open_backends(data_cache, data_store)
        self.data_cache = cache
        self.data_store = store
        self._listeners = ListenerRegistry()
        self._engine = Engine(cache, store, self._listeners, max_retries, self)
        self._engine.write_behind.owned = tuple(owned)
        #: the store's health, as the flush job sees it (see :mod:`dictrack.status`)
        self.store_status = StoreStatusProvider()
        #: the background jobs: ``start()``, ``stop()``, ``is_alive()``
        self.jobs = JobRunner(
            cache, durability_jobs(self._engine, self.store_status, **jobs)
        )
        self._engine.write_behind.runner = self.jobs
        if run_jobs:
            self.jobs.start()

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

    def get_trackers(
        self, group_id: str, name: str | list[str] | None = None, *, now: Now = None
    ) -> list[BaseTracker]:
        """Return copies of the group's trackers (all, one name, or a list of names).

        Missing names are skipped; completed trackers are gone, except those
        with a schedule, which stay (completed) until their next period. A
        scheduled tracker whose period ended is shown as the new period starts
        it (reset per its policy), even before an event or the reset job
        writes that.
        """
        check_group(group_id)
        names = check_names(name)
        ts = _clock.to_timestamp(now)
        view = self._engine.view(group_id)
        if names is None:
            found = view.live(ts)
        else:
            found = [t for t in (view.get(n, ts) for n in names) if t is not None]
        return [t._fresh(ts) for t in found]

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
            ``ok`` is False (as in 2.1.5) when the group had to be loaded and
            the store failed.
        :raises BackendError: if the cache is unreachable (nothing was applied),
            or ``OutcomeUnknownError`` if the reply was lost (resend the event
            with the same ``event_id``).
        :raises ConflictError: if the group kept changing concurrently.
        """
        check_group(group_id)
        check_event(data, event_id)
        if now is None and "now_ts" in kwargs:
            now = kwargs.pop("now_ts")
        ts = _clock.to_timestamp(now)
        try:
            return self._engine.track(group_id, data, ts, event_id, kwargs)
        except StoreLoadError:  # as 2.1.5: ok=False; a failing cache raises
            logger.exception("cannot load group %r from the store", group_id)
            return TrackResult(False, [], [], [])

    def track_many(
        self,
        events: Iterable[tuple[str, EventData] | tuple[str, EventData, str | None]],
        *,
        now: Now = None,
        **kwargs: Any,
    ) -> list[TrackResult]:
        """Track ``(group_id, data)`` or ``(group_id, data, event_id)`` items.

        Results and listeners as calling :meth:`track` for each in order; Redis
        gets them pipelined, about 40 per call. A tracker that raises stops the
        batch (what came before stays)."""
        items = check_items(events)
        ts = _clock.to_timestamp(now)
        try:
            return self._engine.track_many(items, ts, kwargs)
        except StoreLoadError:
            logger.exception("cannot load a group of the batch from the store")
            return [TrackResult(False, [], [], []) for _ in items]

    # -- changing trackers --------------------------------------------------

    def add_tracker(
        self,
        group_id: str,
        tracker: BaseTracker,
        expire: float | None = None,
        expire_at: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Add one tracker to a group (its ``group_id`` is set to the group).

        :param expire: seconds from now after which the tracker is gone.
        :param expire_at: epoch seconds at which the tracker is gone.
        :raises DuplicateTrackerError: if the group has a tracker of that name.
        """
        self.add_trackers(
            group_id, [tracker], expire=expire, expire_at=expire_at, **kwargs
        )

    def add_trackers(
        self,
        group_id: str,
        trackers: Iterable[BaseTracker],
        expire: float | None = None,
        expire_at: float | None = None,
        **kwargs: Any,
    ) -> None:
        """Add several trackers to a group, all or none.

        :raises DuplicateTrackerError: if a name is taken or given twice.
        """
        check_group(group_id)
        if isinstance(trackers, BaseTracker) or not isinstance(trackers, Iterable):
            raise TypeError("`trackers` must be a list of trackers")
        trackers = list(trackers)
        now = _clock.to_timestamp(kwargs.pop("now", None))
        deadline = expiry(expire, expire_at, now)
        copies: dict[str, BaseTracker] = {}
        definitions: dict[str, JSONDict] = {}
        for tracker in trackers:
            copy = adopt(tracker, group_id, now)
            if copy.name in copies:
                raise DuplicateTrackerError(group_id, copy.name)
            copies[copy.name] = copy
            copy._expire_at = deadline
            # Encoded now: fails before any change on values that cannot be stored.
            definitions[tracker.name] = codec.encode_definition(copy)

        def compute(view: GroupView) -> tuple[Changes, list[BaseEvent]]:
            for name in copies:
                if view.get(name, now) is not None:
                    raise DuplicateTrackerError(group_id, name)
            events: list[BaseEvent] = []
            if self._listeners.wants(EVENT_TRACKER_ADDED):  # snapshots cost
                events = [
                    TrackerEvent(
                        EVENT_TRACKER_ADDED, group_id, n, t._clone(), event_ts=now
                    )
                    for n, t in copies.items()
                ]
            return dict(copies), events

        self._engine.change(group_id, compute, definitions)
        for tracker in trackers:
            tracker._group_id = group_id

    def update_tracker(
        self, group_id: str, tracker: BaseTracker, *, now: Now = None
    ) -> None:
        """Replace the group's tracker of the same name (or add it, as 2.1.5 did).

        The replacement keeps the expiry of the live tracker it replaces.
        """
        check_group(group_id)
        ts = _clock.to_timestamp(now)
        copy = adopt(tracker, group_id, ts)
        codec.encode_definition(copy)

        def compute(view: GroupView) -> tuple[Changes, list[BaseEvent]]:
            current = view.get(copy.name, ts)  # an expired tracker is gone
            if current is not None and copy._expire_at is None:
                copy._expire_at = current._expire_at
            done = copy._completed and copy._schedule is None
            return {copy.name: None if done else copy}, []

        self._engine.change(group_id, compute)

    def remove_tracker(
        self, group_id: str, name: str | list[str] | None = None
    ) -> list[BaseTracker]:
        """Remove one, several (list) or all (None) trackers of a group.

        :returns: the removed trackers, marked ``removed``.
        """
        check_group(group_id)
        names = check_names(name)

        removed: list[BaseTracker] = []

        def compute(view: GroupView) -> tuple[Changes, list[BaseEvent]]:
            present = view.names()
            wanted = present if names is None else [n for n in names if n in present]
            removed[:] = [
                t._clone() for n in wanted if (t := view.get(n, float("-inf")))
            ]
            return dict.fromkeys(wanted), []

        view, _ = self._engine.change(group_id, compute)
        if names is None:  # stored trackers the cache no longer shows (expired)
            self._engine.write_behind.delete_group(group_id, view.version)
        for tracker in removed:
            tracker._removed = True
        return removed

    def reset_tracker(
        self,
        group_id: str,
        name: str,
        reset_policy: int | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """Reset one tracker per ``reset_policy`` (default: its own policy).

        Keywords reach the limiters: ``reset_count=``, ``reset_seconds=``,
        ``now_ts=``. Listeners hear ``EVENT_TRACKER_RESET``.

        :returns: False if the group has no tracker of that name.
        """
        check_group(group_id)
        check_name(name)
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

        _, changes = self._engine.change(group_id, compute)
        return bool(changes)

    def next_reset(
        self, group_id: str, name: str, *, now: Now = None
    ) -> datetime | None:
        """When the current period of a scheduled tracker ends (a countdown's
        target), in the schedule's time zone; None for a tracker without one.

        :raises TrackerNotFound: if the group has no tracker ``name``.
        """
        check_group(group_id)
        check_name(name)
        ts = _clock.to_timestamp(now)
        tracker = self._engine.view(group_id).get(name, ts)
        if tracker is None:
            raise TrackerNotFound(group_id, name)
        return tracker._next_reset(ts)

    # -- lifecycle ----------------------------------------------------------

    def persist(self) -> int:
        """Write every changed tracker to the store now; return how many.

        :raises BackendError: if the store failed (the changes stay pending).
        """
        return self._engine.write_behind.persist()

    def flush(self, confirm: bool = False) -> None:
        """Delete every tracker of every group from cache and store.

        Irreversible; does nothing unless ``confirm=True``.
        """
        if not confirm:
            logger.warning("flush() deletes every tracker: pass confirm=True")
            return
        self.data_cache.flush_all()
        self.data_store.flush_all()
        self._engine.views.clear()

    def close(self) -> None:
        """Stop the jobs, persist pending changes, then close the backends this
        manager built (from URLs or defaults; backends passed in stay open).
        Idempotent; the manager refuses further calls.

        :raises BackendError: if the final persist failed (nothing is closed).
        """
        self._engine.write_behind.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._engine.write_behind.closed

    def __enter__(self) -> TrackingManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
