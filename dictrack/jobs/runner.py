"""JobRunner: one background thread for the periodic work of a manager.

Each :class:`Job` runs every ``interval`` seconds (a job may ask for another
delay, e.g. to back off after a failure). A job marked ``once_per_cluster``
runs only while this runner holds its lease in the cache (``SET NX PX`` on
Redis), so that among many processes sharing a cache one does the work, and
another takes over within the lease's time to live if that one dies.

The runner is modelled on LaunchDarkly's ``BackgroundOperation``: ``start()``,
``stop()``, ``is_alive()``. It never raises from a job: failures are logged
and the job runs again at its next time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dictrack._args import seconds
from dictrack.data_caches.base import BaseDataCache

logger = logging.getLogger(__name__)

#: A job's body: returns the delay before its next run, or None for its interval.
JobBody = Callable[[], "float | None"]


@dataclass
class Job:
    """One periodic piece of work."""

    name: str
    interval: float
    run: JobBody
    #: run in one process at a time among those sharing the cache
    once_per_cluster: bool = False
    next_at: float = field(default=0.0, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"job name must be a non-empty str, got {self.name!r}")
        self.interval = seconds(self.interval, f"interval of job {self.name!r}")


class JobRunner:
    """Runs jobs on one daemon thread until :meth:`stop`.

    :param cache: where the leases of ``once_per_cluster`` jobs are taken.
    :param jobs: the jobs; each first runs one interval after :meth:`start`.
    :param name: the thread's name.
    """

    def __init__(
        self,
        cache: BaseDataCache,
        jobs: Sequence[Job],
        *,
        name: str = "dictrack-jobs",
    ) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique, got {names}")
        self.cache = cache
        self.jobs = list(jobs)
        self.name = name
        #: who holds this runner's leases: unique per runner and process
        self.owner = f"{os.getpid()}:{uuid.uuid4().hex}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the thread (again after a :meth:`stop`); no-op if running."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            # Each thread has its own stop flag: a thread that outlived a
            # stop() timeout still stops, and never runs beside its successor.
            self._stop = threading.Event()
            now = time.monotonic()
            for job in self.jobs:
                job.next_at = now + job.interval
            self._thread = threading.Thread(
                target=self._loop, args=(self._stop,), name=self.name, daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float | None = 30.0, *, release: bool = True) -> None:
        """Stop the thread after the job it is running, and release leases.

        :param timeout: seconds to wait for the running job to end.
        :param release: False keeps the leases (until :meth:`release_leases`
            or their time to live): the manager's ``close()`` does a final
            flush before another runner may take over.
        """
        with self._lock:
            thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("dictrack job thread did not stop in %ss", timeout)
        if release:
            self.release_leases()

    def is_alive(self) -> bool:
        """Whether the thread is running."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def run_now(self, name: str) -> None:
        """Run one job at once in the calling thread (tests, the CLI)."""
        for job in self.jobs:
            if job.name == name:
                self._run(job)
                return
        raise KeyError(f"no job named {name!r}; jobs: {[j.name for j in self.jobs]}")

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            job = min(self.jobs, key=lambda j: j.next_at, default=None)
            if job is None:
                stop.wait()
                break
            delay = job.next_at - time.monotonic()
            if delay > 0 and stop.wait(delay):
                break
            self._run(job)

    def _run(self, job: Job) -> None:
        delay: float | None = None
        try:
            if not job.once_per_cluster or self._lease(job):
                delay = job.run()
        except Exception:
            logger.exception("dictrack job %r failed; it runs again later", job.name)
        job.next_at = time.monotonic() + (job.interval if delay is None else delay)

    def _lease(self, job: Job) -> bool:
        """Take or renew the job's lease; it outlives a few missed runs."""
        key = f"job:{job.name}"
        ttl = max(5.0, 3 * job.interval)
        try:
            held = self.cache.acquire_lease(key, self.owner, ttl)
        except Exception:
            logger.exception("cannot take the lease of job %r", job.name)
            held = False
        if held:
            self._held.add(key)
        else:
            self._held.discard(key)
        return held

    def release_leases(self) -> None:
        """Give up every lease this runner holds (another runner may take
        over at its next run)."""
        for key in list(self._held):
            try:
                self.cache.release_lease(key, self.owner)
            except Exception:  # noqa: PERF203  # release the others anyway
                logger.warning("cannot release lease %r", key, exc_info=True)
        self._held.clear()
