"""Implementation-neutral compatibility scenarios for the dictrack API.

Every scenario is a plain function ``scenario(manager, ns) -> trace``:

* ``manager`` is a ready ``TrackingManager`` with no trackers in it.
* ``ns`` gives the public API by its 2.1.5 import paths (see
  :func:`load_namespace`): ``ns.events``, ``ns.keys`` (the module
  ``dictrack.conditions.keys``), ``ns.CountTracker``,
  ``ns.AccumulationTracker``, ``ns.ResetPolicy``, ``ns.CountLimiter`` and
  ``ns.TimeLimiter``.
* The returned trace is JSON-serialisable and deterministic: no scenario
  depends on the wall clock (time windows lie far in the past or future, or
  span "now" by decades, and ``now_ts=`` is passed where the API takes it).
  Limiter timestamps that had to come from the wall clock are written as
  ``"<now>"`` / ``"<now>+<seconds>"``.

The golden traces of dictrack 2.1.5 are in ``golden_2_1_5.json`` beside this
file (made by ``generate_golden.py``); the compat tests replay the same
functions against the new implementation and compare.

Trace conventions
-----------------
* Trackers are turned into dicts by :func:`tracker_dict`.
* Lists of trackers (``track`` results, ``get_trackers`` snapshots) are
  sorted by name, so storage order never matters.
* Listener events are recorded with one listener per code in
  ``ns.events.EVENT_ALL``.  Within a call, each tracker's events keep the
  order they were received in; events of different trackers are grouped by
  (group_id, name), since 2.1.5 visits the trackers of a group in an
  arbitrary order.  Where that visit order changes the outcome, the scenario
  repeats the case in many groups and records the set of distinct outcomes.
* A call that raises is recorded as ``{"raised": <type name>, "builtin":
  <nearest builtin base class>}``.

This module must not import redis, mongomock or anything that exists only in
upstream; it only uses the standard library and what ``ns`` hands it.
"""

from __future__ import annotations

import datetime
import json
import operator

# Wall-clock timestamps that leak into limiters (from a reset that was not
# given ``now_ts``) fall in this range; scenario timestamps never do.
_WALLCLOCK_RANGE = (1600000000, 3000000000)

SCENARIOS = {}


def scenario(func):
    """Register ``func`` as a scenario under its own name."""
    SCENARIOS[func.__name__] = func
    return func


def load_namespace(package="dictrack"):
    """Build the ``ns`` object from a package laid out like dictrack 2.1.5."""
    import importlib

    def mod(path):
        return importlib.import_module(package + "." + path)

    class Namespace:
        pass

    ns = Namespace()
    ns.events = mod("events")
    ns.keys = mod("conditions.keys")
    ns.CountTracker = mod("trackers.numerics.count").CountTracker
    ns.AccumulationTracker = mod("trackers.numerics.accumulation").AccumulationTracker
    ns.ResetPolicy = mod("trackers").ResetPolicy
    ns.CountLimiter = mod("limiters.count").CountLimiter
    ns.TimeLimiter = mod("limiters.time").TimeLimiter
    return ns


# ---------------------------------------------------------------------------
# Helpers turning API objects into plain data
# ---------------------------------------------------------------------------


def _sort_key(value):
    return json.dumps(value, sort_keys=True, default=repr)


def limiter_dict(limiter):
    """Repr-free description of a limiter."""
    if limiter is None:
        return None
    if hasattr(limiter, "remaining"):
        return {
            "cls": type(limiter).__name__,
            "count": limiter.count,
            "remaining": limiter.remaining,
        }
    if hasattr(limiter, "start") and hasattr(limiter, "end"):
        start, end = limiter.start, limiter.end
        interval = limiter.interval
        if isinstance(interval, datetime.timedelta):
            interval = interval.total_seconds()
        lo, hi = _WALLCLOCK_RANGE
        if isinstance(start, (int, float)) and lo <= start <= hi:
            end = "<now>+" + repr(end - start)
            start = "<now>"
        return {
            "cls": type(limiter).__name__,
            "start": start,
            "end": end,
            "interval": interval,
        }
    return {"cls": type(limiter).__name__, "repr": repr(limiter)}


def tracker_dict(tracker):
    """Plain description of a tracker (no reprs, no group id)."""
    return {
        "name": tracker.name,
        "cls": type(tracker).__name__,
        "progress": tracker.progress,
        "target": tracker.target,
        "current_stage": tracker.current_stage,
        "completed": tracker.completed,
        "removed": tracker.removed,
        "limited": tracker.limited,
        "dirtied": tracker.dirtied,
        "multi_target": list(tracker.multi_target),
        "limiters": sorted(
            (limiter_dict(limiter) for limiter in tracker.limiters), key=_sort_key
        ),
    }


def trackers_list(trackers):
    """Tracker dicts sorted by name (order-insensitive comparison)."""
    return sorted(
        (tracker_dict(t) for t in trackers),
        key=lambda d: (d["name"], _sort_key(d)),
    )


def _is_tracker(value):
    return hasattr(value, "progress") and hasattr(value, "conditions")


