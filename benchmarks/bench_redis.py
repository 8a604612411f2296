"""Redis throughput benchmarks of dictrack; prints one JSON object to stdout.

Run from the repository root, with a local ``redis-server`` (``.ci/start-redis``
starts one on port 6390)::

    .venv/bin/python benchmarks/bench_redis.py             # full run (~2-3 min)
    .venv/bin/python benchmarks/bench_redis.py --quick     # ~10x fewer operations
    .venv/bin/python benchmarks/bench_redis.py --only track_redis_10x10pct \
        --redis-url redis://127.0.0.1:6390/0

Progress goes to stderr; stdout carries only the JSON report.

``bare_evalsha`` is the reference: a bare redis-py loop that calls EVALSHA of
a tiny script doing the work of one compare-and-set (GET a version key,
compare, HSET one field, SET the version), over the same 100 groups. Each rep
of a ``track_redis_*`` measurement alternates 20 blocks of its events with 20
blocks of the bare loop, and ``ratio_to_bare`` is the median over reps of
``track rate / bare rate``, so both sides see the same machine load and the
ratio stays comparable on noisy machines. ``track_many_redis_100`` alternates
in the same way with single ``track`` calls on the same events
(``ratio_to_single``).

The client counts its round trips (commands sent on their own, and pipeline
executions; the commands buffered in a pipeline are not counted), so each
measurement also reports round trips per event once warm, and the tracking
measurements report ``MEMORY USAGE`` of each group's state hash per tracker.

Every key this script writes is under a fresh prefix
(``dictrack-bench-<pid>-<ns>``), and only those keys are deleted: each
measurement's when it ends, the rest at the end; the database is never
flushed.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

import redis
from bench_core import git_commit, run_track
from bench_workload import (
    FIXED_NOW,
    MATCH_EVERY,
    N_GROUPS,
    Clocks,
    Event,
    group_ids,
    log,
    machine,
    make_events,
    make_trackers,
    summary,
    time_calls,
)

from dictrack.data_caches.redis import RedisDataCache
from dictrack.data_stores.sqlite import SQLiteDataStore
from dictrack.manager import TrackingManager

DEFAULT_URL = "redis://127.0.0.1:6390/0"
#: Blocks per rep: a track rep alternates its blocks with the reference's.
BLOCKS = 20

#: name -> metric -> (comparison, value); checked into ``goals_met``.
GOALS: dict[str, dict[str, tuple[str, float]]] = {
    "track_redis_10x10pct": {
        "ratio_to_bare": (">=", 0.70),
        "p99_us": ("<=", 2_000),
        "round_trips_per_event": ("==", 1),
        "state_bytes_per_tracker": ("<=", 100),
    },
    "track_redis_100x10pct": {
        "ratio_to_bare": (">=", 0.50),
        "round_trips_per_event": ("==", 1),
        "state_bytes_per_tracker": ("<=", 100),
    },
    "track_redis_nomatch": {"round_trips_per_event": ("<=", 1)},
    "track_many_redis_100": {"ratio_to_single": (">=", 8)},
}

#: Track measurements: name -> (trackers per group, events match?).
TRACKS: dict[str, tuple[int, bool]] = {
    "track_redis_10x10pct": (10, True),
    "track_redis_100x10pct": (100, True),
    "track_redis_nomatch": (10, False),
}
MANY = "track_many_redis_100"
BATCH = 100  # events per track_many call: each group once (N_GROUPS groups)
MEASUREMENTS = ("bare_evalsha", *TRACKS, MANY)

#: The reference compare-and-set: GET the version, compare, HSET, SET.
BARE_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then
  return {0, current}
end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
redis.call('SET', KEYS[1], ARGV[2])
return {1}
"""
#: First group version of the bare loop (dictrack's are this large too).
BARE_VERSION = 1_700_000_000_000_000


class CountingRedis(redis.Redis):
    """A redis-py client that counts its round trips to the server.

    A round trip is one write of commands to the socket: a command sent on
    its own, a whole pipeline, or one script call of ``track_many``'s
    pipelined rounds (several are sent before the first reply is read).
    Counted on the connection, so commands that bypass ``execute_command``
    (dictrack's apply script) count too. The counter
    costs one Python call per write, in every measurement alike.
    """

    round_trips = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        client = self

        class Counting(self.connection_pool.connection_class):  # type: ignore[name-defined,misc]
            def send_packed_command(
                self, command: Any, check_health: bool = True
            ) -> None:
                client.round_trips += 1
                super().send_packed_command(command, check_health)

        self.connection_pool.connection_class = Counting
        self.connection_pool.disconnect()  # connections made from here count


