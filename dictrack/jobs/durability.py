"""The manager's periodic jobs: flush, expiry and eviction.

- **flush** (every ``flush_interval``, once per cluster): writes dirty trackers
  to the store; on a store failure it backs off (doubling up to
  ``max_backoff``) and reports ``available=False`` to the store status; once
  the backlog is written it reports ``available=True, stale=False``.
- **expire** (every ``expire_interval``, once per cluster): removes trackers
  whose ``expire_at`` has passed from the cache (through the engine, so views
  and versions stay right) and the store, and purges old tombstones.
- **evict** (every ``check_interval`` of the cache): drops clean groups that
  have been idle for the cache's ``stale_threshold``.
- **reset** (right after each period boundary, at least every
  ``reset_interval``): see :mod:`dictrack.jobs.periods`.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING

from dictrack._args import seconds
from dictrack.errors import BackendError, StoreWriteError
from dictrack.jobs.periods import ResetJob
from dictrack.jobs.runner import Job
from dictrack.status import StoreStatusProvider

if TYPE_CHECKING:
    from dictrack._engine import Changes, Engine
    from dictrack._group import GroupView
    from dictrack.events import BaseEvent

logger = logging.getLogger(__name__)

#: Expired trackers handled per store query, and queries per run.
EXPIRE_BATCH = 1_000
EXPIRE_ROUNDS = 10


class FlushJob:
    """Persist dirty trackers, report store status, back off on failure."""

    def __init__(
        self,
        engine: Engine,
        status: StoreStatusProvider,
        interval: float,
        max_backoff: float = 30.0,
    ) -> None:
        self.engine = engine
        self.status = status
        self.interval = interval
        self.max_backoff = max(max_backoff, interval)
        self.failures = 0

    def __call__(self) -> float | None:
        def on_batch(_written: int, left: int) -> None:
            if left and not self.status.status.available:  # backlog left
                self.status.update(available=True, stale=True)

        try:
            self.engine.write_behind.persist(on_batch=on_batch)
        except StoreWriteError:
            self.failures += 1
            self.status.update(available=False, stale=True)
            delay = self._delay()
            logger.warning(
                "flush to the store failed (%d in a row); retrying in %.1fs",
                self.failures,
                delay,
                exc_info=True,
            )
            return delay
        except BackendError:  # the cache itself: the store status is unknown
            self.failures += 1
            delay = self._delay()
            logger.warning(
                "flush could not read the cache; retrying in %.1fs",
                delay,
                exc_info=True,
            )
            return delay
        self.failures = 0
        self.status.update(available=True, stale=False)
        return None

    def _delay(self) -> float:
        """Seconds before the next attempt: doubling, capped."""
        return min(self.max_backoff, self.interval * 2.0 ** min(self.failures, 20))


class ExpireJob:
    """Remove expired trackers from cache and store; purge old tombstones."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        store = self.engine.store
        for _ in range(EXPIRE_ROUNDS):
            found = store.expired(now, EXPIRE_BATCH)
            by_group: dict[str, list[tuple[str, int]]] = defaultdict(list)
            for group_id, name, version in found:
                by_group[group_id].append((name, version))
            for group_id, names in by_group.items():
                self._expire(group_id, names, now)
            if len(found) < EXPIRE_BATCH:
                break
        store.purge_expired(now)

    def _expire(self, group_id: str, found: list[tuple[str, int]], now: float) -> None:
        engine = self.engine
        if engine.cache.version(group_id) is None:  # not cached: the store only
            # Up to the version found: one changed meanwhile (a new deadline)
            # stays.
            engine.store.write(deletes=[(group_id, n, v) for n, v in found])
            return
        names = [name for name, _ in found]

        def compute(view: GroupView) -> tuple[Changes, list[BaseEvent]]:
            gone: Changes = {}
            for name in names:
                tracker = view.get(name, float("-inf"))
                expire_at = None if tracker is None else tracker._expire_at
                if expire_at is not None and expire_at <= now:
                    gone[name] = None
            return gone, []

        engine.change(group_id, compute)


def check_intervals(intervals: dict[str, float]) -> None:
    """Check the keyword intervals of :func:`durability_jobs` (in place)."""
    for name, value in intervals.items():
        intervals[name] = seconds(value, f"`{name}`")


def durability_jobs(
    engine: Engine,
    status: StoreStatusProvider,
    *,
    flush_interval: float,
    expire_interval: float,
    reset_interval: float = 60.0,
) -> list[Job]:
    """The flush, expire, evict and reset jobs of one manager."""
    cache = engine.cache
    check_interval = getattr(cache, "check_interval", 30 * 60)
    expire = ExpireJob(engine)

    def evict() -> None:
        cache.evict_stale()

    return [
        Job(
            "flush",
            flush_interval,
            FlushJob(engine, status, flush_interval),
            once_per_cluster=True,
        ),
        Job("expire", expire_interval, expire, once_per_cluster=True),
        Job("evict", check_interval, evict),
        # Every process rolls the groups it holds; the compare-and-set makes
        # sure a period's reset is written and heard once.
        Job("reset", reset_interval, ResetJob(engine, reset_interval)),
    ]
