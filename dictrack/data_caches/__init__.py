"""Hot-state backends, chosen by instance or by URL.

>>> from dictrack import data_caches
>>> cache = data_caches.from_url("memory://")
"""

from __future__ import annotations

from typing import Any

from dictrack._registry import SchemeRegistry
from dictrack.data_caches.base import (
    ApplyStatus,
    BaseDataCache,
    DirtyMarks,
    GroupSnapshot,
)

__all__ = [
    "ApplyStatus",
    "BaseDataCache",
    "DirtyMarks",
    "GroupSnapshot",
    "from_url",
    "register_scheme",
]

_REGISTRY: SchemeRegistry[BaseDataCache] = SchemeRegistry(
    "data cache",
    BaseDataCache,
    {"memory": "dictrack.data_caches.memory:MemoryDataCache"},
)
_REGISTRY.register("redis", "dictrack.data_caches.redis:RedisDataCache", extra="redis")
_REGISTRY.register("rediss", "dictrack.data_caches.redis:RedisDataCache", extra="redis")


def from_url(url: str, **kwargs: Any) -> BaseDataCache:
    """Build a data cache from a URL such as ``"memory://"``.

    :raises ConfigurationError: for an unknown scheme or a missing driver.
    """
    return _REGISTRY.create(url, **kwargs)


def register_scheme(scheme: str, target: str, extra: str | None = None) -> None:
    """Let :func:`from_url` build ``"package.module:Class"`` for ``scheme://`` URLs."""
    _REGISTRY.register(scheme, target, extra)