def plain(value):
    """Best-effort JSON-able form of an arbitrary API return value."""
    if _is_tracker(value):
        return tracker_dict(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        if value and all(_is_tracker(v) for v in value):
            return trackers_list(value)
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [plain(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=_sort_key)
    return repr(value)


def error_dict(exc):
    builtin = next(
        (c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins"),
        "BaseException",
    )
    return {"raised": type(exc).__name__, "builtin": builtin}


def attempt(func, *args, **kwargs):
    """Call ``func``; return ``(True, result)`` or ``(False, error_dict)``."""
    try:
        return True, func(*args, **kwargs)
    except Exception as exc:
        return False, error_dict(exc)


def outcome(func, *args, **kwargs):
    """Plain result of ``func(...)``, or the error dict if it raised."""
    ok, value = attempt(func, *args, **kwargs)
    return plain(value) if ok else value


def conditions_reprs(tracker):
    return sorted(repr(c) for c in tracker.conditions)


class Recorder:
    """Drives a manager and records every call, its result and its events."""

    def __init__(self, manager, ns):
        self.manager = manager
        self.ns = ns
        self.steps = []
        self._events = []
        for code in ns.events.EVENT_ALL:
            manager.add_listener(code, self._on_event)

    # -- events ------------------------------------------------------------
    def _on_event(self, event):
        item = {
            "code": event.code,
            "group_id": getattr(event, "group_id", None),
            "name": getattr(event, "name", None),
            "tracker": tracker_dict(event.tracker)
            if getattr(event, "tracker", None) is not None
            else None,
        }
        if getattr(event, "limiter", None) is not None:
            item["limiter"] = limiter_dict(event.limiter)
        self._events.append(item)

    def take_events(self):
        """Events since the last call, ordered per tracker.

        The relative order of events of one tracker is kept exactly; events
        of different trackers are grouped by (group_id, name) because 2.1.5
        visits the trackers of a group in an arbitrary order (Redis hash
        order), so only the per-tracker order is meaningful.
        """
        events, self._events = self._events, []
        return sorted(events, key=lambda e: (str(e["group_id"]), str(e["name"])))

    # -- recording ---------------------------------------------------------
    def _record(self, step, func, *args, **kwargs):
        convert = step.pop("_convert", plain)
        ok, value = attempt(func, *args, **kwargs)
        step["result"] = convert(value) if ok else value
        step["events"] = self.take_events()
        self.steps.append(step)
        return value if ok else None

    def add(self, group_id, tracker, **kwargs):
        step = {"call": "add_tracker", "group_id": group_id, "tracker": tracker.name}
        if kwargs:
            step["kwargs"] = plain(kwargs)
        return self._record(step, self.manager.add_tracker, group_id, tracker, **kwargs)

    def add_many(self, group_id, trackers, **kwargs):
        step = {
            "call": "add_trackers",
            "group_id": group_id,
            "trackers": [t.name for t in trackers],
        }
        return self._record(
            step, self.manager.add_trackers, group_id, trackers, **kwargs
        )

    def track(self, group_id, data, snapshot=False, **kwargs):
        step = {"call": "track", "group_id": group_id, "data": plain(data)}
        if kwargs:
            step["kwargs"] = plain(kwargs)

        def convert(result):
            ok, dirtied, completed, limited = result
            return {
                "ok": ok,
                "dirtied": trackers_list(dirtied),
                "completed": trackers_list(completed),
                "limited": trackers_list(limited),
            }

        step["_convert"] = convert
        value = self._record(step, self.manager.track, group_id, data, **kwargs)
        if snapshot:
            self.steps[-1]["after"] = outcome(self.snapshot, group_id)
        return value

    def snapshot(self, group_id, name=None):
        if name is None:
            return trackers_list(self.manager.get_trackers(group_id))
        return trackers_list(self.manager.get_trackers(group_id, name))

    def get(self, group_id, name=None):
        step = {"call": "get_trackers", "group_id": group_id}
        args = (group_id,)
        if name is not None:
            step["name"] = plain(name)
            args = (group_id, name)
        step["_convert"] = lambda r: trackers_list(r)
        return self._record(step, self.manager.get_trackers, *args)

    def reset(self, group_id, name, *args, **kwargs):
        step = {"call": "reset_tracker", "group_id": group_id, "name": plain(name)}
        if args:
            step["args"] = plain(list(args))
        if kwargs:
            step["kwargs"] = plain(kwargs)
        return self._record(
            step, self.manager.reset_tracker, group_id, name, *args, **kwargs
        )

    def remove(self, group_id, *args, **kwargs):
        step = {"call": "remove_tracker", "group_id": group_id}
        if args:
            step["args"] = plain(list(args))
        if kwargs:
            step["kwargs"] = plain(kwargs)
        return self._record(
            step, self.manager.remove_tracker, group_id, *args, **kwargs
        )

    def update(self, group_id, tracker):
        step = {"call": "update_tracker", "group_id": group_id, "tracker": tracker.name}
        return self._record(step, self.manager.update_tracker, group_id, tracker)

    def call(self, label, func, *args, **kwargs):
        """Record an arbitrary call (e.g. a tracker method) under ``label``."""
        step = {"call": label}
        return self._record(step, func, *args, **kwargs)

    def note(self, label, value):
        self.steps.append({"note": label, "value": plain(value)})

    def trace(self, **extra):
        leftover = self.take_events()
        result = {"steps": self.steps}
        if leftover:
            result["unrecorded_events"] = leftover
        result.update(extra)
        return result


# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------


@scenario
def api_constants(manager, ns):
    """Event codes, EVENT_ALL order and ResetPolicy values (incl. `|`)."""
    ev, rp = ns.events, ns.ResetPolicy
    names = [
        "EVENT_TRACKER_ADDED",
        "EVENT_TRACKER_STAGE_COMPLETED",
        "EVENT_TRACKER_ALL_COMPLETED",
        "EVENT_TRACKER_RESET",
        "EVENT_TRACKER_LIMITED",
    ]
    return {
        "event_codes": {n: getattr(ev, n) for n in names},
        "EVENT_ALL": list(ev.EVENT_ALL),
        "reset_policy": {
            n: getattr(rp, n) for n in ["NONE", "PROGRESS", "LIMITER", "ALL", "DEFAULT"]
        },
        "progress_or_limiter": rp.PROGRESS | rp.LIMITER,
        "progress_or_limiter_is_all": (rp.PROGRESS | rp.LIMITER) == rp.ALL,
        "default_tracker_reset_policy": ns.CountTracker("t", [], 1).reset_policy,
    }


@scenario
def count_single_stage(manager, ns):
    """CountTracker with one target: matching/non-matching events, completion, disappearance."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add("g", ns.CountTracker("login", [k.KeyValueEQ("type", "login")], 3))
    rec.get("g")
    rec.track("g", {"type": "login"})
    rec.track("g", {"type": "logout"})
    rec.track("g", {"type": "login"})
    rec.get("g", "login")
    rec.track("g", {"type": "login"})
    rec.get("g")
    rec.get("g", "login")
    rec.track("g", {"type": "login"})
    rec.reset("g", "login")
    return rec.trace()


def _multi_stage(manager, ns, policy):
    k = ns.keys
    rec = Recorder(manager, ns)
    kwargs = {} if policy is None else {"reset_policy": policy}
    tracker = ns.CountTracker(
        "stages",
        [k.KeyExists("hit")],
        [2, 3, 5],
        limiters=[ns.CountLimiter(10)],
        **kwargs,
    )
    rec.note("before_add", tracker_dict(tracker))
    rec.add("g", tracker)
    for _ in range(7):
        rec.track("g", {"hit": 1})
    rec.get("g")
    for _ in range(4):
        rec.track("g", {"hit": 1})
    rec.get("g")
    return rec.trace()


@scenario
def count_multi_stage_default_policy(manager, ns):
    """Multi-stage CountTracker, default policy: progress is cumulative, limiter reset per stage, RESET before STAGE_COMPLETED."""
    return _multi_stage(manager, ns, None)


@scenario
def count_multi_stage_progress_policy(manager, ns):
    """Multi-stage CountTracker with ResetPolicy.PROGRESS: progress restarts at 0 each stage, limiter not reset."""
    return _multi_stage(manager, ns, ns.ResetPolicy.PROGRESS)


@scenario
def count_multi_stage_all_policy(manager, ns):
    """Multi-stage CountTracker with ResetPolicy.ALL: progress and limiter both reset at each stage."""
    return _multi_stage(manager, ns, ns.ResetPolicy.ALL)


@scenario
def count_multi_stage_none_policy(manager, ns):
    """Multi-stage CountTracker with ResetPolicy.NONE: nothing reset at stage completion."""
    return _multi_stage(manager, ns, ns.ResetPolicy.NONE)


@scenario
def loop_forever(manager, ns):
    """loop_forever with default policy (re-completes on every event) and with PROGRESS policy (loops on last target)."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add(
        "default", ns.CountTracker("loop", [k.KeyExists("x")], 2, loop_forever=True)
    )
    rec.add(
        "progress",
        ns.CountTracker(
            "loop",
            [k.KeyExists("x")],
            [1, 2],
            loop_forever=True,
            reset_policy=ns.ResetPolicy.PROGRESS,
        ),
    )
    for _ in range(5):
        rec.track("default", {"x": 1})
    for _ in range(6):
        rec.track("progress", {"x": 1})
    rec.get("default")
    rec.get("progress")
    return rec.trace()


@scenario
def init_progress(manager, ns):
    """init_progress below/at/above the target, float init_progress, non-matching events never complete."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add_many(
        "g",
        [
            ns.CountTracker("below", [k.KeyExists("x")], 3, init_progress=2),
            ns.CountTracker("above", [k.KeyExists("x")], 3, init_progress=5),
            ns.CountTracker(
                "float",
                [k.KeyExists("x")],
                [2, 4],
                init_progress=1.5,
                reset_policy=ns.ResetPolicy.PROGRESS,
            ),
            ns.AccumulationTracker(
                "acc_equal", [k.KeyExists("x")], 10, "v", init_progress=10
            ),
        ],
    )
    rec.get("g")
    rec.track("g", {"y": 1})
    rec.get("g")
    rec.track("g", {"x": 1})
    rec.track("g", {"x": 1})
    rec.track("g", {"x": 1})
    rec.get("g")
    return rec.trace()


@scenario
def add_targets(manager, ns):
    """add_targets with int, list and tuple before adding, and on a fetched tracker followed by update_tracker."""
    k = ns.keys
    rec = Recorder(manager, ns)
    tracker = ns.CountTracker("t", [k.KeyExists("x")], 1)
    rec.note("initial", tracker_dict(tracker))
    rec.call("add_targets(2)", tracker.add_targets, 2)
    rec.call("add_targets([3, 4])", tracker.add_targets, [3, 4])
    rec.call("add_targets((5,))", tracker.add_targets, (5,))
    rec.call("add_targets(2.5)", tracker.add_targets, 2.5)
    rec.call("add_targets('6')", tracker.add_targets, "6")
    rec.note("after_local_adds", tracker_dict(tracker))
    rec.add("g", tracker)
    rec.track("g", {"x": 1})
    rec.track("g", {"x": 1})
    fetched = rec.get("g", "t")[0]
    rec.call("fetched.add_targets([10, 20])", fetched.add_targets, [10, 20])
    rec.note("fetched_after_add", tracker_dict(fetched))
    rec.update("g", fetched)
    rec.get("g")
    single = ns.CountTracker("single", [k.KeyExists("x")], 1)
    rec.add("g2", single)
    rec.track("g2", {"x": 1})
    rec.note("completed_object", tracker_dict(single))
    return rec.trace()


@scenario
def accumulation_single_stage(manager, ns):
    """AccumulationTracker sums int and float values of its key until the target is reached."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add(
        "g",
        ns.AccumulationTracker("spend", [k.KeyValueEQ("type", "buy")], 100, "amount"),
    )
    rec.track("g", {"type": "buy", "amount": 30})
    rec.track("g", {"type": "sell", "amount": 500})
    rec.track("g", {"type": "buy", "amount": 50.5})
    rec.get("g")
    rec.track("g", {"type": "buy", "amount": 20})
    rec.get("g")
    return rec.trace()


@scenario
def accumulation_multi_stage_policies(manager, ns):
    """Multi-stage AccumulationTracker per policy; a big value clears only one stage per event."""
    k = ns.keys
    rec = Recorder(manager, ns)
    policies = [
        ("default", None),
        ("progress", ns.ResetPolicy.PROGRESS),
        ("all", ns.ResetPolicy.ALL),
        ("none", ns.ResetPolicy.NONE),
    ]
    for group, policy in policies:
        kwargs = {} if policy is None else {"reset_policy": policy}
        rec.add(
            group,
            ns.AccumulationTracker(
                "acc", [k.KeyExists("v")], [10, 20, 30], "v", **kwargs
            ),
        )
    values = [25, 0, 7, 100, 0, 0]
    for group, _ in policies:
        for v in values:
            rec.track(group, {"v": v})
        rec.get(group)
    return rec.trace()


@scenario
def accumulation_value_edge_cases(manager, ns):
    """Accumulation with missing key, None, numeric strings, bool, negative, zero and non-numeric values."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add(
        "g",
        ns.AccumulationTracker("acc", [k.KeyValueEQ("kind", "pay")], 1000, "v"),
    )
    values = [
        ("missing", None, False),
        ("none", None, True),
        ("str_float", "2.5", True),
        ("str_int", "3", True),
        ("str_spaces", " 4 ", True),
        ("str_exp", "1e1", True),
        ("bool_true", True, True),
        ("negative", -1, True),
        ("zero", 0, True),
        ("int", 7, True),
        ("str_word", "abc", True),
        ("str_empty", "", True),
        ("list", [1], True),
        ("dict", {"x": 1}, True),
    ]
    for label, value, present in values:
        data = {"kind": "pay"}
        if present:
            data["v"] = value
        rec.note("case", label)
        rec.track("g", data)
        tracker = rec.get("g", "acc")
        if tracker:
            rec.note("progress_type", type(tracker[0].progress).__name__)
    return rec.trace()


@scenario
def accumulation_nested_key(manager, ns):
    """AccumulationTracker key as a dotted path into nested dicts and list indexes."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add_many(
        "g",
        [
            ns.AccumulationTracker(
                "total", [k.KeyExists("order")], 1000, "order.total"
            ),
            ns.AccumulationTracker(
                "first_qty", [k.KeyExists("order")], 1000, "order.items.0.qty"
            ),
            ns.AccumulationTracker(
                "last_qty", [k.KeyExists("order")], 1000, "order.items.-1.qty"
            ),
        ],
    )
    rec.track(
        "g",
        {"order": {"total": 12.5, "items": [{"qty": 2}, {"qty": 3}, {"qty": 4}]}},
    )
    rec.track("g", {"order": {"total": "7", "items": []}})
    rec.track("g", {"order": {"items": [{"qty": 1}]}})
    rec.get("g")
    return rec.trace()


