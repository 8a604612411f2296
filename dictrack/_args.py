"""Argument checks and defaults shared by the manager's public methods."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from dictrack.data_caches.base import BaseDataCache
from dictrack.data_stores.base import BaseDataStore
from dictrack.trackers.base import BaseTracker
from dictrack.typing import EventData

logger = logging.getLogger(__name__)

#: What ``now=`` accepts: epoch seconds, an aware datetime, or None (the clock).
Now = float | int | datetime | None


def default_store_path() -> Path:
    """Where ``TrackingManager()`` keeps its SQLite file.

    ``$DICTRACK_HOME/dictrack.sqlite3`` if set, else the XDG data folder
    (``~/.local/share/dictrack/dictrack.sqlite3``).
    """
    home = os.environ.get("DICTRACK_HOME")
    if home:
        return Path(home).expanduser() / "dictrack.sqlite3"
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "dictrack" / "dictrack.sqlite3"


def check_group(group_id: object) -> str:
    if type(group_id) is str and group_id:
        return group_id
    if not isinstance(group_id, str):
        raise TypeError(f"`group_id` must be a str, got {type(group_id).__name__}")
    if not group_id:
        raise ValueError("`group_id` must not be empty")
    return group_id


def check_event(data: object, event_id: object) -> None:
    """Check ``track``'s event dict and optional event id."""
    if type(data) is not dict and not isinstance(data, Mapping):
        raise TypeError(f"`data` must be a dict, got {type(data).__name__}")
    if event_id is not None and not isinstance(event_id, str):
        raise TypeError(f"`event_id` must be a str, got {type(event_id).__name__}")


def check_names(name: object) -> list[str] | None:
    if name is None:
        return None
    if isinstance(name, str):
        return [name]
    if isinstance(name, (list, tuple)) and all(isinstance(n, str) for n in name):
        return list(name)
    raise TypeError(f"`name` must be a str, a list of str or None, got {name!r}")


def expiry(expire: object, expire_at: object, now: float) -> float | None:
    """Return the epoch second at which an added tracker expires, or None.

    :param expire: seconds from ``now`` (positive).
    :param expire_at: epoch seconds.
    """
    checked: dict[str, float] = {}
    for arg, value in (("expire", expire), ("expire_at", expire_at)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"`{arg}` must be seconds (int or float) or None")
        if not math.isfinite(value):
            raise ValueError(f"`{arg}` must be finite, got {value!r}")
        checked[arg] = float(value)
    if len(checked) == 2:
        raise ValueError("give `expire` (seconds from now) or `expire_at`, not both")
    if "expire" in checked:
        if checked["expire"] <= 0:
            raise ValueError(f"`expire` must be positive seconds, got {expire!r}")
        return now + checked["expire"]
    return checked.get("expire_at")


def open_backends(
    data_cache: BaseDataCache | str | None, data_store: BaseDataStore | str | None
) -> tuple[BaseDataCache, BaseDataStore, tuple[str, ...]]:
    """The manager's backends from instances, URLs or defaults.

    :returns: the cache, the store, and which of them were built here (those
        are the manager's to close; backends passed in are the caller's).
    """
    from dictrack import data_caches, data_stores
    from dictrack.data_caches.memory import MemoryDataCache

    owned = tuple(
        kind
        for kind, given in (("cache", data_cache), ("store", data_store))
        if given is None or isinstance(given, str)
    )
    if isinstance(data_cache, str):
        data_cache = data_caches.from_url(data_cache)
    if isinstance(data_store, str):
        data_store = data_stores.from_url(data_store)
    if data_cache is None:
        data_cache = MemoryDataCache()
    if data_store is None:
        from dictrack.data_stores.sqlite import SQLiteDataStore

        data_store = SQLiteDataStore(default_store_path())
        logger.info("dictrack keeps its data in %s", data_store.path)
    if not isinstance(data_cache, BaseDataCache):
        raise TypeError(
            "`data_cache` must be a BaseDataCache or URL, "
            f"got {type(data_cache).__name__}"
        )
    if not isinstance(data_store, BaseDataStore):
        raise TypeError(
            "`data_store` must be a BaseDataStore or URL, "
            f"got {type(data_store).__name__}"
        )
    return data_cache, data_store, owned


def seconds(value: object, what: str) -> float:
    """``value`` as positive finite seconds, or a clear error naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be seconds (int or float), got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be positive finite seconds, got {value!r}")
    return float(value)


def check_items(
    events: Iterable[tuple[str, EventData] | tuple[str, EventData, str | None]],
) -> list[tuple[str, EventData, str | None]]:
    """The items of ``track_many`` as ``(group_id, data, event_id)``, checked."""
    items: list[tuple[str, EventData, str | None]] = []
    for item in events:
        if not isinstance(item, tuple) or len(item) not in (2, 3):
            raise TypeError(
                "each item must be (group_id, data) or (group_id, data, event_id)"
            )
        group_id, data = check_group(item[0]), item[1]
        event_id = item[2] if len(item) == 3 else None
        check_event(data, event_id)
        items.append((group_id, data, event_id))
    return items


def adopt(tracker: object, group_id: str, now: float) -> BaseTracker:
    """A copy of ``tracker`` to store in ``group_id``: checked, owned by the
    group, and, with a schedule, counting in the period of ``now``.

    :raises TypeError: if ``tracker`` is not a tracker.
    :raises TrackerStateError: if it is completed or removed.
    :raises GroupIdError: if it belongs to another group.
    """
    if not isinstance(tracker, BaseTracker):
        raise TypeError(f"expected a tracker, got {type(tracker).__name__}")
    tracker._check_health()  # a completed or removed tracker cannot be stored
    if tracker.group_id not in (group_id, BaseTracker.DEFAULT_GROUP_ID):
        tracker.group_id = group_id  # raises GroupIdError with the names
    copy = tracker._clone()
    copy._group_id = group_id
    if copy._schedule is not None and copy._period is None:
        copy._roll(now)  # counts in the period it was added in
    copy._dirtied = False
    return copy


def positive_int(value: object, what: str) -> int:
    """``value`` as an int of at least 1, or a clear error naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return value


def check_name(name: object) -> str:
    """A tracker name argument."""
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str, got {type(name).__name__}")
    return name
