from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from dictrack import _clock
from dictrack.limiters.base import LIMITER_TYPES, BaseLimiter
from dictrack.limiters.count import CountLimiter
from dictrack.limiters.time import TimeLimiter


@dataclass
class Tracker:
    """Just the attributes a limiter reads from its tracker."""

    matched: bool = True
    completed: bool = False


# --- BaseLimiter ------------------------------------------------------------


def test_base_limiter_defaults() -> None:
    class Plain(BaseLimiter):
        pass

    limiter = Plain()
    assert limiter.limited is False
    assert limiter.pre_track({}, Tracker()) is True
    assert limiter.post_track({}, Tracker()) is True
    limiter.limited = True
    assert limiter.reset() is True
    assert limiter.limited is False


def test_base_limiter_copy_is_independent() -> None:
    class Listed(BaseLimiter):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[int] = []

    limiter = Listed()
    clone = limiter._copy()
    clone.seen.append(1)
    assert type(clone) is Listed
    assert limiter.seen == []


def test_custom_limiter_is_registered_by_module_and_qualname(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(BaseLimiter, "_registry", dict(LIMITER_TYPES))

    class Custom(BaseLimiter):
        pass

    class Named(BaseLimiter):
        type_name = "my-limiter"

    name = (
        "tests.unit.test_limiters:"
        "test_custom_limiter_is_registered_by_module_and_qualname.<locals>.Custom"
    )
    assert Custom.type_name == name
    assert BaseLimiter._registry[name] is Custom
    assert BaseLimiter._registry["my-limiter"] is Named
    assert name not in LIMITER_TYPES  # the real registry was not touched


def test_builtin_limiters_are_registered() -> None:
    assert LIMITER_TYPES["CountLimiter"] is CountLimiter
    assert LIMITER_TYPES["TimeLimiter"] is TimeLimiter


# --- CountLimiter -----------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "error"),
    [
        (True, TypeError),
        (1.0, TypeError),
        ("3", TypeError),
        (None, TypeError),
        (0, ValueError),
        (-1, ValueError),
    ],
)
def test_count_validation(count: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="`count`"):
        CountLimiter(count)


def test_count_attributes() -> None:
    limiter = CountLimiter(3)
    assert (limiter.count, limiter.remaining, limiter.limited) == (3, 3, False)


def test_count_closes_after_count_matched_events() -> None:
    limiter = CountLimiter(3)
    assert limiter.post_track({}, Tracker()) is True
    assert limiter.post_track({}, Tracker()) is True
    assert (limiter.remaining, limiter.limited) == (1, False)
    assert limiter.post_track({}, Tracker()) is False
    assert (limiter.count, limiter.remaining, limiter.limited) == (3, 0, True)


def test_count_ignores_unmatched_events() -> None:
    limiter = CountLimiter(1)
    for _ in range(3):
        assert limiter.post_track({}, Tracker(matched=False)) is True
    assert limiter.remaining == 1
    assert limiter.post_track({}, Tracker()) is False
    # an unmatched event does not re-open a closed limiter
    assert limiter.post_track({}, Tracker(matched=False)) is False
    assert (limiter.remaining, limiter.limited) == (0, True)


def test_count_last_event_that_completes_does_not_close() -> None:
    limiter = CountLimiter(1)
    assert limiter.post_track({}, Tracker(completed=True)) is True
    assert (limiter.remaining, limiter.limited) == (0, False)


def test_count_pre_track_always_admits() -> None:
    limiter = CountLimiter(1)
    limiter.post_track({}, Tracker())
    assert limiter.pre_track({}, Tracker()) is True


def test_count_reset_refills() -> None:
    limiter = CountLimiter(2)
    limiter.post_track({}, Tracker())
    limiter.post_track({}, Tracker())
    assert limiter.reset() is True
    assert (limiter.count, limiter.remaining, limiter.limited) == (2, 2, False)


def test_count_reset_to_new_count() -> None:
    limiter = CountLimiter(2)
    assert limiter.reset(reset_count=5) is True
    assert (limiter.count, limiter.remaining, limiter.limited) == (5, 5, False)


def test_count_reset_to_zero_stays_closed() -> None:
    limiter = CountLimiter(2)
    assert limiter.reset(reset_count=0) is False
    assert (limiter.count, limiter.remaining, limiter.limited) == (0, 0, True)
    assert limiter.post_track({}, Tracker(matched=False)) is False