ORDER_TRIALS = 32


def _strip_trial(name):
    return name.rsplit("_", 1)[0]


@scenario
def track_exception_midway(manager, ns):
    """A tracker raising during track (non-numeric value) next to one that completes: what is kept, per visit order."""
    k = ns.keys
    rec = Recorder(manager, ns)
    outcomes = set()
    for trial in range(ORDER_TRIALS):
        group = f"g{trial}"
        manager.add_trackers(
            group,
            [
                ns.CountTracker(f"first_{trial}", [k.KeyExists("kind")], 1),
                ns.CountTracker(f"counter_{trial}", [k.KeyExists("kind")], 5),
                ns.AccumulationTracker(f"acc_{trial}", [k.KeyExists("kind")], 100, "v"),
            ],
        )
        rec.take_events()
        summary = {}
        for label, data in [
            ("bad", {"kind": 1, "v": "abc"}),
            ("good", {"kind": 1, "v": 2}),
        ]:
            ok, result = attempt(manager.track, group, data)
            summary[label] = {
                "result": [t.name for t in result[1]] if ok else result,
                "events": [
                    [e["code"], _strip_trial(e["name"])] for e in rec.take_events()
                ],
                "after": [
                    [_strip_trial(t.name), t.progress, t.completed]
                    for t in manager.get_trackers(group)
                ],
            }
            if ok:
                summary[label]["result"] = sorted(
                    _strip_trial(n) for n in summary[label]["result"]
                )
            summary[label]["after"].sort()
        outcomes.add(json.dumps(summary, sort_keys=True))
    return {
        "distinct_outcomes": [json.loads(o) for o in sorted(outcomes)],
        "trials": ORDER_TRIALS,
    }


_CHECK_DATA = [
    ("missing", {}),
    ("none", {"v": None}),
    ("int5", {"v": 5}),
    ("float5", {"v": 5.0}),
    ("str5", {"v": "5"}),
    ("zero", {"v": 0}),
    ("false", {"v": False}),
    ("str_hello", {"v": "Hello World"}),
    ("str_empty", {"v": ""}),
    ("list", {"v": ["a", "b", 5]}),
    ("list_empty", {"v": []}),
    ("dict", {"v": {"a": 1}}),
]


def _check_conditions(ns):
    k = ns.keys
    return [
        ("KeyExists", k.KeyExists("v")),
        ("KeyNotExists", k.KeyNotExists("v")),
        ("KeyValueComparison_default_op", k.KeyValueComparison("v", 5)),
        ("KeyValueComparison_lt", k.KeyValueComparison("v", 5, operator.lt)),
        ("KeyValueEQ_5", k.KeyValueEQ("v", 5)),
        ("KeyValueEQ_str5", k.KeyValueEQ("v", "5")),
        ("KeyValueEQ_None", k.KeyValueEQ("v", None)),
        ("KeyValueEQ_0", k.KeyValueEQ("v", 0)),
        ("KeyValueEQ_False", k.KeyValueEQ("v", False)),
        ("KeyValueNE_5", k.KeyValueNE("v", 5)),
        ("KeyValueLT_5", k.KeyValueLT("v", 5)),
        ("KeyValueLE_5", k.KeyValueLE("v", 5)),
        ("KeyValueGT_5", k.KeyValueGT("v", 5)),
        ("KeyValueGE_5", k.KeyValueGE("v", 5)),
        ("KeyValueContained_World", k.KeyValueContained("v", "World")),
        ("KeyValueContained_world", k.KeyValueContained("v", "world")),
        (
            "KeyValueContained_world_ci",
            k.KeyValueContained("v", "world", case_sensitive=False),
        ),
        ("KeyValueContained_a", k.KeyValueContained("v", "a")),
        ("KeyValueNotContained_World", k.KeyValueNotContained("v", "World")),
        (
            "KeyValueNotContained_world_ci",
            k.KeyValueNotContained("v", "world", case_sensitive=False),
        ),
        ("KeyValueInList", k.KeyValueInList("v", [5, "a"])),
        ("KeyValueInList_tuple", k.KeyValueInList("v", (None, False))),
        ("KeyValueNotInList", k.KeyValueNotInList("v", [5, "a"])),
        ("KeyValueListHasItem_a", k.KeyValueListHasItem("v", "a")),
        ("KeyValueListHasItem_5", k.KeyValueListHasItem("v", 5)),
        ("KeyValueListHasItem_World", k.KeyValueListHasItem("v", "World")),
        ("KeyValueListNotHasItem_a", k.KeyValueListNotHasItem("v", "a")),
        ("KeyValueListIntersectList", k.KeyValueListIntersectList("v", ["a", "z"])),
        (
            "KeyValueListIntersectList_chars",
            k.KeyValueListIntersectList("v", ["o", "zz"]),
        ),
        (
            "KeyValueListNotIntersectList",
            k.KeyValueListNotIntersectList("v", ["a", "z"]),
        ),
    ]


@scenario
def condition_checks_direct(manager, ns):
    """condition.check(data) for every condition class against a matrix of value types."""
    matrix = {}
    for label, cond in _check_conditions(ns):
        matrix[label] = {
            data_label: outcome(cond.check, data) for data_label, data in _CHECK_DATA
        }
    extra = {
        "check_with_kwargs": outcome(ns.keys.KeyExists("v").check, {"v": 1}, now_ts=5),
        "check_non_dict": outcome(ns.keys.KeyExists("v").check, [("v", 1)]),
    }
    return {"matrix": matrix, "extra": extra}


@scenario
def condition_paths(manager, ns):
    """Dotted paths: nested dicts, list indexes (incl. negative/out of range), escaped dots, falsy values."""
    k = ns.keys
    data = {
        "order": {
            "items": [{"sku": "A1", "qty": 2}, {"sku": "B2", "qty": 0}],
            "meta": {},
            "total": 10,
            "note": None,
            "tags": ["x"],
            "empty": [],
        },
        "a.b": 1,
        "a": {"b": 2},
        "flag": False,
        "zero": 0,
        "s": "abc",
        "Case": 1,
    }
    paths = [
        "order",
        "order.items",
        "order.items.0",
        "order.items.0.sku",
        "order.items.1.qty",
        "order.items.-1.sku",
        "order.items.2.sku",
        "order.items.x",
        "order.meta",
        "order.meta.k",
        "order.note",
        "order.note.x",
        "order.total.x",
        "order.tags.0",
        "order.empty.0",
        "a.b",
        "a\\.b",
        "flag",
        "zero",
        "s",
        "s.a",
        "s.0",
        "case",
        "Case",
        "",
        "order.",
        ".order",
        "missing.deep.path",
    ]
    exists = {p: outcome(lambda p=p: k.KeyExists(p).check(data)) for p in paths}
    not_exists = {p: outcome(lambda p=p: k.KeyNotExists(p).check(data)) for p in paths}
    eq_checks = [
        ("order.items.0.sku", "A1"),
        ("order.items.-1.sku", "B2"),
        ("order.items.1.qty", 0),
        ("order.total", 10),
        ("a.b", 2),
        ("a\\.b", 1),
        ("order.note", None),
        ("flag", False),
    ]
    equals = {
        f"{p}={v!r}": outcome(k.KeyValueEQ(p, v).check, data) for p, v in eq_checks
    }
    rec = Recorder(manager, ns)
    rec.add_many(
        "g",
        [
            ns.CountTracker("sku", [k.KeyValueEQ("order.items.0.sku", "A1")], 10),
            ns.CountTracker("tagged", [k.KeyValueListHasItem("order.tags", "x")], 10),
            ns.CountTracker("escaped", [k.KeyExists("a\\.b")], 10),
        ],
    )
    rec.track("g", data)
    rec.track("g", {"order": {"items": [{"sku": "B2"}], "tags": []}})
    rec.track("g", {"a.b": 0})
    return rec.trace(exists=exists, not_exists=not_exists, equals=equals)


