"""Many threads on one group: every event counted exactly once, nothing lost.

The trackers' targets are out of reach so no tracker completes, and the totals
are computed from the same event generator the threads use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dictrack.conditions.keys import KeyValueEQ
from dictrack.errors import ConflictError, DuplicateTrackerError
from dictrack.events import EVENT_TRACKER_ADDED
from dictrack.limiters.count import CountLimiter
from dictrack.manager import TrackingManager
from dictrack.trackers.numerics.count import CountTracker
from tests.conftest import STORE_PARAMS
from tests.integration._manager_helpers import (
    T0,
    bets,
    progress,
    reloaded,
    run_threads,
    wins,
)

# The store takes no part in tracking (it is written behind), so one store is
# enough here; every cache backend still runs. Keeps this file under ~10 s.
pytestmark = pytest.mark.parametrize(
    "data_store", [p for p in STORE_PARAMS if p.id == "sqlite-file"], indirect=True
)

THREADS = 8
PER_THREAD = 2_000
CAP = 100  # CountLimiter of the "capped" tracker
FAR = 10**12  # a target no test reaches


def _event(thread: int, i: int) -> dict[str, Any]:
    return {"event": "win" if (thread + i) % 3 else "lose", "bet": i % 7 + 1}


def _trackers() -> list[Any]:
    return [
        CountTracker("all", [], FAR),
        wins("wins", target=FAR),
        bets("bets", target=FAR),
        CountTracker("loses", [KeyValueEQ("event", "lose")], FAR),
        wins("capped", target=FAR, limiters=[CountLimiter(CAP)]),
    ]


def _expected(events: list[dict[str, Any]]) -> dict[str, Any]:
    won = [e for e in events if e["event"] == "win"]
    return {
        "all": len(events),
        "wins": len(won),
        "bets": sum(e["bet"] for e in won),
        "loses": len(events) - len(won),
        "capped": CAP,
    }


def _track(manager: TrackingManager, data: dict[str, Any], **kwargs: Any) -> Any:
    """Track, trying again after a ConflictError (it guarantees nothing changed)."""
    for _ in range(1_000):
        try:
            return manager.track("g", data, now=T0, **kwargs)
        except ConflictError:  # noqa: PERF203  # a retry loop
            continue
    raise AssertionError("1,000 ConflictErrors in a row: the group never settles")


def _run(work: Callable[[int], None]) -> None:
    """Run ``work(k)`` on THREADS threads released together; re-raise failures."""
    run_threads(THREADS, work)


@pytest.fixture
def twins(cache_factory, data_store):
    """Two managers over ONE cache instance and one store."""
    cache = cache_factory()
    first = TrackingManager(cache, data_store)
    second = TrackingManager(cache, data_store)
    yield first, second
    first.close()
    second.close()


def _check_totals(manager, managers, expected):
    for mgr in managers:
        assert progress(mgr, "g") == expected
    [capped] = manager.get_trackers("g", "capped")
    assert capped.limited
    # The job runner may have stored some of it already: what counts is that
    # after a persist nothing is pending and the store has every event.
    for mgr in managers:
        mgr.persist()
    assert [m.persist() for m in managers] == [0] * len(managers)
    assert progress(reloaded(manager.data_store), "g") == expected


# -- plain events --------------------------------------------------------------


def test_threads_through_one_manager_count_every_event(manager):
    manager.add_trackers("g", _trackers())

    _run(lambda k: [_track(manager, _event(k, i)) for i in range(PER_THREAD)])

    events = [_event(k, i) for k in range(THREADS) for i in range(PER_THREAD)]
    _check_totals(manager, [manager], _expected(events))


def test_threads_through_two_managers_sharing_a_cache(twins):
    one, two = twins
    one.add_trackers("g", _trackers())

    def work(k: int) -> None:
        mgr = twins[k % 2]
        for i in range(PER_THREAD):
            _track(mgr, _event(k, i))

    _run(work)

    events = [_event(k, i) for k in range(THREADS) for i in range(PER_THREAD)]
    _check_totals(one, [one, two], _expected(events))


def test_threads_never_see_a_conflict_error(manager):
    manager.add_trackers("g", _trackers())

    _run(
        lambda k: [manager.track("g", _event(k, i), now=T0) for i in range(PER_THREAD)]
    )

    events = [_event(k, i) for k in range(THREADS) for i in range(PER_THREAD)]
    assert progress(manager, "g") == _expected(events)


# -- replayed event ids --------------------------------------------------------


def _replays(k: int) -> list[int]:
    """Thread k sends its own slice of ids and its neighbour's, interleaved."""
    mine = range(k * PER_THREAD // 2, (k + 1) * PER_THREAD // 2)
    other = (k + 1) % THREADS
    theirs = range(other * PER_THREAD // 2, (other + 1) * PER_THREAD // 2)
    return [n for pair in zip(mine, theirs, strict=True) for n in pair]


def _id_event(n: int) -> dict[str, Any]:
    return _event(n % THREADS, n)


def _replay_ids(managers: list[TrackingManager]) -> None:
    duplicates = [0] * THREADS

    def work(k: int) -> None:
        mgr = managers[k % len(managers)]
        for n in _replays(k):
            result = _track(mgr, _id_event(n), event_id=f"evt-{n}")
            duplicates[k] += result.duplicate

    _run(work)

    ids = THREADS * PER_THREAD // 2
    assert sorted(n for k in range(THREADS) for n in _replays(k)) == sorted(
        list(range(ids)) * 2
    )
    assert sum(duplicates) == ids  # each id: one applied, one duplicate
    expected = _expected([_id_event(n) for n in range(ids)])
    _check_totals(managers[0], managers, expected)


def test_replayed_event_ids_count_once_through_one_manager(manager):
    manager.add_trackers("g", _trackers())
    _replay_ids([manager])


def test_replayed_event_ids_count_once_through_two_managers(twins):
    twins[0].add_trackers("g", _trackers())
    _replay_ids(list(twins))


# -- admin calls racing --------------------------------------------------------


def test_racing_adds_of_one_name_admit_exactly_one(manager):
    added = []
    manager.add_listener(EVENT_TRACKER_ADDED, added.append)
    outcomes: list[str] = []

    def work(k: int) -> None:
        try:
            manager.add_tracker("g", wins("same", target=k + 1), now=T0)
            outcomes.append("added")
        except DuplicateTrackerError:
            outcomes.append("duplicate")

    _run(work)

    assert sorted(outcomes) == ["added"] + ["duplicate"] * (THREADS - 1)
    assert len(added) == 1
    [same] = manager.get_trackers("g")
    assert same.target == added[0].tracker.target


def test_tracking_while_other_groups_are_added(manager):
    manager.add_tracker("g", CountTracker("all", [], FAR))

    def work(k: int) -> None:
        for i in range(200):
            if k % 2:
                manager.add_tracker(f"side-{k}-{i}", wins("x"))
            else:
                _track(manager, _event(k, i))

    _run(work)

    assert progress(manager, "g") == {"all": THREADS // 2 * 200}
    assert progress(manager, "side-7-199") == {"x": 0}
