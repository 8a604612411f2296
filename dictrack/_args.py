"""Argument checks and defaults shared by the manager's public methods."""

from __future__ import annotations

import math
import os
from datetime import datetime
from pathlib import Path

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
