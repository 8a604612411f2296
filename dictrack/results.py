"""TrackResult: what ``TrackingManager.track`` returns."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from dictrack.trackers.base import BaseTracker


class TrackResult(tuple):  # type: ignore[type-arg]  # a 4-tuple of mixed types
    """Unpacks as 2.1.5's ``(ok, dirtied, completed, limited)``, with names too.

    :ivar ok: False only when the group could not be loaded from the store.
    :ivar dirtied: trackers this event changed, as they are now.
    :ivar completed: trackers this event completed (they are removed).
    :ivar limited: every limited tracker of the group.
    :ivar duplicate: True when ``event_id`` was seen before and nothing changed.
    """

    __slots__ = ()
    duplicate: ClassVar[bool] = False

    def __new__(
        cls,
        ok: bool,
        dirtied: list[BaseTracker],
        completed: list[BaseTracker],
        limited: list[BaseTracker],
        duplicate: bool = False,
    ) -> TrackResult:
        kind = _DuplicateResult if duplicate else cls
        return super().__new__(kind, (ok, dirtied, completed, limited))

    @property
    def ok(self) -> bool:
        return bool(self[0])

    @property
    def dirtied(self) -> list[BaseTracker]:
        return list(self[1])

    @property
    def completed(self) -> list[BaseTracker]:
        return list(self[2])

    @property
    def limited(self) -> list[BaseTracker]:
        return list(self[3])

    def __repr__(self) -> str:
        names = [[t.name for t in part] for part in self[1:]]
        return (
            f"TrackResult(ok={self[0]}, dirtied={names[0]}, completed={names[1]}, "
            f"limited={names[2]}, duplicate={self.duplicate})"
        )


class _DuplicateResult(TrackResult):
    """The result of an ``event_id`` seen before (nothing changed)."""

    __slots__ = ()
    duplicate = True
