"""``dictrack worker``: the jobs in a process of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from dictrack.cli import main
from dictrack.data_caches.redis import RedisDataCache
from dictrack.data_stores.sqlite import SQLiteDataStore
from dictrack.manager import TrackingManager
from tests.conftest import REDIS_URL

from ._manager_helpers import T0, WIN, progress, reloaded, wins


def test_worker_refuses_a_bad_url(capsys):
    assert main(["worker", "--cache", "nope://x", "--store", "sqlite:///:memory:"]) == 2
    assert "unknown data cache URL scheme 'nope'" in capsys.readouterr().err


def test_worker_refuses_a_bad_interval(capsys):
    code = main(
        [
            "worker",
            "--cache",
            "memory://",
            "--store",
            "sqlite:///:memory:",
            "--flush-interval",
            "0",
        ]
    )
    assert code == 2
    assert "`flush_interval` must be positive" in capsys.readouterr().err


@pytest.mark.redis
def test_worker_flushes_what_an_app_process_tracked(tmp_path, redis_prefix):
    cache_url = f"{REDIS_URL}?prefix={redis_prefix}"
    cache = RedisDataCache.from_url(cache_url)
    db = tmp_path / "store.sqlite3"
    store = SQLiteDataStore(db)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dictrack",
            "worker",
            "--cache",
            cache_url,
            "--store",
            f"sqlite:///{db}",
            "--flush-interval",
            "0.05",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert worker.stderr is not None
        assert "dictrack worker: flushing" in worker.stderr.readline()
        app = TrackingManager(cache, store, run_jobs=False)
        app.add_tracker("g", wins(), now=T0)
        for _ in range(5):
            app.track("g", WIN, now=T0)
        deadline = time.monotonic() + 20
        while progress(reloaded(store), "g") != {"wins": 5}:
            assert time.monotonic() < deadline, "the worker never flushed"
            time.sleep(0.05)
        assert app.persist() == 0  # the worker stored it all
        app.close()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0
        assert "dictrack worker: stopped" in worker.stderr.read()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        if worker.stderr is not None:
            worker.stderr.close()
        cache.flush_all()
        cache.close()
        store.close()