@pytest.mark.parametrize(
    ("reset_count", "error"), [(-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_count_reset_validation(reset_count: Any, error: type[Exception]) -> None:
    limiter = CountLimiter(2)
    limiter.post_track({}, Tracker())
    with pytest.raises(error, match="`reset_count`"):
        limiter.reset(reset_count=reset_count)
    assert (limiter.count, limiter.remaining) == (2, 1)  # unchanged


def test_count_eq_hash_repr() -> None:
    limiter, other = CountLimiter(3), CountLimiter(3)
    assert repr(limiter) == "<CountLimiter (count=3 remaining=3)>"
    other.post_track({}, Tracker())
    assert repr(other) == "<CountLimiter (count=3 remaining=2)>"
    assert limiter == other  # like 2.1.5: remaining is state, not identity
    assert hash(limiter) == hash(other)
    assert limiter != CountLimiter(4)
    assert (limiter == object()) is False
    assert (limiter == TimeLimiter(0, 100)) is False


def test_count_copy_is_independent() -> None:
    limiter = CountLimiter(2)
    clone = limiter._copy()
    clone.post_track({}, Tracker())
    assert (limiter.remaining, clone.remaining) == (2, 1)


# --- TimeLimiter ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ValueError, "exactly one of"),
        ({"start_ts": 0}, ValueError, "exactly one of"),
        (
            {"start_ts": 0, "end_ts": 10, "interval": timedelta(seconds=10)},
            ValueError,
            "exactly one of",
        ),
        ({"start_ts": 5, "end_ts": 5}, ValueError, "empty"),
        ({"start_ts": 5, "interval": timedelta(0)}, ValueError, "empty"),
        ({"start_ts": "0", "end_ts": 10}, TypeError, "`start_ts`"),
        ({"start_ts": True, "end_ts": 10}, TypeError, "`start_ts`"),
        ({"start_ts": 0, "end_ts": "10"}, TypeError, "`end_ts`"),
        ({"start_ts": 0, "end_ts": None, "interval": 10}, TypeError, "`interval`"),
        ({"start_ts": math.nan, "end_ts": 10}, ValueError, "`start_ts`"),
        ({"start_ts": 0, "end_ts": math.inf}, ValueError, "`end_ts`"),
    ],
)
def test_time_validation(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        TimeLimiter(**kwargs)


def test_time_window_from_end_ts() -> None:
    limiter = TimeLimiter(start_ts=10, end_ts=110)
    assert (limiter.start, limiter.end) == (10, 110)
    assert (limiter.start_ts, limiter.end_ts) == (10, 110)
    assert limiter.interval == timedelta(seconds=100)
    assert limiter.limited is False


def test_time_window_from_interval() -> None:
    limiter = TimeLimiter(start_ts=10, interval=timedelta(minutes=1))
    assert (limiter.start_ts, limiter.end_ts) == (10, 70)
    assert limiter.interval == timedelta(seconds=60)


def test_time_float_timestamps() -> None:
    limiter = TimeLimiter(start_ts=0.5, end_ts=1.75)
    assert limiter.interval == timedelta(seconds=1.25)


def test_time_start_defaults_to_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_clock, "now_ts", lambda: 1000.9)
    limiter = TimeLimiter(interval=timedelta(seconds=50))
    assert (limiter.start, limiter.end) == (1000, 1050)


def test_time_swapped_bounds_warn_and_swap(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="dictrack.limiters.time"):
        limiter = TimeLimiter(start_ts=100, end_ts=0)
    assert (limiter.start, limiter.end) == (0, 100)
    assert limiter.interval == timedelta(seconds=100)
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "swapping" in caplog.records[0].getMessage()


def test_time_in_order_bounds_do_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="dictrack.limiters.time"):
        TimeLimiter(start_ts=0, end_ts=100)
    assert caplog.records == []


def test_time_negative_interval_is_rejected() -> None:
    with pytest.raises(ValueError):
        TimeLimiter(start_ts=100, interval=timedelta(seconds=-10))


