"""Event codes and the immutable event values delivered to listeners.

Codes and class names are those of dictrack 2.1.5. Events are created by the
tracker transitions and handed to listeners only after the change they describe
has been written, so a listener never hears of a change that was rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dictrack import _clock

if TYPE_CHECKING:
    from dictrack.limiters.base import BaseLimiter
    from dictrack.trackers.base import BaseTracker

logger = logging.getLogger(__name__)

EVENT_TRACKER_ADDED = 1001
EVENT_TRACKER_STAGE_COMPLETED = 1002
EVENT_TRACKER_ALL_COMPLETED = 1003
EVENT_TRACKER_RESET = 1004
EVENT_TRACKER_LIMITED = 1005

#: Every event code, in numeric order.
EVENT_ALL = [
    EVENT_TRACKER_ADDED,
    EVENT_TRACKER_STAGE_COMPLETED,
    EVENT_TRACKER_ALL_COMPLETED,
    EVENT_TRACKER_RESET,
    EVENT_TRACKER_LIMITED,
]

EVENT_NAMES = {
    EVENT_TRACKER_ADDED: "EVENT_TRACKER_ADDED",
    EVENT_TRACKER_STAGE_COMPLETED: "EVENT_TRACKER_STAGE_COMPLETED",
    EVENT_TRACKER_ALL_COMPLETED: "EVENT_TRACKER_ALL_COMPLETED",
    EVENT_TRACKER_RESET: "EVENT_TRACKER_RESET",
    EVENT_TRACKER_LIMITED: "EVENT_TRACKER_LIMITED",
}


def _stamp() -> float:
    return _clock.now_ts()


@dataclass(frozen=True, eq=False, repr=False)
class BaseEvent:
    """An event: its ``code`` and ``event_ts`` (epoch seconds)."""

    code: int
    event_ts: float = field(default_factory=_stamp, kw_only=True)

    def __repr__(self) -> str:
        return f"<BaseEvent (code={self.code})>"


@dataclass(frozen=True, eq=False, repr=False)
class TrackerEvent(BaseEvent):
    """An event about one tracker; ``tracker`` is a snapshot taken at that moment."""

    group_id: str
    name: str
    tracker: BaseTracker

    def __repr__(self) -> str:
        return (
            f"<TrackerEvent (code={self.code} group_id={self.group_id} "
            f"name={self.name} tracker={self.tracker})>"
        )


@dataclass(frozen=True, eq=False, repr=False)
class LimitedTrackerEvent(TrackerEvent):
    """A tracker was closed by ``limiter``."""

    limiter: BaseLimiter

    def __repr__(self) -> str:
        return (
            f"<LimitedTrackerEvent (code={self.code} group_id={self.group_id} "
            f"name={self.name} tracker={self.tracker} limiter={self.limiter})>"
        )


def check_code(code: object) -> int:
    """Return ``code`` if it is a known event code.

    :raises ValueError: naming the known codes otherwise.
    """
    if isinstance(code, bool) or code not in EVENT_NAMES:
        raise ValueError(
            f"unknown event code {code!r}; use one of dictrack.events.EVENT_ALL "
            f"{EVENT_ALL}"
        )
    return int(code)  # type: ignore[call-overload,unused-ignore]  # checked above


Listener = Callable[[Any], object]


class ListenerRegistry:
    """Listeners by event code; a listener that raises is logged and skipped."""

    __slots__ = ("_by_code",)

    def __init__(self) -> None:
        self._by_code: dict[int, list[Listener]] = {}

    def __bool__(self) -> bool:
        return bool(self._by_code)

    def wants(self, code: int) -> bool:
        """Whether any listener is registered for ``code``."""
        return code in self._by_code

    def add(self, code: int, cb: Listener) -> None:
        """Register ``cb`` for ``code``.

        :raises ValueError: for an unknown code.
        :raises TypeError: if ``cb`` is not callable.
        """
        code = check_code(code)
        if not callable(cb):
            raise TypeError(
                f"listener must be callable, got {type(cb).__name__}; pass a "
                "function taking one event argument"
            )
        self._by_code.setdefault(code, []).append(cb)

    def remove(self, code: int, cb: Listener) -> bool:
        """Unregister ``cb`` for ``code``; return whether it was registered."""
        listeners = self._by_code.get(check_code(code), [])
        if cb in listeners:
            listeners.remove(cb)
            if not listeners:
                del self._by_code[code]
            return True
        return False

    def dispatch(self, events: Iterable[BaseEvent]) -> None:
        """Deliver each event to the listeners of its code, in order."""
        for event in events:
            for cb in tuple(self._by_code.get(event.code, ())):
                try:
                    cb(event)
                except Exception:  # noqa: PERF203  # one bad listener must not stop the rest
                    logger.exception(
                        "listener %r failed on %s; delivery goes on",
                        cb,
                        EVENT_NAMES.get(event.code, event.code),
                    )
