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
  is fully sent did not run; once it may have run, any failure raises
  :class:`~dictrack.errors.OutcomeUnknownError`: the write may have been
  applied.
- ``pipelined`` sends each call of a batch as soon as it is built and reads a
  reply only once ``DEPTH`` calls are on their way: the server runs one call
  while the client builds the next and handles earlier results, so with two
  cores their work overlaps (a batch lasts about the longer of the two, plus
  the first call's evaluation). Replies come back in order on the one connection,
  so calls touching the same keys apply in order (a call marked ``after`` is
  sent only once every call before it is answered).

A script the server lost (``SCRIPT FLUSH``, a restart) is loaded again on the
same connection and the calls it refused are sent again: none of them ran.
No health-check ``PING`` is sent while a reply is pending (its answer would
be the pending reply).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple, TypeVar

from dictrack.errors import BackendError, ConfigurationError, OutcomeUnknownError

try:
    from redis.exceptions import (
        AskError,
        BusyLoadingError,
        ClusterDownError,
        MovedError,
        NoScriptError,
        ResponseError,
        TryAgainError,
    )
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ConfigurationError(
        "RedisDataCache needs redis-py: pip install 'dictrack[redis]'"
    ) from exc

T = TypeVar("T")

#: Calls in flight at once: the server runs one while the next are built, and
#: a reply is read only once DEPTH calls are out: each reply waits until the
#: client has built three more calls (see ``_batch.cuts``).
DEPTH = 4
#: Error replies of a server that did not run the script (MOVED is an ASK).
_NOT_RUN = (AskError, BusyLoadingError, ClusterDownError, NoScriptError, TryAgainError)
#: Marks a call the server refused for want of the script (it did not run).
_REFUSED = object()


class Packed(NamedTuple):
    """EVALSHA's arguments after the sha (numkeys, keys, args), already in the
    Redis protocol: the caller encodes them once, as it builds them."""

    size: int  # how many arguments
    body: bytes


class Call(NamedTuple):
    """One script call of a pipeline."""

    tag: Any
    args: Packed | None  # None: nothing to send (its place in the order is kept)
    after: bool = False  # send only once every earlier call is answered


def bulk(text: str) -> str:
    """``text`` as a Redis protocol bulk string, still as text: its length
    counts UTF-8 bytes, so a command built of these is encoded once, whole."""
    if text.isascii():
        return f"${len(text)}\r\n{text}\r\n"
    return f"${len(text.encode())}\r\n{text}\r\n"


#: ``bulk`` of texts that recur in every call (tracker names): a lookup is
#: ~8x cheaper than encoding again. Bounded: cleared when full.
KNOWN: dict[str, str] = {}
#: ``bulk`` of small integers (counts of writes).
NUMBERS = {n: bulk(str(n)) for n in range(-100, 101)}


def remember(text: str) -> str:
    """``bulk(text)``, kept in ``KNOWN``."""
    if len(KNOWN) >= 10_000:
        KNOWN.clear()
    found = KNOWN[text] = bulk(text)
    return found


def connection(client: Any) -> Any:
    """A connection of ``client``'s pool, checked by the pool and ready."""
    pool = client.connection_pool
    try:
        return pool.get_connection()
    except TypeError:  # redis-py before 5.3 wants a command name
        return pool.get_connection("EVALSHA")


def unknown(exc: BaseException) -> OutcomeUnknownError:
    return OutcomeUnknownError(
        f"Redis failed after a write was sent ({type(exc).__name__}: {exc}); it "
        "may or may not have been applied. Track with an event_id to make "
        "sending it again safe"
    )


def not_run(exc: ResponseError) -> bool:
    """Whether an error reply to ``apply.lua`` proves it wrote nothing: the
    server refused to run it, or the script refused before its first write.
    Any other error may come after some writes (the outcome is unknown)."""
    return isinstance(exc, _NOT_RUN) or "foreign data in the dirty index" in str(exc)


def call(client: Any, script: Any, args: Packed, asking: bool = False) -> Any:
    """``EVALSHA`` of ``script`` with ``args``; its reply (an error reply is
    raised as redis-py's ``ResponseError``). ``asking``: after ``ASKING``."""
    pool = client.connection_pool
    conn = connection(client)
    try:
        if asking:
            conn.send_command("ASKING")
            conn.read_response()
        _send(conn, script.sha, args, True)
        try:
            return _read(conn, raise_errors=True)
        except NoScriptError:  # did not run
            _load(conn, script)
            _send(conn, script.sha, args, True)
            return _read(conn, raise_errors=True)
    except (ResponseError, OutcomeUnknownError):
        raise  # answered, or already disconnected
    except BaseException:
        conn.disconnect()  # a reply may be pending (an interrupt between calls)
        raise
    finally:
        pool.release(conn)


def call_on_node(cluster: Any, script: Any, key: str, args: Packed) -> Any:
    """:func:`call` on the Redis Cluster node serving ``key``'s slot.

    A ``MOVED`` or ``ASK`` reply means the script did not run: the call goes
    once more to the node named (after ``ASKING`` for a slot being migrated);
    a ``MOVED`` also makes the cluster client learn the new layout."""
    node = cluster.get_redis_connection(cluster.get_node_from_key(key))
    try:
        return call(node, script, args)
    except AskError as exc:  # MOVED is one too
        target = cluster.get_node(host=exc.host, port=exc.port)
        moved = isinstance(exc, MovedError)
        if moved:  # the cluster client follows it too, and learns the layout
            with contextlib.suppress(Exception):
                cluster.exists(key)
        if target is None:
            raise BackendError(
                f"Redis Cluster sent the call to {exc.host}:{exc.port}, a node "
                "it does not know; nothing was applied, retry"
            ) from exc
        node = cluster.get_redis_connection(target)
        return call(node, script, args, asking=not moved)
    except Exception:
        with contextlib.suppress(Exception):  # a failed node: the client remaps
            cluster.exists(key)
        raise


def pipelined(
    client: Any, script: Any, calls: Iterable[Call]
) -> Iterator[tuple[Any, Any]]:
    """``EVALSHA`` of ``script`` with each call's arguments, on one
    connection; yields ``(tag, reply)`` in the order of ``calls``. A reply is
    what the script returned, or the ``ResponseError`` it raised.

    If building the next call raises, the calls already sent are answered
    first, then the error is raised. Once a sent call may have run, a failure
    of the connection raises ``OutcomeUnknownError``.
    """
    pool = client.connection_pool
    conn = connection(client)
    in_flight: deque[Call] = deque()
    failed: BaseException | None = None
    try:
        items = iter(calls)
        while True:
            try:
                item = next(items)
            except StopIteration:
                break
            except BaseException as exc:  # building it failed: answer the rest
                failed = exc
                break
            if item.after and in_flight:
                yield from _receive(conn, script, in_flight, 0)
            if item.args is not None:
                _send(conn, script.sha, item.args, not in_flight)
            in_flight.append(item)
            if len(in_flight) >= DEPTH:
                yield from _receive(conn, script, in_flight, DEPTH - 1)
        yield from _receive(conn, script, in_flight, 0)
    except BaseException as exc:  # GeneratorExit too: the caller gave up
        if any(item.args is not None for item in in_flight):
            conn.disconnect()  # replies left unread: out of step
            if isinstance(exc, Exception) and not isinstance(exc, OutcomeUnknownError):
                raise unknown(exc) from exc  # a sent call may have run
        raise
    finally:
        pool.release(conn)
    if failed is not None:
        raise failed


def _send(conn: Any, sha: str, args: Packed, check_health: bool) -> None:
    head = f"*{args.size + 2}\r\n$7\r\nEVALSHA\r\n{bulk(sha)}".encode()
    conn.send_packed_command([head + args.body], check_health=check_health)


def _read(conn: Any, raise_errors: bool = False) -> Any:
    """The next reply (a script's error: raised, or returned in its place);
    any other failure raises ``OutcomeUnknownError``, except an interrupt
    (``KeyboardInterrupt``, ``SystemExit``), which goes on as it is."""
    try:
        return conn.read_response()
    except NoScriptError:
        raise
    except ResponseError as exc:  # the script failed: the call is answered
        if raise_errors:
            raise
        return exc
    except BaseException as exc:
        conn.disconnect()  # the reply may still come: out of step
        if not isinstance(exc, Exception):
            raise
        raise unknown(exc) from exc


def _load(conn: Any, script: Any) -> None:
    """Load the script on ``conn`` itself (nothing is in flight on it)."""
    conn.send_command("SCRIPT", "LOAD", script.script)
    sha = conn.read_response()
    script.sha = sha.decode() if isinstance(sha, bytes) else sha


def _receive(
    conn: Any, script: Any, in_flight: deque[Call], keep: int
) -> Iterator[tuple[Any, Any]]:
    """Yield replies until ``keep`` calls are left in flight."""
    while len(in_flight) > keep:
        item = in_flight[0]
        try:
            reply = None if item.args is None else _read(conn)
        except NoScriptError:
            yield from _reload(conn, script, in_flight)
            return
        in_flight.popleft()
        yield item.tag, reply


def _reload(
    conn: Any, script: Any, in_flight: deque[Call]
) -> Iterator[tuple[Any, Any]]:
    """The server lost the script: read what is still in flight (refused
    too, unless another client loaded it meanwhile), load it, and send the
    refused calls again, one at a time, in order. The replies read stay in
    flight until they are yielded, so a failure on the way is reported as
    an unknown outcome."""
    replies: list[Any] = [_REFUSED]
    for item in list(in_flight)[1:]:
        try:
            replies.append(None if item.args is None else _read(conn))
        except NoScriptError:  # noqa: PERF203  # a rare path
            replies.append(_REFUSED)
    _load(conn, script)
    for reply in replies:
        item = in_flight[0]
        if reply is _REFUSED:
            assert item.args is not None
            _send(conn, script.sha, item.args, True)
            reply = _read(conn)
        in_flight.popleft()
        yield item.tag, reply
