"""Replay the 2.1.5 scenarios and compare with what upstream 2.1.5 recorded.

``golden_2_1_5.json`` is upstream's behaviour (see ``generate_golden.py``). A
scenario must match it exactly unless it is listed in ``DELIBERATE``, where we
differ on purpose (docs/compatibility.md says why); those are compared with our
own approved trace in ``approved_differences.json`` instead, so they cannot
drift unnoticed either. Regenerate the approved file after an intended change
with ``python tests/compat/test_golden.py --approve``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import scenarios  # noqa: E402  # a plain module beside this file

from dictrack.data_caches.memory import MemoryDataCache  # noqa: E402
from dictrack.data_stores.sqlite import SQLiteDataStore  # noqa: E402
from dictrack.manager import TrackingManager  # noqa: E402

GOLDEN = json.loads((HERE / "golden_2_1_5.json").read_text())
APPROVED_FILE = HERE / "approved_differences.json"

#: Scenarios where we differ from 2.1.5 on purpose, and why.
DELIBERATE = {
    "add_targets": "targets must keep increasing under a cumulative policy",
    "track_exception_midway": "a bad event changes nothing and fires no event",
    "condition_checks_direct": "a value of the wrong type does not match, never raises",
    "conditions_through_manager": "a value of the wrong type does not match",
    "condition_paths": "an empty key path is rejected when the condition is built",
    "multiple_conditions_and": "KeyExists and KeyNotExists are different conditions",
    "condition_cache_collisions": "shared condition results use real equality",
    "condition_equality_hash": "conditions are equal only when they test the same",
    "limiter_basics": "CountLimiter(True) is rejected; float timestamps accepted",
    "time_limiter_stage_completion": "stage resets use the event's time, not the clock",
    "reset_tracker_keywords": "a TimeLimiter reset is judged at now_ts, not the clock",
    "remove_tracker": "remove_tracker returns the removed trackers; tuples accepted",
    "update_tracker": "updating a never-added tracker adds it to the group properly",
    "get_trackers_variants": "a tuple of names works like a list",
    "empty_group": "remove_tracker returns a list",
    "groups_isolation": "remove_tracker returns a list",
    "add_tracker_conflicts": "a taken name always raises and changes nothing",
    "tracker_validation": "bad constructor arguments raise TypeError/ValueError",
    "tracker_repr_and_misc": "tracker == non-tracker is False instead of raising",
    "target_edge_cases": "targets must be positive",
}


def run(name: str) -> object:
    """Run one scenario on the embedded backends; return its JSON-normal trace."""
    manager = TrackingManager(MemoryDataCache(), SQLiteDataStore(":memory:"))
    try:
        trace = scenarios.SCENARIOS[name](manager, scenarios.load_namespace("dictrack"))
    except Exception as exc:  # recorded like generate_golden.py does
        trace = {"error": type(exc).__name__}
    finally:
        manager.close()
    return json.loads(json.dumps(trace, sort_keys=True, default=str))


def test_every_scenario_has_golden_data():
    assert set(scenarios.SCENARIOS) == set(GOLDEN)
    assert set(DELIBERATE) <= set(GOLDEN)


@pytest.mark.parametrize("name", sorted(set(GOLDEN) - set(DELIBERATE)))
def test_same_as_2_1_5(name, caplog):
    caplog.set_level(logging.CRITICAL)
    assert run(name) == GOLDEN[name]


@pytest.mark.parametrize("name", sorted(DELIBERATE))
def test_deliberate_difference_is_stable(name, caplog):
    caplog.set_level(logging.CRITICAL)
    ours = run(name)
    assert ours != GOLDEN[name], f"{name} now matches 2.1.5: drop it from DELIBERATE"
    assert ours == json.loads(APPROVED_FILE.read_text())[name]


if __name__ == "__main__":
    if sys.argv[1:] != ["--approve"]:
        sys.exit("usage: python tests/compat/test_golden.py --approve")
    logging.disable(logging.CRITICAL)
    approved = {name: run(name) for name in sorted(DELIBERATE)}
    APPROVED_FILE.write_text(json.dumps(approved, sort_keys=True, indent=1) + "\n")
