"""Store status: is the durable store taking writes, and is it behind?

Modelled on LaunchDarkly's ``DataStoreStatusProvider``::

    def on_status(status):
        if not status.available:
            alert("dictrack store down; tracking continues on the cache")

    manager.store_status.add_listener(on_status)
    manager.store_status.status          # StoreStatus(available=True, stale=False)

The flush job reports every change: when a flush fails the status becomes
``available=False, stale=True``; when flushes succeed again it becomes
``available=True`` and, once the backlog is written, ``stale=False``. Listeners
run on the job runner's thread, never on a tracking call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import NamedTuple

logger = logging.getLogger(__name__)


class StoreStatus(NamedTuple):
    """One reading of the store's health."""

    #: whether the last write to the store succeeded
    available: bool
    #: whether the store lacks changes that are still only in the cache
    #: because writes failed (cleared once that backlog is written)
    stale: bool


StatusListener = Callable[[StoreStatus], object]


class StoreStatusProvider:
    """The current :class:`StoreStatus` and the listeners that hear changes."""

    def __init__(self) -> None:
        self._status = StoreStatus(available=True, stale=False)
        self._listeners: list[StatusListener] = []
        self._lock = threading.Lock()

    @property
    def status(self) -> StoreStatus:
        """The latest status."""
        return self._status

    def add_listener(self, listener: StatusListener) -> None:
        """Call ``listener(status)`` on every change of status.

        :raises TypeError: if ``listener`` is not callable.
        """
        if not callable(listener):
            raise TypeError(f"listener must be callable, got {listener!r}")
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: StatusListener) -> bool:
        """Stop calling ``listener``; return whether it was registered."""
        with self._lock:
            try:
                self._listeners.remove(listener)
            except ValueError:
                return False
            return True

    def update(self, available: bool, stale: bool) -> None:
        """Record a reading; listeners hear it if it differs from the last."""
        new = StoreStatus(available, stale)
        with self._lock:
            if new == self._status:
                return
            self._status = new
            listeners = list(self._listeners)
        if not available:
            logger.warning("dictrack store unavailable; changes wait in the cache")
        else:
            logger.info("dictrack store status: %s", new)
        for listener in listeners:
            try:
                listener(new)
            except Exception:  # noqa: PERF203  # one bad listener must not stop the rest
                logger.exception("store status listener %r failed", listener)
