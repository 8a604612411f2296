"""The job runner: flush, expiry, eviction, leases and the store status."""

from __future__ import annotations

import gc
import logging
import threading
import time

import pytest

from dictrack.data_caches.memory import MemoryDataCache
from dictrack.errors import BackendError
from dictrack.jobs import ExpireJob, FlushJob, Job, JobRunner
from dictrack.manager import TrackingManager
from dictrack.status import StoreStatus, StoreStatusProvider

from ._manager_helpers import T0, WIN, FlakyStore, progress, reloaded, wins


def wait_for(predicate, timeout: float = 10.0) -> None:
    """Poll ``predicate`` until true; the runner works on its own thread."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the job runner"
        time.sleep(0.01)


def jobs_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "dictrack-jobs"]


# -- the runner in a manager --------------------------------------------------


def test_the_manager_runs_its_jobs_until_closed(data_cache, data_store):
    manager = TrackingManager(data_cache, data_store)
    assert manager.jobs.is_alive()
    manager.close()
    assert not manager.jobs.is_alive()
    assert jobs_threads() == []


def test_run_jobs_false_starts_no_thread(data_cache, data_store):
    with TrackingManager(data_cache, data_store, run_jobs=False) as manager:
        assert not manager.jobs.is_alive()
        assert jobs_threads() == []


def test_a_change_reaches_the_store_within_the_flush_interval(data_cache, data_store):
    with TrackingManager(data_cache, data_store, flush_interval=0.05) as manager:
        manager.add_tracker("g", wins(), now=T0)
        for _ in range(3):
            manager.track("g", WIN, now=T0)
        wait_for(lambda: progress(reloaded(data_store), "g") == {"wins": 3})
        assert manager.persist() == 0


def test_a_collected_manager_stops_its_thread(data_store):
    manager = TrackingManager(MemoryDataCache(), data_store, flush_interval=0.05)
    jobs = manager.jobs
    manager.add_tracker("g", wins(), now=T0)
    manager.track("g", WIN, now=T0)
    del manager
    gc.collect()
    assert not jobs.is_alive()
    assert progress(reloaded(data_store), "g") == {"wins": 1}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"flush_interval": 0}, ValueError),
        ({"flush_interval": -1.0}, ValueError),
        ({"flush_interval": float("nan")}, ValueError),
        ({"flush_interval": "1"}, TypeError),
        ({"expire_interval": True}, TypeError),
        ({"run_jobs": 1}, TypeError),
    ],
)
def test_bad_job_settings_are_refused(kwargs, error):
    with pytest.raises(error):
        TrackingManager("memory://", "sqlite:///:memory:", **kwargs)
    assert jobs_threads() == []


# -- flush and store status ---------------------------------------------------


def test_store_down_then_back_nothing_lost_and_listeners_hear_it(data_store):
    flaky = FlakyStore(data_store)
    heard: list[StoreStatus] = []
    manager = TrackingManager(MemoryDataCache(), flaky, run_jobs=False)
    manager.store_status.add_listener(heard.append)
    manager.add_tracker("g", wins(target=1000), now=T0)
    flaky.down = True
    for _ in range(50):
        assert manager.track("g", WIN, now=T0).ok  # tracking goes on
    manager.jobs.run_now("flush")
    assert manager.store_status.status == StoreStatus(available=False, stale=True)
    for _ in range(50):
        manager.track("g", WIN, now=T0)
    manager.jobs.run_now("flush")  # still down: no second notice
    flaky.down = False
    manager.jobs.run_now("flush")
    assert heard == [StoreStatus(False, True), StoreStatus(True, False)]
    assert progress(reloaded(data_store), "g") == {"wins": 100}
    manager.close()


def test_the_backlog_clears_stale_only_after_every_batch(data_store, monkeypatch):
    import dictrack._persist as persist

    monkeypatch.setattr(persist, "BATCH_SIZE", 2)
    flaky = FlakyStore(data_store)
    heard: list[StoreStatus] = []
    with TrackingManager(MemoryDataCache(), flaky, run_jobs=False) as manager:
        manager.store_status.add_listener(heard.append)
        for group in ("a", "b", "c"):
            manager.add_tracker(group, wins(), now=T0)
        flaky.down = True
        for group in ("a", "b", "c"):
            manager.track(group, WIN, now=T0)
        manager.jobs.run_now("flush")
        flaky.down = False
        manager.jobs.run_now("flush")
    assert heard == [
        StoreStatus(False, True),
        StoreStatus(True, True),  # first batch written, backlog left
        StoreStatus(True, False),
    ]


def test_flush_backs_off_while_the_store_is_down(data_store):
    flaky = FlakyStore(data_store)
    with TrackingManager(MemoryDataCache(), flaky, run_jobs=False) as manager:
        manager.add_tracker("g", wins(), now=T0)
        manager.track("g", WIN, now=T0)
        job = FlushJob(manager._engine, StoreStatusProvider(), 1.0, max_backoff=5.0)
        flaky.down = True
        assert [job() for _ in range(4)] == [2.0, 4.0, 5.0, 5.0]
        flaky.down = False
        assert job() is None
        assert job.failures == 0


def test_a_failing_status_listener_does_not_stop_the_others(caplog):
    provider = StoreStatusProvider()
    heard: list[StoreStatus] = []

    def broken(status: StoreStatus) -> None:
        raise RuntimeError("listener bug")

    provider.add_listener(broken)
    provider.add_listener(heard.append)
    with caplog.at_level(logging.ERROR, logger="dictrack.status"):
        provider.update(available=False, stale=True)
    assert heard == [StoreStatus(False, True)]
    assert "listener bug" in caplog.text
    assert provider.remove_listener(broken) is True
    assert provider.remove_listener(broken) is False
    with pytest.raises(TypeError):
        provider.add_listener("not callable")  # type: ignore[arg-type]


# -- expiry -------------------------------------------------------------------


def test_expired_trackers_leave_cache_and_store(data_cache, data_store):
    with TrackingManager(data_cache, data_store, run_jobs=False) as manager:
        deadline = time.time() + 3600  # in the future for a MongoDB TTL index
        manager.add_tracker("g", wins("short"), expire_at=deadline)
        manager.add_tracker("g", wins("long"))
        manager.add_tracker("cold", wins("short"), expire_at=deadline)
        manager.data_cache.evict("cold")  # only in the store
        assert sorted(g for g, n, _ in data_store.expired(deadline + 1)) == [
            "cold",
            "g",
        ]
        ExpireJob(manager._engine)(now=deadline + 1)
        snapshot = data_cache.load("g")
        assert snapshot is not None and set(snapshot.records) == {"long"}
        manager.persist()
        assert data_store.expired(deadline + 1) == []
        assert [r.name for r in data_store.load_group("g")] == ["long"]
        assert data_store.load_group("cold") == []


# -- eviction -----------------------------------------------------------------


def test_idle_clean_groups_are_evicted_dirty_ones_stay(data_store):
    cache = MemoryDataCache(stale_threshold=0.05)
    with TrackingManager(cache, data_store, run_jobs=False) as manager:
        manager.add_tracker("clean", wins(), now=T0)
        manager.add_tracker("dirty", wins(), now=T0)
        manager.track("dirty", WIN, now=T0)
        time.sleep(0.1)
        manager.jobs.run_now("evict")
        assert cache.version("clean") is None
        assert cache.version("dirty") is not None
        # The evicted group comes back from the store on its next use.
        assert progress(manager, "clean") == {"wins": 0}
        assert progress(manager, "dirty") == {"wins": 1}


@pytest.mark.parametrize("arg", ["check_interval", "stale_threshold"])
def test_memory_cache_refuses_bad_intervals(arg):
    with pytest.raises(ValueError, match=arg):
        MemoryDataCache(**{arg: 0})


# -- the runner itself --------------------------------------------------------


def test_jobs_run_on_their_intervals_and_failures_are_logged(caplog):
    runs: list[str] = []

    def fails() -> None:
        runs.append("fails")
        raise RuntimeError("job bug")

    def counts() -> float | None:
        runs.append("counts")
        return None

    runner = JobRunner(
        MemoryDataCache(), [Job("fails", 0.01, fails), Job("counts", 0.01, counts)]
    )
    with caplog.at_level(logging.ERROR, logger="dictrack.jobs.runner"):
        runner.start()
        runner.start()  # already running: no second thread
        wait_for(lambda: runs.count("fails") >= 3 and runs.count("counts") >= 3)
        runner.stop()
    assert "job 'fails' failed" in caplog.text
    assert not runner.is_alive()
    assert jobs_threads() == []


def test_a_restart_after_a_stop_timeout_never_runs_two_threads():
    running = threading.Event()
    release = threading.Event()
    threads_seen: set[int | None] = set()

    def slow() -> None:
        threads_seen.add(threading.current_thread().ident)
        running.set()
        release.wait(5)

    runner = JobRunner(MemoryDataCache(), [Job("slow", 0.01, slow)])
    runner.start()
    assert running.wait(5)
    runner.stop(timeout=0.01)  # the job still runs: the old thread lives on
    running.clear()
    runner.start()
    release.set()  # the old thread ends its job, sees its own stop flag, exits
    assert running.wait(5)
    wait_for(lambda: len(jobs_threads()) == 1)
    runner.stop()
    assert len(threads_seen) == 2 and jobs_threads() == []


def test_a_job_can_ask_for_its_next_delay():
    runs: list[float] = []
    runner = JobRunner(
        MemoryDataCache(), [Job("slow", 0.01, lambda: runs.append(1) or 3600.0)]
    )
    runner.start()
    wait_for(lambda: runs)
    time.sleep(0.05)
    runner.stop()
    assert runs == [1]


def test_once_per_cluster_jobs_run_only_under_the_lease():
    cache = MemoryDataCache()
    ran: list[str] = []
    first = JobRunner(cache, [Job("j", 1, lambda: ran.append("1"), True)])
    second = JobRunner(cache, [Job("j", 1, lambda: ran.append("2"), True)])
    first.run_now("j")
    second.run_now("j")  # the first holds the lease
    first.run_now("j")  # renewed
    assert ran == ["1", "1"]
    first.start()
    first.stop()  # releases its leases
    second.run_now("j")
    assert ran == ["1", "1", "2"]


def test_a_lease_passes_on_when_its_holder_stops_renewing():
    cache = MemoryDataCache()
    assert cache.acquire_lease("job:x", "a", 0.02)
    assert not cache.acquire_lease("job:x", "b", 0.02)
    time.sleep(0.05)
    assert cache.acquire_lease("job:x", "b", 0.02)
    assert not cache.release_lease("job:x", "a")  # not a's any more
    assert cache.release_lease("job:x", "b")


def test_a_lease_that_cannot_be_taken_skips_the_job(caplog):
    class Broken(MemoryDataCache):
        def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
            raise BackendError("cache down (test)")

    ran: list[int] = []
    runner = JobRunner(Broken(), [Job("j", 1, lambda: ran.append(1), True)])
    with caplog.at_level(logging.ERROR, logger="dictrack.jobs.runner"):
        runner.run_now("j")
    assert ran == []
    assert "cannot take the lease" in caplog.text


@pytest.mark.parametrize(
    ("jobs", "error"),
    [
        ([Job("a", 1, lambda: None), Job("a", 2, lambda: None)], ValueError),
    ],
)
def test_runner_refuses_duplicate_job_names(jobs, error):
    with pytest.raises(error):
        JobRunner(MemoryDataCache(), jobs)


@pytest.mark.parametrize(
    ("name", "interval", "error"),
    [("", 1, ValueError), ("a", 0, ValueError), ("a", "1", TypeError)],
)
def test_job_refuses_bad_settings(name, interval, error):
    with pytest.raises(error):
        Job(name, interval, lambda: None)


def test_run_now_of_an_unknown_job_says_which_exist():
    runner = JobRunner(MemoryDataCache(), [Job("flush", 1, lambda: None)])
    with pytest.raises(KeyError, match="flush"):
        runner.run_now("nope")
