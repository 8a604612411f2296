"""Trackers to plain JSON-compatible dicts and back; nothing is ever unpickled.

A tracker is stored as a *definition* (type, name, conditions, targets, limiter
settings, policy) and a *state* (progress, stage, flags, limiter counters), each
carrying the schema number ``"v"``. Types are looked up by registered name in
the registries filled as classes are defined (``BaseTracker``, ``BaseCondition``
and ``BaseLimiter`` subclasses register themselves), so decoding can build only
classes this process already defined.

Values inside conditions and limiters may be JSON values, tuples, sets and
timedeltas; the latter are tagged (``{"$tuple": [...]}``) so they come back as
they went in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

# The built-in types register themselves when their modules are imported; a
# process that only loads and tracks (a worker) must know them too.
import dictrack.conditions.keys
import dictrack.limiters.count
import dictrack.limiters.time
import dictrack.trackers.numerics.accumulation
import dictrack.trackers.numerics.count  # noqa: F401
from dictrack._plain import SCALARS
from dictrack._plain import from_plain as from_plain  # public here too
from dictrack._plain import to_plain as to_plain
from dictrack.conditions.base import CONDITION_TYPES, BaseCondition
from dictrack.conditions.keys import KeyExists
from dictrack.errors import DeserializationError
from dictrack.limiters.base import LIMITER_TYPES, BaseLimiter
from dictrack.records import TrackerRecord
from dictrack.schedules import schedule_from_plain
from dictrack.trackers import _validate as v
from dictrack.trackers.base import TRACKER_TYPES, BaseTracker, check_policy
from dictrack.typing import JSONDict

#: Schema number written into every definition and state.
SCHEMA_VERSION = 1


def _encode_condition(condition: BaseCondition) -> JSONDict:
    cached: JSONDict | None = getattr(condition, "_plain", None)
    if cached is not None:  # flat: a fresh copy shares nothing mutable
        return {"type": cached["type"], "params": dict(cached["params"])}
    params = dict(condition.__getstate__())
    params.pop("cls", None)  # 2.1.5-style custom conditions include their class
    encoded = {"type": type(condition).type_name, "params": to_plain(params)}
    if isinstance(condition, KeyExists) and all(
        type(v) in SCALARS for v in encoded["params"].values()
    ):
        # Built-in conditions never change once built: encode them once.
        condition._plain = {"type": encoded["type"], "params": dict(encoded["params"])}
    return encoded


def _encode_limiter(limiter: BaseLimiter) -> JSONDict:
    names = type(limiter)._setting_fields
    settings = {k: v for k, v in vars(limiter).items() if k in names}
    return {"type": type(limiter).type_name, "params": to_plain(settings)}


def _limiter_state(limiter: BaseLimiter) -> JSONDict:
    names = type(limiter)._setting_fields
    return {k: to_plain(v) for k, v in vars(limiter).items() if k not in names}


def encode_definition(tracker: BaseTracker) -> JSONDict:
    """Return what ``tracker`` is, as a plain dict.

    :raises TypeError: if a condition or limiter holds a value with no plain form.
    """
    definition: JSONDict = {
        "v": SCHEMA_VERSION,
        "type": type(tracker).type_name,
        "name": tracker._name,
        "conditions": [_encode_condition(c) for c in tracker._conditions],
        "targets": list(tracker._targets),
        "reset_policy": tracker._reset_policy,
        "loop_forever": tracker._loop_forever,
    }
    if tracker._limiters:
        definition["limiters"] = [_encode_limiter(lim) for lim in tracker._limiters]
    if tracker._schedule is not None:
        definition["schedule"] = tracker._schedule.to_plain()
    extra = tracker._definition_extra()
    if extra:
        definition["params"] = to_plain(extra)
    return definition


#: Identical definitions held once: a quest catalogue given to a million players
#: is one dict per quest in the cache. Bounded; cleared (not evicted) when full.
_SHARED: dict[str, JSONDict] = {}
_SHARED_TEXT: dict[int, str] = {}  # id of a shared dict -> its JSON (kept alive above)
_MAX_SHARED = 65_536


def share_definition(definition: JSONDict) -> JSONDict:
    """Return the one shared dict equal to ``definition``.

    For the cache's own records only: the result is shared between trackers
    and groups, so nobody may mutate it.
    """
    key = json.dumps(definition, sort_keys=True, separators=(",", ":"))
    found = _SHARED.get(key)
    if found is None:
        if len(_SHARED) >= _MAX_SHARED:
            _SHARED_TEXT.clear()
            _SHARED.clear()
        found = _SHARED.setdefault(key, definition)
        _SHARED_TEXT[id(found)] = key
    return found


def shared(records: Iterable[TrackerRecord]) -> list[TrackerRecord]:
    """``records`` with their definitions shared (see :func:`share_definition`):
    groups loaded from a store hold one dict per distinct definition, and
    share their matching plan. A definition that is not plain JSON stays as
    it is (decoding it reports what is wrong)."""
    out = []
    for record in records:
        try:
            out.append(record._replace(definition=share_definition(record.definition)))
        except (TypeError, ValueError):  # noqa: PERF203  # not JSON: not shared
            out.append(record)
    return out


def _shared_text(value: Mapping[str, Any]) -> str | None:
    """The JSON of ``value`` if it is a shared definition, else None."""
    text = _SHARED_TEXT.get(id(value))
    return text if text is not None and _SHARED.get(text) is value else None


def dumps(value: JSONDict) -> str:
    """Compact JSON of a definition or state (reuses the text of shared ones)."""
    text = _shared_text(value)
    if text is not None:
        return text
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def encode_state(tracker: BaseTracker) -> JSONDict:
    """Return where ``tracker`` stands, as a small plain dict."""
    state: JSONDict = {
        "v": SCHEMA_VERSION,
        "progress": tracker._progress,
        "stage": tracker._stage,
    }
    if tracker._completed:
        state["completed"] = True
    if tracker._limited:
        state["limited"] = True
    if tracker._limiters:
        state["limiters"] = [_limiter_state(lim) for lim in tracker._limiters]
    if tracker._period is not None:
        state["period"] = tracker._period
    if not tracker._known_only:  # a user's subclass: its own attributes too
        extra = tracker._extra_state()
        if extra:
            state["x"] = to_plain(extra)
    return state


def encode(
    tracker: BaseTracker,
    version: int = 0,
    expire_at: float | None = None,
    definition: JSONDict | None = None,
) -> TrackerRecord:
    """Return the :class:`~dictrack.records.TrackerRecord` of ``tracker``.

    :param definition: its definition, if the caller encoded it already.
    """
    return TrackerRecord(
        tracker._name,
        encode_definition(tracker) if definition is None else definition,
        encode_state(tracker),
        version,
        tracker._expire_at if expire_at is None else expire_at,
    )


def _lookup(registry: Mapping[str, type[Any]], name: object, kind: str) -> type[Any]:
    cls = registry.get(name) if isinstance(name, str) else None
    if cls is None:
        raise DeserializationError(
            f"{kind} type {name!r} is not registered in this process; import the "
            f"module that defines it before loading trackers that use it"
        )
    return cls


def _check_schema(data: Mapping[str, Any], what: str) -> None:
    found = data.get("v")
    if not isinstance(found, int) or found > SCHEMA_VERSION:
        raise DeserializationError(
            f"{what} has schema {found!r} but this dictrack reads up to "
            f"{SCHEMA_VERSION}; upgrade dictrack to read data written by a newer one"
        )


def _decode_condition(data: Mapping[str, Any]) -> BaseCondition:
    cls = _lookup(CONDITION_TYPES, data.get("type"), "condition")
    condition: BaseCondition = object.__new__(cls)
    condition.__setstate__(from_plain(data["params"]))
    return condition


def _decode_limiter(data: Mapping[str, Any], state: Any) -> BaseLimiter:
    cls = _lookup(LIMITER_TYPES, data.get("type"), "limiter")
    limiter: BaseLimiter = object.__new__(cls)
    limiter.__dict__.update(from_plain(data["params"]))
    if state is not None:
        limiter.__dict__.update(from_plain(state))
    return limiter


def decode(record: TrackerRecord, group_id: str) -> BaseTracker:
    """Rebuild the tracker of ``record`` (of group ``group_id``).

    :raises DeserializationError: naming the group and tracker, if the record
        is malformed, too new, or uses a type this process does not define.
    """
    try:
        return _decode(record.definition, record.state, group_id, record.expire_at)
    except DeserializationError as exc:
        raise DeserializationError(
            f"tracker {record.name!r} of group {group_id!r}: {exc}"
        ) from exc
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise DeserializationError(
            f"tracker {record.name!r} of group {group_id!r} is malformed "
            f"({type(exc).__name__}: {exc}); repair or remove it"
        ) from exc


#: What a shared definition makes of its trackers, decoded once: the trackers
#: of every group holding it share these immutable values (less memory, and
#: values that stay in the CPU's caches while a batch visits many groups).
#: Bounded; cleared (not evicted) when full, like the shared definitions.
_PARTS: dict[int, tuple[Mapping[str, Any], type[BaseTracker], dict[str, Any]]] = {}
_MAX_PARTS = 8_192


def _definition_part(
    definition: Mapping[str, Any],
) -> tuple[type[BaseTracker], dict[str, Any]]:
    """The tracker class of ``definition`` and the attributes it sets (checked):
    built once per shared definition, so its trackers share the values."""
    found = _PARTS.get(id(definition))
    if (
        found is not None
        and found[0] is definition
        and TRACKER_TYPES.get(definition["type"]) is found[1]  # not re-registered
    ):
        return found[1], found[2]
    _check_schema(definition, "definition")
    cls = _lookup(TRACKER_TYPES, definition.get("type"), "tracker")
    part: dict[str, Any] = {
        "_name": v.check_name(definition["name"], "name"),
        "_conditions": tuple(_decode_condition(c) for c in definition["conditions"]),
        "_targets": v.check_targets(definition["targets"], cumulative=False),
        "_reset_policy": check_policy(definition["reset_policy"]),
        "_loop_forever": v.check_bool(definition["loop_forever"], "loop_forever"),
    }
    if "schedule" in definition:
        part["_schedule"] = schedule_from_plain(definition["schedule"])
    if cls._known_only:  # a type of this package: its parameters are immutable
        probe = object.__new__(cls)
        probe._restore_extra(from_plain(definition.get("params", {})))
        part.update(vars(probe))
    if _shared_text(definition) is not None:
        if len(_PARTS) >= _MAX_PARTS:
            _PARTS.clear()
        _PARTS[id(definition)] = (definition, cls, part)
    return cls, part


def share_parts(tracker: BaseTracker, definition: JSONDict) -> None:
    """Give ``tracker`` the values its shared ``definition`` holds for every
    group (the same objects), when ``definition`` is shared and describes it.

    Only trackers and conditions of this package's types: their stored form
    gives them back exactly. A user's condition keeps its own object (it is
    rebuilt from its stored form only when the group is loaded again).
    """
    if (
        type(tracker)._known_only
        and _shared_text(definition) is not None
        and all(type(c).__module__.startswith("dictrack.") for c in tracker._conditions)
    ):
        cls, part = _definition_part(definition)
        if cls is type(tracker):
            tracker.__dict__.update(part)


def _decode(
    definition: Mapping[str, Any],
    state: Mapping[str, Any],
    group_id: str,
    expire_at: float | None,
) -> BaseTracker:
    _check_schema(definition, "definition")  # first: a newer schema explains
    _check_schema(state, "state")  # any other error that may follow
    cls, part = _definition_part(definition)
    tracker: BaseTracker = object.__new__(cls)
    tracker.__dict__.update(part)
    limiter_states = state.get("limiters") or []
    tracker._limiters = tuple(
        _decode_limiter(d, limiter_states[i] if i < len(limiter_states) else None)
        for i, d in enumerate(definition.get("limiters", ()))
    )
    tracker._group_id = group_id
    tracker._progress = v.check_number(state["progress"], "progress")
    tracker._stage = state["stage"]
    if isinstance(tracker._stage, bool) or not isinstance(tracker._stage, int):
        raise TypeError(f"stage must be an int, got {tracker._stage!r}")
    tracker._init_flags()
    tracker._completed = bool(state.get("completed", False))
    tracker._limited = bool(state.get("limited", False))
    tracker._expire_at = expire_at
    if "_schedule" in part:
        tracker._period = _period(state)
    if not 1 <= tracker._stage <= len(tracker._targets):
        raise ValueError(f"stage {tracker._stage} is outside the targets")
    if not cls._known_only:  # a user's type: its own restore, every time
        tracker._restore_extra(from_plain(definition.get("params", {})))
    if "x" in state:  # attributes of a user's subclass
        tracker.__dict__.update(from_plain(state["x"]))
    return tracker


def with_state(tracker: BaseTracker, record: TrackerRecord) -> BaseTracker:
    """A copy of ``tracker`` at the state of ``record`` (same definition).

    Much cheaper than :func:`decode`: conditions and limiters are not rebuilt.

    :raises DeserializationError: if the state is malformed or too new.
    """
    state = record.state
    try:
        _check_schema(state, "state")
        copy = tracker._clone()
        copy._progress = v.check_number(state["progress"], "progress")
        stage = state["stage"]
        if isinstance(stage, bool) or not isinstance(stage, int):
            raise TypeError(f"stage must be an int, got {stage!r}")
        if not 1 <= stage <= len(copy._targets):
            raise ValueError(f"stage {stage} is outside the targets")
        copy._stage = stage
        copy._completed = bool(state.get("completed", False))
        copy._limited = bool(state.get("limited", False))
        copy._dirtied = copy._matched = False
        if copy._schedule is not None:
            period = _period(state)
            if period != copy._period:
                copy._period, copy._period_end = period, None
        for limiter, found in zip(
            copy._limiters, state.get("limiters") or (), strict=False
        ):
            limiter.__dict__.update(from_plain(found))
        if "x" in state:
            copy.__dict__.update(from_plain(state["x"]))
        return copy
    except DeserializationError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DeserializationError(
            f"tracker {record.name!r} of group {tracker._group_id!r} has a malformed "
            f"state ({type(exc).__name__}: {exc}); repair or remove it"
        ) from exc


def _period(state: Mapping[str, Any]) -> float | None:
    """The ``period`` of a stored state (epoch seconds), checked."""
    period = state.get("period")
    if period is None:
        return None
    if isinstance(period, bool) or not isinstance(period, (int, float)):
        raise TypeError(f"period must be epoch seconds, got {period!r}")
    return period
