"""Trackers called directly: reset policies, health checks, add_targets and
listeners."""

from __future__ import annotations

import pytest

from dictrack.conditions.keys import KeyExists
from dictrack.errors import TrackerStateError
from dictrack.events import (
    EVENT_TRACKER_ALL_COMPLETED,
    EVENT_TRACKER_LIMITED,
    EVENT_TRACKER_RESET,
    EVENT_TRACKER_STAGE_COMPLETED,
)
from dictrack.limiters.count import CountLimiter
from dictrack.limiters.time import TimeLimiter
from dictrack.trackers.base import ResetPolicy
from dictrack.trackers.numerics.count import CountTracker

NOW = 1_000.0


def count(**kw) -> CountTracker:
    kw.setdefault("name", "t")
    kw.setdefault("conditions", [KeyExists("a")])
    kw.setdefault("target", 5)
    return CountTracker(**kw)


# -- reset ----------------------------------------------------------------------


def limited_tracker(policy: int = ResetPolicy.DEFAULT) -> CountTracker:
    t = count(target=10, limiters=[CountLimiter(2)], reset_policy=policy)
    t.track({"a": 1}, now=NOW)
    t.track({"a": 1}, now=NOW)
    assert t.limited and t.progress == 2
    return t


@pytest.mark.parametrize(
    ("policy", "progress", "limited"),
    [
        (ResetPolicy.NONE, 2, True),
        (ResetPolicy.PROGRESS, 0, True),
        (ResetPolicy.LIMITER, 2, False),
        (ResetPolicy.ALL, 0, False),
        (ResetPolicy.PROGRESS | ResetPolicy.LIMITER, 0, False),
        (ResetPolicy.NONE | ResetPolicy.PROGRESS, 0, True),
        (ResetPolicy.LIMITER | ResetPolicy.LIMITER, 2, False),
    ],
)
def test_reset_policies(policy, progress, limited) -> None:
    t = limited_tracker()
    heard = []
    t.add_listener(EVENT_TRACKER_RESET, heard.append)
    t.reset(policy)
    assert (t.progress, t.limited) == (progress, limited)
    (lim,) = t.limiters
    assert lim.remaining == (2 if not limited else 0)
    assert [e.code for e in heard] == [EVENT_TRACKER_RESET]
    snap = heard[0].tracker
    assert snap is not t and repr(snap) == repr(t)
    assert (snap.progress, snap.limited) == (progress, limited)


@pytest.mark.parametrize("policy", [0, 1, 2, 3])
def test_reset_without_argument_uses_own_policy(policy) -> None:
    t, expected = limited_tracker(policy), limited_tracker()
    t.reset()
    expected.reset(policy)
    assert (t.progress, t.limited) == (expected.progress, expected.limited)


@pytest.mark.parametrize(("bad", "exc"), [(4, ValueError), (True, TypeError)])
def test_reset_rejects_bad_policy(bad, exc) -> None:
    t = limited_tracker()
    with pytest.raises(exc):
        t.reset(bad)
    assert t.limited and t.progress == 2


def test_reset_count_refills_the_limiter() -> None:
    t = limited_tracker()
    t.reset(ResetPolicy.LIMITER, reset_count=1)
    (lim,) = t.limiters
    assert (lim.count, lim.remaining, t.limited) == (1, 1, False)
    t.track({"a": 1}, now=NOW)
    assert t.limited and t.progress == 3
    t.reset(ResetPolicy.LIMITER, reset_count=0)
    assert t.limited
    t.track({"a": 1}, now=NOW)
    assert t.progress == 3


def test_reset_reopens_a_completed_tracker() -> None:
    t = count(target=[1, 2])
    t.track({"a": 1}, now=NOW)
    t.track({"a": 1}, now=NOW)
    assert t.completed and t.current_stage == 2
    t.reset(ResetPolicy.PROGRESS)
    assert not t.completed and (t.progress, t.current_stage) == (0, 2)
    t.track({"a": 1}, now=NOW)
    assert t.progress == 1


def test_removed_tracker_refuses_operations() -> None:
    t = count()
    t.removed = True
    assert t.removed
    for op in (
        lambda: t.reset(),
        lambda: t.track({"a": 1}, now=NOW),
        lambda: t.add_targets(9),
        lambda: t.add_listener(EVENT_TRACKER_RESET, print),
        lambda: setattr(t, "progress", 1),
    ):
        with pytest.raises(TrackerStateError, match="removed"):
            op()


def test_completed_tracker_refuses_track() -> None:
    t = count(target=1)
    t.track({"a": 1}, now=NOW)
    assert t.completed
    with pytest.raises(TrackerStateError, match="completed") as info:
        t.track({"a": 1}, now=NOW)
    assert isinstance(info.value, ValueError)
    with pytest.raises(TrackerStateError):
        t.add_targets(5)
    t.add_listener(EVENT_TRACKER_RESET, print)  # still allowed, as in 2.1.5
    t.removed = True  # a completed tracker may still be removed
    assert t.removed


def test_reset_honours_now_keyword() -> None:
    t = count(limiters=[TimeLimiter(start_ts=0, end_ts=100)])
    t.reset(ResetPolicy.LIMITER, now=500)
    (lim,) = t.limiters
    assert (lim.start, lim.end) == (500, 600)


# -- add_targets and listeners ----------------------------------------------------


def test_add_targets() -> None:
    t = count(target=2)
    t.add_targets([3, 4])
    t.add_targets(7.5)
    assert (t.target, t.multi_target, t.targets) == (2, [3, 4, 7.5], (2, 3, 4, 7.5))
    for bad, exc in [(7, ValueError), ([], ValueError), ("9", TypeError)]:
        with pytest.raises(exc):
            t.add_targets(bad)
    assert t.targets == (2, 3, 4, 7.5)


def test_add_targets_any_order_when_progress_restarts() -> None:
    t = count(target=5, reset_policy=ResetPolicy.PROGRESS)
    t.add_targets((1, 1))
    assert t.multi_target == [1, 1]


def test_add_listener_checks_arguments() -> None:
    t = count()
    with pytest.raises(ValueError):
        t.add_listener(999, print)
    with pytest.raises(ValueError):
        t.add_listener(True, print)
    with pytest.raises(TypeError):
        t.add_listener(EVENT_TRACKER_RESET, "print")
    with pytest.raises(TypeError):
        t.forward_event(None)


def test_forward_event_hears_every_code() -> None:
    t = count(target=[1, 2], limiters=[TimeLimiter(start_ts=0, end_ts=100)])
    heard = []
    t.forward_event(heard.append)
    t.track({"a": 1}, now=50)
    t.track({"a": 1}, now=200)
    t.reset(ResetPolicy.LIMITER, now_ts=50)
    t.track({"a": 1}, now=60)
    assert [e.code for e in heard] == [
        EVENT_TRACKER_RESET,
        EVENT_TRACKER_STAGE_COMPLETED,
        EVENT_TRACKER_LIMITED,
        EVENT_TRACKER_RESET,
        EVENT_TRACKER_ALL_COMPLETED,
    ]
