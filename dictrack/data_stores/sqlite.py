"""SQLiteDataStore: the embedded durable store (stdlib ``sqlite3``, one file)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dictrack.codec import dumps
from dictrack.data_stores.base import BaseDataStore, Deletes, Upserts
from dictrack.errors import BackendError, ConfigurationError, DeserializationError
from dictrack.records import TrackerRecord

logger = logging.getLogger(__name__)

#: Schema of the table, kept in ``PRAGMA user_version``. 2 added tombstones.
SCHEMA = 2
MEMORY = ":memory:"

_CREATE = """
CREATE TABLE IF NOT EXISTS {table} (
    group_id   TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    definition TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    completed  INTEGER NOT NULL DEFAULT 0,
    updated_at REAL    NOT NULL,
    expire_at  REAL,
    deleted    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, name)
);
CREATE INDEX IF NOT EXISTS {table}_expire_at ON {table} (expire_at)
    WHERE expire_at IS NOT NULL;
"""

_UPSERT = """
INSERT INTO {table}
    (group_id, name, type, definition, state, version, completed, updated_at,
     expire_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (group_id, name) DO UPDATE SET
    type = excluded.type, definition = excluded.definition,
    state = excluded.state, version = excluded.version,
    completed = excluded.completed, updated_at = excluded.updated_at,
    expire_at = excluded.expire_at, deleted = 0
WHERE excluded.version > {table}.version
"""

# A deleted tracker keeps its row as a tombstone until ``expire_at``.
_TOMBSTONE = """
INSERT INTO {table}
    (group_id, name, type, definition, state, version, updated_at, expire_at,
     deleted)
VALUES (?, ?, '', '{{}}', '{{}}', ?, ?, ?, 1)
ON CONFLICT (group_id, name) DO UPDATE SET
    version = excluded.version, updated_at = excluded.updated_at,
    expire_at = excluded.expire_at, deleted = 1
WHERE excluded.version >= {table}.version
"""


class SQLiteDataStore(BaseDataStore):
    """Store trackers as readable rows of one SQLite table.

    Each row holds ``group_id, name, type, definition (JSON), state (JSON),
    version, completed, updated_at, expire_at`` (epoch seconds) and
    ``deleted`` (1 for a tombstone), so an operator can query it with the
    ``sqlite3`` shell. Safe under threads; a file may be shared by processes
    (SQLite locks it; WAL journal). A file of schema 1 is upgraded in place.

    :param path: the database file (created with its folders), or ``":memory:"``.
    :param table: the table name.
    :param timeout: seconds to wait for another process's lock.
    :param tombstone_ttl: seconds a deleted tracker's tombstone is kept.
    :raises ConfigurationError: if the file is not a SQLite database, or holds
        a newer schema.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = MEMORY,
        *,
        table: str = "trackers",
        timeout: float = 30.0,
        tombstone_ttl: float = 7 * 24 * 3600,
    ) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"`path` must be a str or path, got {type(path).__name__}")
        if not isinstance(table, str) or not table.isidentifier():
            raise ValueError(f"`table` must be a plain identifier, got {table!r}")
        if isinstance(tombstone_ttl, bool) or not isinstance(
            tombstone_ttl, (int, float)
        ):
            raise TypeError(f"`tombstone_ttl` must be seconds, got {tombstone_ttl!r}")
        if not tombstone_ttl > 0 or tombstone_ttl == float("inf"):
            raise ValueError(
                f"`tombstone_ttl` must be positive seconds, got {tombstone_ttl!r}"
            )
        self.path = os.fspath(path)
        self.table = table
        self.tombstone_ttl = float(tombstone_ttl)
        self._lock = threading.Lock()
        if self.path != MEMORY:
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(
                os.path.expanduser(self.path),
                timeout=timeout,
                check_same_thread=False,
                isolation_level=None,
            )
        except sqlite3.Error as exc:
            raise ConfigurationError(
                f"cannot open SQLite database {self.path!r}: {exc}"
            ) from exc
        try:
            self._prepare()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise ConfigurationError(
                f"{self.path!r} is not a usable dictrack SQLite database ({exc}); "
                "move it away or pass another path"
            ) from exc

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> SQLiteDataStore:
        """``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``sqlite:///:memory:``."""
        rest = url.split("://", 1)[1]
        path = rest[1:] if rest.startswith("/") else rest
        if not path:
            raise ConfigurationError(
                f"no database path in {url!r}; e.g. sqlite:///data.db"
            )
        return cls(path, **kwargs)

    def _prepare(self) -> None:
        with self._lock:
            found = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if found > SCHEMA:
                raise ConfigurationError(
                    f"{self.path!r} was written by a newer dictrack (schema {found}, "
                    f"this one reads {SCHEMA}); upgrade dictrack"
                )
            if self.path != MEMORY:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            columns = {
                row[1] for row in self._conn.execute(f"PRAGMA table_info({self.table})")
            }
            if columns and "deleted" not in columns:  # schema 1: no tombstones
                try:
                    self._conn.execute(
                        f"ALTER TABLE {self.table} "
                        "ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0"
                    )
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):
                        raise  # another process upgraded it meanwhile: fine
            self._conn.executescript(_CREATE.format(table=self.table))
            self._conn.execute(f"PRAGMA user_version = {SCHEMA}")

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise BackendError(
                    f"SQLite {what} failed on {self.path!r}: {exc}"
                ) from exc

    def load_group(self, group_id: str) -> list[TrackerRecord]:
        try:
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT name, definition, state, version, expire_at FROM "
                    f"{self.table} WHERE group_id = ? AND NOT deleted ORDER BY rowid",
                    (group_id,),
                ).fetchall()
        except sqlite3.Error as exc:
            raise BackendError(f"SQLite load failed on {self.path!r}: {exc}") from exc
        return [self._record(group_id, *row) for row in rows]

    @staticmethod
    def _record(
        group_id: str,
        name: str,
        definition: str,
        state: str,
        version: int,
        expire_at: float | None,
    ) -> TrackerRecord:
        try:
            return TrackerRecord(
                name, json.loads(definition), json.loads(state), version, expire_at
            )
        except (TypeError, ValueError) as exc:
            raise DeserializationError(
                f"tracker {name!r} of group {group_id!r} has a corrupt row ({exc}); "
                "repair or delete it"
            ) from exc

    def write(self, upserts: Upserts = (), deletes: Deletes = ()) -> None:
        if not upserts and not deletes:
            return
        now = time.time()
        rows = [
            (
                group_id,
                r.name,
                r.type,
                dumps(r.definition),
                dumps(r.state),
                r.version,
                int(r.completed),
                now,
                r.expire_at,
            )
            for group_id, r in upserts
        ]
        cap = 2**62  # "any version"
        hard = [(g, n, cap) for g, n, v in deletes if n is not None and v is None]
        whole = [(g,) for g, n, v in deletes if n is None and v is None]
        # A group delete up to a version spares tombstones: they still guard
        # their trackers against late writes of older versions.
        groups = [(g, v) for g, n, v in deletes if n is None and v is not None]
        until = now + self.tombstone_ttl
        tombstones = [
            (g, n, v, now, until)
            for g, n, v in deletes
            if n is not None and v is not None
        ]
        with self._transaction("write") as conn:
            if whole:
                conn.executemany(f"DELETE FROM {self.table} WHERE group_id = ?", whole)
            if groups:
                conn.executemany(
                    f"DELETE FROM {self.table} WHERE group_id = ? AND version <= ? "
                    "AND NOT deleted",
                    groups,
                )
            if hard:
                conn.executemany(
                    f"DELETE FROM {self.table} WHERE group_id = ? AND name = ? "
                    "AND version <= ?",
                    hard,
                )
            if tombstones:
                conn.executemany(_TOMBSTONE.format(table=self.table), tombstones)
            if rows:
                conn.executemany(_UPSERT.format(table=self.table), rows)

    def flush_all(self) -> None:
        with self._transaction("flush") as conn:
            conn.execute(f"DELETE FROM {self.table}")

    def expired(self, now: float, limit: int = 1000) -> list[tuple[str, str, int]]:
        try:
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT group_id, name, version FROM {self.table} "
                    "WHERE expire_at <= ? AND NOT deleted LIMIT ?",
                    (now, limit),
                ).fetchall()
        except sqlite3.Error as exc:
            raise BackendError(f"SQLite read failed on {self.path!r}: {exc}") from exc
        return [(g, n, v) for g, n, v in rows]

    def purge_expired(self, now: float) -> int:
        with self._transaction("purge") as conn:
            cursor = conn.execute(
                f"DELETE FROM {self.table} WHERE expire_at <= ?", (now,)
            )
            return int(cursor.rowcount)

    def count(self) -> int:
        """Return how many live trackers are stored (all groups)."""
        with self._lock:
            return int(
                self._conn.execute(
                    f"SELECT COUNT(*) FROM {self.table} WHERE NOT deleted"
                ).fetchone()[0]
            )

    def check(self) -> bool:
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._conn.close()
