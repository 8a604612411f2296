"""RedisDataCache on real servers: construction, key layout, round trips, memory,
managers sharing one prefix, and the Lua scripts.

Each test gets a fresh random key prefix and removes its keys at teardown. The
standalone server is the default; what must hold everywhere is parametrized over
the cluster and fakeredis too. Faults (foreign data, a server that goes away)
are in test_redis_cache_faults.py, which reuses :class:`Backend`.
"""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from importlib import resources
from itertools import takewhile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry

from dictrack import data_caches
from dictrack.conditions.keys import KeyValueEQ
from dictrack.data_caches import _redis_wire as wire
from dictrack.data_caches.redis import RedisDataCache
from dictrack.data_stores.sqlite import SQLiteDataStore
from dictrack.errors import ConfigurationError
from dictrack.manager import TrackingManager
from dictrack.trackers.base import ResetPolicy
from dictrack.trackers.numerics.count import CountTracker
from tests.conftest import CLUSTER_URL, REDIS_URL, _start_local_servers, need_server

from ._manager_helpers import LOSE, T0, WIN, bets, progress, wins

pytestmark = pytest.mark.redis

KINDS = [
    pytest.param("redis", id="redis"),
    pytest.param("cluster", id="redis-cluster"),
    pytest.param("fakeredis", id="fakeredis"),
]
NO_RETRY = Retry(NoBackoff(), 0)  # a closed port answers at once, not in ~4 s


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_query(url: str, **params: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


class Backend:
    """Clients, caches and managers on one kind of server under one fresh prefix.

    Each cache gets its own client, as in separate processes. :meth:`close`
    closes what was opened (last first), then removes every key of the prefix.
    """

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.prefix = f"dtt{uuid.uuid4().hex[:12]}"
        self.store_path = tmp_path / "store.sqlite3"
        self.stack = ExitStack()
        self.stack.callback(self._flush)  # runs last
        self._fake: Any = None
        if kind == "fakeredis":
            import fakeredis

            self._fake = fakeredis.FakeServer()

    def client(self, client_class: Any = None, **kwargs: Any) -> Any:
        if self.kind == "fakeredis":
            import fakeredis

            client = fakeredis.FakeRedis(server=self._fake, **kwargs)
        elif self.kind == "cluster":
            client = RedisCluster.from_url(CLUSTER_URL, **kwargs)
        else:
            client = (client_class or redis.Redis).from_url(REDIS_URL, **kwargs)
        self.stack.callback(client.close)
        return client

    def cache(self, client: Any = None, **kwargs: Any) -> RedisDataCache:
        client = self.client() if client is None else client
        return RedisDataCache(client=client, prefix=self.prefix, **kwargs)

    def manager(self, cache: RedisDataCache | None = None) -> TrackingManager:
        """A manager without jobs: command counts see only what a test does."""
        store = SQLiteDataStore(self.store_path)
        self.stack.callback(store.close)
        manager = TrackingManager(
            self.cache() if cache is None else cache, store, run_jobs=False
        )
        self.stack.callback(manager.close)
        return manager

    def keys(self) -> list[str]:
        return sorted(text(k) for k in self.client().scan_iter(f"{self.prefix}:*"))

    def _flush(self) -> None:
        cleaner = self.cache()
        cleaner.flush_all()
        cleaner.client.close()

    def close(self) -> None:
        self.stack.close()


def open_backend(kind: str, tmp_path: Path) -> Iterator[Backend]:
    """A Backend whose server answers (else need_server), closed afterwards."""
    _start_local_servers()
    backend = Backend(kind, tmp_path)
    try:
        backend.client().ping()
    except (RedisError, RedisClusterException) as exc:
        backend.stack.pop_all()
        need_server(f"Redis ({kind}) not reachable ({exc}); run .ci/start-redis")
    with backend.stack:
        yield backend


@pytest.fixture
def server(tmp_path) -> Iterator[Backend]:
    yield from open_backend("redis", tmp_path)


@pytest.fixture(params=KINDS)
def backend(request, tmp_path) -> Iterator[Backend]:
    yield from open_backend(request.param, tmp_path)


# -- construction (2.1.5's ways) ---------------------------------------------


@pytest.mark.parametrize("decode", [False, True], ids=["bytes", "decoded"])
def test_client_with_or_without_decode_responses(server, decode):
    writer = server.manager(server.cache(server.client(decode_responses=decode)))
    writer.add_tracker("g", wins(), now=T0)
    assert writer.track("g", WIN, now=T0).dirtied[0].progress == 1
    same = server.manager(server.cache(server.client(decode_responses=decode)))
    assert same.track("g", WIN, now=T0).dirtied[0].progress == 2
    other = server.manager(server.cache(server.client(decode_responses=not decode)))
    assert progress(other, "g") == {"wins": 2}
    for group in ("a", "b"):
        writer.add_tracker(group, wins(), now=T0)
    # A batch: writer's view of g is stale, so the script returns g as it is.
    results = writer.track_many([("a", WIN), ("g", WIN), ("b", WIN)], now=T0)
    assert [r.dirtied[0].progress for r in results] == [1, 3, 1]


def test_pool(server):
    pool = redis.ConnectionPool.from_url(REDIS_URL)
    server.stack.callback(pool.disconnect)
    cache = RedisDataCache(pool=pool, prefix=server.prefix)
    server.stack.callback(cache.close)
    assert cache.client.connection_pool is pool
    manager = server.manager(cache)
    manager.add_tracker("g", wins(), now=T0)
    assert manager.track("g", WIN, now=T0).ok
    assert progress(server.manager(), "g") == {"wins": 1}


def test_connect_keywords(server):
    url = urlsplit(REDIS_URL)
    where = {"host": url.hostname, "port": url.port, "db": int(url.path[1:] or 0)}
    cache = RedisDataCache(prefix=server.prefix, **where)
    server.stack.callback(cache.close)
    kwargs = cache.client.connection_pool.connection_kwargs
    assert {k: kwargs[k] for k in where} == where
    manager = server.manager(cache)
    manager.add_tracker("g", wins(), now=T0)
    assert manager.track("g", WIN, now=T0).ok
    assert progress(server.manager(), "g") == {"wins": 1}


@pytest.mark.parametrize("style", ["positional", "keywords"])
def test_2_1_5_arguments_are_accepted_and_change_nothing(server, style):
    client = server.client()
    legacy = {"data_key": "dictrack.data_cache", "batch_size": 5, "data_expire": 60}
    if style == "positional":
        names = ("dictrack.data_cache", "dictrack.last_cached", "dictrack.check_flag")
        cache = RedisDataCache(
            object, 10, 20, *names, 5, 60, client, None, False, prefix=server.prefix
        )
    else:
        cache = RedisDataCache(
            scheduler_class=object,
            check_interval=10,
            stale_threshold=20,
            strict=False,
            client=client,
            prefix=server.prefix,
            **legacy,
        )
    assert (cache.check_interval, cache.stale_threshold, cache.client) == (
        10,
        20,
        client,
    )
    manager = server.manager(cache)
    manager.add_trackers("g", [wins(f"w{i}") for i in range(7)], now=T0)  # > batch_size
    assert len(manager.track("g", WIN, now=T0).dirtied) == 7
    keys = server.keys()
    assert keys and all(k.startswith(f"{server.prefix}:") for k in keys)
    assert [client.ttl(k) for k in keys] == [-1] * len(keys)  # data_expire: no TTL
    assert client.exists("dictrack.data_cache") == 0


def test_from_url_takes_the_prefix_and_passes_other_parameters(server):
    url = with_query(REDIS_URL, prefix=server.prefix, socket_timeout="5")
    cache = data_caches.from_url(url)
    server.stack.callback(cache.close)
    assert isinstance(cache, RedisDataCache) and cache.prefix == server.prefix
    kwargs = cache.client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 5.0 and "prefix" not in kwargs
    manager = server.manager(cache)
    manager.add_tracker("g", wins(), now=T0)
    assert manager.track("g", WIN, now=T0).ok
    assert progress(server.manager(), "g") == {"wins": 1}  # same keys as the prefix


def test_from_url_with_a_percent_encoded_prefix(server):
    prefix = f"{server.prefix}:app"
    cache = data_caches.from_url(with_query(REDIS_URL, prefix=prefix))
    server.stack.callback(cache.close)
    assert cache.prefix == prefix
    assert cache.check() is True


def test_rediss_url_configures_tls_without_connecting():
    port = free_port()  # nothing listens: building must not connect
    cache = data_caches.from_url(
        f"rediss://127.0.0.1:{port}/0?prefix=p&ssl_cert_reqs=none"
    )
    try:
        assert isinstance(cache, RedisDataCache) and cache.prefix == "p"
        pool = cache.client.connection_pool
        assert issubclass(pool.connection_class, redis.SSLConnection)
        assert pool.connection_kwargs["ssl_cert_reqs"] == "none"
    finally:
        cache.close()


@pytest.mark.parametrize("prefix", ["", "a{b", "a}b", "{g}"])
def test_bad_prefix_is_refused(prefix):
    client = redis.Redis(port=free_port())  # never connects
    try:
        with pytest.raises(ConfigurationError, match="prefix"):
            RedisDataCache(client=client, prefix=prefix)
    finally:
        client.close()
    with pytest.raises(ConfigurationError, match="prefix"):
        data_caches.from_url(with_query(REDIS_URL, prefix=prefix or "{}"))


def test_from_url_with_an_empty_prefix_is_refused():
    with pytest.raises(ConfigurationError, match="prefix"):
        data_caches.from_url(f"redis://127.0.0.1:{free_port()}/0?prefix=").close()


@pytest.mark.parametrize(
    "client",
    [object(), REDIS_URL, {"host": "127.0.0.1"}],
    ids=["object", "url", "dict"],
)
def test_a_non_client_is_refused(client):
    with pytest.raises(ConfigurationError, match="redis-py client"):
        RedisDataCache(client=client)


def test_check_is_true_when_up_and_false_when_down(server):
    assert server.cache().check() is True
    down = RedisDataCache(host="127.0.0.1", port=free_port(), retry=NO_RETRY)
    try:
        assert down.check() is False
    finally:
        down.close()


def test_close_closes_only_a_client_it_created(server, monkeypatch):
    closed: list[str] = []
    passed = server.client()
    monkeypatch.setattr(passed, "close", lambda: closed.append("passed"))
    url = urlsplit(REDIS_URL)
    created = RedisDataCache(host=url.hostname, port=url.port, prefix=server.prefix)
    real_close = created.client.close
    monkeypatch.setattr(
        created.client, "close", lambda: (closed.append("created"), real_close())
    )
    cache = RedisDataCache(client=passed, prefix=server.prefix)
    manager = server.manager(cache)
    manager.add_tracker("g", wins(), now=T0)
    cache.close()
    created.close()
    assert closed == ["created"]
    assert passed.ping() is True
    assert manager.track("g", WIN, now=T0).ok  # the cache still works on it


# -- key layout and values ---------------------------------------------------

STATE = re.compile(r"(\d+)\|(\d+(?:\.\d+)?)?\|(\{.*\})", re.S)
GROUPS = ["g1", "user:42", "a}b", "é ü"]


def test_key_layout_and_values(backend):
    manager = backend.manager()
    for group in GROUPS:
        manager.add_trackers(group, [wins(), bets()], now=T0)
    manager.add_tracker("g1", wins("soon"), expire_at=T0 + 3600, now=T0)
    manager.track("g1", {"event": "win", "bet": 5}, now=T0, event_id="e1")
    manager.track_many([(g, {"event": "win", "bet": 2}) for g in GROUPS], now=T0)
    client, prefix = backend.client(), backend.prefix
    keys = backend.keys()
    layout = {  # every key a group may have, as RedisDataCache names them
        key: (group, kind)
        for group in GROUPS
        for kind in "vsdenm"
        for key in manager.data_cache._keys(group, kind)
    }
    by_group: dict[str, dict[str, str]] = {}
    for key in keys:
        values = raw_values(client, key)
        assert not any(v.startswith(b"\x80") for v in values), f"pickle in {key}"
        kind = text(client.type(key))
        if key == f"{prefix}:dirty":
            assert kind == "zset" and {text(v) for v in values} <= set(GROUPS)
        elif key.startswith(f"{prefix}:def:"):
            assert kind == "string" and re.fullmatch(r"[0-9a-f]{16}", key[-16:])
            assert json.loads(values[0])["type"] in (
                "CountTracker",
                "AccumulationTracker",
            )
        else:
            assert key in layout, f"{key} is outside the documented layout"
            group, kind = layout[key]
            by_group.setdefault(group, {})[kind] = key
            check_group_key(client, kind, key, values, prefix)
    assert sorted(by_group) == sorted(GROUPS)
    assert by_group["g1"].keys() == set("vsdenm")  # event ids and marks too
    for group, group_keys in by_group.items():
        slots = {key_slot(k.encode()) for k in group_keys.values()}
        assert len(slots) == 1, f"keys of {group!r} on several slots"


def raw_values(client: Any, key: str) -> list[bytes]:
    """Every stored byte string of a key (hash fields and values, zset members)."""
    kind = text(client.type(key))
    if kind == "hash":
        return [x for pair in client.hgetall(key).items() for x in pair]
    if kind == "zset":
        return list(client.zrange(key, 0, -1))
    return [client.get(key)]


def check_group_key(
    client: Any, kind: str, key: str, values: list[bytes], p: str
) -> None:
    expected = {"v": "string", "n": "string", "e": "zset"}.get(kind, "hash")
    assert text(client.type(key)) == expected, key
    if kind in "vn":
        assert int(values[0]) > 0
    elif kind == "s":
        for name, value in client.hgetall(key).items():
            found = STATE.fullmatch(text(value))
            assert found, f"{key}[{text(name)}] = {value!r}"
            assert isinstance(json.loads(found[3]), dict)
            if text(name) == "soon":
                assert float(found[2]) == T0 + 3600
    elif kind == "d":
        ids = {text(v) for v in client.hvals(key)}
        assert all(client.exists(f"{p}:def:{i}") for i in ids), ids
    elif kind == "m":
        assert all(int(v) > 0 for v in client.hvals(key))


@pytest.fixture
def cluster(tmp_path) -> Iterator[Backend]:
    yield from open_backend("cluster", tmp_path)


@pytest.mark.parametrize(
    "group",
    [
        "a}b",
        "{x}",
        "x{",
        pytest.param(
            "}x",
        ),
    ],
)
def test_group_ids_with_braces_work_on_a_cluster(cluster, group):
    manager = cluster.manager()
    manager.add_tracker(group, wins(), now=T0)
    assert manager.track(group, WIN, now=T0).ok
    assert progress(cluster.manager(), group) == {"wins": 1}


# -- round trips ----------------------------------------------------------------


def parse_commands(packed: Any) -> list[tuple[str, ...]]:
    """The commands in what a connection writes (RESP arrays of bulk strings)."""
    if isinstance(packed, (str, bytes, memoryview)):
        packed = [packed]
    data = b"".join(p.encode() if isinstance(p, str) else bytes(p) for p in packed)
    commands, pos = [], 0
    while pos < len(data):
        end = data.index(b"\r\n", pos)
        count, pos, args = int(data[pos + 1 : end]), end + 2, []
        for _ in range(count):
            end = data.index(b"\r\n", pos)
            size = int(data[pos + 1 : end])
            args.append(data[end + 2 : end + 2 + size].decode(errors="replace"))
            pos = end + 4 + size
        commands.append(tuple(args))
    return commands


class CountingConnection(redis.Connection):
    """Logs each write to the server (the commands in it) and each reply read."""

    log: list[tuple[str, list[tuple[str, ...]]]]

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self.log.append(("send", parse_commands(command)))
        super().send_packed_command(command, check_health)

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        self.log.append(("read", []))
        return super().read_response(*args, **kwargs)


class CountingRedis(redis.Redis):
    """Records each round trip: one write of commands to the server (a
    command, a whole pipeline, or one script call of a pipelined batch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.log: list[tuple[str, list[tuple[str, ...]]]] = []
        self.connection_pool.connection_class = type(
            "Counting", (CountingConnection,), {"log": self.log}
        )
        self.connection_pool.disconnect()  # connections made from here log

    @property
    def trips(self) -> list[list[tuple[str, ...]]]:
        """The commands of each write."""
        return [commands for kind, commands in self.log if kind == "send"]

    def commands(self) -> list[tuple[str, ...]]:
        """Every command sent, pipelined ones included."""
        return [c for trip in self.trips for c in trip]

    def clear(self) -> None:
        self.log.clear()


HOT_COMMANDS = {"GET", "EVALSHA", "ZINCRBY"}  # no SCAN, HSCAN, KEYS, SET NX, ...


@pytest.mark.parametrize("where", ["added-here", "loaded"])
def test_track_costs_one_round_trip(server, where):
    client = server.client(CountingRedis)
    manager = server.manager(server.cache(client))
    adder = manager if where == "added-here" else server.manager()
    adder.add_trackers("g", [wins(), bets()], now=T0)
    for event_id in (None, "warm-1", "warm-2"):  # loads the view and the scripts
        manager.track(
            "g", WIN if event_id != "warm-2" else LOSE, now=T0, event_id=event_id
        )
    cases = [
        ({"event": "win", "bet": 3}, None, ["wins", "bets"]),
        (LOSE, None, []),
        (LOSE, "e1", []),
        ({"event": "win", "bet": 4}, "e2", ["wins", "bets"]),
    ]
    for data, event_id, dirtied in cases:
        client.clear()
        result = manager.track("g", data, now=T0, event_id=event_id)
        assert [t.name for t in result.dirtied] == dirtied
        assert len(client.trips) == 1, (data, event_id, client.trips)
        assert {text(c[0]) for c in client.commands()} <= HOT_COMMANDS
    assert progress(server.manager(), "g") == {"wins": 4, "bets": 7}


@pytest.mark.parametrize(
    ("n_groups", "calls"),
    [(100, [40, 30, 20, 10]), (130, [30, 40, 30, 20, 10]), (30, [20, 10])],
)
def test_track_many_of_distinct_groups_is_pipelined(server, n_groups, calls):
    """A round of distinct groups: script calls of about 40 events, the last
    three of 30, 20 and 10 (see _batch.cuts), on one connection; a reply is
    read only once DEPTH calls are out."""
    client = server.client(CountingRedis)
    manager = server.manager(server.cache(client))
    groups = [f"g{i}" for i in range(n_groups)]
    for group in groups:
        manager.add_tracker(group, wins(), now=T0)
        manager.get_trackers(group)  # warm
    manager.track_many([(groups[0], WIN), (groups[1], LOSE, "x")], now=T0)  # scripts
    events = [
        (g, WIN if i % 3 else LOSE, f"e{i}" if i % 2 else None)
        for i, g in enumerate(groups)
    ]
    client.clear()
    results = manager.track_many(events, now=T0)
    assert [[c[0] for c in trip] for trip in client.trips] == [["EVALSHA"]] * len(calls)
    log, in_flight = [], 0
    for _ in calls:
        log.append("send")
        in_flight += 1
        if in_flight == wire.DEPTH:
            log.append("read")
            in_flight -= 1
    assert [kind for kind, _ in client.log] == log + ["read"] * in_flight
    ops = [int(c[3 + int(c[2])]) for [c] in client.trips]  # ARGV[1] of each call
    assert ops == calls
    assert [len(r.dirtied) for r in results] == [
        1 if i % 3 else 0 for i in range(n_groups)
    ]
    other = server.manager()
    assert progress(other, "g3") == {"wins": 0} and progress(other, "g4") == {"wins": 1}


# -- memory and shared definitions ---------------------------------------------


def catalogue() -> list[CountTracker]:
    """Ten trackers, each counting its own event."""
    return [
        CountTracker(f"t{i}", [KeyValueEQ("event", f"e{i}")], 1000) for i in range(10)
    ]


def test_a_tracker_state_takes_at_most_100_bytes_and_definitions_are_shared(server):
    manager = server.manager()
    groups = [f"player-{i}" for i in range(100)]
    for group in groups:
        manager.add_trackers(group, catalogue(), now=T0)
    for n in range(25):
        manager.track_many([(g, {"event": f"e{n % 4}"}) for g in groups], now=T0)
    client = server.client()
    for group in groups[:5]:
        used = client.memory_usage(f"{server.prefix}:{{{group}}}:s", samples=0)
        assert used / 10 <= 100, f"{used / 10} bytes per tracker state"
    definitions = [k for k in server.keys() if k.startswith(f"{server.prefix}:def:")]
    assert len(definitions) == 10
    ids = {text(i) for i in client.hvals(f"{server.prefix}:{{player-7}}:d")}
    assert ids == {k.rsplit(":", 1)[1] for k in definitions}
    assert progress(server.manager(), "player-9")["t0"] == 7  # n = 0, 4, ..., 24


# -- managers with their own caches (like processes) ---------------------------


def test_every_change_by_one_manager_is_seen_by_the_other(backend):
    a, b = backend.manager(), backend.manager()
    assert b.get_trackers("g") == []  # b holds the empty group
    a.add_tracker("g", wins(target=10), now=T0)
    assert progress(b, "g") == {"wins": 0}
    assert a.track("g", WIN, now=T0).dirtied[0].progress == 1
    assert b.track("g", WIN, now=T0).dirtied[0].progress == 2
    assert a.track("g", WIN, now=T0).dirtied[0].progress == 3
    a.update_tracker("g", wins(target=3), now=T0)
    [seen] = b.get_trackers("g")
    assert (seen.target, seen.progress) == (3, 0)
    assert b.track("g", WIN, now=T0).dirtied[0].progress == 1
    assert b.reset_tracker("g", "wins", ResetPolicy.PROGRESS, now=T0) is True
    assert a.track("g", LOSE, now=T0).dirtied == []
    assert progress(a, "g") == {"wins": 0}
    assert a.track("g", WIN, now=T0).dirtied[0].progress == 1
    assert [t.name for t in a.remove_tracker("g", "wins")] == ["wins"]
    result = b.track("g", WIN, now=T0)
    assert result.ok and result.dirtied == []
    assert b.get_trackers("g") == [] and a.get_trackers("g") == []


def test_groups_read_from_redis_share_their_definitions_values(backend):
    backend.manager().add_trackers("g1", [wins(), wins("more")], now=T0)
    backend.manager().add_trackers("g2", [wins(), wins("more")], now=T0)
    reader = backend.manager()  # its own cache: both groups come from Redis
    assert progress(reader, "g1") == progress(reader, "g2") == {"wins": 0, "more": 0}
    first, second = (reader._engine.views[g] for g in ("g1", "g2"))
    assert first._plan is second._plan
    assert first.get("wins", T0)._conditions is second.get("wins", T0)._conditions


# -- scripts --------------------------------------------------------------------

LUA = sorted(
    p.name for p in (resources.files("dictrack.data_caches") / "lua").iterdir()
)


def lua(name: str) -> str:
    return (resources.files("dictrack.data_caches") / "lua" / name).read_text()


@pytest.mark.parametrize("name", LUA)
def test_each_script_opens_with_keys_argv_and_returns(name):
    header = "\n".join(takewhile(lambda x: x.startswith("--"), lua(name).splitlines()))
    assert "KEYS[1]" in header and "Returns" in header
    assert "ARGV" in header


@pytest.mark.parametrize("name", LUA)
def test_scripts_never_build_key_names(name):
    code = "\n".join(line.split("--")[0] for line in lua(name).splitlines())
    assert ".." not in code  # no string concatenation at all
    assert not re.search(r"string\.|tostring|format", code)
    indexes = re.findall(r"KEYS\[([^\]]*)\]", code)
    # A literal, or a position counted in a loop over the ops of a batch.
    assert indexes and all(re.fullmatch(r"\d+|k \+ \d+", i) for i in indexes)
    # A key is KEYS[...], or a name set from KEYS on its line (a helper's
    # ``key`` parameter is passed such a name).
    for command, first in re.findall(r"redis\.p?call\((\w+|'\w+'),\s*([^,)]+)", code):
        name = first.strip().removeprefix("o.")
        assert (
            re.fullmatch(r"KEYS\[\d+\]", name)
            or name == "key"
            or re.search(rf"\b{name}\b[^\n]*=[^\n]*KEYS\[", code)
        ), (command, first)


def test_scripts_get_the_keys_built_by_keys(server):
    client = server.client(CountingRedis)
    cache = server.cache(client)
    manager = server.manager(cache)
    for group in ("g", "user:7"):
        manager.add_trackers(group, [wins(), bets()], now=T0)
    manager.track("g", WIN, now=T0)
    manager.track("g", LOSE, now=T0, event_id="e")
    manager.track_many([("g", WIN), ("user:7", WIN)], now=T0)
    manager.remove_tracker("g", "bets")
    manager.persist()
    manager.persist()  # the index entry of a cleaned group is dropped (unindex)
    assert cache.evict("user:7") is True
    fresh = server.manager(server.cache(client))
    assert progress(fresh, "user:7") == {"wins": 1, "bets": 0}  # populate
    assert progress(fresh, "g") == {"wins": 2}  # load
    assert cache.acquire_lease("job:flush", "me", 1.0)
    assert cache.release_lease("job:flush", "me")
    names = {s.sha: name for name, s in cache._scripts.items()}
    calls = [c for c in client.commands() if text(c[0]) == "EVALSHA"]
    assert {names[c[1]] for c in calls} == set(names.values())  # all of them ran
    kinds = {"v", "s", "d", "e", "m", "n"}
    batches = 0
    for call in calls:
        name, keys = names[call[1]], [text(k) for k in call[3 : 3 + int(call[2])]]
        used = {int(i) for i in re.findall(r"KEYS\[(\d+)\]", lua(f"{name}.lua"))}
        if name == "unindex":
            assert keys == [f"{server.prefix}:dirty"]
            continue
        if name.startswith("lease"):
            assert keys == [f"{server.prefix}:lease:job:flush"]
            continue
        if name != "apply":
            assert used >= set(range(1, len(keys) + 1)), (name, keys)
            groups = [keys]
        else:  # per op v s d m (and e n with an event id), then the index
            assert keys.pop() == f"{server.prefix}:dirty"  # a standalone server
            groups = []
            while keys:
                size = 6 if len(keys) > 4 and keys[4].endswith("e") else 4
                groups.append(keys[:size])
                keys = keys[size:]
            batches += len(groups) > 1
        for keys in groups:
            found = re.fullmatch(rf"{re.escape(server.prefix)}:\{{(.*)\}}:\w", keys[0])
            assert found, keys
            kinds_passed = [k.rsplit(":", 1)[1] for k in keys]
            assert keys == cache._keys(found[1], *kinds_passed)
            assert set(kinds_passed) <= kinds
    assert batches == 1  # track_many of two groups: one call
