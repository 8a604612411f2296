"""How RedisDataCache encodes ``apply.lua`` calls for the wire, without a server.

The cache writes the Redis protocol itself (``_redis_wire.Packed``), so these
tests hold it to redis-py's own encoding of the arguments ``apply.lua``
documents, for any group ids, names, event ids, versions and states.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from dictrack.data_caches import _redis_wire as wire
from dictrack.data_caches._redis_format import definition_id, state_value
from dictrack.data_caches.base import CASOp
from dictrack.data_caches.redis import RedisDataCache
from dictrack.records import TrackerRecord

SHA = "0123456789abcdef0123456789abcdef01234567"
DEFINITION = {"type": "count", "conditions": [], "targets": [3]}


@pytest.fixture(scope="module")
def cache() -> Any:
    # No command is sent: the client only names a server.
    made = RedisDataCache(client=redis.Redis(port=1), prefix="pfx", event_id_window=77)
    # Definition ids without storing the definitions (that needs a server).
    made._definitions.id_of = definition_id
    return made


def reference(cache: Any, ops: list[CASOp], index: bool) -> list[Any]:
    """EVALSHA's arguments as apply.lua's header comment lists them."""
    keys: list[str] = []
    args: list[Any] = [len(ops)]
    for group_id, expected, writes, event_id, states_only in ops:
        names = cache._layout.keys(group_id, "v", "s", "d", "m", "e", "n")
        keys += names if event_id or writes else names[:4]
        args += [expected, expected + 1, group_id, event_id or ""]
        if event_id:
            args.append(77)
        args.append(-len(writes) if states_only else len(writes))
        for name, record in writes.items():
            if states_only:
                args += [name, "" if record is None else state_value(record)]
            elif record is None:
                args += [name, "", ""]
            else:
                args += [name, state_value(record), definition_id(record.definition)]
    if index:
        keys.append(cache._dirty_index)
    return ["EVALSHA", SHA, len(keys), *keys, *args]


class Sent:
    """A connection that keeps what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send_packed_command(self, command: list[bytes], check_health: bool) -> None:
        self.sent.append(b"".join(command))


def on_the_wire(packed: wire.Packed) -> bytes:
    conn = Sent()
    wire._send(conn, SHA, packed, True)
    return conn.sent[0]


def redis_py(args: list[Any]) -> bytes:
    return b"".join(redis.Connection().pack_command(*args))


texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3)
    ),
    max_leaves=8,
)
states = st.dictionaries(texts, json_values, max_size=4) | st.fixed_dictionaries(
    {"v": st.integers(0, 9), "progress": st.integers(), "stage": st.integers(0, 9)}
)
records = st.builds(
    TrackerRecord,
    name=texts,
    definition=st.just(DEFINITION),
    state=states,
    version=st.integers(0, 2**64),
    expire_at=st.none() | st.floats(0, 2e9),
)
ops = st.builds(
    CASOp,
    group_id=texts,
    expected_version=st.integers(0, 2**64),
    writes=st.dictionaries(texts, st.none() | records, max_size=3),
    event_id=st.none() | st.just("") | texts,
    states_only=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ops, min_size=1, max_size=5), st.booleans())
def test_a_call_is_encoded_as_redis_py_encodes_its_arguments(cache, ops, index):
    packed = cache._encode_call(ops, index)
    assert on_the_wire(packed) == redis_py(reference(cache, ops, index))


@given(states)
def test_a_state_value_is_ascii_so_its_length_is_its_size(state):
    assert state_value(TrackerRecord("t", DEFINITION, state, 3, 1.5)).isascii()


def test_a_bulk_string_counts_utf8_bytes():
    assert wire.bulk("ab") == "$2\r\nab\r\n"
    assert wire.bulk("é€") == "$5\r\né€\r\n"


def test_a_call_of_a_non_ascii_group_is_encoded_once_whole(cache):
    op = CASOp("gruppe-ä", 4, {"t": None}, "évènement", True)
    packed = cache._encode_call([op], True)
    assert on_the_wire(packed) == redis_py(reference(cache, [op], True))


def test_remembered_names_are_bounded(monkeypatch):
    monkeypatch.setattr(wire, "KNOWN", {f"n{i}": "" for i in range(10_000)})
    assert wire.remember("x") == "$1\r\nx\r\n"
    assert wire.KNOWN == {"x": "$1\r\nx\r\n"}  # cleared when full
