"""AccumulationTracker: progress adds up a numeric field of matching events."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from dictrack.conditions.paths import MISSING, resolve_parts, split_path
from dictrack.schedules import Schedule
from dictrack.trackers._state import AUTO_POLICY
from dictrack.trackers.numerics.numeric import NumericTracker
from dictrack.typing import EventData, Number

logger = logging.getLogger(__name__)


class AccumulationTracker(NumericTracker):
    """Add the number at ``key`` (a dotted path) of each matching event.

    A missing key or a None value adds nothing (and is logged at warning level);
    a numeric string such as ``"12.5"`` is converted.

    :param key: where the amount is in the event, e.g. ``"bet"`` or
        ``"order.total"``.
    :raises ValueError: from ``track``, if the value there is not a number.
    """

    type_name = "AccumulationTracker"
    _own_fields = frozenset({"_key", "_key_parts"})
    DEFAULT = "_THIS_IS_DEFAULT_VALUE"

    def __init__(
        self,
        name: str,
        conditions: Any,
        target: Number | list[Number] | tuple[Number, ...],
        key: str,
        group_id: str | None = None,
        limiters: Any = None,
        reset_policy: int = AUTO_POLICY,
        loop_forever: bool = False,
        init_progress: Number = 0,
        *args: Any,
        schedule: Schedule | None = None,
        **kwargs: Any,
    ) -> None:
        self._key_parts = split_path(key)
        self._key = key
        super().__init__(
            name,
            conditions,
            target,
            group_id=group_id,
            limiters=limiters,
            reset_policy=reset_policy,
            loop_forever=loop_forever,
            init_progress=init_progress,
            schedule=schedule,
        )

    @property
    def key(self) -> str:
        return self._key

    def _compare_key(self) -> tuple[Any, ...]:
        return (*super()._compare_key(), self._key)

    def _repr_fields(self) -> str:
        return f"{super()._repr_fields()} key={self._key}"

    def _definition_extra(self) -> dict[str, Any]:
        return {"key": self._key}

    def _restore_extra(self, extra: Mapping[str, Any]) -> None:
        self._key_parts = split_path(extra["key"])
        self._key = extra["key"]

    def _push_progress(self, data: EventData, *args: Any, **kwargs: Any) -> None:
        amount = resolve_parts(data, self._key_parts)
        if amount is MISSING or amount is None:
            logger.warning(
                "tracker %r: key %r is %s in the event; nothing added",
                self._name,
                self._key,
                "missing" if amount is MISSING else "None",
            )
            return
        self._progress += self._to_number(amount)

    def _to_number(self, amount: Any) -> Number:
        if type(amount) is int:  # the usual amount: nothing to convert or check
            return amount
        number: Any = amount
        if isinstance(amount, str):
            try:
                number = float(amount)
            except ValueError:
                number = None
        if not isinstance(number, (int, float)) or not math.isfinite(number):
            raise ValueError(
                f"tracker {self._name!r}: the value at key {self._key!r} must be a "
                f"finite number or numeric string, got {type(amount).__name__} "
                f"{amount!r}; the event was not applied"
            )
        return number
