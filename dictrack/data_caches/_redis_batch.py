"""RedisDataCache's compare-and-set ops as ``apply.lua`` takes and answers
them, and its batches: ``compare_and_set_many`` and the pipelined
``compare_and_set_stream`` behind ``track_many`` (one op: ``redis.py``).

A mixin: it works on the attributes and helpers that
:class:`~dictrack.data_caches.redis.RedisDataCache` defines.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from dictrack.data_caches import _redis_wire as wire
from dictrack.data_caches._redis_format import KeyLayout, state_value, text
from dictrack.data_caches._redis_maintenance import RedisError, RedisMaintenance
from dictrack.data_caches._redis_wire import (
    Call,
    Packed,
    bulk,
    not_run,
    pipelined,
    unknown,
)
from dictrack.data_caches.base import ApplyStatus, CASOp, CASResult
from dictrack.errors import BackendError, ConfigurationError, DeserializationError

try:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import ResponseError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ConfigurationError(
        "RedisDataCache needs redis-py: pip install 'dictrack[redis]'"
    ) from exc

#: Ops per script call: bounds the time one call holds the server.
BATCH = 500
#: Results without a snapshot are immutable: built once.
APPLIED = CASResult(ApplyStatus.APPLIED)
DUPLICATE = CASResult(ApplyStatus.DUPLICATE)


class RedisBatches(RedisMaintenance):
    """Ops encoded for ``apply.lua``, several per script call, pipelined."""

    _layout: KeyLayout
    _window: int
    _packed_index: str  # the dirty index key, encoded (see _encode_call)

    @staticmethod
    def _foreign(name: str, keys: Sequence[str], exc: Exception) -> BackendError:
        if "WRONGTYPE" in str(exc):
            return BackendError(
                f"a key among {list(keys)} holds data dictrack did not write; "
                "choose another prefix or remove the foreign keys"
            )
        return BackendError(f"Redis script {name} failed: {exc}")

    def _op_result(
        self, group_id: str, reply: int | Sequence[Any]
    ) -> CASResult | BackendError:
        if reply == 1:
            return APPLIED
        if reply == 2:
            return DUPLICATE
        assert not isinstance(reply, int)  # other outcomes come as a table
        code = int(reply[0])  # a conflict, or foreign data
        if code == -1:
            keys = self._keys(group_id, *KeyLayout.APPLY)
            return self._foreign("apply", keys, ResponseError(text(reply[1])))
        current = self._snapshot(group_id, reply[1:]) if len(reply) > 1 else None
        return CASResult(ApplyStatus.CONFLICT, current)

    def compare_and_set_many(self, ops: Sequence[CASOp]) -> list[CASResult]:
        """The whole batch in one script call on a standalone server (one round
        trip; a cluster runs each op on its node)."""
        results = [r for part in self.compare_and_set_stream([ops]) for r in part]
        for result in results:
            if isinstance(result, BackendError):
                raise result  # the first refused op; the others went on
        return [r for r in results if not isinstance(r, BackendError)]

    def compare_and_set_stream(
        self, chunks: Iterable[Sequence[CASOp]]
    ) -> Iterator[list[CASResult | BackendError]]:
        """On a standalone server, script calls pipelined on one connection
        (see ``_redis_wire``): one call per chunk, unless a chunk holds a
        group twice or more than ``BATCH`` ops. A cluster runs each op on
        its node, one at a time."""
        if self._cluster:
            for ops in chunks:
                results: list[CASResult | BackendError] = []
                try:
                    results.extend(self._try_op(op) for op in ops)  # keeps a prefix
                except BackendError:
                    yield results  # what was applied is reported, then the error
                    raise
                yield results
            return
        results = []
        script = self._scripts["apply"]
        try:
            for (ops, last), reply in pipelined(
                self.client, script, self._calls(chunks)
            ):
                if isinstance(reply, ResponseError):  # the whole call failed
                    error = self._apply_error(reply, [self._dirty_index])
                    results += [error] * len(ops)
                elif reply is not None:  # applied (1), or else read in full
                    results += [
                        APPLIED if answer == 1 else self._op_result(op.group_id, answer)
                        for op, answer in zip(ops, reply, strict=True)
                    ]
                if last:
                    yield results
                    results = []
        except UnicodeDecodeError as exc:  # a decode_responses client, foreign bytes
            raise DeserializationError(
                f"a key of the batch holds data dictrack did not write ({exc}); "
                "choose another prefix or remove the foreign keys"
            ) from exc
        except RedisError as exc:
            raise BackendError(
                f"Redis unavailable ({type(exc).__name__}: {exc})"
            ) from exc

    def _calls(self, chunks: Iterable[Sequence[CASOp]]) -> Iterator[Call]:
        """One script call per chunk, tagged ``(ops, last of its chunk)``; a
        chunk holding a group twice or more than ``BATCH`` ops is split (the
        script takes each group at most once). A call sharing a group with a
        call that may still be in flight (one of the ``DEPTH - 1`` before it)
        waits for their answers, so they apply in order even if the server
        lost the script and refused the earlier one."""
        in_flight: deque[set[str]] = deque(maxlen=wire.DEPTH - 1)  # their groups
        for ops in chunks:
            start, seen = 0, set[str]()
            for n, op in enumerate(ops):
                if op.group_id in seen or n - start == BATCH:
                    yield self._split(ops[start:n], False, in_flight, seen)
                    start, seen = n, set[str]()
                seen.add(op.group_id)
            yield self._split(ops[start:], True, in_flight, seen)

    def _split(
        self,
        ops: Sequence[CASOp],
        last: bool,
        in_flight: deque[set[str]],
        groups: set[str],
    ) -> Call:
        args = self._encode_call(ops, index=True) if ops else None
        after = any(not sent.isdisjoint(groups) for sent in in_flight)
        if after:  # sent once every call before it is answered
            in_flight.clear()
        in_flight.append(groups)
        return Call((ops, last), args, after)

    def _apply_error(self, reply: ResponseError, keys: Sequence[str]) -> BackendError:
        """An apply call failed whole: refused before any write (foreign data
        in ``keys``), or an unknown outcome (the script may have written)."""
        if not_run(reply):
            return self._foreign("apply", keys, reply)
        return unknown(reply)

    def _encode_call(self, ops: Sequence[CASOp], index: bool) -> Packed:
        """One ``apply.lua`` call of ``ops``, encoded for the wire (its KEYS
        and ARGV are listed there); ``index``: the dirty index is the last key
        (a standalone server). A states-only op leaves definition ids as
        stored. The keys' encoding is kept per group (``KeyLayout.packed``)."""
        packed, known, numbers = self._layout.packed, wire.KNOWN, wire.NUMBERS
        keys = [""]  # numkeys, once counted
        args = [numbers.get(len(ops)) or bulk(str(len(ops)))]
        n_keys, n_args = 0, 1
        for group_id, expected, writes, event_id, states_only in ops:
            own, event_keys, group = packed(group_id)
            old, new, n = str(expected), str(expected + 1), len(writes)
            count = -n if states_only else n
            counted = numbers.get(count) or bulk(str(count))
            head = f"${len(old)}\r\n{old}\r\n${len(new)}\r\n{new}\r\n{group}"
            if event_id:
                window = str(self._window)
                args.append(
                    f"{head}{bulk(event_id)}${len(window)}\r\n{window}\r\n{counted}"
                )
                n_args += 6
            else:
                args.append(f"{head}$0\r\n\r\n{counted}")
                n_args += 5
            if event_id or writes:
                keys += (own, event_keys)
                n_keys += 6
            else:
                keys.append(own)
                n_keys += 4
            if not writes:
                continue
            # A state is ASCII (see state_value): its length is its size.
            if states_only:  # pairs: definitions stay as stored
                for name, record in writes.items():
                    state = "" if record is None else state_value(record)
                    args.append(
                        f"{known.get(name) or wire.remember(name)}"
                        f"${len(state)}\r\n{state}\r\n"
                    )
                n_args += 2 * n
                continue
            id_of = self._definitions.id_of
            for name, record in writes.items():
                named = known.get(name) or wire.remember(name)
                if record is None:
                    args.append(f"{named}$0\r\n\r\n$0\r\n\r\n")
                else:
                    state, found = state_value(record), id_of(record.definition)
                    args.append(
                        f"{named}${len(state)}\r\n{state}\r\n"
                        f"${len(found)}\r\n{found}\r\n"
                    )
            n_args += 3 * n
        if index:
            keys.append(self._packed_index)
            n_keys += 1
        keys[0] = bulk(str(n_keys))
        keys += args
        return Packed(1 + n_keys + n_args, "".join(keys).encode())

    def _try_op(self, op: CASOp) -> CASResult | BackendError:
        try:
            return self.compare_and_set(
                op.group_id,
                op.expected_version,
                op.writes,
                event_id=op.event_id,
                states_only=op.states_only,
            )
        except BackendError as exc:
            if isinstance(exc.__cause__, (RedisConnectionError, RedisTimeoutError)):
                raise  # the server is away: the other ops would fail too
            return exc
