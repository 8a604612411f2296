"""RedisDataCache: hot state shared by every process, one round trip per track.

Keys (``P`` is the prefix, ``{g}`` the group id as a Redis Cluster hash tag, so
every key of a group lives on one slot and one script can touch them all):

==========================  ====================================================
``P:{g}:v``                 group version (absent: the group is not cached)
``P:{g}:s``                 hash: tracker name -> ``"version|expire_at|state"``
``P:{g}:d``                 hash: tracker name -> definition id
``P:{g}:e``, ``P:{g}:n``    recent event ids (zset) and their counter
``P:{g}:m``                 dirty marks: tracker name -> version to store
``P:def:<id>``              a definition (JSON), shared by every group using it
``P:dirty``                 groups with dirty marks (zset, score grows per change)
==========================  ====================================================

A definition id is a hash of the definition's canonical JSON, so identical
definitions are stored once. Every script lives in ``lua/`` and takes all its
keys in KEYS. Nothing read from Redis is unpickled: states are JSON.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dictrack.data_caches._redis_format import Definitions, state_value, text
from dictrack.data_caches.base import (
    ApplyStatus,
    BaseDataCache,
    CASOp,
    CASResult,
    DirtyMarks,
    GroupSnapshot,
    fresh_version,
)
from dictrack.errors import BackendError, ConfigurationError, DeserializationError
from dictrack.records import TrackerRecord

try:
    import redis
    from redis.cluster import RedisCluster
    from redis.exceptions import NoScriptError, RedisClusterException, ResponseError
    from redis.exceptions import RedisError as _RedisError

    #: Every failure of the driver (cluster routing errors are not RedisErrors).
    RedisError = (_RedisError, RedisClusterException)
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ConfigurationError(
        "RedisDataCache needs redis-py: pip install 'dictrack[redis]'"
    ) from exc

logger = logging.getLogger(__name__)

_SCRIPTS = ("apply", "populate", "load", "mark_clean", "evict", "unindex")


class RedisDataCache(BaseDataCache):
    """Keep groups in Redis (a server or a Redis Cluster) for every process.

    :param client: a ``redis.Redis`` or ``redis.cluster.RedisCluster``, with or
        without ``decode_responses``; it is not closed by :meth:`close`.
    :param pool: a ``redis.ConnectionPool`` to build a client on.
    :param prefix: the first part of every key.
    :param event_id_window: recent ``event_id`` values remembered per group.
    :param own_client: whether :meth:`close` closes the client (default: only
        a client this cache created).
    :param connect_kwargs: passed to ``redis.Redis`` when neither client nor
        pool is given (host, port, db, password, ...).
    :raises ConfigurationError: for a bad prefix or client.

    The other positional parameters are 2.1.5's (``scheduler_class``,
    ``check_interval``, ``stale_threshold``, key names, ``batch_size``,
    ``data_expire``, ``strict``); they are accepted and have no effect: keys
    are laid out as above, and data that is not yet stored never expires.
    """

    def __init__(
        self,
        scheduler_class: Any = None,
        check_interval: float = 60 * 30,
        stale_threshold: float = 60 * 60 * 6,
        data_key: str | None = None,
        last_cached_key: str | None = None,
        check_flag_key: str | None = None,
        batch_size: int = 200,
        data_expire: float | None = None,
        client: Any = None,
        pool: Any = None,
        strict: bool = True,
        *,
        prefix: str = "dictrack",
        event_id_window: int = 10_000,
        own_client: bool | None = None,
        **connect_kwargs: Any,
    ) -> None:
        if not isinstance(prefix, str) or not prefix or "{" in prefix or "}" in prefix:
            raise ConfigurationError(
                f"`prefix` must be a non-empty str without braces, got {prefix!r}"
            )
        if isinstance(event_id_window, bool) or not isinstance(event_id_window, int):
            raise TypeError("`event_id_window` must be an int")
        if event_id_window < 1:
            raise ValueError("`event_id_window` must be at least 1")
        self.check_interval = check_interval
        self.stale_threshold = stale_threshold
        self.prefix = prefix
        self._window = event_id_window
        self._own_client = client is None if own_client is None else own_client
        if client is None:
            client = (
                redis.Redis(connection_pool=pool)
                if pool is not None
                else redis.Redis(**connect_kwargs)
            )
        if not hasattr(client, "evalsha") or not hasattr(client, "pipeline"):
            raise ConfigurationError(
                f"`client` must be a redis-py client, got {type(client).__name__}"
            )
        self.client = client
        self._cluster = isinstance(client, RedisCluster)
        folder = resources.files("dictrack.data_caches") / "lua"
        self._scripts = {
            name: client.register_script((folder / f"{name}.lua").read_text())
            for name in _SCRIPTS
        }
        self._definitions = Definitions(client, prefix)
        self._dirty_index = f"{prefix}:dirty"

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisDataCache:
        """``redis://host:port/db`` or ``rediss://...``; ``?prefix=`` sets the
        key prefix. Other query parameters go to redis-py."""
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        prefixes = [value for name, value in query if name == "prefix"]
        if prefixes:
            kwargs.setdefault("prefix", prefixes[-1])
            rest = urlencode([(n, v) for n, v in query if n != "prefix"])
            url = urlunsplit(parts._replace(query=rest))
        try:
            client = redis.Redis.from_url(url)
        except ValueError as exc:
            raise ConfigurationError(f"bad Redis URL {url!r}: {exc}") from exc
        return cls(client=client, own_client=True, **kwargs)

    # -- keys and values ------------------------------------------------------

    def _keys(self, group_id: str, *kinds: str) -> list[str]:
        if "{" in group_id or "}" in group_id:
            # A brace would break the hash tag (keys of one group on several
            # cluster slots): tag by a hash, and keep the id in the key.
            # "#" before the kind: no brace-free group id can produce these keys.
            tag = hashlib.blake2b(group_id.encode(), digest_size=8).hexdigest()
            return [f"{self.prefix}:{{#{tag}}}:#{kind}" for kind in kinds]
        return [f"{self.prefix}:{{{group_id}}}:{kind}" for kind in kinds]

    def _run(
        self, name: str, keys: list[str], args: Sequence[Any], group_id: str = ""
    ) -> Any:
        try:
            return self._scripts[name](keys=keys, args=args)
        except ResponseError as exc:
            if "WRONGTYPE" in str(exc):
                raise BackendError(
                    f"a key among {keys} holds data dictrack did not write; "
                    "choose another prefix or remove the foreign keys"
                ) from exc
            raise BackendError(f"Redis script {name} failed: {exc}") from exc
        except UnicodeDecodeError as exc:  # a decode_responses client, foreign bytes
            raise DeserializationError(
                f"group {group_id!r}: a key among {keys} holds data dictrack did "
                f"not write ({exc}); choose another prefix or remove the foreign keys"
            ) from exc
        except RedisError as exc:
            raise BackendError(
                f"Redis unavailable ({type(exc).__name__}: {exc})"
            ) from exc

    def _encode(self, record: TrackerRecord) -> tuple[str, str]:
        """The hash value of a record's state, and its definition id."""
        return state_value(record), self._definitions.id_of(record.definition)

    def _snapshot(self, group_id: str, reply: Sequence[Any]) -> GroupSnapshot:
        return self._definitions.snapshot(group_id, reply)

    # -- the contract ---------------------------------------------------------

    def version(self, group_id: str) -> int | None:
        try:
            found = self.client.get(self._keys(group_id, "v")[0])
        except (ResponseError, UnicodeDecodeError) as exc:
            raise DeserializationError(
                f"group {group_id!r}: its version key holds data dictrack did not "
                f"write ({exc}); remove it or choose another prefix"
            ) from exc
        except RedisError as exc:
            raise BackendError(f"Redis unavailable ({exc})") from exc
        try:
            return None if found is None else int(found)
        except ValueError as exc:
            raise DeserializationError(
                f"group {group_id!r}: its version key holds {found!r}, which "
                "dictrack did not write"
            ) from exc

    def load(self, group_id: str) -> GroupSnapshot | None:
        reply = self._run("load", self._keys(group_id, "v", "s", "d"), [], group_id)
        return self._snapshot(group_id, reply) if reply else None

    def populate(
        self, group_id: str, records: Iterable[TrackerRecord]
    ) -> GroupSnapshot:
        records = list(records)
        version = fresh_version(records)
        self._definitions.ensure([r.definition for r in records])
        args: list[Any] = [version, len(records)]
        for record in records:
            state, found = self._encode(record)
            args += [record.name, state, found]
        reply = self._run("populate", self._keys(group_id, "v", "s", "d"), args)
        if reply[0] == 1:
            return GroupSnapshot(version, {r.name: r for r in records})
        return self._snapshot(group_id, reply[1:])

    def apply(
        self,
        group_id: str,
        expected_version: int,
        writes: Mapping[str, TrackerRecord | None],
        *,
        event_id: str | None = None,
    ) -> ApplyStatus:
        return self.compare_and_set(
            group_id, expected_version, writes, event_id=event_id
        ).status

    def compare_and_set(
        self,
        group_id: str,
        expected_version: int,
        writes: Mapping[str, TrackerRecord | None],
        *,
        event_id: str | None = None,
    ) -> CASResult:
        keys, args = self._apply_call(group_id, expected_version, writes, event_id)
        if writes and self._cluster:  # the index is on another node
            reply = self._with_index(group_id, "apply", keys, args)
        else:  # one script: it indexes the group itself (KEYS[7])
            reply = self._run("apply", keys, args, group_id)
        return self._cas_result(group_id, reply)

    def _apply_call(
        self,
        group_id: str,
        expected_version: int,
        writes: Mapping[str, TrackerRecord | None],
        event_id: str | None,
    ) -> tuple[list[str], list[Any]]:
        args: list[Any] = [
            expected_version,
            expected_version + 1,
            event_id or "",
            self._window,
            len(writes),
        ]
        for name, record in writes.items():
            if record is None:
                args += [name, "", ""]
            else:
                args += [name, *self._encode(record)]
        keys = self._keys(group_id, "v", "s", "d", "e", "m", "n")
        if not self._cluster:  # a standalone server: one script indexes too
            keys.append(self._dirty_index)
            args.append(group_id)
        return keys, args

    def _cas_result(self, group_id: str, reply: Sequence[Any]) -> CASResult:
        code = int(reply[0])
        if code == 1:
            return CASResult(ApplyStatus.APPLIED)
        if code == 2:
            return CASResult(ApplyStatus.DUPLICATE)
        current = self._snapshot(group_id, reply[1:]) if len(reply) > 1 else None
        return CASResult(ApplyStatus.CONFLICT, current)

    def compare_and_set_many(self, ops: Sequence[CASOp]) -> list[CASResult]:
        """The whole batch in one pipeline (one round trip; a cluster sends
        each op to its node)."""
        if self._cluster or len(ops) < 2:
            return super().compare_and_set_many(ops)
        calls = [
            (
                op,
                *self._apply_call(
                    op.group_id, op.expected_version, op.writes, op.event_id
                ),
            )
            for op in ops
        ]
        sha = self._scripts["apply"].sha
        for attempt in (1, 2):
            try:
                with self.client.pipeline(transaction=False) as pipe:
                    for _, keys, args in calls:
                        pipe.evalsha(sha, len(keys), *keys, *args)
                    replies = pipe.execute(raise_on_error=False)
            except RedisError as exc:
                raise BackendError(
                    f"Redis unavailable ({type(exc).__name__}: {exc})"
                ) from exc
            if attempt == 1 and any(isinstance(r, NoScriptError) for r in replies):
                self.client.script_load(self._scripts["apply"].script)  # then again
                continue
            break
        for reply in replies:
            if isinstance(reply, Exception):
                raise BackendError(f"Redis script apply failed: {reply}") from reply
        return [
            self._cas_result(op.group_id, r)
            for (op, _, _), r in zip(calls, replies, strict=True)
        ]

    def _with_index(
        self, group_id: str, name: str, keys: list[str], args: list[Any]
    ) -> Any:
        """On a cluster, index the group (the index is on another node), then
        run the script that adds its dirty marks.

        The index entry is written before the marks and its score grows with
        every change, so a flush that read an older score never drops a group
        that got new marks (see ``unindex.lua``). On a standalone server the
        script does both at once (KEYS[7]).
        """
        try:
            self.client.zincrby(self._dirty_index, 1, group_id)
        except RedisError as exc:
            raise BackendError(f"Redis unavailable ({exc})") from exc
        return self._run(name, keys, args, group_id)

    def dirty(self) -> DirtyMarks:
        try:
            indexed = self.client.zrange(self._dirty_index, 0, -1, withscores=True)
            marks: DirtyMarks = {}
            for member, score in indexed:
                group_id = text(member)
                flat = self.client.hgetall(self._keys(group_id, "m")[0])
                if flat:
                    marks[group_id] = {text(k): int(v) for k, v in flat.items()}
                else:  # cleaned: drop it unless a change indexed it again since
                    self._run("unindex", [self._dirty_index], [group_id, score])
            return marks
        except RedisError as exc:
            raise BackendError(f"Redis unavailable ({exc})") from exc

    def mark_clean(self, group_id: str, versions: Mapping[str, int]) -> None:
        args = [x for name, version in versions.items() for x in (name, version)]
        if args:
            self._run("mark_clean", self._keys(group_id, "m"), args)

    def evict(self, group_id: str) -> bool:
        keys = self._keys(group_id, "v", "s", "d", "e", "m", "n")
        return bool(self._run("evict", keys, []))

    def flush_all(self) -> None:
        try:
            for key in self.client.scan_iter(match=f"{self.prefix}:*", count=1000):
                self.client.delete(key)
        except RedisError as exc:
            raise BackendError(f"Redis unavailable ({exc})") from exc
        self._definitions.clear()

    def check(self) -> bool:
        try:
            return bool(self.client.ping())
        except RedisError:
            return False

    def close(self) -> None:
        if self._own_client:
            self.client.close()