@scenario
def conditions_through_manager(manager, ns):
    """Each condition class in its own group, fed through manager.track; records which trackers progressed."""
    groups = []
    for label, cond in _check_conditions(ns):
        tracker = ns.CountTracker("t", [cond], 1000)
        manager.add_tracker("cond_" + label, tracker)
        groups.append(label)
    table = {}
    for data_label, data in _CHECK_DATA:
        row = {}
        for label in groups:
            ok, result = attempt(manager.track, "cond_" + label, data)
            if not ok:
                row[label] = result
            else:
                row[label] = [t.name for t in result[1]] == ["t"]
        table[data_label] = row
    final = {
        label: [t.progress for t in manager.get_trackers("cond_" + label)]
        for label in groups
    }
    return {"progressed": table, "final_progress": final}


@scenario
def multiple_conditions_and(manager, ns):
    """Several conditions are ANDed; empty conditions match everything; equal conditions collapse in the set."""
    k = ns.keys
    rec = Recorder(manager, ns)
    combo = ns.CountTracker(
        "combo",
        [
            k.KeyValueEQ("type", "buy"),
            k.KeyValueGE("amount", 10),
            k.KeyNotExists("refund"),
        ],
        100,
    )
    empty = ns.CountTracker("empty", [], 100)
    dup = ns.CountTracker("dup", [k.KeyExists("a"), k.KeyNotExists("a")], 100)
    dup2 = ns.CountTracker("dup2", [k.KeyNotExists("a"), k.KeyExists("a")], 100)
    rec.note("combo_conditions", conditions_reprs(combo))
    rec.note("empty_conditions", conditions_reprs(empty))
    rec.note("dup_conditions", conditions_reprs(dup))
    rec.note("dup2_conditions", conditions_reprs(dup2))
    for group, tracker in [
        ("combo", combo),
        ("empty", empty),
        ("dup", dup),
        ("dup2", dup2),
    ]:
        rec.add(group, tracker)
    data = [
        {"type": "buy", "amount": 10},
        {"type": "buy", "amount": 9},
        {"type": "buy", "amount": 50, "refund": True},
        {"type": "sell", "amount": 50},
        {},
        {"a": 1},
    ]
    for d in data:
        for group in ["combo", "empty", "dup", "dup2"]:
            rec.track(group, d)
    for group in ["combo", "empty", "dup", "dup2"]:
        rec.get(group)
    return rec.trace()


