"""Period arithmetic of dictrack.schedules, checked against independent
computations, across DST gaps and overlaps, odd offsets, month ends and leap
days. Pure: every time is passed in."""

from __future__ import annotations

import calendar
import copy
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dictrack.schedules import (
    Cron,
    Daily,
    Monthly,
    Schedule,
    Weekly,
    schedule_from_plain,
)

UTC = timezone.utc
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/St_Johns",  # -03:30 with DST
]


def ts(text: str, tz: str = "UTC") -> float:
    """Epoch seconds of a local wall time (first occurrence if ambiguous)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp()


def utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def reference_boundary(day: date, at: time, tz: ZoneInfo) -> float:
    """The first minute of ``day`` whose local wall clock reads ``at`` or
    later, found by walking UTC minutes: independent of the code under test."""
    start = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(hours=16)
    minute = int(start.timestamp()) // 60 * 60
    while True:
        local = datetime.fromtimestamp(minute, tz)
        if local.date() > day or (local.date() == day and local.time() >= at):
            # the first instant at or after ``at``; walk back within the minute
            # only matters for offsets with seconds (none of ours)
            return float(minute)
        minute += 60


# -- construction and plain form ----------------------------------------------


@pytest.mark.parametrize(
    "schedule",
    [
        Daily(),
        Daily("04:30", "Europe/Berlin"),
        Daily(time(23, 59, 59), "Asia/Kathmandu"),
        Weekly("sunday", "18:00", "America/New_York"),
        Weekly(2),
        Monthly(31, "00:00", "Asia/Kolkata"),
        Cron("0 4 * * 1-5", "Europe/Berlin"),
    ],
    ids=repr,
)
def test_plain_form_round_trips(schedule: Schedule):
    plain = schedule.to_plain()
    assert schedule_from_plain(plain) == schedule
    assert hash(schedule_from_plain(plain)) == hash(schedule)
    assert plain["tz"] == schedule.tz.key


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: Daily(tz="Mars/Olympus"), ValueError, "unknown time zone"),
        (lambda: Daily(tz=""), TypeError, "IANA"),
        (lambda: Daily("24:00"), ValueError, "not a time of day"),
        (lambda: Daily("12:60"), ValueError, "not a time of day"),
        (lambda: Daily("4pm"), ValueError, "HH:MM"),
        (lambda: Daily("4:00"), ValueError, "HH:MM"),
        (lambda: Daily(4), TypeError, "HH:MM"),
        (lambda: Daily(time(4, 0, 0, 5)), ValueError, "microseconds"),
        (lambda: Daily(time(4, tzinfo=UTC)), ValueError, "without zone"),
        (lambda: Weekly("funday"), ValueError, "monday"),
        (lambda: Weekly(7), ValueError, "0 \\(Monday\\) to 6"),
        (lambda: Weekly(True), TypeError, "weekday"),
        (lambda: Monthly(0), ValueError, "1 to 31"),
        (lambda: Monthly(32), ValueError, "1 to 31"),
        (lambda: Monthly(1.5), TypeError, "int"),
        (lambda: Cron("61 * * * *"), ValueError, "bad cron expression"),
        (lambda: Cron("* * *"), ValueError, "5 fields"),
        (lambda: Cron(5), TypeError, "str"),
        (lambda: schedule_from_plain({"type": "yearly"}), ValueError, "unknown"),
    ],
)
def test_bad_input_is_refused_at_definition_time(make, error, match):
    with pytest.raises(error, match=match):
        make()


# -- daily, against the reference ----------------------------------------------


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("at", ["00:00", "02:30", "04:00", "23:30"])
def test_a_year_of_daily_boundaries_matches_the_reference(zone, at):
    tz = ZoneInfo(zone)
    schedule = Daily(at, zone)
    wall = time.fromisoformat(at)
    day = date(2025, 12, 31)
    expected = reference_boundary(day, wall, tz)
    for _ in range(366):
        day += timedelta(days=1)
        following = reference_boundary(day, wall, tz)
        # The period that starts at the boundary of ``day``-1 ends at ``day``'s.
        assert schedule.next_boundary(expected) == following, (zone, at, day)
        assert schedule.period_start(following - 1) == expected, (zone, at, day)
        assert schedule.period_start(following) == following
        expected = following


# -- DST gaps and overlaps ---------------------------------------------------


def test_berlin_spring_gap_moves_the_boundary_to_the_end_of_the_gap():
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
    schedule = Daily("02:30", "Europe/Berlin")
    boundary = schedule.next_boundary(ts("2026-03-29T00:00", "Europe/Berlin"))
    assert utc(boundary) == "2026-03-29T01:00:00+00:00"  # 03:00 CEST
    before = schedule.period_start(boundary - 1)
    assert utc(before) == "2026-03-28T01:30:00+00:00"  # 02:30 CET
    assert boundary - before == 23.5 * 3600


def test_berlin_autumn_overlap_counts_the_boundary_once():
    # 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    schedule = Daily("02:30", "Europe/Berlin")
    first = ts("2026-10-25T02:30", "Europe/Berlin")  # fold=0: the CEST one
    assert utc(first) == "2026-10-25T00:30:00+00:00"
    second = first + 3600  # 02:30 again, CET
    assert schedule.period_start(first) == first
    assert schedule.period_start(second) == first  # no second period
    assert utc(schedule.next_boundary(second)) == "2026-10-26T01:30:00+00:00"


@pytest.mark.parametrize(
    ("day", "hours"),
    [("2026-03-08", 23), ("2026-11-01", 25), ("2026-07-01", 24)],
)
def test_new_york_days_are_23_24_or_25_hours_long(day, hours):
    schedule = Daily("00:00", "America/New_York")
    start = ts(f"{day}T12:00", "America/New_York")
    assert schedule.next_boundary(start) - schedule.period_start(start) == hours * 3600


def test_lord_howe_has_half_hour_dst_days():
    schedule = Daily("00:00", "Australia/Lord_Howe")
    lengths = set()
    day = ts("2026-01-01T12:00", "Australia/Lord_Howe")
    for _ in range(366):
        lengths.add(schedule.next_boundary(day) - schedule.period_start(day))
        day += 86400
    assert lengths == {23.5 * 3600, 24 * 3600, 24.5 * 3600}


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham"])
def test_odd_offsets_put_midnight_at_odd_utc_minutes(zone):
    schedule = Daily("00:00", zone)
    start = schedule.period_start(ts("2026-06-15T12:00", zone))
    assert datetime.fromtimestamp(start, ZoneInfo(zone)).time() == time(0)
    assert utc(start).endswith(
        {"Asia/Kolkata": "18:30:00+00:00", "Asia/Kathmandu": "18:15:00+00:00"}.get(
            zone, "11:15:00+00:00"
        )
    )


# -- weekly, monthly ---------------------------------------------------------


def test_weekly_periods_start_on_the_chosen_day():
    schedule = Weekly("monday", "04:00", "Europe/Berlin")
    start = schedule.period_start(ts("2026-11-26T10:00", "Europe/Berlin"))  # Thu
    assert datetime.fromtimestamp(start, ZoneInfo("Europe/Berlin")).isoformat() == (
        "2026-11-23T04:00:00+01:00"
    )
    # Monday 03:59 is still in the previous week's period.
    assert schedule.period_start(ts("2026-11-30T03:59", "Europe/Berlin")) == start
    assert schedule.period_start(ts("2026-11-30T04:00", "Europe/Berlin")) > start


def test_weekly_across_the_dst_change_is_one_hour_shorter():
    schedule = Weekly("sunday", "00:00", "America/New_York")
    inside = ts("2026-03-10T00:00", "America/New_York")
    assert schedule.next_boundary(inside) - schedule.period_start(inside) == (
        7 * 86400 - 3600
    )


@pytest.mark.parametrize(
    ("day", "year", "expected"),
    [
        (31, 2026, ["01-31", "02-28", "03-31", "04-30", "05-31", "06-30"]),
        (29, 2028, ["01-29", "02-29", "03-29", "04-29", "05-29", "06-29"]),
        (29, 2026, ["01-29", "02-28", "03-29", "04-29", "05-29", "06-29"]),
        (30, 2024, ["01-30", "02-29", "03-30", "04-30", "05-30", "06-30"]),
    ],
)
def test_monthly_clamps_to_short_months_and_leap_days(day, year, expected):
    schedule = Monthly(day, "00:00", "UTC")
    moment = ts(f"{year}-01-{day:02d}T00:00")
    found = []
    for _ in expected:
        found.append(datetime.fromtimestamp(moment, UTC).strftime("%m-%d"))
        moment = schedule.next_boundary(moment)
    assert found == expected


def test_monthly_against_a_reference_for_four_years():
    zone = "America/New_York"
    schedule = Monthly(31, "02:30", zone)
    moment = schedule.period_start(ts("2024-02-01T00:00", zone))  # Jan 31st
    for year in range(2024, 2028):
        for month in range(1, 13):
            last = calendar.monthrange(year, month)[1]
            want = reference_boundary(
                date(year, month, min(31, last)), time(2, 30), ZoneInfo(zone)
            )
            if (year, month) == (2024, 1):
                assert moment == want
                continue
            moment = schedule.next_boundary(moment)
            assert moment == want, (year, month)


# -- cron --------------------------------------------------------------------


def test_cron_boundaries_include_the_exact_tick():
    schedule = Cron("0 4 * * *", "Europe/Berlin")
    tick = ts("2026-03-10T04:00", "Europe/Berlin")
    assert schedule.period_start(tick) == tick
    assert schedule.period_start(tick - 0.5) == tick - 86400
    assert schedule.next_boundary(tick) == tick + 86400
    assert schedule.next_boundary(tick - 0.5) == tick


def test_cron_in_the_repeated_hour_of_a_fall_back():
    # 2021-10-31 in Berlin: 03:00 CEST goes back to 02:00 CET. At the second
    # 02:10 (01:10 UTC), 02:30 CEST (00:30 UTC) has passed: it started the
    # period, and the next boundary is the next day's.
    schedule = Cron("30 2 * * *", "Europe/Berlin")
    now = ts("2021-10-31T01:10")
    assert datetime.fromtimestamp(now, schedule.tz).fold == 1
    assert schedule.period_start(now) == ts("2021-10-31T00:30")
    assert schedule.next_boundary(now) == ts("2021-11-01T01:30")


@pytest.mark.parametrize("zone", ["Australia/Lord_Howe", "America/St_Johns"])
def test_cron_periods_contain_now_across_dst_changes(zone):
    schedule = Cron("0 */3 * * *", zone)
    for start in ("2021-04-03T12:00", "2021-10-02T12:00", "2021-11-06T12:00"):
        for minutes in range(0, 24 * 60, 7):
            now = ts(start) + 60 * minutes
            assert schedule.period_start(now) <= now < schedule.next_boundary(now)


def test_cron_weekdays_only():
    schedule = Cron("0 9 * * 1-5", "Asia/Kathmandu")
    friday_evening = ts("2026-11-27T18:00", "Asia/Kathmandu")
    monday = datetime.fromtimestamp(
        schedule.next_boundary(friday_evening), ZoneInfo("Asia/Kathmandu")
    )
    assert monday.isoformat() == "2026-11-30T09:00:00+05:45"


# -- properties ---------------------------------------------------------------

schedules = st.one_of(
    st.builds(
        Daily,
        st.times().map(lambda t: t.replace(microsecond=0)),
        st.sampled_from(ZONES),
    ),
    st.builds(
        Weekly,
        st.integers(0, 6),
        st.times().map(lambda t: t.replace(microsecond=0)),
        st.sampled_from(ZONES),
    ),
    st.builds(
        Monthly,
        st.integers(1, 31),
        st.times().map(lambda t: t.replace(microsecond=0)),
        st.sampled_from(ZONES),
    ),
)
instants = st.floats(min_value=946_684_800, max_value=4_102_444_800)  # 2000-2100

BOUNDS = {
    Daily: (23 * 3600 - 1, 25 * 3600 + 1),
    Weekly: (7 * 86400 - 3600 - 1, 7 * 86400 + 3600 + 1),
    Monthly: (28 * 86400 - 3600 - 1, 31 * 86400 + 3600 + 1),
}


@settings(max_examples=300, deadline=None)
@given(schedules, instants)
def test_every_instant_lies_in_exactly_one_period(schedule, now):
    start = schedule.period_start(now)
    end = schedule.next_boundary(now)
    assert start <= now < end
    assert schedule.period_start(end) == end  # a boundary starts its period
    assert schedule.period_start(start) == start
    assert schedule.next_boundary(start) == end
    assert schedule.period_start(end - 0.001) == start
    low, high = BOUNDS[type(schedule)]
    assert low <= end - start <= high


@settings(max_examples=200, deadline=None)
@given(schedules, instants, st.floats(min_value=0, max_value=40 * 86400))
def test_periods_never_go_back(schedule, now, later):
    assert schedule.period_start(now + later) >= schedule.period_start(now)


@settings(max_examples=200, deadline=None)
@given(schedules, instants)
def test_a_boundary_shows_the_wall_time_or_the_end_of_a_gap(schedule, now):
    start = schedule.period_start(now)
    local = datetime.fromtimestamp(start, schedule.tz)
    if local.time() != schedule.at:  # only when ``at`` fell in a gap that day
        before = datetime.fromtimestamp(start - 1, schedule.tz)
        assert before.time() < schedule.at < local.time() or before.date() < (
            local.date()
        )


@pytest.mark.parametrize(
    "schedule", [Daily("09:00"), Weekly("friday"), Monthly(15)], ids=repr
)
def test_a_schedule_is_immutable(schedule) -> None:
    before = schedule.to_plain()
    with pytest.raises(AttributeError, match="immutable"):
        schedule.at = time(10)
    with pytest.raises(AttributeError, match="immutable"):
        schedule.tz = ZoneInfo("Asia/Taipei")
    with pytest.raises(AttributeError, match="immutable"):
        del schedule.at
    assert schedule.to_plain() == before
    assert copy.deepcopy(schedule) == schedule
