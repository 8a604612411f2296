"""Error messages and hierarchy; the clock edge."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from dictrack import _clock, errors
from dictrack.utils import errors as legacy


def test_every_error_has_the_root():
    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, errors.DictrackError), name


def test_messages_name_what_failed():
    conflict = errors.ConflictError("player-1", 64)
    assert "player-1" in str(conflict) and "64" in str(conflict)
    assert (conflict.group_id, conflict.attempts) == ("player-1", 64)
    missing = errors.TrackerNotFound("g", "quest")
    assert isinstance(missing, LookupError)
    assert str(missing) == "no tracker named 'quest' in group 'g'"
    duplicate = errors.DuplicateTrackerError("g", "quest")
    assert isinstance(duplicate, KeyError)
    assert "update_tracker()" in str(duplicate) and "'quest'" in str(duplicate)


def test_backend_errors_are_os_errors_as_in_2_1_5():
    assert issubclass(errors.BackendError, OSError)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("ConflictingNameError", errors.DuplicateTrackerError),
        ("GroupIdAlreadySetError", errors.GroupIdError),
        ("GroupIdDuplicateSetError", errors.GroupIdError),
        ("TrackerLookupError", errors.TrackerNotFound),
        ("TrackerAlreadyRemovedError", errors.TrackerAlreadyRemovedError),
        ("TrackerAlreadyCompletedError", errors.TrackerAlreadyCompletedError),
        ("DataStoreOperationError", errors.BackendError),
        ("RedisOperationError", errors.BackendError),
    ],
)
def test_2_1_5_names_still_import(old, new):
    assert getattr(legacy, old) is new


def test_state_errors_are_value_errors_as_in_2_1_5():
    assert issubclass(errors.TrackerAlreadyRemovedError, ValueError)
    assert issubclass(errors.TrackerAlreadyCompletedError, ValueError)


def test_to_timestamp_numbers_stay_as_given():
    assert _clock.to_timestamp(5) == 5 and isinstance(_clock.to_timestamp(5), int)
    assert _clock.to_timestamp(5.5) == 5.5


def test_to_timestamp_aware_datetime():
    moment = datetime(2030, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    assert _clock.to_timestamp(moment) == moment.timestamp()


def test_to_timestamp_none_reads_the_clock(monkeypatch):
    monkeypatch.setattr(_clock.time, "time", lambda: 1234.5)
    assert _clock.to_timestamp(None) == 1234.5
    assert _clock.now_ts() == 1234.5


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (datetime(2030, 1, 1), ValueError),
        (math.inf, ValueError),
        (math.nan, ValueError),
        (True, TypeError),
        ("now", TypeError),
    ],
)
def test_to_timestamp_rejects(value, error):
    with pytest.raises(error, match="`now`"):
        _clock.to_timestamp(value)