@scenario
def shared_conditions(manager, ns):
    """Several trackers in one group sharing equal conditions, including one-shot multi-tracker completion."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add_many(
        "g",
        [
            ns.CountTracker("buys", [k.KeyValueEQ("type", "buy")], 3),
            ns.CountTracker(
                "big_buys",
                [k.KeyValueEQ("type", "buy"), k.KeyValueGT("amount", 10)],
                2,
            ),
            ns.AccumulationTracker(
                "spent", [k.KeyValueEQ("type", "buy")], 100, "amount"
            ),
            ns.CountTracker("sells", [k.KeyValueEQ("type", "sell")], 1),
        ],
    )
    for d in [
        {"type": "buy", "amount": 5},
        {"type": "buy", "amount": 50},
        {"type": "sell", "amount": 1},
        {"type": "buy", "amount": 60},
        {"type": "buy", "amount": 1},
    ]:
        rec.track("g", d)
    rec.get("g")
    return rec.trace()


@scenario
def condition_cache_collisions(manager, ns):
    """Per-call condition result cache shared by trackers whose conditions compare equal across classes (set of outcomes over visit orders)."""
    k = ns.keys
    cases = [
        (
            "exists_vs_not_exists",
            lambda: k.KeyExists("a"),
            lambda: k.KeyNotExists("a"),
            [{}, {"a": 1}],
        ),
        (
            "contained_case_sensitive_vs_insensitive",
            lambda: k.KeyValueContained("s", "abc"),
            lambda: k.KeyValueContained("s", "abc", case_sensitive=False),
            [{"s": "xABCx"}, {"s": "xabcx"}],
        ),
        (
            "contained_vs_not_contained",
            lambda: k.KeyValueContained("s", "abc"),
            lambda: k.KeyValueNotContained("s", "abc"),
            [{"s": "xyz"}, {"s": "abc"}],
        ),
        (
            "in_list_vs_intersect_list",
            lambda: k.KeyValueInList("v", ["a"]),
            lambda: k.KeyValueListIntersectList("v", ["a"]),
            [{"v": ["a"]}, {"v": "a"}],
        ),
        (
            "eq_vs_ne_control",
            lambda: k.KeyValueEQ("a", 1),
            lambda: k.KeyValueNE("a", 1),
            [{"a": 1}, {"a": 2}],
        ),
    ]
    results = {}
    for label, left, right, datas in cases:
        per_data = {}
        for index, data in enumerate(datas):
            seen = set()
            for trial in range(ORDER_TRIALS):
                group = f"{label}_{index}_{trial}"
                manager.add_trackers(
                    group,
                    [
                        ns.CountTracker(f"left_{trial}", [left()], 100),
                        ns.CountTracker(f"right_{trial}", [right()], 100),
                    ],
                )
                ok, result = attempt(manager.track, group, data)
                if ok:
                    progressed = sorted(_strip_trial(t.name) for t in result[1])
                else:
                    progressed = result
                seen.add(json.dumps(progressed, sort_keys=True))
            per_data[json.dumps(data, sort_keys=True)] = {
                "independent_checks": {
                    "left": outcome(left().check, data),
                    "right": outcome(right().check, data),
                },
                "progressed_outcomes": [json.loads(o) for o in sorted(seen)],
            }
        results[label] = {
            "left": repr(left()),
            "right": repr(right()),
            "cases": per_data,
        }
    return {"results": results, "trials": ORDER_TRIALS}


@scenario
def condition_reprs(manager, ns):
    """repr() of every condition class."""
    k = ns.keys
    objs = [
        ("KeyExists", k.KeyExists("a.b")),
        ("KeyNotExists", k.KeyNotExists("a.b")),
        ("KeyValueComparison", k.KeyValueComparison("a", 1)),
        ("KeyValueComparison_ge", k.KeyValueComparison("a", 1, operator.ge)),
        ("KeyValueEQ", k.KeyValueEQ("a", 1)),
        ("KeyValueEQ_str", k.KeyValueEQ("a", "x y")),
        ("KeyValueEQ_none", k.KeyValueEQ("a", None)),
        ("KeyValueEQ_float", k.KeyValueEQ("a", 1.5)),
        ("KeyValueNE", k.KeyValueNE("a", 1)),
        ("KeyValueLT", k.KeyValueLT("a", 1)),
        ("KeyValueLE", k.KeyValueLE("a", 1)),
        ("KeyValueGT", k.KeyValueGT("a", 1)),
        ("KeyValueGE", k.KeyValueGE("a", 1)),
        ("KeyValueContained", k.KeyValueContained("a", "x")),
        ("KeyValueContained_ci", k.KeyValueContained("a", "x", case_sensitive=False)),
        ("KeyValueNotContained", k.KeyValueNotContained("a", "x")),
        ("KeyValueInList", k.KeyValueInList("a", [1, "x"])),
        ("KeyValueInList_tuple", k.KeyValueInList("a", (1, 2))),
        ("KeyValueNotInList", k.KeyValueNotInList("a", [1, "x"])),
        ("KeyValueListHasItem", k.KeyValueListHasItem("a", "x")),
        ("KeyValueListHasItem_int", k.KeyValueListHasItem("a", 3)),
        ("KeyValueListNotHasItem", k.KeyValueListNotHasItem("a", "x")),
        ("KeyValueListIntersectList", k.KeyValueListIntersectList("a", ["x", 2])),
        ("KeyValueListNotIntersectList", k.KeyValueListNotIntersectList("a", ["x", 2])),
    ]
    return {label: repr(obj) for label, obj in objs}


@scenario
def condition_equality_hash(manager, ns):
    """== / hash between conditions of same and different classes, and set de-duplication."""
    k = ns.keys
    pairs = [
        ("KeyExists(a)", k.KeyExists("a"), "KeyExists(a)", k.KeyExists("a")),
        ("KeyExists(a)", k.KeyExists("a"), "KeyExists(b)", k.KeyExists("b")),
        ("KeyExists(a)", k.KeyExists("a"), "KeyNotExists(a)", k.KeyNotExists("a")),
        ("KeyExists(a)", k.KeyExists("a"), "KeyValueEQ(a,1)", k.KeyValueEQ("a", 1)),
        (
            "KeyValueEQ(a,1)",
            k.KeyValueEQ("a", 1),
            "KeyValueEQ(a,1)",
            k.KeyValueEQ("a", 1),
        ),
        (
            "KeyValueEQ(a,1)",
            k.KeyValueEQ("a", 1),
            "KeyValueEQ(a,2)",
            k.KeyValueEQ("a", 2),
        ),
        (
            "KeyValueEQ(a,1)",
            k.KeyValueEQ("a", 1),
            "KeyValueNE(a,1)",
            k.KeyValueNE("a", 1),
        ),
        (
            "KeyValueEQ(a,1)",
            k.KeyValueEQ("a", 1),
            "KeyValueComparison(a,1)",
            k.KeyValueComparison("a", 1),
        ),
        (
            "KeyValueEQ(a,1)",
            k.KeyValueEQ("a", 1),
            "KeyValueEQ(a,1.0)",
            k.KeyValueEQ("a", 1.0),
        ),
        (
            "KeyValueEQ(a,1)",
            k.KeyValueEQ("a", 1),
            "KeyValueEQ(a,True)",
            k.KeyValueEQ("a", True),
        ),
        (
            "KeyValueLT(a,1)",
            k.KeyValueLT("a", 1),
            "KeyValueGT(a,1)",
            k.KeyValueGT("a", 1),
        ),
        (
            "KeyValueContained(a,x)",
            k.KeyValueContained("a", "x"),
            "KeyValueContained(a,x,ci)",
            k.KeyValueContained("a", "x", case_sensitive=False),
        ),
        (
            "KeyValueContained(a,x)",
            k.KeyValueContained("a", "x"),
            "KeyValueNotContained(a,x)",
            k.KeyValueNotContained("a", "x"),
        ),
        (
            "KeyValueInList(a,[1])",
            k.KeyValueInList("a", [1]),
            "KeyValueNotInList(a,[1])",
            k.KeyValueNotInList("a", [1]),
        ),
        (
            "KeyValueInList(a,[1])",
            k.KeyValueInList("a", [1]),
            "KeyValueInList(a,(1,))",
            k.KeyValueInList("a", (1,)),
        ),
        (
            "KeyValueInList(a,[1])",
            k.KeyValueInList("a", [1]),
            "KeyValueListIntersectList(a,[1])",
            k.KeyValueListIntersectList("a", [1]),
        ),
        (
            "KeyValueListHasItem(a,x)",
            k.KeyValueListHasItem("a", "x"),
            "KeyValueListNotHasItem(a,x)",
            k.KeyValueListNotHasItem("a", "x"),
        ),
        (
            "KeyValueListHasItem(a,x)",
            k.KeyValueListHasItem("a", "x"),
            "KeyValueContained(a,x)",
            k.KeyValueContained("a", "x"),
        ),
        (
            "KeyValueListIntersectList(a,[1])",
            k.KeyValueListIntersectList("a", [1]),
            "KeyValueListNotIntersectList(a,[1])",
            k.KeyValueListNotIntersectList("a", [1]),
        ),
        ("KeyExists(a)", k.KeyExists("a"), "str a", "a"),
        ("KeyExists(a)", k.KeyExists("a"), "None", None),
    ]
    results = []
    for la, a, lb, b in pairs:
        ok_a, hash_a = attempt(hash, a)
        ok_b, hash_b = attempt(hash, b)
        results.append(
            {
                "left": la,
                "right": lb,
                "eq": outcome(operator.eq, a, b),
                "reverse_eq": outcome(operator.eq, b, a),
                "ne": outcome(operator.ne, a, b),
                "hash_equal": (hash_a == hash_b) if (ok_a and ok_b) else None,
            }
        )
    unhashable = {
        "hash(KeyValueEQ(a,[1]))": outcome(
            lambda: type(hash(k.KeyValueEQ("a", [1]))).__name__
        ),
        "CountTracker with KeyValueEQ(a,[1])": outcome(
            lambda: tracker_dict(ns.CountTracker("t", [k.KeyValueEQ("a", [1])], 1))
        ),
    }
    dedupe = {
        "len(set(KeyExists(a), KeyNotExists(a)))": len(
            {k.KeyExists("a"), k.KeyNotExists("a")}
        ),
        "len(set(Contained cs, Contained ci))": len(
            {k.KeyValueContained("a", "x"), k.KeyValueContained("a", "x", False)}
        ),
        "len(set(EQ(a,1), NE(a,1), LT(a,1)))": len(
            {k.KeyValueEQ("a", 1), k.KeyValueNE("a", 1), k.KeyValueLT("a", 1)}
        ),
    }
    return {"pairs": results, "unhashable": unhashable, "dedupe": dedupe}


@scenario
def limiter_basics(manager, ns):
    """Limiter reprs, attributes, equality/hash and constructor validation."""
    td = datetime.timedelta
    built = {
        "CountLimiter(3)": lambda: ns.CountLimiter(3),
        "CountLimiter(True)": lambda: ns.CountLimiter(True),
        "CountLimiter(0)": lambda: ns.CountLimiter(0),
        "CountLimiter(-1)": lambda: ns.CountLimiter(-1),
        "CountLimiter(1.5)": lambda: ns.CountLimiter(1.5),
        "CountLimiter('3')": lambda: ns.CountLimiter("3"),
        "TimeLimiter(0,1000)": lambda: ns.TimeLimiter(start_ts=0, end_ts=1000),
        "TimeLimiter(1000,0) swapped": lambda: ns.TimeLimiter(start_ts=1000, end_ts=0),
        "TimeLimiter(0, interval=1h)": lambda: ns.TimeLimiter(
            start_ts=0, interval=td(hours=1)
        ),
        "TimeLimiter(0, interval=1.5s)": lambda: ns.TimeLimiter(
            start_ts=0, interval=td(seconds=1.5)
        ),
        "TimeLimiter(0, interval=2d)": lambda: ns.TimeLimiter(
            start_ts=0, interval=td(days=2)
        ),
        "TimeLimiter(5,5)": lambda: ns.TimeLimiter(start_ts=5, end_ts=5),
        "TimeLimiter()": lambda: ns.TimeLimiter(),
        "TimeLimiter(start only)": lambda: ns.TimeLimiter(start_ts=5),
        "TimeLimiter(end and interval)": lambda: ns.TimeLimiter(
            start_ts=0, end_ts=10, interval=td(seconds=10)
        ),
        "TimeLimiter(float start)": lambda: ns.TimeLimiter(start_ts=0.5, end_ts=10),
        "TimeLimiter(int interval)": lambda: ns.TimeLimiter(start_ts=0, interval=10),
        "TimeLimiter(0, interval=0)": lambda: ns.TimeLimiter(
            start_ts=0, interval=td(0)
        ),
    }
    results = {}
    for label, make in built.items():
        ok, obj = attempt(make)
        if ok:
            results[label] = {"repr": repr(obj), "dict": limiter_dict(obj)}
        else:
            results[label] = obj
    c3a, c3b = ns.CountLimiter(3), ns.CountLimiter(3)
    c3b.remaining = 1
    t1, t2 = (
        ns.TimeLimiter(start_ts=0, end_ts=1000),
        ns.TimeLimiter(start_ts=0, end_ts=1000),
    )
    equality = {
        "CountLimiter(3)==CountLimiter(3) (different remaining)": outcome(
            lambda: c3a == c3b
        ),
        "hash equal": hash(c3a) == hash(c3b),
        "CountLimiter(3)==CountLimiter(4)": outcome(lambda: c3a == ns.CountLimiter(4)),
        "TimeLimiter(0,1000)==TimeLimiter(0,1000)": outcome(lambda: t1 == t2),
        "TimeLimiter hash equal": hash(t1) == hash(t2),
        "TimeLimiter(0,1000)==TimeLimiter(0,interval=1000s)": outcome(
            lambda: t1 == ns.TimeLimiter(start_ts=0, interval=td(seconds=1000))
        ),
        "CountLimiter==TimeLimiter": outcome(lambda: c3a == t1),
        "CountLimiter==3": outcome(lambda: c3a == 3),
    }
    tracker = ns.CountTracker(
        "t", [], 1, limiters=[ns.CountLimiter(3), ns.CountLimiter(3), t1, t2]
    )
    return {
        "built": results,
        "equality": equality,
        "tracker_limiters_deduped": tracker_dict(tracker)["limiters"],
        "count_limiter_attrs": {"limited": ns.CountLimiter(2).limited},
    }


@scenario
def count_limiter_closing(manager, ns):
    """CountLimiter with non-matching events interleaved: which events count and when it closes."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add(
        "g",
        ns.CountTracker(
            "limited", [k.KeyValueEQ("type", "hit")], 10, limiters=[ns.CountLimiter(3)]
        ),
    )
    rec.add("g", ns.CountTracker("free", [k.KeyValueEQ("type", "hit")], 100))
    for t in [
        "hit",
        "miss",
        "miss",
        "hit",
        "miss",
        "miss",
        "miss",
        "hit",
        "hit",
        "miss",
    ]:
        rec.track("g", {"type": t}, snapshot=True)
    return rec.trace()