class ErrorCount(logging.Handler):
    """Counts errors dictrack logs: ``track`` reports a failing backend by
    logging it and returning ``ok=False``, which a timed loop would not see."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def round_trips(client: CountingRedis, fn: Callable[[], object]) -> int:
    """Round trips ``fn()`` made."""
    before = client.round_trips
    fn()
    return client.round_trips - before


class Part(NamedTuple):
    """A workload cut into blocks: ``run(items[block])`` for each block."""

    run: Callable[[slice], object]
    items: int  # what the blocks cut (events, or batches)
    ops: int  # events in all the blocks


def blocks(n_items: int, k: int) -> list[slice]:
    return [slice(i * n_items // k, (i + 1) * n_items // k) for i in range(k)]


def interleaved(
    target: Part, reference: Part, repeats: int, ref_clocks: Clocks
) -> tuple[Clocks, float]:
    """Time ``target`` ``repeats`` times, alternating its blocks with the
    reference's (BLOCKS each per rep), so both see the same machine load.

    Returns the target's clocks (the reference's go to ``ref_clocks``) and the
    median over reps of ``target rate / reference rate``.
    """
    clocks = Clocks()
    ratios: list[float] = []
    pairs = list(
        zip(
            blocks(reference.items, BLOCKS),
            blocks(target.items, BLOCKS),
            strict=True,
        )
    )
    wall, cpu = time.perf_counter, time.process_time
    for _ in range(repeats):
        gc.collect()
        spent = {"ref": [0.0, 0.0], "target": [0.0, 0.0]}
        for ref_block, target_block in pairs:
            for side, part, block in (
                ("ref", reference, ref_block),
                ("target", target, target_block),
            ):
                cpu0, wall0 = cpu(), wall()
                part.run(block)
                spent[side][0] += wall() - wall0
                spent[side][1] += cpu() - cpu0
        for side, into in (("ref", ref_clocks), ("target", clocks)):
            into.wall.append(spent[side][0])
            into.cpu.append(spent[side][1])
        ratios.append(
            target.ops / spent["target"][0] / (reference.ops / spent["ref"][0])
        )
    return clocks, round(statistics.median(ratios), 4)


# -- the reference: bare EVALSHA ----------------------------------------------


class BareEvalsha:
    """One EVALSHA per event: the physical limit of one round trip per track."""

    def __init__(
        self,
        client: CountingRedis,
        prefix: str,
        n_events: int,
        n_groups: int = N_GROUPS,
    ) -> None:
        self.client = client
        self.sha = client.script_load(BARE_SCRIPT)
        self.keys = {
            gid: (f"{prefix}:{{{gid}}}:v", f"{prefix}:{{{gid}}}:s")
            for gid in group_ids(n_groups)
        }
        self.versions = dict.fromkeys(self.keys, BARE_VERSION)
        for version_key, _ in self.keys.values():
            client.set(version_key, BARE_VERSION)
        self.events = make_events(n_events, n_groups)
        self.clocks = Clocks()
        self.run_all()  # warm up (and fill the hashes)

    def one(self, event: Event) -> None:
        group_id, data = event
        version_key, states_key = self.keys[group_id]
        version = self.versions[group_id]
        new = version + 1
        reply = self.client.evalsha(
            self.sha,
            2,
            version_key,
            states_key,
            version,
            new,
            data["quest"],  # the tracker this event advances
            f'{new}||{{"v":1,"progress":{data["amount"]},"stage":1}}',
        )
        if reply[0] != 1:
            raise AssertionError(f"bare compare-and-set refused: {reply!r}")
        self.versions[group_id] = new

    def run(self, block: slice = slice(None)) -> None:
        one = self.one
        for event in self.events[block]:
            one(event)

    def run_all(self) -> None:
        self.run()

    def part(self) -> Part:
        """The loop in blocks, to interleave with a track measurement."""
        return Part(self.run, len(self.events), len(self.events))

    def rate(self) -> float:
        """Run once; return events per second."""
        return len(self.events) / self.clocks.run(self.run_all)

    def report(self) -> dict[str, Any]:
        gc.collect()
        latencies = time_calls(self.one, self.events)
        out = summary(len(self.events), "events", self.clocks, latencies)
        out["round_trips_per_event"] = round_trips(
            self.client, partial(self.one, self.events[0])
        )
        out["script"] = "GET version, compare, HSET one field, SET version"
        return out


# -- dictrack on Redis -----------------------------------------------------------


def redis_manager(
    client: Any, prefix: str, n_groups: int, per_group: int
) -> TrackingManager:
    """RedisDataCache + SQLite ``:memory:``, ``n_groups`` groups filled."""
    cache = RedisDataCache(client=client, prefix=prefix)
    manager = TrackingManager(cache, SQLiteDataStore(":memory:"), run_jobs=False)
    for group_id in group_ids(n_groups):
        manager.add_trackers(group_id, make_trackers(per_group), now=FIXED_NOW)
    return manager


def run_track_many(
    manager: TrackingManager, batches: Sequence[Sequence[Event]]
) -> None:
    track_many = manager.track_many
    for batch in batches:
        track_many(batch, now=FIXED_NOW)


def memory(client: Any, prefix: str, per_group: int) -> dict[str, float]:
    """``MEMORY USAGE`` per tracker: of the state hash, and of all group keys."""
    kinds = ("s", "d", "m", "v")
    used = dict.fromkeys(kinds, 0)
    groups = group_ids(N_GROUPS)
    for group_id in groups:
        for kind in kinds:
            found = client.memory_usage(f"{prefix}:{{{group_id}}}:{kind}", samples=0)
            used[kind] += found or 0
    trackers = len(groups) * per_group
    encoding = client.object("encoding", f"{prefix}:{{{groups[0]}}}:s")
    return {
        "state_bytes_per_tracker": round(used["s"] / trackers, 1),
        "group_bytes_per_tracker": round(sum(used.values()) / trackers, 1),
        "state_hash_encoding": (
            encoding.decode() if isinstance(encoding, bytes) else encoding
        ),
    }


def bench_track(
    client: CountingRedis,
    prefix: str,
    *,
    per_group: int,
    match: bool,
    n_events: int,
    repeats: int,
    bare: BareEvalsha,
) -> dict[str, Any]:
    """``track`` over Redis, ``n_events`` events per rep, paired with bare runs."""
    manager = redis_manager(client, prefix, N_GROUPS, per_group)
    events = make_events(n_events, N_GROUPS, match=match)
    track = manager.track
    matching = per_group // MATCH_EVERY if match else 0
    try:
        run_track(manager, events[: max(N_GROUPS * MATCH_EVERY, n_events // 10)])
        clocks, ratio = interleaved(
            Part(lambda b: run_track(manager, events[b]), len(events), len(events)),
            bare.part(),
            repeats,
            bare.clocks,
        )
        gc.collect()
        latencies = time_calls(lambda ev: track(ev[0], ev[1], now=FIXED_NOW), events)
        sample = events[: N_GROUPS * MATCH_EVERY]
        trips = round_trips(client, partial(run_track, manager, sample))
        # The workload does what it says: the right number dirtied, none completed.
        result = track(events[0][0], events[0][1], now=FIXED_NOW)
        assert result.ok and len(result.dirtied) == matching, result
        assert not result.completed
        used = memory(client, prefix, per_group)
    finally:
        manager.close()
    out = summary(len(events), "events", clocks, latencies)
    out.update(
        ratio_to_bare=ratio,
        round_trips_per_event=round(trips / len(sample), 3),
        **used,
        groups=N_GROUPS,
        trackers_per_group=per_group,
        matching_per_event=matching,
    )
    return out


def bench_track_many(
    client: CountingRedis, prefix: str, *, n_events: int, repeats: int
) -> dict[str, Any]:
    """``track_many`` in batches of BATCH events of distinct groups, each rep
    paired with single ``track`` calls on the same events."""
    manager = redis_manager(client, prefix, N_GROUPS, MATCH_EVERY)
    events = make_events(n_events, N_GROUPS)
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    assert all(len({gid for gid, _ in b}) == len(b) for b in batches)
    single = partial(run_track, manager, events)
    try:
        run_track_many(manager, batches[: max(MATCH_EVERY, len(batches) // 10)])
        single()
        single_clocks = Clocks()
        clocks, ratio = interleaved(
            Part(
                lambda b: run_track_many(manager, batches[b]), len(batches), len(events)
            ),
            Part(lambda b: run_track(manager, events[b]), len(events), len(events)),
            repeats,
            single_clocks,
        )
        gc.collect()
        latencies = time_calls(lambda b: manager.track_many(b, now=FIXED_NOW), batches)
        trips = round_trips(client, partial(run_track_many, manager, batches))
        results = manager.track_many(batches[0], now=FIXED_NOW)
        assert all(r.ok and len(r.dirtied) == 1 for r in results), results
    finally:
        manager.close()
    out = summary(len(events), "events", clocks, latencies)
    single_rates = [len(events) / s for s in single_clocks.wall]
    out.update(
        ratio_to_single=ratio,
        single_rate_per_s=round(statistics.median(single_rates)),
        # Pipelined: several calls are sent before the first reply is read.
        script_calls_per_batch=round(trips / len(batches), 3),
        events_per_batch=BATCH,
        latency_per="batch",
        groups=N_GROUPS,
        trackers_per_group=MATCH_EVERY,
        matching_per_event=1,
    )
    return out


# -- the run -------------------------------------------------------------------


def plan(quick: bool) -> dict[str, int]:
    scale = 10 if quick else 1
    return {
        "repeats": 3 if quick else 5,
        "bare_events": 10_000 // scale,
        "track_events": 20_000 // scale,
        "track_100_events": 5_000 // scale,
        "track_many_events": 20_000 // scale,
    }


def check(value: Any, comparison: str, goal: float) -> bool:
    if value is None:
        return False
    if comparison == ">=":
        return bool(value >= goal)
    if comparison == "<=":
        return bool(value <= goal)
    return bool(value == goal)


def delete_keys(client: Any, prefix: str) -> int:
    """Delete every key under ``prefix:`` (and only those)."""
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            deleted += client.delete(*batch)
            batch.clear()
    if batch:
        deleted += client.delete(*batch)
    return deleted


def run(url: str, quick: bool, only: set[str] | None) -> dict[str, Any]:
    p = plan(quick)
    repeats = p["repeats"]
    client = CountingRedis.from_url(url)
    client.ping()
    info = machine()
    info["commit"] = git_commit()
    info["redis_server"] = client.info("server").get("redis_version")
    info["redis_py"] = redis.__version__
    info["hiredis"] = bool(redis.utils.HIREDIS_AVAILABLE)
    # Keys of others on the server (a busy server is a slower one).
    info["server_keys_at_start"] = client.dbsize()
    prefix = f"dictrack-bench-{os.getpid()}-{time.monotonic_ns()}"
    errors = ErrorCount()
    logging.getLogger("dictrack").addHandler(errors)
    results: dict[str, dict[str, Any]] = {}

    def wanted(name: str) -> bool:
        return only is None or name in only

    try:
        bare = BareEvalsha(client, f"{prefix}:bare", p["bare_events"])
        for name, (per_group, match) in TRACKS.items():
            if wanted(name):
                log(f"{name} ...")
                results[name] = bench_track(
                    client,
                    f"{prefix}:{name}",
                    per_group=per_group,
                    match=match,
                    n_events=p[
                        "track_100_events" if per_group > 10 else "track_events"
                    ],
                    repeats=repeats,
                    bare=bare,
                )
                # Each measurement starts on a server holding only the
                # reference's keys (and leftovers of other runs, if any).
                delete_keys(client, f"{prefix}:{name}")
        if wanted(MANY):
            log(f"{MANY} ...")
            results[MANY] = bench_track_many(
                client,
                f"{prefix}:{MANY}",
                n_events=p["track_many_events"],
                repeats=repeats,
            )
        if not bare.clocks.wall:
            log("bare_evalsha ...")
            for _ in range(repeats):
                bare.rate()
        results = {"bare_evalsha": bare.report(), **results}
    finally:
        logging.getLogger("dictrack").removeHandler(errors)
        deleted = delete_keys(client, prefix)
        log(f"deleted {deleted} keys under {prefix}:")
        client.close()
    if errors.count:
        raise SystemExit(f"dictrack logged {errors.count} errors: numbers invalid")

    goals_met: dict[str, bool] = {}
    for name, metrics in GOALS.items():
        for metric, (comparison, goal) in metrics.items():
            if name in results:
                key = f"{name}.{metric}"
                goals_met[key] = check(results[name].get(metric), comparison, goal)
    return {
        "benchmark": "dictrack.redis",
        "quick": quick,
        "redis_url": url,
        "key_prefix": prefix,
        "machine": info,
        "plan": p,
        "goals": {
            name: {metric: f"{c} {g}" for metric, (c, g) in metrics.items()}
            for name, metrics in GOALS.items()
        },
        "goals_met": goals_met,
        "results": results,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="dictrack Redis benchmarks (JSON)")
    parser.add_argument(
        "--quick", action="store_true", help="~10x fewer operations (CI smoke run)"
    )
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated measurement names (default: all); "
        f"of {', '.join(MEASUREMENTS[1:])} (bare_evalsha always runs)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("DICTRACK_TEST_REDIS_URL", DEFAULT_URL),
        help=f"the Redis server to measure against (default {DEFAULT_URL})",
    )
    args = parser.parse_args(argv)
    only = None if args.only is None else set(args.only.split(","))
    if only is not None and only - set(MEASUREMENTS):
        parser.error(
            f"unknown measurement(s): {', '.join(sorted(only - set(MEASUREMENTS)))}"
        )
    started = time.perf_counter()
    try:
        report = run(args.redis_url, args.quick, only)
    except redis.exceptions.ConnectionError as exc:
        sys.exit(f"cannot reach Redis at {args.redis_url} ({exc}); run .ci/start-redis")
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    report["machine"]["loadavg_end"] = machine()["loadavg"]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