def test_time_negative_reset_seconds_is_rejected() -> None:
    limiter = TimeLimiter(start_ts=0, end_ts=100)
    with pytest.raises(ValueError):
        limiter.reset(now_ts=500, reset_seconds=-10)


@pytest.mark.parametrize(
    ("now", "is_open"),
    [(-1, False), (0, True), (0.5, True), (50, True), (100, True), (100.001, False)],
)
def test_time_pre_track_inclusive_bounds(now: float, is_open: bool) -> None:
    limiter = TimeLimiter(start_ts=0, end_ts=100)
    assert limiter.pre_track({}, Tracker(), now_ts=now) is is_open
    assert limiter.limited is (not is_open)
    assert limiter.is_open(now) is is_open


def test_time_pre_track_reopens_inside_the_window() -> None:
    limiter = TimeLimiter(start_ts=0, end_ts=100)
    assert limiter.pre_track({}, Tracker(), now_ts=200) is False
    assert limiter.pre_track({}, Tracker(), now_ts=50) is True
    assert limiter.limited is False


def test_time_pre_track_reads_the_clock_without_now_ts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limiter = TimeLimiter(start_ts=0, end_ts=100)
    monkeypatch.setattr(_clock, "now_ts", lambda: 150.0)
    assert limiter.pre_track({}, Tracker()) is False
    monkeypatch.setattr(_clock, "now_ts", lambda: 99.0)
    assert limiter.pre_track({}, Tracker()) is True


def test_time_post_track_keeps_open() -> None:
    assert TimeLimiter(0, 100).post_track({}, Tracker()) is True


def test_time_reset_moves_the_window_by_the_interval() -> None:
    limiter = TimeLimiter(start_ts=0, end_ts=100)
    limiter.pre_track({}, Tracker(), now_ts=500)
    assert limiter.reset(now_ts=500) is True
    assert (limiter.start_ts, limiter.end_ts) == (500, 600)
    assert limiter.interval == timedelta(seconds=100)
    assert limiter.limited is False
    assert limiter.pre_track({}, Tracker(), now_ts=601) is False


def test_time_reset_with_new_length() -> None:
    limiter = TimeLimiter(start_ts=0, end_ts=100)
    assert limiter.reset(now_ts=1000, reset_seconds=30) is True
    assert (limiter.start, limiter.end) == (1000, 1030)
    assert limiter.interval == timedelta(seconds=30)


def test_time_reset_reads_the_clock_without_now_ts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_clock, "now_ts", lambda: 2000.0)
    limiter = TimeLimiter(start_ts=0, end_ts=10)
    assert limiter.reset() is True
    assert (limiter.start, limiter.end) == (2000.0, 2010.0)


@pytest.mark.parametrize(
    ("reset_seconds", "error"),
    [("30", TypeError), (True, TypeError), (math.inf, ValueError)],
)
def test_time_reset_validation(reset_seconds: Any, error: type) -> None:
    limiter = TimeLimiter(start_ts=0, end_ts=100)
    with pytest.raises(error, match="`reset_seconds`"):
        limiter.reset(now_ts=500, reset_seconds=reset_seconds)
    assert (limiter.start, limiter.end) == (0, 100)  # unchanged


def test_time_repr() -> None:
    assert (
        repr(TimeLimiter(start_ts=0, end_ts=100))
        == "<TimeLimiter (start=0 end=100 interval=0:01:40)>"
    )
    assert (
        repr(TimeLimiter(start_ts=0, interval=timedelta(hours=1)))
        == "<TimeLimiter (start=0 end=3600.0 interval=1:00:00)>"
    )


def test_time_eq_hash() -> None:
    limiter = TimeLimiter(start_ts=0, end_ts=100)
    same = TimeLimiter(start_ts=0, interval=timedelta(seconds=100))
    assert limiter == same
    assert hash(limiter) == hash(same)
    assert limiter != TimeLimiter(start_ts=0, end_ts=101)
    assert limiter != TimeLimiter(start_ts=1, end_ts=100)
    assert (limiter == object()) is False
    assert (limiter == CountLimiter(100)) is False


def test_time_copy_is_independent() -> None:
    limiter = TimeLimiter(start_ts=0, end_ts=100)
    clone = limiter._copy()
    clone.reset(now_ts=1000)
    assert (limiter.start, limiter.end) == (0, 100)
    assert clone != limiter
