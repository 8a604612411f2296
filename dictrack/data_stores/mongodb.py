"""MongoDBDataStore: trackers as readable, queryable MongoDB documents.

One document per tracker::

    {"_id": ObjectId, "group_id": "player-1", "name": "daily-wins",
     "type": "CountTracker", "definition": {...}, "state": {...},
     "version": 1732375000123456, "completed": false, "deleted": false,
     "seq": 1732375000123456789, "updated_at": ISODate, "expire_at": ISODate}

``definition`` and ``state`` are embedded documents, so an operator can query
``{"state.progress": {"$gte": 10}}``. Field names that MongoDB reserves are
escaped (``%`` as ``%25``, ``$`` as ``%24``, ``.`` as ``%2E``), and integers
beyond 64 bits are kept as ``{"%int": "<digits>"}``; everything else is stored
as is. Nothing is pickled.

Writes are versioned upserts (``version`` must grow) sent with
``bulk_write(ordered=False)``. A deleted tracker leaves a *tombstone* (its
version, ``deleted: true``) that the TTL index on ``expire_at`` removes after
``tombstone_ttl`` seconds, so a late write of an older version cannot bring it
back. ``expire=`` / ``expire_at=`` of ``add_tracker`` use the same TTL index.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dictrack.data_stores._mongo_format import from_bson, to_bson
from dictrack.data_stores.base import BaseDataStore, Deletes, Upserts
from dictrack.errors import BackendError, ConfigurationError, DeserializationError
from dictrack.records import TrackerRecord

try:
    import pymongo
    from pymongo import ASCENDING, DeleteMany, UpdateOne
    from pymongo.errors import BulkWriteError, PyMongoError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ConfigurationError(
        "MongoDBDataStore needs pymongo: pip install 'dictrack[mongodb]'"
    ) from exc

logger = logging.getLogger(__name__)

_DUPLICATE_KEY = 11000
_UTC = timezone.utc


def _date(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, _UTC)


class MongoDBDataStore(BaseDataStore):
    """Store trackers in one MongoDB collection (see the module docstring).

    The first arguments are those of 2.1.5, in its order; ``scheduler_class``
    and ``check_interval`` are accepted and unused (the manager's job runner
    does the periodic work).

    :param collection: the collection name.
    :param database: the database name.
    :param client: a ``pymongo.MongoClient`` (or ``mongomock.MongoClient``) to
        use; it stays open on :meth:`close`. Without it one is built from
        ``connect_kwargs`` and closed on :meth:`close`.
    :param strict: refuse a ``client`` that is not a MongoClient.
    :param tombstone_ttl: seconds a deleted tracker's tombstone is kept.
    :raises ConfigurationError: if the client cannot be built or the indexes
        cannot be created (the server is unreachable or refuses).
    """

    def __init__(
        self,
        scheduler_class: Any = None,
        check_interval: float = 60 * 60 * 2,
        collection: str = "data_store",
        database: str = "dictrack",
        client: Any = None,
        strict: bool = True,
        *,
        tombstone_ttl: float = 7 * 24 * 3600,
        **connect_kwargs: Any,
    ) -> None:
        for arg, value in (("collection", collection), ("database", database)):
            if not isinstance(value, str) or not value:
                raise TypeError(f"`{arg}` must be a non-empty str, got {value!r}")
        if isinstance(tombstone_ttl, bool) or not isinstance(
            tombstone_ttl, (int, float)
        ):
            raise TypeError(f"`tombstone_ttl` must be seconds, got {tombstone_ttl!r}")
        if not math.isfinite(tombstone_ttl) or tombstone_ttl <= 0:
            raise ValueError(
                f"`tombstone_ttl` must be positive seconds, got {tombstone_ttl!r}"
            )
        if client is not None and strict and not _is_client(client):
            raise TypeError(
                "`client` must be a pymongo.MongoClient (or pass strict=False), "
                f"got {type(client).__name__}"
            )
        self.check_interval = check_interval
        self.tombstone_ttl = float(tombstone_ttl)
        self._own_client = client is None
        if client is None:
            connect_kwargs.setdefault("tz_aware", True)
            try:
                client = pymongo.MongoClient(**connect_kwargs)
            except (PyMongoError, TypeError, ValueError) as exc:
                raise ConfigurationError(
                    f"cannot build a MongoDB client from {connect_kwargs!r}: {exc}"
                ) from exc
        self.client = client
        self.collection = client[database][collection]
        try:
            self._create_indexes()
        except ConfigurationError:
            self.close()  # a client built here must not outlive the failure
            raise

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> MongoDBDataStore:
        """``mongodb://host:port/database?collection=name`` (or ``mongodb+srv``).

        The database defaults to ``dictrack`` and the collection to
        ``data_store``; other query options go to ``MongoClient``.
        """
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        options = [(k, v) for k, v in query if k != "collection"]
        in_url = [v for k, v in query if k == "collection"]
        default_collection = kwargs.pop("collection", "data_store")
        default_database = kwargs.pop("database", "dictrack")
        collection = in_url[-1] if in_url else default_collection
        database = parts.path.lstrip("/") or default_database
        # The path stays in the URL given to pymongo: it is also the database
        # that authenticates (unless authSource= says otherwise).
        host = urlunsplit(parts._replace(query=urlencode(options)))
        return cls(collection=collection, database=database, host=host, **kwargs)

    def _create_indexes(self) -> None:
        try:
            self.collection.create_index(
                [("group_id", ASCENDING), ("name", ASCENDING)],
                unique=True,
                name="group_id_name",
            )
            self.collection.create_index(
                [("group_id", ASCENDING), ("seq", ASCENDING)], name="group_id_seq"
            )
            self.collection.create_index(
                [("expire_at", ASCENDING)], expireAfterSeconds=0, name="expire_at_ttl"
            )
        except PyMongoError as exc:
            raise ConfigurationError(
                f"cannot prepare MongoDB collection {self._where()}: {exc}; "
                "check that the server is reachable and the user may create indexes"
            ) from exc

    def _where(self) -> str:
        return f"{self.collection.database.name}.{self.collection.name}"

    # -- reading --------------------------------------------------------------

    def load_group(self, group_id: str) -> list[TrackerRecord]:
        try:
            documents = list(
                self.collection.find(
                    {"group_id": group_id, "deleted": {"$ne": True}},
                    {"_id": 0, "seq": 0, "updated_at": 0, "expire_at": 0},
                    sort=[("seq", ASCENDING)],
                )
            )
        except PyMongoError as exc:
            raise BackendError(
                f"MongoDB load of group {group_id!r} failed on {self._where()}: {exc}"
            ) from exc
        return [self._record(group_id, doc) for doc in documents]

    def _record(self, group_id: str, doc: Mapping[str, Any]) -> TrackerRecord:
        name = doc.get("name")
        try:
            definition = from_bson(doc["definition"])
            state = from_bson(doc["state"])
            version = doc["version"]
            expire = doc.get("expire_ts")
            if not isinstance(name, str):
                raise TypeError("name is not a string")
            if not isinstance(definition, dict) or not isinstance(state, dict):
                raise TypeError("definition and state must be documents")
            if isinstance(version, bool) or not isinstance(version, int):
                raise TypeError("version is not an integer")
            return TrackerRecord(
                name,
                definition,
                state,
                version,
                None if expire is None else float(expire),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DeserializationError(
                f"tracker {name!r} of group {group_id!r} has a corrupt document in "
                f"{self._where()} ({exc!r}); repair or delete it"
            ) from exc

    # -- writing --------------------------------------------------------------

    def write(self, upserts: Upserts = (), deletes: Deletes = ()) -> None:
        if not upserts and not deletes:
            return
        now = time.time()
        updated = _date(now)
        tombstone_until = _date(now + self.tombstone_ttl)
        seq = time.time_ns()
        hard: list[Any] = []
        #: versioned upserts: (filter, update)
        soft: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for group_id, name, version in deletes:
            if name is None or version is None:
                query: dict[str, Any] = {"group_id": group_id}
                if name is not None:
                    query["name"] = name
                if version is not None:  # a group up to a version: tombstones
                    query["version"] = {"$lte": version}  # keep guarding
                    query["deleted"] = {"$ne": True}
                hard.append(DeleteMany(query))
            else:  # a tombstone keeps the version: older writes cannot revive it
                soft.append(
                    (
                        {
                            "group_id": group_id,
                            "name": name,
                            "version": {"$lte": version},
                        },
                        {
                            "$set": {
                                "version": version,
                                "deleted": True,
                                "updated_at": updated,
                                "expire_at": tombstone_until,
                            },
                            "$setOnInsert": {
                                "seq": seq,
                                "type": "",
                                "definition": {},
                                "state": {},
                                "completed": False,
                            },
                        },
                    )
                )
        for i, (group_id, record) in enumerate(upserts):
            fields: dict[str, Any] = {
                "type": record.type,
                "definition": to_bson(record.definition),
                "state": to_bson(record.state),
                "version": record.version,
                "completed": record.completed,
                "deleted": False,
                "updated_at": updated,
                "expire_at": None
                if record.expire_at is None
                else _date(record.expire_at),
                "expire_ts": record.expire_at,  # exact; BSON dates keep ms
            }
            soft.append(
                (
                    {
                        "group_id": group_id,
                        "name": record.name,
                        "version": {"$lt": record.version},
                    },
                    {"$set": fields, "$setOnInsert": {"seq": seq + i}},
                )
            )
        # Hard deletes first, as one step: they are what flush and group
        # removal ask for, and they must not remove what this batch writes.
        self._bulk(hard, "delete")
        self._upsert(soft)

    def _upsert(self, specs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """Versioned upserts. A duplicate key means another writer inserted
        the document first (it may hold an older version): such a write is
        sent again as a plain versioned update, which applies if it is newer.
        """
        operations = [UpdateOne(f, u, upsert=True) for f, u in specs]
        duplicates = self._bulk(operations, "write")
        if duplicates:
            again = [UpdateOne(*specs[i], upsert=False) for i in duplicates]
            self._bulk(again, "write")

    def _bulk(self, operations: list[Any], what: str) -> list[int]:
        """Run an unordered bulk; return the indexes of duplicate-key errors."""
        if not operations:
            return []
        try:
            self.collection.bulk_write(operations, ordered=False)
        except BulkWriteError as exc:
            details: Mapping[str, Any] = exc.details or {}
            errors = details.get("writeErrors") or []
            real = [e for e in errors if e.get("code") != _DUPLICATE_KEY]
            real += details.get("writeConcernErrors") or []
            if real:
                raise BackendError(
                    f"MongoDB {what} failed on {self._where()}: {real[:3]}"
                ) from exc
            return [
                int(e.get("index", -1)) for e in errors if e.get("index") is not None
            ]
        except PyMongoError as exc:
            raise BackendError(
                f"MongoDB {what} failed on {self._where()}: {exc}"
            ) from exc
        return []

    def flush_all(self) -> None:
        try:
            self.collection.delete_many({})
        except PyMongoError as exc:
            raise BackendError(
                f"MongoDB flush failed on {self._where()}: {exc}"
            ) from exc

    def purge_expired(self, now: float) -> int:
        try:
            result = self.collection.delete_many(
                {"expire_at": {"$ne": None, "$lte": _date(now)}}
            )
        except PyMongoError as exc:
            raise BackendError(
                f"MongoDB expiry failed on {self._where()}: {exc}"
            ) from exc
        return int(result.deleted_count)

    def expired(self, now: float, limit: int = 1000) -> list[tuple[str, str, int]]:
        try:
            documents = self.collection.find(
                {
                    "deleted": {"$ne": True},
                    "expire_at": {"$ne": None, "$lte": _date(now)},
                },
                {"_id": 0, "group_id": 1, "name": 1, "version": 1},
                limit=limit,
            )
            return [(d["group_id"], d["name"], d["version"]) for d in documents]
        except PyMongoError as exc:
            raise BackendError(
                f"MongoDB expiry scan failed on {self._where()}: {exc}"
            ) from exc

    def count(self) -> int:
        """Return how many live trackers are stored (all groups)."""
        return int(self.collection.count_documents({"deleted": {"$ne": True}}))

    def check(self) -> bool:
        try:
            self.collection.database.command("ping")
        except Exception:  # never raises, by contract
            return False
        return True

    def close(self) -> None:
        if self._own_client:
            self.client.close()


def _is_client(client: Any) -> bool:
    if isinstance(client, pymongo.MongoClient):
        return True
    return type(client).__module__.split(".")[0] == "mongomock"


__all__ = ["MongoDBDataStore"]
