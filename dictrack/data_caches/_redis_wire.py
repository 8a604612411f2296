"""Calls of ``apply.lua`` on a pooled connection: never sent twice, pipelined.

A compare-and-set must not be sent again once it may have run: if the reply
is lost (the connection breaks, a socket timeout), the write may have been
applied, and a second send would see its own write as a conflict and apply
the event again. redis-py's ``execute_command`` re-sends on exactly those
errors when the client has a retry policy (redis-py 6 and later have one by
default), so the apply script goes through here instead, with redis-py's
connection API (``send_packed_command``, ``read_response``):

- ``call`` sends one call and reads its reply (``call_on_node`` on a Redis
  Cluster, whose client re-sends the same way). A call that fails before it
  is fully sent did not run; one whose reply is lost raises
  :class:`~dictrack.errors.OutcomeUnknownError`: the write may have been
  applied.
- ``pipelined`` sends each call of a batch as soon as it is built and reads a
  reply only once the next call is on its way: the server runs one call while
  the client builds the next and handles the last results, so with two cores
  a batch costs about the client's work alone. Replies come back in order on
  the one connection, so calls touching the same keys apply in order.

A script the server lost (``SCRIPT FLUSH``, a restart) is loaded again and the
calls it refused are sent again: none of them ran.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from dictrack.errors import ConfigurationError, OutcomeUnknownError

try:
    from redis.exceptions import AskError, NoScriptError, ResponseError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ConfigurationError(
        "RedisDataCache needs redis-py: pip install 'dictrack[redis]'"
    ) from exc

_hiredis_pack: Callable[[tuple[Any, ...]], bytes] | None
try:  # redis-py's own packer checks each argument's type first: ~2x slower
    from hiredis import pack_command as _hiredis_pack
except ImportError:  # pragma: no cover - hiredis comes with dictrack[redis]
    _hiredis_pack = None

T = TypeVar("T")
Args = tuple[Any, ...]  # EVALSHA's arguments after the sha: numkeys, keys, args

#: Calls in flight at once: one running on the server while the next is built.
DEPTH = 2
#: Marks a call the server refused for want of the script (it did not run).
_REFUSED = object()


def connection(client: Any) -> Any:
    """A connection of ``client``'s pool, checked by the pool and ready."""
    pool = client.connection_pool
    try:
        return pool.get_connection()
    except TypeError:  # redis-py before 5.3 wants a command name
        return pool.get_connection("EVALSHA")


def call(client: Any, script: Any, args: Args) -> Any:
    """``EVALSHA`` of ``script`` with ``args``; its reply (an error reply is
    raised as redis-py's ``ResponseError``)."""
    pool = client.connection_pool
    conn = connection(client)
    try:
        _send(conn, script.sha, args)
        try:
            return _answer(conn)
        except NoScriptError:  # did not run
            script.sha = client.script_load(script.script)
            _send(conn, script.sha, args)
            return _answer(conn)
    finally:
        pool.release(conn)


def call_on_node(cluster: Any, script: Any, key: str, args: Args) -> Any:
    """:func:`call` on the Redis Cluster node serving ``key``'s slot. A slot
    that moved (``MOVED``/``ASK``: the script did not run) goes through the
    cluster client, which follows the redirection and learns the new layout."""
    node = cluster.get_redis_connection(cluster.get_node_from_key(key))
    try:
        return call(node, script, args)
    except AskError:  # MOVED is one too
        try:
            return cluster.evalsha(script.sha, *args)
        except NoScriptError:  # the new node never saw it
            script.sha = cluster.script_load(script.script)
            return cluster.evalsha(script.sha, *args)


def pipelined(
    client: Any, script: Any, calls: Iterable[tuple[T, Args | None]]
) -> Iterator[tuple[T, Any]]:
    """``EVALSHA`` of ``script`` with each call's arguments, on one
    connection; yields ``(tag, reply)`` in the order of ``calls``. A reply is
    what the script returned, or the ``ResponseError`` it raised. A call of
    None sends nothing and gets None (it keeps its place in the order)."""
    pool = client.connection_pool
    conn = connection(client)
    in_flight: deque[tuple[T, Args | None]] = deque()
    try:
        for tag, args in calls:
            if args is not None:
                _send(conn, script.sha, args)
            in_flight.append((tag, args))
            if len(in_flight) >= DEPTH:
                yield from _receive(client, conn, script, in_flight, DEPTH - 1)
        yield from _receive(client, conn, script, in_flight, 0)
    except BaseException:
        if in_flight:  # replies left unread: this connection is out of step
            conn.disconnect()
        raise
    finally:
        pool.release(conn)


def _send(conn: Any, sha: str, args: Args) -> None:
    if _hiredis_pack is None:
        conn.send_command("EVALSHA", sha, *args)
    else:  # the arguments are str and int: nothing for redis-py to convert
        conn.send_packed_command([_hiredis_pack(("EVALSHA", sha, *args))])


def _answer(conn: Any) -> Any:
    """The next reply; a lost one raises ``OutcomeUnknownError``."""
    try:
        return conn.read_response()
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        conn.disconnect()
        raise OutcomeUnknownError(
            f"the connection to Redis failed after a write was sent "
            f"({type(exc).__name__}: {exc}); it may or may not have been "
            "applied. Track with an event_id to make retrying it safe"
        ) from exc


def _read(conn: Any, args: Args | None) -> Any:
    if args is None:
        return None
    try:
        return _answer(conn)
    except NoScriptError:
        raise
    except ResponseError as exc:  # the script failed: the call is answered
        return exc


def _receive(
    client: Any,
    conn: Any,
    script: Any,
    in_flight: deque[tuple[T, Args | None]],
    keep: int,
) -> Iterator[tuple[T, Any]]:
    """Yield replies until ``keep`` calls are left in flight."""
    while len(in_flight) > keep:
        tag, args = in_flight[0]
        try:
            reply = _read(conn, args)
        except NoScriptError:
            yield from _reload(client, conn, script, in_flight)
            return
        in_flight.popleft()
        yield tag, reply


def _reload(
    client: Any,
    conn: Any,
    script: Any,
    in_flight: deque[tuple[T, Args | None]],
) -> Iterator[tuple[T, Any]]:
    """The server lost the script: read what is still in flight (refused
    too, unless another client loaded it meanwhile), load it, and send the
    refused calls again, one at a time, in order."""
    tag, args = in_flight.popleft()
    replies: list[tuple[T, Args | None, Any]] = [(tag, args, _REFUSED)]
    while in_flight:
        tag, args = in_flight[0]
        try:
            reply = _read(conn, args)
        except NoScriptError:
            reply = _REFUSED
        in_flight.popleft()
        replies.append((tag, args, reply))
    script.sha = client.script_load(script.script)
    for tag, args, reply in replies:
        if reply is _REFUSED:
            assert args is not None
            _send(conn, script.sha, args)
            in_flight.append((tag, args))  # the connection is dropped on error
            reply = _read(conn, args)
            in_flight.popleft()
        yield tag, reply
