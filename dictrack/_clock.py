"""The one place that reads the wall clock.

Domain objects never call this: public entry points (the manager, a tracker's
``track`` called directly, a ``TimeLimiter`` built without ``start_ts``) take the
time here once and pass it down as ``now``.
"""

from __future__ import annotations

import math
import time
from datetime import datetime


def now_ts() -> float:
    """Return the current time in epoch seconds (UTC)."""
    return time.time()


def to_timestamp(now: float | int | datetime | None) -> float:
    """Normalise a ``now=`` argument to epoch seconds.

    An int stays an int (2.1.5 kept ``now_ts`` as given, e.g. in limiter windows).

    :param now: epoch seconds, a timezone-aware datetime, or None for the clock.
    :raises TypeError: for any other type.
    :raises ValueError: for a naive datetime or a non-finite number.
    """
    kind = type(now)
    if kind is float or kind is int:  # the common case, checked first
        if math.isfinite(now):  # type: ignore[arg-type]  # a number here
            return now  # type: ignore[return-value]  # a number here
        raise ValueError(f"`now` must be finite, got {now!r}")
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(
                "`now` must be a timezone-aware datetime (naive datetimes are "
                "ambiguous); use datetime.now(timezone.utc) or epoch seconds"
            )
        return now.timestamp()
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise TypeError(
            "`now` must be epoch seconds or an aware datetime, "
            f"got {type(now).__name__}"
        )
    if not math.isfinite(now):
        raise ValueError(f"`now` must be finite, got {now!r}")
    return now
