"""MemoryDataCache: the embedded, in-process data cache (no server)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from dictrack._args import seconds
from dictrack.data_caches.base import (
    ApplyStatus,
    BaseDataCache,
    DirtyMarks,
    GroupSnapshot,
    fresh_version,
)
from dictrack.records import TrackerRecord

logger = logging.getLogger(__name__)


class _Group:
    __slots__ = ("records", "seen", "used", "version")

    def __init__(self, version: int, records: dict[str, TrackerRecord]) -> None:
        self.version = version
        self.records = records
        self.seen: dict[str, None] = {}  # insertion-ordered event ids
        self.used = time.monotonic()  # for evict_stale


class MemoryDataCache(BaseDataCache):
    """Keep groups in this process's memory, safe under threads.

    Suits one process (the embedded default, tests, the demo); several
    processes need a shared cache such as Redis.

    :param scheduler_class: accepted for 2.1.5 compatibility and ignored (the
        manager's job runner does background work).
    :param check_interval: seconds between stale-group checks (2.1.5 name).
    :param stale_threshold: seconds after which an idle group is stale.
    :param event_id_window: how many recent ``event_id`` values are remembered
        per group for idempotent tracking.
    """

    def __init__(
        self,
        scheduler_class: Any = None,
        check_interval: float = 60 * 30,
        stale_threshold: float = 60 * 60 * 6,
        *,
        event_id_window: int = 10_000,
    ) -> None:
        if isinstance(event_id_window, bool) or not isinstance(event_id_window, int):
            raise TypeError("`event_id_window` must be an int")
        if event_id_window < 1:
            raise ValueError("`event_id_window` must be at least 1")
        if scheduler_class is not None:
            logger.debug("scheduler_class is ignored: the job runner does this work")
        self.check_interval = seconds(check_interval, "`check_interval`")
        self.stale_threshold = seconds(stale_threshold, "`stale_threshold`")
        self._window = event_id_window
        self._groups: dict[str, _Group] = {}
        self._dirty: DirtyMarks = {}
        self._lock = threading.Lock()

    def version(self, group_id: str) -> int | None:
        group = self._groups.get(group_id)
        if group is None:
            return None
        group.used = time.monotonic()
        return group.version

    def load(self, group_id: str) -> GroupSnapshot | None:
        with self._lock:
            group = self._groups.get(group_id)
            if group is None:
                return None
            return GroupSnapshot(group.version, dict(group.records))

    def populate(
        self, group_id: str, records: Iterable[TrackerRecord]
    ) -> GroupSnapshot:
        by_name = {record.name: record for record in records}
        with self._lock:
            group = self._groups.get(group_id)
            if group is None:
                version = fresh_version(by_name.values())
                group = self._groups[group_id] = _Group(version, by_name)
            return GroupSnapshot(group.version, dict(group.records))

    def apply(
        self,
        group_id: str,
        expected_version: int,
        writes: Mapping[str, TrackerRecord | None],
        *,
        event_id: str | None = None,
    ) -> ApplyStatus:
        with self._lock:
            group = self._groups.get(group_id)
            if group is None:
                return ApplyStatus.CONFLICT
            if event_id is not None and event_id in group.seen:
                return ApplyStatus.DUPLICATE
            if group.version != expected_version:
                return ApplyStatus.CONFLICT
            group.used = time.monotonic()
            if writes:
                version = group.version = expected_version + 1
                marks = self._dirty.setdefault(group_id, {})
                for name, record in writes.items():
                    if record is None:
                        group.records.pop(name, None)
                    else:
                        group.records[name] = record
                    marks[name] = version
            if event_id is not None:
                self._remember(group, event_id)
            return ApplyStatus.APPLIED

    def _remember(self, group: _Group, event_id: str) -> None:
        group.seen[event_id] = None
        if len(group.seen) > self._window:
            del group.seen[next(iter(group.seen))]

    def dirty(self) -> DirtyMarks:
        with self._lock:
            return {group_id: dict(names) for group_id, names in self._dirty.items()}

    def mark_clean(self, group_id: str, versions: Mapping[str, int]) -> None:
        with self._lock:
            current = self._dirty.get(group_id)
            if current is None:
                return
            for name, version in versions.items():
                if current.get(name, version + 1) <= version:
                    del current[name]
            if not current:
                del self._dirty[group_id]

    def evict(self, group_id: str) -> bool:
        with self._lock:
            if group_id in self._dirty:
                return False
            return self._groups.pop(group_id, None) is not None

    def evict_stale(self) -> int:
        """Evict clean groups not read or changed for ``stale_threshold`` s."""
        cutoff = time.monotonic() - self.stale_threshold
        with self._lock:
            stale = [
                group_id
                for group_id, group in self._groups.items()
                if group.used <= cutoff and group_id not in self._dirty
            ]
            for group_id in stale:
                del self._groups[group_id]
        if stale:
            logger.debug("evicted %d stale groups", len(stale))
        return len(stale)

    def flush_all(self) -> None:
        with self._lock:
            self._groups.clear()
            self._dirty.clear()
