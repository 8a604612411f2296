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
``P:dirty``                 groups with dirty marks (zset, see ``unindex.lua``)
``P:lease:<name>``          a job's lease: the id of the runner holding it
==========================  ====================================================

A group whose changes are all in the store gets a time to live of
``stale_threshold`` seconds (``mark_clean.lua``); its next change removes it
(``apply.lua``). So idle groups leave Redis by themselves, and data that is not
yet stored never expires.

A definition id is a hash of the definition's canonical JSON, so identical
definitions are stored once. Every script lives in ``lua/`` and takes all its
keys in KEYS. Nothing read from Redis is unpickled: states are JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dictrack._args import seconds
from dictrack.data_caches._redis_batch import RedisBatches
from dictrack.data_caches._redis_format import (
    Definitions,
    KeyLayout,
    state_value,
)
from dictrack.data_caches._redis_maintenance import RedisError
from dictrack.data_caches._redis_wire import Packed, bulk, call, call_on_node
from dictrack.data_caches.base import (
    ApplyStatus,
    CASOp,
    CASResult,
    GroupSnapshot,
    fresh_version,
)
from dictrack.errors import BackendError, ConfigurationError, DeserializationError
from dictrack.records import TrackerRecord

try:
    import redis
    from redis.cluster import RedisCluster
    from redis.exceptions import NoScriptError, ResponseError
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ConfigurationError(
        "RedisDataCache needs redis-py: pip install 'dictrack[redis]'"
    ) from exc

logger = logging.getLogger(__name__)

_SCRIPTS = (
    "apply",
    "populate",
    "load",
    "mark_clean",
    "evict",
    "unindex",
    "lease",
    "lease_release",
)


class RedisDataCache(RedisBatches):
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

    :param stale_threshold: seconds a group stays in Redis after its last
        change reached the store (2.1.5's name; default 6 hours).

    The other positional parameters are 2.1.5's (``scheduler_class``,
    ``check_interval``, key names, ``batch_size``, ``data_expire``,
    ``strict``); they are accepted and have no effect: keys are laid out as
    above, and data that is not yet stored never expires.
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
        self.check_interval = seconds(check_interval, "`check_interval`")
        self.stale_threshold = seconds(stale_threshold, "`stale_threshold`")
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
        self._layout = KeyLayout(prefix)
        self._dirty_index = f"{prefix}:dirty"
        self._packed_index = bulk(self._dirty_index)

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
        return self._layout.keys(group_id, *kinds)

    def _run(
        self,
        name: str,
        keys: list[str],
        args: Sequence[Any],
        group_id: str = "",
        packed: Packed | None = None,
    ) -> Any:
        """Run a script. ``packed``: the apply script's call of ``group_id``,
        already encoded (its keys are named only for errors), never sent twice
        (see ``_redis_wire``)."""
        script = self._scripts[name]
        try:
            if packed is not None:
                if self._cluster:  # the node of the group's slot
                    slot_key = self._keys(group_id, "v")[0]
                    return call_on_node(self.client, script, slot_key, packed)
                return call(self.client, script, packed)
            try:
                return self.client.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:  # the server lost it (SCRIPT FLUSH, restart)
                script.sha = self.client.script_load(script.script)
                return self.client.evalsha(script.sha, len(keys), *keys, *args)
        except ResponseError as exc:
            if packed is not None:  # the apply script: it may have written
                raise self._apply_error(exc, self._apply_keys(group_id)) from exc
            raise self._foreign(name, keys, exc) from exc
        except UnicodeDecodeError as exc:  # a decode_responses client, foreign bytes
            if packed is not None:
                keys = self._apply_keys(group_id)
            raise DeserializationError(
                f"group {group_id!r}: a key among {keys} holds data dictrack did "
                f"not write ({exc}); choose another prefix or remove the foreign keys"
            ) from exc
        except RedisError as exc:
            raise BackendError(
                f"Redis unavailable ({type(exc).__name__}: {exc})"
            ) from exc

    def _apply_keys(self, group_id: str) -> list[str]:
        """The keys an apply of ``group_id`` may take (named in its errors)."""
        keys = self._keys(group_id, *KeyLayout.APPLY)
        return keys if self._cluster else [*keys, self._dirty_index]

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
        args.append(self._ttl_ms())
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
        states_only: bool = False,
    ) -> CASResult:
        op = CASOp(group_id, expected_version, writes, event_id, states_only)
        # A standalone server's script indexes the group; a cluster's index is
        # on another node.
        packed = self._encode_call((op,), index=not self._cluster)
        if self._cluster and writes:
            self._index(group_id)
        reply = self._run("apply", [], (), group_id, packed)
        return self._cas_result(group_id, reply[0])

    def _cas_result(self, group_id: str, reply: int | Sequence[Any]) -> CASResult:
        result = self._op_result(group_id, reply)
        if isinstance(result, BackendError):
            raise result
        return result