@scenario
def count_limiter_group_limited_list(manager, ns):
    """`limited` lists every limited tracker of the group on every later call; LIMITED fires once."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add_many(
        "g",
        [
            ns.CountTracker(
                "one", [k.KeyExists("x")], 100, limiters=[ns.CountLimiter(1)]
            ),
            ns.CountTracker(
                "two", [k.KeyExists("x")], 100, limiters=[ns.CountLimiter(2)]
            ),
            ns.CountTracker(
                "y_only", [k.KeyExists("y")], 100, limiters=[ns.CountLimiter(1)]
            ),
            ns.CountTracker(
                "pair",
                [k.KeyExists("x")],
                100,
                limiters=[ns.CountLimiter(3), ns.CountLimiter(5)],
            ),
        ],
    )
    for d in [{"x": 1}, {"x": 1}, {"z": 1}, {"x": 1}, {"y": 1}, {"x": 1}, {}]:
        rec.track("g", d)
    rec.get("g")
    return rec.trace()


@scenario
def count_limiter_stage_completion(manager, ns):
    """CountLimiter interacting with stage and final completion under default and PROGRESS policy."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add(
        "default",
        ns.CountTracker("t", [k.KeyExists("x")], [2, 4], limiters=[ns.CountLimiter(2)]),
    )
    rec.add(
        "progress",
        ns.CountTracker(
            "t",
            [k.KeyExists("x")],
            [2, 4],
            limiters=[ns.CountLimiter(2)],
            reset_policy=ns.ResetPolicy.PROGRESS,
        ),
    )
    rec.add(
        "final",
        ns.CountTracker("t", [k.KeyExists("x")], 2, limiters=[ns.CountLimiter(2)]),
    )
    rec.add(
        "one",
        ns.CountTracker(
            "t", [k.KeyExists("x")], [1, 2, 3], limiters=[ns.CountLimiter(1)]
        ),
    )
    for group in ["default", "progress", "final", "one"]:
        for _ in range(4):
            rec.track(group, {"x": 1}, snapshot=True)
    return rec.trace()


@scenario
def time_limiter_windows(manager, ns):
    """TimeLimiter past/open/future windows with now_ts, inclusive bounds, and limiting by non-matching events."""
    k = ns.keys
    rec = Recorder(manager, ns)

    def add(group, start, end, target=3):
        rec.add(
            group,
            ns.CountTracker(
                "t",
                [k.KeyExists("x")],
                target,
                limiters=[ns.TimeLimiter(start_ts=start, end_ts=end)],
            ),
        )

    add("past", 0, 1000)
    add("open", 1, 4102444800)
    add("future", 4000000000, 4100000000)
    add("future_nonmatching", 4000000000, 4100000000)
    add("bounds", 100, 200, target=10)
    add("before_start", 100, 200, target=10)
    rec.track("past", {"x": 1}, now_ts=500)
    rec.track("past", {"x": 1}, now_ts=2000)
    rec.track("past", {"x": 1}, now_ts=500)
    rec.track("past", {"y": 1}, now_ts=500)
    rec.track("open", {"x": 1}, now_ts=2000000000)
    rec.track("open", {"x": 1})
    rec.track("open", {"x": 1}, now_ts=4102444800)
    rec.track("future", {"x": 1}, now_ts=3000000000)
    rec.track("future", {"x": 1}, now_ts=4050000000)
    rec.track("future_nonmatching", {"y": 1}, now_ts=3000000000)
    rec.track("future_nonmatching", {"x": 1}, now_ts=4050000000)
    for ts in [100, 200, 201, 150]:
        rec.track("bounds", {"x": 1}, now_ts=ts)
    for ts in [99, 150]:
        rec.track("before_start", {"x": 1}, now_ts=ts)
    for group in [
        "past",
        "open",
        "future",
        "future_nonmatching",
        "bounds",
        "before_start",
    ]:
        rec.get(group)
    return rec.trace()


@scenario
def time_limiter_default_clock(manager, ns):
    """TimeLimiter without now_ts uses the wall clock: a past window limits, an open window does not."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add_many(
        "g",
        [
            ns.CountTracker(
                "past",
                [k.KeyExists("x")],
                5,
                limiters=[ns.TimeLimiter(start_ts=0, end_ts=1000)],
            ),
            ns.CountTracker(
                "open",
                [k.KeyExists("x")],
                5,
                limiters=[ns.TimeLimiter(start_ts=1, end_ts=4102444800)],
            ),
            ns.CountTracker(
                "both",
                [k.KeyExists("x")],
                5,
                limiters=[
                    ns.TimeLimiter(start_ts=1, end_ts=4102444800),
                    ns.CountLimiter(2),
                ],
            ),
        ],
    )
    for _ in range(3):
        rec.track("g", {"x": 1})
    rec.get("g")
    return rec.trace()


@scenario
def time_limiter_stage_completion(manager, ns):
    """Stage completion resets a TimeLimiter (default policy) to a window starting at the wall clock."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add(
        "g",
        ns.CountTracker(
            "t",
            [k.KeyExists("x")],
            [1, 3],
            limiters=[ns.TimeLimiter(start_ts=1, end_ts=4102444800)],
        ),
    )
    rec.add(
        "progress",
        ns.CountTracker(
            "t",
            [k.KeyExists("x")],
            [1, 3],
            limiters=[ns.TimeLimiter(start_ts=1, end_ts=4102444800)],
            reset_policy=ns.ResetPolicy.PROGRESS,
        ),
    )
    for group in ["g", "progress"]:
        rec.track(group, {"x": 1}, now_ts=1000)
        rec.track(group, {"x": 1}, now_ts=1000)
        rec.track(group, {"x": 1}, now_ts=1000)
        rec.get(group)
    return rec.trace()


@scenario
def reset_tracker_policies(manager, ns):
    """reset_tracker with default, NONE, PROGRESS, LIMITER, PROGRESS|LIMITER and ALL on a limited tracker."""
    k = ns.keys
    rp = ns.ResetPolicy
    rec = Recorder(manager, ns)
    policies = [
        ("omitted", ()),
        ("none", (rp.NONE,)),
        ("progress", (rp.PROGRESS,)),
        ("limiter", (rp.LIMITER,)),
        ("progress_or_limiter", (rp.PROGRESS | rp.LIMITER,)),
        ("all", (rp.ALL,)),
        ("explicit_none", (None,)),
    ]
    for group, args in policies:
        rec.add(
            group,
            ns.CountTracker(
                "t", [k.KeyExists("x")], [10, 20], limiters=[ns.CountLimiter(2)]
            ),
        )
        rec.track(group, {"x": 1})
        rec.track(group, {"x": 1})
        rec.reset(group, "t", *args)
        rec.get(group)
        rec.track(group, {"x": 1})
    rec.add(
        "tracker_policy_progress",
        ns.CountTracker(
            "t",
            [k.KeyExists("x")],
            10,
            limiters=[ns.CountLimiter(2)],
            reset_policy=rp.PROGRESS,
        ),
    )
    rec.track("tracker_policy_progress", {"x": 1})
    rec.track("tracker_policy_progress", {"x": 1})
    rec.reset("tracker_policy_progress", "t")
    rec.reset("tracker_policy_progress", "t", reset_policy=rp.LIMITER)
    rec.get("tracker_policy_progress")
    return rec.trace()


@scenario
def reset_tracker_keywords(manager, ns):
    """reset_tracker with reset_count=, reset_seconds= and now_ts= on Count and Time limiters."""
    k = ns.keys
    rp = ns.ResetPolicy
    rec = Recorder(manager, ns)
    rec.add(
        "count",
        ns.CountTracker("t", [k.KeyExists("x")], 100, limiters=[ns.CountLimiter(2)]),
    )
    rec.track("count", {"x": 1})
    rec.track("count", {"x": 1})
    rec.reset("count", "t", rp.LIMITER, reset_count=5)
    rec.get("count")
    rec.track("count", {"x": 1})
    rec.reset("count", "t", rp.LIMITER, reset_count=0)
    rec.get("count")
    rec.track("count", {"x": 1})
    rec.reset("count", "t", rp.LIMITER, reset_count=-1)
    rec.get("count")
    rec.reset("count", "t", rp.LIMITER)
    rec.get("count")
    rec.reset("count", "t", rp.PROGRESS, reset_count=7)
    rec.get("count")

    rec.add(
        "time",
        ns.CountTracker(
            "t",
            [k.KeyExists("x")],
            100,
            limiters=[ns.TimeLimiter(start_ts=0, end_ts=1000)],
        ),
    )
    rec.track("time", {"x": 1}, now_ts=5000)
    rec.reset("time", "t", rp.LIMITER, now_ts=5000)
    rec.get("time")
    rec.track("time", {"x": 1}, now_ts=5500)
    rec.reset("time", "t", rp.LIMITER, now_ts=5000, reset_seconds=4102000000)
    rec.get("time")
    rec.track("time", {"x": 1}, now_ts=6000)
    rec.reset("time", "t", rp.LIMITER, now_ts=3500000000, reset_seconds=100)
    rec.get("time")
    rec.track("time", {"x": 1}, now_ts=3500000050)
    rec.reset("time", "t", rp.PROGRESS, now_ts=1, reset_seconds=5)
    rec.get("time")
    rec.reset("time", "t", rp.LIMITER, now_ts=1, reset_seconds=4102444799.5)
    rec.get("time")

    rec.add(
        "both",
        ns.CountTracker(
            "t",
            [k.KeyExists("x")],
            100,
            limiters=[ns.CountLimiter(1), ns.TimeLimiter(start_ts=0, end_ts=1000)],
        ),
    )
    rec.track("both", {"x": 1}, now_ts=500)
    rec.reset("both", "t", rp.ALL, now_ts=1, reset_seconds=4102444799, reset_count=3)
    rec.get("both")
    rec.track("both", {"x": 1}, now_ts=100)
    rec.reset("both", "t", rp.ALL, now_ts=1, reset_seconds=4102444799, reset_count=0)
    rec.get("both")
    return rec.trace()


