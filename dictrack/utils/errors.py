"""The 2.1.5 exception names, mapped onto :mod:`dictrack.errors`.

Code that catches these names keeps working; new code should import from
:mod:`dictrack.errors`, whose classes all derive from ``DictrackError``.
"""

from __future__ import annotations

from dictrack.errors import (
    BackendError,
    DuplicateTrackerError,
    GroupIdError,
    TrackerAlreadyCompletedError,
    TrackerAlreadyRemovedError,
    TrackerNotFound,
)

GroupIdAlreadySetError = GroupIdError
GroupIdDuplicateSetError = GroupIdError
TrackerLookupError = TrackerNotFound
GroupIdLookupError = TrackerNotFound
NameLookupError = TrackerNotFound
ConflictingNameError = DuplicateTrackerError
DataStoreOperationError = BackendError
RedisOperationError = BackendError

__all__ = [
    "ConflictingNameError",
    "DataStoreOperationError",
    "GroupIdAlreadySetError",
    "GroupIdDuplicateSetError",
    "GroupIdLookupError",
    "NameLookupError",
    "RedisOperationError",
    "TrackerAlreadyCompletedError",
    "TrackerAlreadyRemovedError",
    "TrackerLookupError",
]
