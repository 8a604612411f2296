"""Write-behind from the data cache to the data store.

Changes land in the cache with dirty marks; :meth:`WriteBehind.persist` reads
the marks, writes the marked trackers to the store in batches of versioned
writes, and after each batch clears the marks it stored (a mark of a newer
change stays). If the store fails, or the process dies, the marks are still
there (in Redis, for every process to see), and a group with marks is never
evicted: nothing is lost. Changes made through the manager's admin calls (add,
update, remove, reset) are also written through at once. Store writes of one
manager are serialised, so they land in order.

The manager's job runner calls :meth:`persist` every ``flush_interval``
seconds; pending changes are also persisted when the manager is closed,
garbage-collected, or the interpreter exits.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from dictrack.data_caches.base import BaseDataCache, DirtyMarks, GroupSnapshot
from dictrack.data_stores.base import BaseDataStore, Deletes, Upserts
from dictrack.errors import BackendError, DeserializationError, StoreWriteError
from dictrack.records import TrackerRecord

if TYPE_CHECKING:
    from dictrack.jobs.runner import JobRunner

logger = logging.getLogger(__name__)

#: Trackers per store write when persisting a backlog.
BATCH_SIZE = 5_000


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
        #: the manager's job runner, stopped before the final persist
        self.runner: JobRunner | None = None
        # One store writer at a time, in order; re-entrant, so that a status
        # listener (called during a flush) may call close() or persist().
        self._lock = threading.RLock()
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
                "and written by the next flush",
                group_id,
                exc_info=True,
            )

    def delete_group(self, group_id: str, version: int) -> None:
        """Remove every stored tracker of a group up to ``version`` (expired too)."""
        with self._lock:
            self._store.write(deletes=[(group_id, None, version)])

    def persist(
        self,
        batch_size: int | None = None,
        on_batch: Callable[[int, int], object] | None = None,
    ) -> int:
        """Store every dirty tracker; return how many records were written.

        :param batch_size: trackers per store write (groups are not split);
            default :data:`BATCH_SIZE`.
        :param on_batch: called after each stored batch with the number of
            records written so far and the number of batches left.
        :raises StoreWriteError: if the store failed; what was stored before
            stays stored, the rest stays marked for a retry.
        :raises BackendError: if the cache failed.
        """
        with self._lock:
            marks = self._cache.dirty()
            total = 0
            batches = _batches(marks, batch_size or BATCH_SIZE)
            for i, batch in enumerate(batches, 1):
                total += self._store_batch(batch)
                if on_batch is not None:
                    on_batch(total, len(batches) - i)
            return total

    def _store_batch(self, marks: DirtyMarks) -> int:
        upserts: list[tuple[str, TrackerRecord]] = []
        deletes: list[tuple[str, str | None, int | None]] = []
        stored: dict[str, dict[str, int]] = {}
        snapshots = self._snapshots(list(marks))
        for group_id, names in marks.items():
            snapshot = snapshots.get(group_id)
            if snapshot is None:  # unreadable, or (unreachable) not cached
                continue
            # What is stored is the snapshot, which may be newer than the
            # marks read before it: clear the marks up to what was stored, so
            # the next flush does not write the same version again.
            done = stored[group_id] = {}
            for name in names:
                record = snapshot.records.get(name)
                if record is None:  # gone as of the snapshot's version
                    deletes.append((group_id, name, snapshot.version))
                    done[name] = snapshot.version
                else:
                    upserts.append((group_id, record))
                    done[name] = record.version
        try:
            self._store.write(upserts, deletes)
        except BackendError as exc:
            raise StoreWriteError(
                f"storing {len(upserts) + len(deletes)} trackers failed: {exc}; "
                "they stay in the cache and are written by the next flush"
            ) from exc
        for group_id, names in stored.items():
            self._cache.mark_clean(group_id, names)
        return len(upserts) + len(deletes)

    def _snapshots(self, group_ids: list[str]) -> dict[str, GroupSnapshot | None]:
        """The groups' snapshots in one read; a group that cannot be read is
        logged and left out (its marks stay), so one bad group stops none."""
        try:
            return self._cache.load_many(group_ids)
        except DeserializationError:
            pass
        found: dict[str, GroupSnapshot | None] = {}
        for group_id in group_ids:
            try:
                found[group_id] = self._cache.load(group_id)
            except DeserializationError:  # noqa: PERF203  # skip only this one
                logger.exception("group %r cannot be read; not stored", group_id)
        return found

    def _persist_last(self) -> None:
        """Stop the jobs, persist, then give up their leases: a runner of
        another process takes over only after this final flush."""
        runner = self.runner
        if runner is not None:
            runner.stop(release=False)
        try:
            self.persist()
        finally:
            if runner is not None:
                runner.release_leases()

    def _final_persist(self) -> None:
        try:
            self._persist_last()
        except Exception:
            logger.exception("could not persist pending dictrack changes at exit")

    def close(self) -> None:
        """Stop the jobs, persist, then close the owned backends; raises if the
        persist fails (then nothing is closed and close() may be called again)."""
        if self.closed:
            return
        self._persist_last()
        self._finalizer.detach()
        self.closed = True
        if "cache" in self.owned:
            self._cache.close()
        if "store" in self.owned:
            self._store.close()


def _batches(marks: DirtyMarks, size: int) -> list[DirtyMarks]:
    """Split marks into batches of about ``size`` trackers, whole groups each."""
    batches: list[DirtyMarks] = []
    batch: DirtyMarks = {}
    count = 0
    for group_id, names in marks.items():
        if batch and count + len(names) > size:
            batches.append(batch)
            batch, count = {}, 0
        batch[group_id] = names
        count += len(names)
    if batch:
        batches.append(batch)
    return batches
