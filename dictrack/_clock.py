"""The one place that reads the wall clock.

Domain objects never call this: public entry points (the manager, a tracker's
``track`` called directly, a ``TimeLimiter`` built without ``start_ts``) take the
time here once and pass it down as ``now``. Also the one place that pauses:
:func:`back_off`, for writers that keep losing compare-and-sets.
"""

from __future__ import annotations

import math
import random
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


def back_off(attempt: int) -> bool:
    """Pause a writer that keeps losing compare-and-sets to other processes.

    The first conflicts retry at once, on the group the conflict returned.
    From the ninth on, a short random pause (at most 1, 2, 4 ... 32 ms) breaks
    a losing streak against writers on other processes; returns whether it
    paused. Only contention pauses; failures never do.
    """
    if attempt < 8:
        return False
    time.sleep(random.uniform(0, 0.001 * 2 ** min(attempt - 8, 5)))
    return True
