"""Exceptions raised by dictrack.

Every exception has the root :class:`DictrackError`, so ``except DictrackError``
catches anything the library raises on purpose. Some also derive from the builtin
that 2.1.5 raised in the same situation (``ValueError``, ``KeyError``), so code
written for 2.1.5 keeps catching them.
"""

from __future__ import annotations

from typing import Any


class DictrackError(Exception):
    """Root of every error raised by dictrack."""


class ConfigurationError(DictrackError):
    """A bad URI, a missing optional dependency or a bad combination of settings."""


class BackendError(DictrackError, OSError):
    """A data cache or data store operation failed; the driver error is the cause."""


class OutcomeUnknownError(BackendError):
    """A write reached the cache but its reply was lost (the connection broke,
    a socket timeout): it may or may not have been applied. Tracking with an
    ``event_id`` makes sending the event again safe."""


class StoreLoadError(BackendError):
    """A group missing from the cache could not be loaded from the store."""


class StoreWriteError(BackendError):
    """The store refused a write; the changes stay marked in the cache and are
    written by a later flush."""


class ConflictError(DictrackError):
    """A group kept changing under a compare-and-set write, past the retry limit."""

    def __init__(
        self, group_id: str, attempts: int, results: list[Any] | None = None
    ) -> None:
        super().__init__(
            f"group {group_id!r} was changed concurrently on each of {attempts} "
            "attempts; retry later or lower the contention on this group"
        )
        self.group_id = group_id
        self.attempts = attempts
        #: From ``track_many``: the result of each item, None for those not
        #: applied (this one and the ones after it), so a caller can resume.
        self.results = results


class TrackerNotFound(DictrackError, LookupError):
    """No tracker by that name in the group."""

    def __init__(self, group_id: str, name: str) -> None:
        super().__init__(f"no tracker named {name!r} in group {group_id!r}")
        self.group_id = group_id
        self.name = name


class DuplicateTrackerError(DictrackError, KeyError):  # 2.1.5: ConflictingNameError
    """A tracker with that name already exists in the group."""

    def __init__(self, group_id: str, name: str) -> None:
        super().__init__(group_id, name)
        self.group_id = group_id
        self.name = name

    def __str__(self) -> str:
        return (
            f"group {self.group_id!r} already has a tracker named {self.name!r}; "
            "use update_tracker() to replace it or pick another name"
        )


class TrackerStateError(DictrackError, ValueError):
    """The tracker cannot take this operation in its current state."""


class TrackerAlreadyCompletedError(TrackerStateError):
    """The tracker is completed (2.1.5 name)."""


class TrackerAlreadyRemovedError(TrackerStateError):
    """The tracker was removed (2.1.5 name)."""


class GroupIdError(DictrackError, ValueError):
    """A tracker already belongs to another group."""


class DeserializationError(DictrackError):
    """Stored data could not be turned back into trackers."""


class SignatureError(DeserializationError):
    """A signed payload is unsigned, or its signature does not match."""
