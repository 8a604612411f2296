"""The plain-data unit that caches and stores keep: one tracker of one group."""

from __future__ import annotations

from typing import NamedTuple

from dictrack.typing import JSONDict


class TrackerRecord(NamedTuple):
    """A tracker as stored: its definition and state dicts plus metadata.

    :ivar name: the tracker name, unique within its group.
    :ivar definition: what the tracker is (see
        :func:`dictrack.codec.encode_definition`).
    :ivar state: where it stands (see :func:`dictrack.codec.encode_state`).
    :ivar version: grows with every change of the group; a store never lets an
        older version overwrite a newer one.
    :ivar expire_at: epoch seconds after which the tracker is gone, or None.
    """

    name: str
    definition: JSONDict
    state: JSONDict
    version: int = 0
    expire_at: float | None = None

    @property
    def type(self) -> str:
        """The registered tracker type name."""
        return str(self.definition.get("type", ""))

    @property
    def completed(self) -> bool:
        return bool(self.state.get("completed", False))