@scenario
def reset_tracker_edge_cases(manager, ns):
    """reset_tracker for missing/completed names, invalid policies, uncached groups and mid-stage PROGRESS."""
    k = ns.keys
    rp = ns.ResetPolicy
    rec = Recorder(manager, ns)
    rec.reset("empty", "nobody")
    rec.add("g", ns.CountTracker("multi", [k.KeyExists("x")], [2, 5, 9]))
    rec.add("g", ns.CountTracker("done", [k.KeyExists("x")], 1))
    rec.reset("g", "multi", rp.PROGRESS)
    rec.get("g", "multi")
    rec.track("g", {"x": 1})
    rec.track("g", {"x": 1})
    rec.track("g", {"x": 1})
    rec.reset("g", "done")
    rec.reset("g", "nobody")
    rec.reset("g", "multi", 4)
    rec.reset("g", "multi", -1)
    rec.reset("g", ["multi"])
    rec.reset("g", "multi", rp.PROGRESS)
    rec.get("g")
    rec.track("g", {"x": 1})
    rec.reset("g", "multi", rp.NONE)
    rec.get("g")
    return rec.trace()


@scenario
def remove_tracker(manager, ns):
    """remove_tracker by one name, by list (with unknown names), unknown name and all; before and after caching."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add_many(
        "g",
        [ns.CountTracker(n, [k.KeyExists("x")], 10) for n in ["a", "b", "c", "d", "e"]],
    )
    rec.remove("g", "a")
    rec.get("g")
    rec.track("g", {"x": 1})
    rec.remove("g", ["b", "zzz"])
    rec.get("g")
    rec.remove("g", "zzz")
    rec.remove("g", [])
    rec.get("g")
    rec.track("g", {"x": 1})
    rec.remove("g")
    rec.get("g")
    rec.track("g", {"x": 1})
    rec.add("g", ns.CountTracker("a", [k.KeyExists("x")], 10))
    rec.get("g")
    rec.track("g", {"x": 1})
    rec.remove("g", ("a",))
    rec.remove("g", name="a")
    rec.get("g")
    rec.remove("never_used")
    return rec.trace()


@scenario
def update_tracker(manager, ns):
    """update_tracker after changing progress/loop_forever/reset_policy, and for a tracker not in the group."""
    k = ns.keys
    rp = ns.ResetPolicy
    rec = Recorder(manager, ns)
    rec.add_many(
        "g",
        [
            ns.CountTracker("t", [k.KeyExists("x")], 5),
            ns.CountTracker("u", [k.KeyExists("x")], [1, 3]),
        ],
    )
    rec.track("g", {"x": 1})
    t = rec.get("g", "t")[0]
    rec.call("t.progress = 4", setattr, t, "progress", 4)
    rec.call("t.progress = '4'", setattr, t, "progress", "4")
    rec.update("g", t)
    rec.get("g", "t")
    rec.track("g", {"x": 1})
    u = rec.get("g", "u")[0]
    rec.call("u.loop_forever = True", setattr, u, "loop_forever", True)
    rec.call("u.reset_policy = PROGRESS", setattr, u, "reset_policy", rp.PROGRESS)
    rec.call("u.reset_policy = 9", setattr, u, "reset_policy", 9)
    rec.call("u.loop_forever = 1", setattr, u, "loop_forever", 1)
    rec.update("g", u)
    for _ in range(5):
        rec.track("g", {"x": 1})
    rec.get("g")
    # A tracker that was never added to a cached group.
    rec.update("g", ns.CountTracker("ghost", [k.KeyExists("x")], 5))
    rec.get("g")
    rec.get("g", "ghost")
    rec.track("g", {"x": 1})
    rec.remove("g", "u")
    rec.get("g")
    ghosts = manager.get_trackers("g", "ghost")
    rec.note("ghost_group_ids", [t.group_id for t in ghosts])
    # A tracker never added, into a group never tracked.
    rec.update("fresh", ns.CountTracker("new", [k.KeyExists("x")], 5))
    rec.get("fresh")
    rec.track("fresh", {"x": 1})
    return rec.trace()


@scenario
def get_trackers_variants(manager, ns):
    """get_trackers with None, a name, a missing name, lists (incl. empty) and a tuple; before and after caching."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add_many(
        "g", [ns.CountTracker(n, [k.KeyExists("x")], 10) for n in ["b", "a", "c"]]
    )
    for phase in ["before_cache", "after_cache"]:
        rec.note("phase", phase)
        rec.get("g")
        rec.get("g", "a")
        rec.get("g", "zzz")
        rec.get("g", ["c", "zzz", "a"])
        rec.get("g", [])
        rec.get("g", ("a",))
        rec.get("unknown")
        rec.get("unknown", "a")
        if phase == "before_cache":
            rec.track("g", {"y": 1})
    order = [t.name for t in manager.get_trackers("g", ["c", "a", "b"])]
    return rec.trace(name_list_order_after_cache=order)


@scenario
def empty_group(manager, ns):
    """A group with no trackers: track is ok with empty lists; get/remove/reset behave."""
    rec = Recorder(manager, ns)
    rec.track("nobody", {"x": 1})
    rec.track("nobody", {})
    rec.get("nobody")
    rec.remove("nobody")
    rec.reset("nobody", "t")
    k = ns.keys
    rec.add("later", ns.CountTracker("t", [k.KeyExists("x")], 1))
    rec.track("later", {"x": 1})
    rec.track("later", {"x": 1})
    rec.get("later")
    return rec.trace()


@scenario
def listener_events(manager, ns):
    """Event order (ADDED, RESET vs STAGE_COMPLETED, ALL_COMPLETED, LIMITED), event reprs, raising listeners, bad registrations."""
    k = ns.keys
    ev = ns.events
    rec = Recorder(manager, ns)
    extra = []

    def boom(event):
        raise RuntimeError("listener failure")

    def second(event):
        extra.append(event.code)

    first_reprs = []

    def repr_listener(event):
        if not first_reprs:
            first_reprs.append(repr(event))

    for code in ev.EVENT_ALL:
        manager.add_listener(code, boom)
        manager.add_listener(code, second)
    manager.add_listener(ev.EVENT_TRACKER_ADDED, repr_listener)
    registrations = {
        "code 9999": outcome(manager.add_listener, 9999, second),
        "non-callable": outcome(manager.add_listener, ev.EVENT_TRACKER_ADDED, 42),
    }
    rec.add_many(
        "g",
        [
            ns.CountTracker("stages", [k.KeyExists("x")], [1, 2]),
            ns.CountTracker(
                "capped", [k.KeyExists("x")], 50, limiters=[ns.CountLimiter(2)]
            ),
            ns.CountTracker("once", [k.KeyExists("x")], 1),
        ],
    )
    rec.add("g", ns.CountTracker("late", [k.KeyExists("x")], 1))
    rec.track("g", {"x": 1})
    rec.track("g", {"x": 1})
    rec.track("g", {"x": 1})
    rec.reset("g", "capped")
    return rec.trace(
        second_listener_codes=sorted(extra),
        registrations=registrations,
        first_added_event_repr=first_reprs,
    )


