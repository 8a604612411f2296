"""Regenerate ``golden_2_1_5.json`` from upstream dictrack 2.1.5.

Why: the compat tests replay the scenarios of ``scenarios.py`` against our
implementation and compare with what the original package did.  The golden
file is the recorded behaviour of upstream 2.1.5; it is checked in so the
tests never need upstream installed.

How: from the repository root, with a Python environment that has upstream
``dictrack==2.1.5`` plus ``redis`` and ``mongomock`` installed, and a Redis
server on 127.0.0.1:6379 (database 15 is flushed freely)::

    redis-server --port 6379 --save "" --daemonize yes   # if not running
    /tmp/up/bin/python tests/compat/generate_golden.py

Each scenario gets a fresh manager: ``RedisDataCache`` on Redis db 15
(flushed first; upstream's memory cache does not work on Python 3.11) and
``MongoDBDataStore`` on a fresh ``mongomock`` client.  A scenario that raises
is recorded as ``{"error": "<ExceptionType>"}``.  The script re-executes
itself with ``PYTHONHASHSEED=0`` so set iteration order is reproducible.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, "golden_2_1_5.json")
REDIS_DB = 15


def _reexec_with_fixed_hash_seed():
    if os.environ.get("PYTHONHASHSEED") != "0":
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


def _make_manager():
    import mongomock
    import redis

    from dictrack.data_caches.redis import RedisDataCache
    from dictrack.data_stores.mongodb import MongoDBDataStore
    from dictrack.manager import TrackingManager

    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    client.flushdb()
    cache = RedisDataCache(client=client)
    store = MongoDBDataStore(client=mongomock.MongoClient(), strict=False)
    try:
        manager = TrackingManager(cache, store)
    except Exception:
        _shutdown(cache, store)
        raise
    return manager, cache, store


def _shutdown(*parts):
    for part in parts:
        scheduler = getattr(part, "scheduler", None)
        if scheduler is not None and getattr(scheduler, "running", False):
            scheduler.shutdown(wait=False)


def main():
    _reexec_with_fixed_hash_seed()
    # Upstream logs warnings (and tracebacks of failing listeners) on purpose
    # in some scenarios; keep the output readable.
    logging.getLogger("dictrack").setLevel(logging.CRITICAL + 1)

    sys.path.insert(0, HERE)
    import scenarios

    ns = scenarios.load_namespace("dictrack")
    golden = {}
    for name in sorted(scenarios.SCENARIOS):
        func = scenarios.SCENARIOS[name]
        manager, cache, store = _make_manager()
        try:
            trace = func(manager, ns)
            json.dumps(trace, allow_nan=False)  # must be plain JSON
        except Exception as exc:
            trace = {"error": type(exc).__name__}
            traceback.print_exc()
        finally:
            _shutdown(cache, store)
        golden[name] = trace
        status = "ERROR " + trace["error"] if "error" in trace else "ok"
        print(f"{name:45s} {status}")

    with open(OUTPUT, "w") as fh:
        json.dump(golden, fh, sort_keys=True, indent=1, allow_nan=False)
        fh.write("\n")
    print(f"wrote {len(golden)} scenarios to {OUTPUT}")


if __name__ == "__main__":
    main()
