"""How RedisDataCache lays groups out: key names, values, shared definitions.

A tracker's state is one hash value, ``"version|expire_at|state-json"`` (short
enough for Redis's compact listpack encoding); its definition is referenced by
id, a content hash, and stored once under ``<prefix>:def:<id>`` for every group
that uses it. Nothing here is unpickled: values are JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from dictrack.codec import share_definition
from dictrack.data_caches._redis_wire import bulk
from dictrack.data_caches.base import GroupSnapshot
from dictrack.errors import BackendError, DeserializationError
from dictrack.records import TrackerRecord

try:
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover - redis.py reports the missing extra
    RedisError = OSError  # type: ignore[misc,assignment]  # never raised then


class KeyLayout:
    """The key names of groups under one prefix (listed in ``redis.py``)."""

    #: Groups whose key names are kept built (the hot path builds none).
    MEMO = 100_000
    #: The keys of a group an apply takes, in apply.lua's KEYS order.
    APPLY = ("v", "s", "d", "m", "e", "n")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._packed: dict[str, tuple[str, str, str]] = {}

    def keys(self, group_id: str, *kinds: str) -> list[str]:
        """``<prefix>:{<group_id>}:<kind>`` for each kind."""
        if "{" in group_id or "}" in group_id:
            # A brace would break the hash tag (keys of one group on several
            # cluster slots): tag by a hash, and keep the id in the key.
            # "#" before the kind: no brace-free group id can produce these keys.
            tag = hashlib.blake2b(group_id.encode(), digest_size=8).hexdigest()
            return [f"{self.prefix}:{{#{tag}}}:#{kind}" for kind in kinds]
        return [f"{self.prefix}:{{{group_id}}}:{kind}" for kind in kinds]

    def packed(self, group_id: str) -> tuple[str, str, str]:
        """A group's parts of an ``apply.lua`` call, in the Redis protocol (see
        ``_redis_wire.bulk``): the keys every op takes (v, s, d, m), the event
        id keys (e, n), and the group id as an argument (~0.5 KB a group)."""
        found = self._packed.get(group_id)
        if found is None:
            if len(self._packed) >= self.MEMO:
                self._packed.clear()
            names = self.keys(group_id, *self.APPLY)
            found = self._packed[group_id] = (
                "".join(map(bulk, names[:4])),
                "".join(map(bulk, names[4:])),
                bulk(group_id),
            )
        return found


def text(value: Any) -> str:
    """A reply as str, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else str(value)


def pairs(flat: Sequence[Any]) -> dict[str, str]:
    """A flat HGETALL reply as a dict."""
    return {text(flat[i]): text(flat[i + 1]) for i in range(0, len(flat), 2)}


def definition_id(definition: Mapping[str, Any]) -> str:
    """A short content hash of a definition (same definition, same id)."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


_COMPACT = json.JSONEncoder(separators=(",", ":"))


def state_value(record: TrackerRecord) -> str:
    """A record's hash value: ``version|expire_at|state``, in ASCII (the JSON
    escapes any other character), so its length is its length in bytes."""
    expire = "" if record.expire_at is None else repr(record.expire_at)
    state = record.state
    if len(state) == 3:  # the usual state: its JSON without the encoder
        v, progress, stage = state.get("v"), state.get("progress"), state.get("stage")
        if type(v) is int and type(progress) is int and type(stage) is int:
            return (
                f'{record.version}|{expire}|{{"v":{v},"progress":{progress},'
                f'"stage":{stage}}}'
            )
    return f"{record.version}|{expire}|{_COMPACT.encode(state)}"


class Definitions:
    """Definitions by id: written once to Redis, kept in process once read."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._by_id: dict[str, dict[str, Any]] = {}
        self._ids: dict[int, tuple[Mapping[str, Any], str]] = {}  # id(obj) -> id

    def clear(self) -> None:
        self._by_id.clear()
        self._ids.clear()

    def id_of(self, definition: Mapping[str, Any]) -> str:
        """The id of ``definition``, storing it in Redis the first time."""
        known = self._ids.get(id(definition))
        if known is not None and known[0] is definition:
            return known[1]
        found = definition_id(definition)
        if found not in self._by_id:
            try:
                self._client.set(
                    f"{self._prefix}:def:{found}", json.dumps(definition), nx=True
                )
            except RedisError as exc:
                raise BackendError(f"Redis unavailable ({exc})") from exc
            self._by_id[found] = share_definition(dict(definition))
        if len(self._ids) > 100_000:
            self._ids.clear()
        self._ids[id(definition)] = (definition, found)
        return found

    def ensure(self, definitions: Sequence[Mapping[str, Any]]) -> None:
        """Write these definitions' bodies if Redis lacks them (after a restart
        or flush, the in-process memo alone would not bring them back)."""
        ids = {self.id_of(d): d for d in definitions}
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for found, definition in ids.items():
                    pipe.set(
                        f"{self._prefix}:def:{found}", json.dumps(definition), nx=True
                    )
                pipe.execute()
        except RedisError as exc:
            raise BackendError(f"Redis unavailable ({exc})") from exc

    def fetch(self, wanted: set[str]) -> None:
        """Read the definitions of ``wanted`` ids not known in process."""
        missing = sorted(wanted - self._by_id.keys())
        if not missing:
            return
        try:
            bodies = [self._client.get(f"{self._prefix}:def:{d}") for d in missing]
        except RedisError as exc:
            raise BackendError(f"Redis unavailable ({exc})") from exc
        for found, body in zip(missing, bodies, strict=True):
            if body is None:
                raise BackendError(
                    f"definition {found} is missing from Redis (partly flushed?); "
                    "evict the groups that use it so they reload from the store"
                )
            self._by_id[found] = share_definition(json.loads(body))

    def snapshot(self, group_id: str, reply: Sequence[Any]) -> GroupSnapshot:
        """A snapshot from a ``version, states, definition ids`` reply."""
        try:
            version, states, ids = text(reply[0]), pairs(reply[1]), pairs(reply[2])
            self.fetch(set(ids.values()))
            records: dict[str, TrackerRecord] = {}
            for name, value in states.items():
                ver, expire, state = value.split("|", 2)
                records[name] = TrackerRecord(
                    name,
                    self._by_id[ids[name]],
                    json.loads(state),
                    int(ver),
                    float(expire) if expire else None,
                )
            return GroupSnapshot(int(version), records)
        except (ValueError, KeyError) as exc:
            raise DeserializationError(
                f"group {group_id!r} in Redis holds data dictrack did not write "
                f"({type(exc).__name__}: {exc}); evict it or remove its keys"
            ) from exc
