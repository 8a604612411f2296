"""Background work of a manager: flush, expiry, eviction, period resets.

By default a :class:`~dictrack.manager.TrackingManager` runs the flush,
expire, evict and reset jobs on a
thread of its own (``manager.jobs``); ``TrackingManager(..., run_jobs=False)``
leaves them to a separate ``dictrack worker`` process.
"""

from __future__ import annotations

from dictrack.jobs.durability import (
    ExpireJob,
    FlushJob,
    check_intervals,
    durability_jobs,
)
from dictrack.jobs.periods import ResetJob
from dictrack.jobs.runner import Job, JobRunner

__all__ = [
    "ExpireJob",
    "FlushJob",
    "Job",
    "JobRunner",
    "ResetJob",
    "check_intervals",
    "durability_jobs",
]
