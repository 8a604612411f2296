"""Durable backends, chosen by instance or by URL.

>>> from dictrack import data_stores
>>> store = data_stores.from_url("sqlite:///:memory:")
"""

from __future__ import annotations

from typing import Any

from dictrack._registry import SchemeRegistry
from dictrack.data_stores.base import BaseDataStore, Deletes, Upserts

__all__ = ["BaseDataStore", "Deletes", "Upserts", "from_url", "register_scheme"]

_REGISTRY: SchemeRegistry[BaseDataStore] = SchemeRegistry(
    "data store",
    BaseDataStore,
    {
        "sqlite": "dictrack.data_stores.sqlite:SQLiteDataStore",
        "mongodb": "dictrack.data_stores.mongodb:MongoDBDataStore",
        "mongodb+srv": "dictrack.data_stores.mongodb:MongoDBDataStore",
    },
    {"mongodb+srv": "mongodb"},
)


def from_url(url: str, **kwargs: Any) -> BaseDataStore:
    """Build a data store from a URL such as ``"sqlite:///dictrack.db"``.

    :raises ConfigurationError: for an unknown scheme or a missing driver.
    """
    return _REGISTRY.create(url, **kwargs)


def register_scheme(scheme: str, target: str, extra: str | None = None) -> None:
    """Let :func:`from_url` build ``"package.module:Class"`` for ``scheme://`` URLs."""
    _REGISTRY.register(scheme, target, extra)
