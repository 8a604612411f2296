"""How apply.lua goes over the wire: never sent twice, pipelined in batches.

A reply lost after the script ran must not make the event count twice (redis-py
re-sends a command on a broken connection when the client has a retry policy,
the default since redis-py 6), and a batch's calls keep their order through a
script the server lost while they were in flight.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.exceptions import NoScriptError, ResponseError

from dictrack._batch import cuts
from dictrack.data_caches import _redis_wire as wire
from dictrack.data_caches.base import CASOp
from dictrack.errors import BackendError, OutcomeUnknownError
from dictrack.events import EVENT_TRACKER_STAGE_COMPLETED

from ._manager_helpers import LOSE, T0, WIN, bets, progress, wins
from .test_redis_cache import Backend, open_backend, text

pytestmark = pytest.mark.redis


class ReplyDropper:
    """A TCP proxy to the test server that, once armed, closes the client's
    connection instead of passing on the next reply (the command has run)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.armed = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += (client, server)
            for src, dst, replies in ((client, server, False), (server, client, True)):
                thread = threading.Thread(
                    target=self._pipe, args=(src, dst, replies), daemon=True
                )
                self.threads.append(thread)
                thread.start()

    def _pipe(self, src: socket.socket, dst: socket.socket, replies: bool) -> None:
        try:
            while data := src.recv(65536):
                if replies and self.armed.is_set():
                    self.armed.clear()
                    break  # the reply is lost
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        for sock in (self.listener, *self.sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self.threads:
            thread.join(5)
        for sock in (self.listener, *self.sockets):
            sock.close()


@pytest.fixture
def server(tmp_path) -> Iterator[Backend]:
    yield from open_backend("redis", tmp_path)


@pytest.fixture
def dropper(server) -> ReplyDropper:
    port = server.client().connection_pool.connection_kwargs["port"]
    proxy = ReplyDropper(port)
    server.stack.callback(proxy.close)  # after the managers using it close
    return proxy


def proxied_manager(server: Backend, dropper: ReplyDropper) -> Any:
    # redis-py's default client: it retries commands on connection errors.
    client = redis.Redis(port=dropper.port)
    server.stack.callback(client.close)
    return server.manager(server.cache(client))


def test_a_lost_reply_is_reported_and_the_event_counts_once(server, dropper):
    manager = proxied_manager(server, dropper)
    manager.add_tracker("g", wins(), now=T0)
    manager.track("g", WIN, now=T0)  # warm: view and script
    dropper.armed.set()
    with pytest.raises(OutcomeUnknownError, match="may or may not have been applied"):
        manager.track("g", WIN, now=T0, event_id="e1")
    assert progress(server.manager(), "g") == {"wins": 2}  # applied, once
    again = manager.track("g", WIN, now=T0, event_id="e1")  # the safe retry
    assert again.duplicate and progress(manager, "g") == {"wins": 2}
    assert manager.track("g", WIN, now=T0).dirtied[0].progress == 3


@pytest.mark.parametrize("n_groups", [30, 100])  # calls of 20, 10; 40, 30, 20, 10
def test_a_batch_whose_reply_is_lost_counts_once(server, dropper, n_groups):
    manager = proxied_manager(server, dropper)
    groups = [f"g{i}" for i in range(n_groups)]
    for group in groups:
        manager.add_tracker(group, wins(), now=T0)
    manager.track_many([(g, LOSE) for g in groups], now=T0)  # warm
    dropper.armed.set()
    events = [(g, WIN, f"e-{g}") for g in groups]
    with pytest.raises(OutcomeUnknownError):
        manager.track_many(events, now=T0)
    # The first call ran; the later ones did too unless the proxy closed the
    # connection before passing them on. None counts twice.
    counts = [progress(server.manager(), g)["wins"] for g in groups]
    first = min(cuts(len(groups)))  # the first call's events
    assert counts[:first] == [1] * first and set(counts) <= {0, 1}
    results = manager.track_many(events, now=T0)  # the safe retry
    assert [r.duplicate for r in results] == [c == 1 for c in counts]
    assert [progress(manager, g) for g in groups] == [{"wins": 1}] * n_groups


@pytest.mark.parametrize("kind", ["redis", "cluster", "fakeredis"])
def test_a_batch_reports_foreign_data_after_applying_the_rest(tmp_path, kind):
    for server in open_backend(kind, tmp_path):
        check_foreign_data_in_a_batch(server)


def check_foreign_data_in_a_batch(server: Backend) -> None:
    manager = server.manager()
    groups = [f"g{i}" for i in range(60)]
    for group in groups:
        manager.add_tracker(group, wins(target=[1, 5]), now=T0)
    client = server.client()
    client.set(f"{server.prefix}:{{g40}}:e", "foreign")  # its event ids
    heard: list[str] = []
    manager.add_listener(
        EVENT_TRACKER_STAGE_COMPLETED, lambda e: heard.append(e.group_id)
    )
    with pytest.raises(BackendError, match=r"\{g40\}"):
        manager.track_many([(g, WIN, f"e-{g}") for g in groups], now=T0)
    others = [g for g in groups if g != "g40"]
    assert heard == others  # what was applied is reported
    assert [progress(server.manager(), g) for g in others] == [{"wins": 1}] * 59
    assert progress(server.manager(), "g40") == {"wins": 0}
    assert text(client.get(f"{server.prefix}:{{g40}}:e")) == "foreign"
    assert manager.track("g41", WIN, now=T0).dirtied[0].progress == 2


@pytest.mark.parametrize(("foreign", "refused"), [(5, 75), (75, 5)])
def test_a_batch_raises_the_error_of_its_earliest_event(server, foreign, refused):
    """Foreign data and a tracker that refuses its event, in one round: the
    error of the earlier event is raised, however far ahead the cache read."""
    manager = server.manager()
    groups = [f"g{i}" for i in range(100)]  # calls of 40, 30, 20, 10
    for group in groups:
        manager.add_tracker(group, bets(), now=T0)
    server.client().set(f"{server.prefix}:{{g{foreign}}}:e", "foreign")
    events = [
        (g, {"event": "win", "bet": "lots" if n == refused else 1}, f"e-{g}")
        for n, g in enumerate(groups)
    ]
    if foreign < refused:
        expected: Any = pytest.raises(BackendError, match=rf"\{{g{foreign}\}}")
    else:
        expected = pytest.raises(ValueError, match="must be a finite number")
    with expected:
        manager.track_many(events, now=T0)
    done = [progress(server.manager(), g)["bets"] for g in groups]
    assert done == [  # a refusal ends the round: later events are not tracked
        0 if n in (foreign, refused) or n > refused else 1 for n in range(100)
    ]


def test_a_foreign_dirty_index_refuses_the_whole_call(server):
    manager = server.manager()
    groups = [f"g{i}" for i in range(30)]
    for group in groups:
        manager.add_tracker(group, wins(), now=T0)
    manager.persist()  # no marks left: the next change indexes the group
    client = server.client()
    client.delete(f"{server.prefix}:dirty")
    client.set(f"{server.prefix}:dirty", "foreign")
    with pytest.raises(BackendError, match="dirty"):
        manager.track_many([(g, WIN) for g in groups], now=T0)
    client.delete(f"{server.prefix}:dirty")
    assert [progress(server.manager(), g) for g in groups] == [{"wins": 0}] * 30
    results = manager.track_many([(g, WIN) for g in groups], now=T0)
    assert [r.dirtied[0].progress for r in results] == [1] * 30


@pytest.mark.parametrize("batch", [False, True], ids=["track", "track_many"])
def test_a_foreign_event_sequence_refuses_the_write_before_any_change(server, batch):
    """The event counter is incremented after the writes: a value that is no
    integer must refuse the op up front, not fail it half-way."""
    manager = server.manager()
    manager.add_tracker("g", wins(), now=T0)
    manager.track("g", WIN, now=T0, event_id="e0")
    client, prefix = server.client(), server.prefix
    client.set(f"{prefix}:{{g}}:n", "abc")
    version = client.get(f"{prefix}:{{g}}:v")
    with pytest.raises(BackendError, match="did not write") as raised:
        if batch:
            manager.track_many([("g", WIN, "e1")], now=T0)
        else:
            manager.track("g", WIN, now=T0, event_id="e1")
    assert not isinstance(raised.value, OutcomeUnknownError)
    assert client.get(f"{prefix}:{{g}}:v") == version
    assert progress(server.manager(), "g") == {"wins": 1}
    client.delete(f"{prefix}:{{g}}:n")


def test_a_group_changed_elsewhere_goes_one_by_one(server):
    """A stale view loses its compare-and-set: that group's events of the
    batch are tracked one by one after the round, in order."""
    batcher, other = server.manager(), server.manager()
    batcher.add_trackers("g", [wins(target=[2, 10])], now=T0)
    batcher.add_tracker("h", wins(), now=T0)
    batcher.track("g", WIN, now=T0)  # holds its view
    other.track("g", WIN, now=T0)  # ... which is stale now
    results = batcher.track_many([("g", WIN), ("h", WIN), ("g", WIN)], now=T0)
    assert [r.dirtied[0].progress for r in results] == [3, 1, 4]
    assert [len(r.completed) for r in results] == [0, 0, 0]
    assert progress(server.manager(), "g") == {"wins": 4}


def test_non_ascii_ids_go_over_the_wire_whole(server):
    """The cache writes the Redis protocol itself: lengths count UTF-8 bytes."""
    manager = server.manager()
    groups = ["gruppe-ä", "群組", "g-😀"]
    for group in groups:
        manager.add_tracker(group, wins(), now=T0)
    manager.track("群組", WIN, now=T0, event_id="évènement")
    results = manager.track_many(
        [(g, WIN, f"ereignis-ü-{g}") for g in groups] + [("群組", WIN, "évènement")],
        now=T0,
    )
    assert [r.dirtied[0].progress for r in results[:3]] == [1, 2, 1]
    assert results[3].duplicate
    assert progress(server.manager(), "g-😀") == {"wins": 1}


def test_a_call_sharing_a_group_with_one_in_flight_waits_for_the_answers(server):
    cache = server.cache()

    def after(*chunks: str) -> list[bool]:  # a chunk's ops: one per letter
        ops = [[CASOp(g, 1, {}, None, True) for g in chunk] for chunk in chunks]
        return [call.after for call in cache._calls(ops)]

    assert wire.DEPTH == 4  # up to 3 calls in flight when one is sent
    assert after("a", "b", "a") == [False, False, True]
    assert after("a", "b", "c", "a") == [False, False, False, True]
    assert after("a", "b", "c", "d", "a") == [False] * 5  # "a" answered by then
    # Once a call waited, the ones before it are answered: "b" may go.
    assert after("a", "b", "a", "c", "b") == [False, False, True, False, False]
    # An empty chunk still takes a place in the pipeline.
    assert after("a", "", "", "a") == [False, False, False, True]
    assert after("a", "", "", "", "a") == [False] * 5
    # A chunk holding a group twice is split: its second part waits.
    assert after("ab", "ca") == [False, True]
    assert after("aba") == [False, True]


@pytest.fixture
def cluster(tmp_path) -> Iterator[Backend]:
    yield from open_backend("cluster", tmp_path)


def test_on_a_cluster_a_slot_that_moved_is_followed(cluster, monkeypatch):
    client = cluster.client()
    manager = cluster.manager(cluster.cache(client))
    manager.add_tracker("g", wins(), now=T0)
    manager.track("g", WIN, now=T0)
    right = client.get_node_from_key(f"{cluster.prefix}:{{g}}:v")
    wrong = next(n for n in client.get_primaries() if n.name != right.name)
    monkeypatch.setattr(client, "get_node_from_key", lambda *_a, **_k: wrong)
    assert manager.track("g", WIN, now=T0).dirtied[0].progress == 2  # MOVED
    monkeypatch.undo()
    assert progress(cluster.manager(), "g") == {"wins": 2}


# -- the pipeline, against a scripted connection ---------------------------------


class ScriptedConnection:
    """Replies in order from a script; logs what was sent and read."""

    def __init__(self, replies: list[Any], fail_send: int | None = None) -> None:
        self.replies = replies
        self.log: list[tuple[Any, ...]] = []
        self.fail_send = fail_send
        self.disconnected = False

    def _sent(self, *what: Any) -> None:
        if self.fail_send is not None and len(self.sends()) == self.fail_send:
            raise redis.ConnectionError("reset by peer")
        self.log.append(("send", *what))

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self._sent("EVALSHA", check_health)

    def send_command(self, *args: Any, check_health: bool = True) -> None:
        self._sent(*args[:2], check_health)

    def read_response(self) -> Any:
        self.log.append(("read",))
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def disconnect(self) -> None:
        self.disconnected = True

    def sends(self) -> list[tuple[Any, ...]]:
        return [entry[1:] for entry in self.log if entry[0] == "send"]


class ScriptedClient:
    def __init__(self, conn: ScriptedConnection) -> None:
        self.conn = conn
        self.connection_pool = self
        self.released = 0

    def get_connection(self) -> ScriptedConnection:
        return self.conn

    def release(self, conn: ScriptedConnection) -> None:
        self.released += 1


class Script:
    sha = "sha-0"
    script = "return 1"


def args(*values: Any) -> wire.Packed:
    """A call's arguments (a scripted connection does not read them)."""
    return wire.Packed(len(values), repr(values).encode())


def stream(conn: ScriptedConnection, calls: Any) -> tuple[Any, ScriptedClient]:
    client = ScriptedClient(conn)
    return wire.pipelined(client, Script(), calls), client


def test_calls_lost_with_the_script_are_sent_again_in_order(monkeypatch):
    monkeypatch.setattr(wire, "DEPTH", 2)
    lost = NoScriptError("NOSCRIPT")
    # 0 and 1 in flight when the script is lost; 1 ran anyway (another client
    # loaded it meanwhile); the script is loaded on the same connection and 0
    # is sent again; then 2 and 3 as usual.
    conn = ScriptedConnection([lost, "r1", "sha-1", "r0", "r2", ResponseError("boom")])
    calls, client = stream(conn, [wire.Call(n, args(1, "k", n)) for n in range(4)])
    out = list(calls)
    assert [tag for tag, _ in out] == [0, 1, 2, 3]
    assert [reply for _, reply in out[:3]] == ["r0", "r1", "r2"]
    assert isinstance(out[3][1], ResponseError)
    # No health check PING while a reply is pending.
    assert conn.sends() == [
        ("EVALSHA", True), ("EVALSHA", False), ("SCRIPT", "LOAD", True),
        ("EVALSHA", True), ("EVALSHA", True), ("EVALSHA", False),
    ]  # fmt: skip
    assert client.released == 1 and not conn.disconnected


def test_every_call_in_flight_when_the_script_is_lost_is_resolved_in_order():
    lost = NoScriptError("NOSCRIPT")
    # DEPTH calls out before the first reply: 0 and 2 refused, 1 and 3 ran
    # (another client loaded the script between them).
    assert wire.DEPTH == 4
    conn = ScriptedConnection([lost, "r1", lost, "r3", "sha-1", "r0", "r2"])
    calls, client = stream(conn, [wire.Call(n, args(1, f"k{n}")) for n in range(4)])
    assert list(calls) == [(0, "r0"), (1, "r1"), (2, "r2"), (3, "r3")]
    assert conn.sends() == [
        ("EVALSHA", True), ("EVALSHA", False), ("EVALSHA", False),
        ("EVALSHA", False), ("SCRIPT", "LOAD", True), ("EVALSHA", True),
        ("EVALSHA", True),
    ]  # fmt: skip
    assert client.released == 1 and not conn.disconnected


def test_a_call_of_a_group_in_flight_goes_after_a_lost_script_is_resolved(server):
    """Calls a, b, c out, then a again: it waits for their answers, so when
    the server lost the script and refuses all three, they are sent again
    (in order) before the second call of "a" goes out."""
    lost = NoScriptError("NOSCRIPT")
    cache = server.cache()
    ops = [[CASOp(g, 1, {}, None, True)] for g in "abca"]
    conn = ScriptedConnection([lost, lost, lost, "sha-1", "r0", "r1", "r2", "r3"])
    calls, client = stream(conn, cache._calls(ops))
    assert [reply for _, reply in calls] == ["r0", "r1", "r2", "r3"]
    assert [entry[0] for entry in conn.log] == [
        "send", "send", "send", "read", "read", "read",  # all three refused
        "send", "read",  # SCRIPT LOAD
        "send", "read", "send", "read", "send", "read",  # a, b, c again
        "send", "read",  # then a's second call
    ]  # fmt: skip
    assert client.released == 1 and not conn.disconnected


def test_a_send_failing_with_calls_unanswered_is_an_unknown_outcome():
    assert wire.DEPTH == 4  # three calls out, none read, when the fourth fails
    conn = ScriptedConnection([], fail_send=3)
    calls, client = stream(conn, [wire.Call(n, args(n)) for n in range(4)])
    with pytest.raises(OutcomeUnknownError, match="may or may not"):
        next(calls)
    assert len(conn.sends()) == 3 and conn.disconnected and client.released == 1


def test_a_call_after_others_waits_for_their_replies():
    conn = ScriptedConnection(["a", "b", "c"])
    calls = [
        wire.Call(0, args(0)),
        wire.Call(1, args(1), after=True),
        wire.Call(2, args(2)),
    ]
    out, _ = stream(conn, calls)
    assert list(out) == [(0, "a"), (1, "b"), (2, "c")]
    assert [entry[0] for entry in conn.log] == [
        "send", "read", "send", "send", "read", "read"
    ]  # fmt: skip


def test_a_call_of_none_keeps_its_place_and_sends_nothing():
    conn = ScriptedConnection(["a", "b"])
    calls = [wire.Call("x", args(1)), wire.Call("empty", None), wire.Call("y", args(2))]
    out, _ = stream(conn, calls)
    assert list(out) == [("x", "a"), ("empty", None), ("y", "b")]
    assert len(conn.sends()) == 2


@pytest.mark.parametrize("where", ["read", "send"])
def test_a_connection_lost_with_a_call_in_flight_is_an_unknown_outcome(
    where, monkeypatch
):
    monkeypatch.setattr(wire, "DEPTH", 2)  # a reply is read between sends
    lost = redis.ConnectionError("gone")
    if where == "read":
        conn = ScriptedConnection(["a", lost])
    else:  # the third send fails while the second call is unread
        conn = ScriptedConnection(["a"], fail_send=2)
    calls, client = stream(conn, [wire.Call(n, args(n)) for n in range(3)])
    assert next(calls) == (0, "a")
    with pytest.raises(OutcomeUnknownError, match="may or may not"):
        next(calls)
    assert conn.disconnected and client.released == 1


def test_an_interrupt_while_a_reply_is_awaited_goes_on_as_it_is():
    conn = ScriptedConnection(["a", KeyboardInterrupt()])
    calls, client = stream(conn, [wire.Call(n, args(n)) for n in range(2)])
    with pytest.raises(KeyboardInterrupt):
        list(calls)
    assert conn.disconnected and client.released == 1
    conn = ScriptedConnection([KeyboardInterrupt()])  # one call, not pipelined
    client = ScriptedClient(conn)
    with pytest.raises(KeyboardInterrupt):
        wire.call(client, Script(), args(1, "k"))
    assert conn.disconnected and client.released == 1


def test_a_call_that_cannot_be_built_comes_after_the_sent_ones_are_answered():
    def calls() -> Iterator[wire.Call]:
        yield wire.Call(0, args(0))
        raise ValueError("cannot encode")

    conn = ScriptedConnection(["a"])
    out, client = stream(conn, calls())
    assert next(out) == (0, "a")  # sent before: answered and reported
    with pytest.raises(ValueError, match="cannot encode"):
        next(out)
    assert not conn.disconnected and client.released == 1


def test_abandoning_a_pipeline_drops_its_connection():
    conn = ScriptedConnection(["a", "b", "c"])
    out, client = stream(conn, [wire.Call(n, args(n)) for n in range(3)])
    assert next(out) == (0, "a")
    out.close()  # reply 1 is still in flight
    assert conn.disconnected and client.released == 1


def test_only_refusals_before_any_write_count_as_not_applied():
    assert wire.not_run(NoScriptError("NOSCRIPT No matching script"))
    assert wire.not_run(ResponseError("WRONGTYPE foreign data in the dirty index"))
    assert not wire.not_run(ResponseError("ERR value is not an integer"))
    assert not wire.not_run(ResponseError("OOM command not allowed"))


# -- call_on_node, against scripted cluster nodes -----------------------------------


class ScriptedCluster:
    """Two nodes, ``a`` serving every key, and ``b`` named by redirections."""

    def __init__(self, a: ScriptedConnection, b: ScriptedConnection) -> None:
        self.nodes = {"a": ScriptedClient(a), "b": ScriptedClient(b)}
        self.remapped: list[str] = []

    def get_node_from_key(self, key: str) -> str:
        return "a"

    def get_node(self, host: str, port: int) -> str | None:
        return "b" if (host, port) == ("10.0.0.2", 7001) else None

    def get_redis_connection(self, node: str) -> ScriptedClient:
        return self.nodes[node]

    def exists(self, key: str) -> int:  # the client follows a MOVED and remaps
        self.remapped.append(key)
        return 1


def test_an_ask_goes_once_to_the_named_node_after_asking():
    a = ScriptedConnection([redis.exceptions.AskError("3999 10.0.0.2:7001")])
    b = ScriptedConnection(["OK", "applied"])
    cluster = ScriptedCluster(a, b)
    assert wire.call_on_node(cluster, Script(), "k", args(1, "k")) == "applied"
    assert b.sends() == [("ASKING", True), ("EVALSHA", True)]
    assert cluster.remapped == []  # a slot being migrated: the layout stays


def test_a_moved_goes_to_the_named_node_and_the_client_learns_it():
    a = ScriptedConnection([redis.exceptions.MovedError("3999 10.0.0.2:7001")])
    b = ScriptedConnection(["applied"])
    cluster = ScriptedCluster(a, b)
    assert wire.call_on_node(cluster, Script(), "k", args(1, "k")) == "applied"
    assert b.sends() == [("EVALSHA", True)]
    assert cluster.remapped == ["k"]


def test_a_redirection_to_an_unknown_node_applied_nothing():
    a = ScriptedConnection([redis.exceptions.AskError("3999 10.9.9.9:7001")])
    cluster = ScriptedCluster(a, ScriptedConnection([]))
    with pytest.raises(BackendError, match="nothing was applied") as info:
        wire.call_on_node(cluster, Script(), "k", args(1, "k"))
    assert not isinstance(info.value, OutcomeUnknownError)
