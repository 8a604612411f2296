"""Small builders shared by the TrackingManager integration tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from dictrack.conditions.keys import KeyValueEQ
from dictrack.data_stores.base import BaseDataStore
from dictrack.errors import BackendError
from dictrack.manager import TrackingManager
from dictrack.records import TrackerRecord
from dictrack.trackers.base import BaseTracker
from dictrack.trackers.numerics.accumulation import AccumulationTracker
from dictrack.trackers.numerics.count import CountTracker

#: A fixed "now" for every test (2023-11-14T22:13:20Z); tests never read the clock.
T0 = 1_700_000_000.0

WIN = {"event": "win"}
LOSE = {"event": "lose"}


def wins(name: str = "wins", target: Any = 10, **kwargs: Any) -> CountTracker:
    """Count ``{"event": "win"}`` events."""
    return CountTracker(name, [KeyValueEQ("event", "win")], target, **kwargs)


def bets(name: str = "bets", target: Any = 1000, **kwargs: Any) -> AccumulationTracker:
    """Sum ``bet`` over win events."""
    return AccumulationTracker(
        name, [KeyValueEQ("event", "win")], target, key="bet", **kwargs
    )


def state(trackers: list[BaseTracker]) -> dict[str, tuple[Any, ...]]:
    """Name -> (progress, stage, completed, limited): what a user looks at."""
    return {
        t.name: (t.progress, t.current_stage, t.completed, t.limited) for t in trackers
    }


def progress(manager: TrackingManager, group_id: str, **kwargs: Any) -> dict[str, Any]:
    """Name -> progress of the group's live trackers."""
    return {t.name: t.progress for t in manager.get_trackers(group_id, **kwargs)}


def reloaded(data_store: BaseDataStore) -> TrackingManager:
    """A second manager with an empty in-memory cache over the same store.

    It is not closed by the caller (closing would close the shared store); it
    only reads, so nothing is left to persist when it is collected.
    """
    return TrackingManager("memory://", data_store, run_jobs=False)


class FlakyStore(BaseDataStore):
    """Wraps a real store; while ``down`` every call fails like a lost server."""

    def __init__(self, inner: BaseDataStore) -> None:
        self.inner = inner
        self.down = False
        self.writes = 0

    def _guard(self) -> None:
        if self.down:
            raise BackendError("store unreachable (test)")

    def load_group(self, group_id: str) -> list[TrackerRecord]:
        self._guard()
        return self.inner.load_group(group_id)

    def write(self, upserts=(), deletes=()) -> None:
        self._guard()
        self.writes += 1
        self.inner.write(upserts, deletes)

    def flush_all(self) -> None:
        self._guard()
        self.inner.flush_all()

    def expired(self, now: float, limit: int = 1000) -> list[tuple[str, str, int]]:
        self._guard()
        return self.inner.expired(now, limit)

    def purge_expired(self, now: float) -> int:
        self._guard()
        return self.inner.purge_expired(now)

    def check(self) -> bool:
        return not self.down and self.inner.check()

    def close(self) -> None:
        """The inner store is the fixture's to close."""


def run_threads(
    n: int, work: Callable[[int], None], timeout: float | None = None
) -> None:
    """Run ``work(k)`` for k in range(n) on n threads released together;
    re-raise the first failure once all have ended."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def body(k: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            work(k)
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(k,)) for k in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
