"""RedisDataCache's maintenance side: dirty marks and the flush's reads,
leases, eviction and lifecycle (the hot path is in ``redis.py``).

A mixin: it works on the attributes and helpers that
:class:`~dictrack.data_caches.redis.RedisDataCache` defines.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dictrack.data_caches._redis_format import Definitions, text
from dictrack.data_caches.base import BaseDataCache, DirtyMarks, GroupSnapshot
from dictrack.errors import BackendError, ConfigurationError

try:
    from redis.exceptions import RedisClusterException, ResponseError
    from redis.exceptions import RedisError as _RedisError

    #: Every failure of the driver (cluster routing errors are not RedisErrors).
    RedisError = (_RedisError, RedisClusterException)
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ConfigurationError(
        "RedisDataCache needs redis-py: pip install 'dictrack[redis]'"
    ) from exc


logger = logging.getLogger(__name__)


class RedisMaintenance(BaseDataCache):
    """Write-behind support, leases and lifecycle of the Redis cache."""

    client: Any
    prefix: str
    stale_threshold: float
    _cluster: bool
    _own_client: bool
    _dirty_index: str
    _scripts: dict[str, Any]
    _definitions: Definitions

    if TYPE_CHECKING:

        def _keys(self, group_id: str, *kinds: str) -> list[str]: ...

        def _run(
            self, name: str, keys: list[str], args: Sequence[Any], group_id: str = ""
        ) -> Any: ...

        def _snapshot(self, group_id: str, reply: Sequence[Any]) -> GroupSnapshot: ...

    def load_many(self, group_ids: Sequence[str]) -> dict[str, GroupSnapshot | None]:
        """Every group's ``load.lua`` in one pipeline (the flush job's read);
        one call per group on a cluster, whose pipelines refuse scripts."""
        if self._cluster or len(group_ids) < 2:
            return super().load_many(group_ids)
        script = self._scripts["load"]
        try:
            pipe = self.client.pipeline(transaction=False)
            for group_id in group_ids:
                keys = self._keys(group_id, "v", "s", "d")
                pipe.evalsha(script.sha, len(keys), *keys)
            replies = pipe.execute(raise_on_error=False)
        except RedisError as exc:
            raise BackendError(f"Redis unavailable ({exc})") from exc
        out: dict[str, GroupSnapshot | None] = {}
        for group_id, reply in zip(group_ids, replies, strict=True):
            if isinstance(reply, Exception):  # a lost script, a foreign key
                out[group_id] = self.load(group_id)  # raises what load raises
            else:
                out[group_id] = self._snapshot(group_id, reply) if reply else None
        return out

    def _index(self, group_id: str) -> None:
        """On a cluster, index the group before the script adds its marks (the
        index is on another node).

        The index entry is written before the marks and its score grows with
        every change, so a flush that read an older score never drops a group
        that got new marks (see ``unindex.lua``). On a standalone server the
        script does it, when the group gets its first mark.
        """
        try:
            self.client.zincrby(self._dirty_index, 1, group_id)
        except RedisError as exc:
            raise BackendError(f"Redis unavailable ({exc})") from exc

    def dirty(self) -> DirtyMarks:
        try:
            indexed = self.client.zrange(self._dirty_index, 0, -1, withscores=True)
            groups = [text(member) for member, _ in indexed]
            pipe = self.client.pipeline(transaction=False)
            for group_id in groups:
                pipe.hgetall(self._keys(group_id, "m")[0])
            found = pipe.execute(raise_on_error=False) if groups else []
            marks: DirtyMarks = {}
            for group_id, (_, score), flat in zip(groups, indexed, found, strict=True):
                if not flat:  # cleaned: drop it unless a change indexed it since
                    self._run("unindex", [self._dirty_index], [group_id, score])
                    continue
                try:
                    if isinstance(flat, Exception):
                        raise flat
                    marks[group_id] = {text(k): int(v) for k, v in flat.items()}
                except (ResponseError, ValueError) as exc:  # one group's foreign data
                    logger.error(
                        "group %r: its dirty marks key holds data dictrack did "
                        "not write (%s); its changes are not flushed until the "
                        "key is removed",
                        group_id,
                        exc,
                    )
            return marks
        except RedisError as exc:
            raise BackendError(f"Redis unavailable ({exc})") from exc

    def mark_clean(self, group_id: str, versions: Mapping[str, int]) -> None:
        args = [x for name, version in versions.items() for x in (name, version)]
        if args:
            keys = self._keys(group_id, "m", "v", "s", "d", "e", "n")
            self._run("mark_clean", keys, [self._ttl_ms(), *args])

    def _ttl_ms(self) -> int:
        """The time to live of a clean group, in milliseconds."""
        return max(1, round(self.stale_threshold * 1000))

    def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        """Take or renew a lease in Redis (``SET NX PX``): one holder among
        every process sharing this cache."""
        key = f"{self.prefix}:lease:{name}"
        return bool(self._run("lease", [key], [owner, max(1, round(ttl * 1000))]))

    def release_lease(self, name: str, owner: str) -> bool:
        key = f"{self.prefix}:lease:{name}"
        return bool(self._run("lease_release", [key], [owner]))

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
