"""The data cache contract: where the hot state of groups lives.

A cache keeps, per group, the :class:`~dictrack.records.TrackerRecord` of each
tracker and a *group version* that grows with every change. Writers never lock:
they read a version, compute, and :meth:`BaseDataCache.apply` their changes only
if the version is still the one they read (compare-and-set). The cache also keeps
*dirty marks* (which trackers changed since they were last written to the store)
so that the write-behind can find them, even from another process.

Caches never evaluate conditions and never unpickle anything.
"""

from __future__ import annotations

import enum
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from dictrack.errors import BackendError
from dictrack.records import TrackerRecord

#: ``{group_id: {name: version}}``: trackers changed since last stored.
DirtyMarks = dict[str, dict[str, int]]


@dataclass(frozen=True, slots=True)
class GroupSnapshot:
    """A consistent view of one cached group."""

    version: int
    records: Mapping[str, TrackerRecord]


def fresh_version(records: Iterable[TrackerRecord]) -> int:
    """The version a group gets when it is (re)loaded into a cache."""
    return max(max((r.version for r in records), default=0), time.time_ns() // 1000)


class ApplyStatus(enum.Enum):
    """The outcome of :meth:`BaseDataCache.apply`."""

    APPLIED = "applied"
    CONFLICT = "conflict"
    DUPLICATE = "duplicate"


class CASResult(NamedTuple):
    """The outcome of :meth:`BaseDataCache.compare_and_set`."""

    status: ApplyStatus
    #: On CONFLICT, the group as it is now, when the backend had it at hand
    #: (saves the caller a round trip); None otherwise.
    current: GroupSnapshot | None = None


class CASOp(NamedTuple):
    """One compare-and-set of a batch (``BaseDataCache.compare_and_set_many``)."""

    group_id: str
    expected_version: int
    writes: Mapping[str, TrackerRecord | None]
    event_id: str | None = None
    #: Every written record keeps the definition stored at the expected
    #: version (see :meth:`BaseDataCache.compare_and_set`).
    states_only: bool = False


_LEASE_LOCK = threading.Lock()


class BaseDataCache(ABC):
    """The hot-state backend; see the module docstring for the model."""

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> BaseDataCache:
        """Build a cache from a URL of its scheme (extra keywords pass through)."""
        return cls(**kwargs)

    @abstractmethod
    def version(self, group_id: str) -> int | None:
        """Return the group's version, or None when the group is not cached."""

    @abstractmethod
    def load(self, group_id: str) -> GroupSnapshot | None:
        """Return the group's records and version, or None when not cached."""

    def load_many(self, group_ids: Sequence[str]) -> dict[str, GroupSnapshot | None]:
        """:meth:`load` of several groups (Redis: one round trip).

        :raises DeserializationError: if a group cannot be read.
        """
        return {group_id: self.load(group_id) for group_id in group_ids}

    @abstractmethod
    def populate(
        self, group_id: str, records: Iterable[TrackerRecord]
    ) -> GroupSnapshot:
        """Cache a group loaded from the store, unless it is cached already.

        The version starts above every version this group ever had: above the
        highest record version, and at least the current time in microseconds,
        so a group that is evicted and loaded again never reuses a version a
        stale writer might still expect. Returns the cached group either way;
        an existing group is never overwritten.
        """

    @abstractmethod
    def apply(
        self,
        group_id: str,
        expected_version: int,
        writes: Mapping[str, TrackerRecord | None],
        *,
        event_id: str | None = None,
    ) -> ApplyStatus:
        """Atomically apply ``writes`` (None deletes) if the version matches.

        Every backend guarantees: if ``event_id`` was already applied to this
        group (within the backend's id window) nothing changes and the result is
        DUPLICATE; else if the group is missing or its version is not
        ``expected_version`` nothing changes and the result is CONFLICT; else all
        writes happen together, each written name is marked dirty at version
        ``expected_version + 1``, the version becomes that (when ``writes`` is
        not empty), ``event_id`` is remembered, and the result is APPLIED.
        """

    def compare_and_set(
        self,
        group_id: str,
        expected_version: int,
        writes: Mapping[str, TrackerRecord | None],
        *,
        event_id: str | None = None,
        states_only: bool = False,
    ) -> CASResult:
        """:meth:`apply`, returning the current group along with a CONFLICT when
        the backend can do so at no extra cost (Redis returns it from the same
        script). The default returns no snapshot.

        ``states_only`` promises that every written record has the definition
        the group holds at ``expected_version`` (an event changed only states),
        so a backend may skip writing definitions: when the version matches,
        they are already there.
        """
        return CASResult(
            self.apply(group_id, expected_version, writes, event_id=event_id)
        )

    def compare_and_set_many(self, ops: Sequence[CASOp]) -> list[CASResult]:
        """Run :meth:`compare_and_set` for each op, in order.

        Backends with pipelining send the whole batch in one round trip. An op
        with no writes and no event id only checks the version (APPLIED when it
        matches). Ops are independent: a failed one does not stop the others.
        """
        return [
            self.compare_and_set(
                op.group_id,
                op.expected_version,
                op.writes,
                event_id=op.event_id,
                states_only=op.states_only,
            )
            for op in ops
        ]

    def compare_and_set_stream(
        self, chunks: Iterable[Sequence[CASOp]]
    ) -> Iterator[Sequence[CASResult | BackendError]]:
        """:meth:`compare_and_set_many` of each chunk, in order: yields one
        sequence of results per chunk, one result per op.

        A backend that pipelines (Redis) sends the next chunks (Redis: up to
        three) before it yields the results of chunk ``i``, so whatever the
        caller does to build them (``chunks`` may be lazy) or to handle
        results overlaps the server's work. An op refused because a key of its
        group holds data dictrack did not write is a
        :class:`~dictrack.errors.BackendError` in its place, and the other ops
        go on (the default raises it, as :meth:`compare_and_set_many` does). A
        backend that cannot be reached raises; ops of chunks sent before may
        have been applied.
        """
        for ops in chunks:
            yield self.compare_and_set_many(ops)

    @abstractmethod
    def dirty(self) -> DirtyMarks:
        """Return every dirty mark, leaving them in place.

        Marks stay until :meth:`mark_clean` says the versions were stored, so a
        writer that dies between reading and storing loses nothing, and a group
        with marks can never be evicted.
        """

    @abstractmethod
    def mark_clean(self, group_id: str, versions: Mapping[str, int]) -> None:
        """Clear marks whose version is at most the one given (it was stored)."""

    @abstractmethod
    def evict(self, group_id: str) -> bool:
        """Drop a group that has no dirty marks; return whether it was dropped.

        A group with dirty marks stays: evicting it would lose changes that are
        not in the store yet.
        """

    @abstractmethod
    def flush_all(self) -> None:
        """Delete every group, mark and remembered event id."""

    def evict_stale(self) -> int:
        """Evict clean groups idle for ``stale_threshold`` seconds; return how many.

        Called by the manager's job runner every ``check_interval`` seconds. A
        cache that expires idle clean groups by itself (Redis: a group gets a
        time to live once it is stored, and loses it when it changes again)
        does nothing here and returns 0.
        """
        return 0

    def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        """Take the lease ``name`` for ``owner`` for ``ttl`` seconds, or renew
        it if ``owner`` holds it; return whether ``owner`` holds it now.

        The default keeps leases in this process, which is right for a cache
        that lives in one process; a cache shared by processes overrides it.
        """
        now = time.monotonic()
        with _LEASE_LOCK:
            leases = self.__dict__.setdefault("_leases", {})
            holder = leases.get(name)
            if holder is not None and holder[0] != owner and holder[1] > now:
                return False
            leases[name] = (owner, now + ttl)
            return True

    def release_lease(self, name: str, owner: str) -> bool:
        """Give the lease up if ``owner`` holds it; return whether it did."""
        with _LEASE_LOCK:
            leases = self.__dict__.get("_leases", {})
            holder = leases.get(name)
            if holder is None or holder[0] != owner:
                return False
            del leases[name]
            return True

    def check(self) -> bool:
        """Return whether the backend is reachable (never raises)."""
        return True

    def close(self) -> None:
        """Release resources this cache created (not a client that was passed in)."""
        return None
