"""Write-behind from the data cache to the data store.

Changes land in the cache with dirty marks; :meth:`WriteBehind.persist` reads
the marks, writes every marked tracker to the store in one batch of versioned
writes, and only then clears the marks it stored (a mark of a newer change
stays). If the store fails, or the process dies, the marks are still there, and
a group with marks is never evicted: nothing is lost. Changes made through the
manager's admin calls (add, update, remove, reset) are also written through at
once. Store writes of one manager are serialised, so they land in order.
Pending changes are persisted when the manager is closed, garbage-collected, or
the interpreter exits.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Mapping

from dictrack.data_caches.base import BaseDataCache
from dictrack.data_stores.base import BaseDataStore, Deletes, Upserts
from dictrack.errors import BackendError, DeserializationError
from dictrack.records import TrackerRecord

logger = logging.getLogger(__name__)


class WriteBehind:
    """Moves dirty trackers from a cache to a store for one manager."""

    def __init__(
        self, cache: BaseDataCache, store: BaseDataStore, owner: object
    ) -> None:
        self._cache = cache
        self._store = store
        self.closed = False
        #: which backends close() closes: "cache", "store" (those built by us)
        self.owned: tuple[str, ...] = ()
        self._lock = threading.Lock()  # one store writer at a time, in order
        # Runs at most once: on close(), when ``owner`` is collected, or at exit.
        self._finalizer = weakref.finalize(owner, self._final_persist)

    def write_through(
        self, group_id: str, writes: Mapping[str, TrackerRecord | None], version: int
    ) -> None:
        """Store an admin change now; on failure it stays marked for later."""
        upserts: Upserts = [(group_id, r) for r in writes.values() if r is not None]
        deletes: Deletes = [
            (group_id, n, version) for n, r in writes.items() if r is None
        ]
        try:
            with self._lock:
                self._store.write(upserts, deletes)
                self._cache.mark_clean(group_id, dict.fromkeys(writes, version))
        except BackendError:
            logger.warning(
                "store write failed for group %r; the change is kept in the cache "
                "and retried by persist()",
                group_id,
                exc_info=True,
            )

    def delete_group(self, group_id: str, version: int) -> None:
        """Remove every stored tracker of a group up to ``version`` (expired too)."""
        with self._lock:
            self._store.write(deletes=[(group_id, None, version)])

    def persist(self) -> int:
        """Store every dirty tracker; return how many records were written.

        :raises BackendError: if the store failed (the marks stay for a retry).
        """
        with self._lock:
            marks = self._cache.dirty()
            if not marks:
                return 0
            upserts: list[tuple[str, TrackerRecord]] = []
            deletes: list[tuple[str, str | None, int | None]] = []
            stored: dict[str, dict[str, int]] = {}
            for group_id, names in marks.items():
                try:
                    snapshot = self._cache.load(group_id)
                except DeserializationError:  # one bad group must not stop all
                    logger.exception("group %r cannot be read; not stored", group_id)
                    continue
                if snapshot is None:  # unreachable: marked groups stay cached
                    continue
                stored[group_id] = names
                for name, version in names.items():
                    record = snapshot.records.get(name)
                    if record is None:
                        deletes.append((group_id, name, version))
                    else:
                        upserts.append((group_id, record))
            self._store.write(upserts, deletes)
            for group_id, names in stored.items():
                self._cache.mark_clean(group_id, names)
            return len(upserts) + len(deletes)

    def _final_persist(self) -> None:
        try:
            self.persist()
        except Exception:
            logger.exception("could not persist pending dictrack changes at exit")

    def close(self) -> None:
        """Persist, then close the owned backends; raises if the persist fails."""
        if self.closed:
            return
        self.persist()
        self._finalizer.detach()
        self.closed = True
        if "cache" in self.owned:
            self._cache.close()
        if "store" in self.owned:
            self._store.close()
