"""The data store contract: where the durable copy of every tracker lives.

A store keeps one readable row or document per tracker
(:class:`~dictrack.records.TrackerRecord` plus its group id). Upserts are
*versioned*: a record replaces the stored one only if its version is higher,
so a late or repeated write never rolls a tracker back. Deleting one tracker at
a version leaves a *tombstone* at that version for a while (the store's
``tombstone_ttl``), so a late write of an older version cannot bring it back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from dictrack.records import TrackerRecord

#: ``(group_id, record)`` pairs to upsert.
Upserts = Sequence[tuple[str, TrackerRecord]]
#: ``(group_id, name, version)`` to delete: a None name means the whole group
#: (up to a version: live rows only, tombstones stay);
#: a row is deleted only if its version is at most ``version`` (None: any, and
#: no tombstone), so a late delete never removes a tracker that was added again
#: afterwards.
Deletes = Sequence[tuple[str, "str | None", "int | None"]]


class BaseDataStore(ABC):
    """The durable backend; see the module docstring for the model."""

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> BaseDataStore:
        """Build a store from a URL of its scheme (extra keywords pass through)."""
        return cls(**kwargs)

    @abstractmethod
    def load_group(self, group_id: str) -> list[TrackerRecord]:
        """Return the group's records in the order they were first stored.

        :raises BackendError: if the backend cannot be read.
        """

    @abstractmethod
    def write(self, upserts: Upserts = (), deletes: Deletes = ()) -> None:
        """Apply versioned upserts and deletes, all or nothing where possible.

        An upsert whose version is not above the stored one is skipped silently
        (a newer write already won). Deleting what is absent is not an error.

        :raises BackendError: if the write failed; the caller retries later.
        """

    @abstractmethod
    def flush_all(self) -> None:
        """Delete every tracker of every group."""

    @abstractmethod
    def expired(self, now: float, limit: int = 1000) -> list[tuple[str, str, int]]:
        """Return up to ``limit`` ``(group_id, name, version)`` of live trackers
        whose ``expire_at`` is at or before ``now``.

        :raises BackendError: if the backend cannot be read.
        """

    @abstractmethod
    def purge_expired(self, now: float) -> int:
        """Delete what expired by ``now`` (trackers and old tombstones); return
        how many rows or documents went.

        :raises BackendError: if the write failed.
        """

    def check(self) -> bool:
        """Return whether the backend is reachable (never raises)."""
        return True

    def close(self) -> None:
        """Release resources this store created (not a client passed in)."""
        return None