@scenario
def add_tracker_conflicts(manager, ns):
    """Duplicate names before/after caching, pre-set group ids, re-adding objects, expire args, add_trackers validation."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add("g", ns.CountTracker("dup", [k.KeyExists("x")], 5))
    rec.add("g", ns.CountTracker("dup", [k.KeyExists("x")], 7))
    rec.get("g")
    rec.track("g", {"x": 1})
    rec.add("g", ns.CountTracker("dup", [k.KeyExists("x")], 9))
    rec.get("g")
    rec.add_many(
        "g",
        [
            ns.CountTracker("new1", [k.KeyExists("x")], 5),
            ns.CountTracker("dup", [k.KeyExists("x")], 11),
        ],
    )
    rec.get("g")
    preset = ns.CountTracker("preset", [k.KeyExists("x")], 5, group_id="g2")
    rec.note("preset_group_id", preset.group_id)
    rec.add("g2", preset)
    other = ns.CountTracker("other", [k.KeyExists("x")], 5, group_id="zz")
    rec.add("g2", other)
    obj = ns.CountTracker("obj", [k.KeyExists("x")], 5)
    rec.note("default_group_id", obj.group_id)
    rec.add("g3", obj)
    rec.note("group_id_after_add", obj.group_id)
    rec.add("g4", obj)
    rec.add("g3", ns.CountTracker("exp", [k.KeyExists("x")], 5), expire=60)
    rec.add("g3", ns.CountTracker("exp2", [k.KeyExists("x")], 5), expire_at=4102444800)
    rec.add("g3", ns.CountTracker("exp3", [k.KeyExists("x")], 5), expire="60")
    rec.get("g3")
    rec.get("g4")
    rec.add_many("g5", [])
    rec.call("add_trackers non-tracker", manager.add_trackers, "g5", ["nope"])
    rec.call("add_tracker non-tracker", manager.add_tracker, "g5", "nope")
    rec.call(
        "add_tracker int group", manager.add_tracker, 5, ns.CountTracker("i", [], 1)
    )
    rec.get("g5")
    return rec.trace()


@scenario
def tracker_validation(manager, ns):
    """Tracker constructor argument validation (accepted vs TypeError/ValueError)."""
    k = ns.keys
    c = [k.KeyExists("x")]
    ct, at = ns.CountTracker, ns.AccumulationTracker
    cases = {
        "ok": lambda: ct("t", c, 1),
        "name_int": lambda: ct(1, c, 1),
        "conditions_none": lambda: ct("t", None, 1),
        "conditions_tuple": lambda: ct("t", tuple(c), 1),
        "conditions_set": lambda: ct("t", set(c), 1),
        "conditions_single": lambda: ct("t", c[0], 1),
        "conditions_bad_element": lambda: ct("t", ["x"], 1),
        "target_str": lambda: ct("t", c, "5"),
        "target_none": lambda: ct("t", c, None),
        "target_empty_list": lambda: ct("t", c, []),
        "target_float": lambda: ct("t", c, 2.5),
        "target_tuple": lambda: ct("t", c, (1, 2)),
        "target_list_mixed": lambda: ct("t", c, [1, "x"]),
        "target_bool": lambda: ct("t", c, True),
        "target_negative": lambda: ct("t", c, -1),
        "group_id_int": lambda: ct("t", c, 1, group_id=5),
        "limiters_tuple": lambda: ct("t", c, 1, limiters=(ns.CountLimiter(1),)),
        "limiters_single": lambda: ct("t", c, 1, limiters=ns.CountLimiter(1)),
        "limiters_bad_element": lambda: ct("t", c, 1, limiters=["x"]),
        "limiters_none_element": lambda: ct("t", c, 1, limiters=[None]),
        "reset_policy_4": lambda: ct("t", c, 1, reset_policy=4),
        "reset_policy_neg": lambda: ct("t", c, 1, reset_policy=-1),
        "reset_policy_true": lambda: ct("t", c, 1, reset_policy=True),
        "reset_policy_none": lambda: ct("t", c, 1, reset_policy=None),
        "loop_forever_int": lambda: ct("t", c, 1, loop_forever=1),
        "init_progress_str": lambda: ct("t", c, 1, init_progress="1"),
        "init_progress_bool": lambda: ct("t", c, 1, init_progress=True),
        "init_progress_negative": lambda: ct("t", c, 1, init_progress=-3),
        "acc_ok": lambda: at("t", c, 1, "v"),
        "acc_key_int": lambda: at("t", c, 1, 5),
        "acc_key_missing": lambda: at("t", c, 1),
        "acc_key_kw": lambda: at("t", c, 1, key="a.b"),
        "KeyValueComparison_bad_op": lambda: k.KeyValueComparison("a", 1, operator.add),
        "KeyValueContained_int": lambda: k.KeyValueContained("a", 1),
        "KeyValueInList_str": lambda: k.KeyValueInList("a", "abc"),
        "KeyValueInList_set": lambda: k.KeyValueInList("a", {1}),
        "KeyValueListHasItem_float": lambda: k.KeyValueListHasItem("a", 1.5),
        "KeyValueListHasItem_bool": lambda: k.KeyValueListHasItem("a", True),
        "KeyValueListIntersectList_str": lambda: k.KeyValueListIntersectList("a", "ab"),
        "KeyExists_int_key": lambda: k.KeyExists(5),
    }
    results = {}
    for label, make in cases.items():
        ok, obj = attempt(make)
        if not ok:
            results[label] = obj
        elif _is_tracker(obj):
            results[label] = {"ok": tracker_dict(obj)}
        else:
            results[label] = {"ok": repr(obj)}
    return results


@scenario
def tracker_repr_and_misc(manager, ns):
    """Tracker reprs with state prefixes, equality/hash, properties of completed/removed tracker objects."""
    k = ns.keys
    rec = Recorder(manager, ns)
    count = ns.CountTracker("c", [k.KeyExists("x")], 2, limiters=[ns.CountLimiter(1)])
    acc = ns.AccumulationTracker("a", [k.KeyValueGT("v", 0)], 10.5, "v")
    reprs = {"count_new": repr(count), "acc_new": repr(acc)}
    twin = ns.CountTracker("c", [k.KeyExists("x")], 2, limiters=[ns.CountLimiter(1)])
    misc = {
        "count == twin": outcome(lambda: count == twin),
        "count == 1": outcome(lambda: count == 1),
        "hash(count)": outcome(lambda: isinstance(hash(count), int)),
        "acc.key": acc.key,
        "conditions_type": type(count.conditions).__name__,
        "limiters_type": type(count.limiters).__name__,
    }
    rec.add("g", count)
    rec.add("g", acc)
    reprs["count_added"] = repr(count)
    result = rec.track("g", {"x": 1, "v": 20})
    if result:
        for t in result[1]:
            reprs["dirtied_" + t.name] = repr(t)
        for t in result[2]:
            reprs["completed_" + t.name] = repr(t)
            misc["completed." + t.name] = {
                "removed": t.removed,
                "completed": t.completed,
                "set_progress": outcome(setattr, t, "progress", 1),
                "reset": outcome(t.reset),
                "add_targets": outcome(t.add_targets, 5),
                "set_removed_false": outcome(setattr, t, "removed", False),
            }
    fetched = manager.get_trackers("g")
    for t in fetched:
        reprs["fetched_" + t.name] = repr(t)
        misc["fetched_group_id_" + t.name] = t.group_id
    local = ns.CountTracker("local", [k.KeyExists("x")], 1)
    rec.add("g2", local)
    rec.track("g2", {"x": 1})
    misc["added_object_after_completion"] = tracker_dict(local)
    return rec.trace(reprs=reprs, misc=misc)


@scenario
def target_edge_cases(manager, ns):
    """Target 0, empty target list (construction), decreasing stage targets, float targets, negative accumulation."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add("zero", ns.CountTracker("t", [k.KeyExists("x")], 0))
    rec.note(
        "empty_target_list",
        outcome(lambda: tracker_dict(ns.CountTracker("t", [k.KeyExists("x")], []))),
    )
    rec.add("decreasing", ns.CountTracker("t", [k.KeyExists("x")], [3, 1]))
    rec.add("float", ns.CountTracker("t", [k.KeyExists("x")], 2.5))
    rec.add("negative", ns.AccumulationTracker("t", [k.KeyExists("x")], -5, "v"))
    for group in ["zero", "decreasing", "float", "negative"]:
        rec.track(group, {"x": 1, "v": -3})
        rec.track(group, {"y": 1})
        rec.track(group, {"x": 1, "v": -3})
        rec.track(group, {"x": 1, "v": -3})
        rec.track(group, {"x": 1, "v": -3})
        rec.get(group)
    return rec.trace()


@scenario
def groups_isolation(manager, ns):
    """Same tracker name in two groups: tracking, resetting and removing one does not touch the other."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add("a", ns.CountTracker("t", [k.KeyExists("x")], 3))
    rec.add("b", ns.CountTracker("t", [k.KeyExists("x")], 3))
    rec.track("a", {"x": 1})
    rec.track("a", {"x": 1})
    rec.get("a")
    rec.get("b")
    rec.track("b", {"x": 1})
    rec.reset("a", "t", ns.ResetPolicy.PROGRESS)
    rec.remove("b", "t")
    rec.get("a")
    rec.get("b")
    rec.track("a", {"x": 1})
    rec.track("b", {"x": 1})
    return rec.trace()


@scenario
def track_argument_validation(manager, ns):
    """track with a non-dict payload or non-str group id; extra keyword arguments are passed through."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add("g", ns.CountTracker("t", [k.KeyExists("x")], 3))
    rec.track("g", [("x", 1)])
    rec.track("g", None)
    rec.track(5, {"x": 1})
    rec.track("g", {"x": 1}, unknown_option=True)
    rec.get("g")
    return rec.trace()


@scenario
def flush(manager, ns):
    """flush() without confirm is a no-op; flush(confirm=True) drops every group, cached or not."""
    k = ns.keys
    rec = Recorder(manager, ns)
    rec.add("cached", ns.CountTracker("t", [k.KeyExists("x")], 5))
    rec.add("stored", ns.CountTracker("t", [k.KeyExists("x")], 5))
    rec.track("cached", {"x": 1})
    rec.call("flush()", manager.flush)
    rec.get("cached")
    rec.get("stored")
    rec.call("flush(confirm=True)", manager.flush, confirm=True)
    rec.get("cached")
    rec.get("stored")
    rec.track("cached", {"x": 1})
    rec.add("cached", ns.CountTracker("t", [k.KeyExists("x")], 5))
    rec.get("cached")
    return rec.trace()
