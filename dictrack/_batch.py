"""``track_many``: a batch in rounds, each round's writes pipelined.

A round takes the next pending event of every group (a batch whose groups are
distinct is one round). Its events are evaluated on the views held in process
and handed to the cache in chunks (see ``cuts``): the cache sends a chunk as
one call while the next is evaluated (Redis: see ``data_caches/_redis_wire.py``),
and each reply is finished (views installed, results built) as it arrives.
A group the cache refuses (another writer got there first) has its remaining
events tracked one by one afterwards, so the results are those of tracking
every event in order, and listeners hear each group's events in order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from dictrack.data_caches.base import ApplyStatus, CASOp
from dictrack.errors import BackendError, ConflictError
from dictrack.events import BaseEvent
from dictrack.results import TrackResult
from dictrack.typing import EventData

if TYPE_CHECKING:
    from dictrack._engine import Engine, Planned
    from dictrack._group import GroupView

Items = Sequence[tuple[str, EventData, str | None]]

#: Events per cache call: small enough that the server's work on one chunk
#: hides behind the evaluation of the next, large enough to amortise a call.
CHUNK = 40
#: A round's last calls, from its last: once the client has nothing left to
#: evaluate it waits for the server, so the calls shrink towards the end and
#: the server's work on each hides behind the evaluation of the next.
TAIL = (10, 20, 30)
#: A first call of fewer events than this joins the next one.
MIN_CALL = 10
#: Looked up once: an enum member's lookup costs ~50 ns, per event here.
_APPLIED, _DUPLICATE = ApplyStatus.APPLIED, ApplyStatus.DUPLICATE
#: A CASOp from a full tuple, without its Python-level ``__new__`` (hot).
_op = tuple.__new__


def cuts(n: int) -> frozenset[int]:
    """Where a round of ``n`` events is cut into calls: after how many
    events (100 events: 40, 30, 20 and 10 per call)."""
    found: list[int] = []
    end = n
    for size in TAIL:
        end -= size
        found.append(end)
    while end >= MIN_CALL:
        end -= CHUNK
        found.append(end)
    return frozenset(cut for cut in found if cut >= MIN_CALL)


def track_many(
    engine: Engine, items: Items, now: float, kwargs: dict[str, Any]
) -> list[TrackResult]:
    """The results of tracking each item in order (see the module docstring)."""
    results: list[TrackResult | None] = [None] * len(items)
    pending = list(range(len(items)))
    refused: set[str] = set()
    while pending:
        batch: dict[str, int] = {}
        later: list[int] = []
        for i in pending:
            group_id = items[i][0]
            if group_id in refused:
                continue
            if group_id in batch:
                later.append(i)
            else:
                batch[group_id] = i
        Round(engine, items, now, kwargs).run(list(batch.values()), results, refused)
        pending = later
    # A round that returns has a result for each of its events but those of
    # the groups it refused: their events go one by one, in order.
    if refused:
        for i, (group_id, data, event_id) in enumerate(items):
            if results[i] is not None:
                continue
            try:
                results[i] = engine.track(group_id, data, now, event_id, kwargs)
            except ConflictError as exc:  # tell the caller where to resume
                raise ConflictError(group_id, exc.attempts, list(results)) from exc
    return [result for result in results if result is not None]


class Round:
    """One event of each of several groups, evaluated and written in chunks.

    An event a tracker refuses (it raises) ends the round there: the events
    before it stay applied and are reported, then the error is raised; so is
    a group's foreign data, after the other groups' events. With both, the
    error of the earlier event is raised (however far ahead the cache pulled).
    """

    def __init__(
        self, engine: Engine, items: Items, now: float, kwargs: dict[str, Any]
    ) -> None:
        self.engine = engine
        self.items = items
        self.now = now
        self.kwargs = kwargs
        self.sent: deque[Planned] = deque()  # awaiting results, in order
        self.failed: list[tuple[int, Exception]] = []  # (item index, error)

    def run(
        self,
        chosen: list[int],
        results: list[TrackResult | None],
        refused: set[str],
    ) -> None:
        engine, now, sent = self.engine, self.now, self.sent
        items_of = iter(chosen)  # replies come in the order of the items sent
        # Loaded first; each is let go once planned, so an old view is freed as
        # its reply is finished, not all at the round's end.
        views = deque(engine._held(self.items[i][0]) for i in chosen)
        events: list[BaseEvent] = []
        try:
            for replies in engine.cache.compare_and_set_stream(
                self._chunks(chosen, views)
            ):
                for reply in replies:
                    i, plan = next(items_of), sent.popleft()
                    if isinstance(reply, BackendError):  # foreign data
                        self.failed.append((i, reply))
                    elif reply.status is _APPLIED:
                        results[i], caused = engine.finish(plan, now)
                        events += caused
                    elif reply.status is _DUPLICATE:
                        results[i] = engine.duplicate(plan.before, now)
                    else:  # the rest of this group goes one by one, in order
                        engine._forget(plan.before)
                        refused.add(plan.before.group_id)
        finally:  # what was applied is reported, whatever stopped the round
            engine.listeners.dispatch(events)
        if self.failed:
            raise min(self.failed, key=lambda failure: failure[0])[1]

    def _chunks(
        self, chosen: list[int], views: deque[GroupView]
    ) -> Iterator[list[CASOp]]:
        """The ops of each chunk, evaluated as the cache asks for them."""
        plan, items, now, kwargs = self.engine.plan, self.items, self.now, self.kwargs
        ops: list[CASOp] = []
        ends = cuts(len(chosen))
        for n, i in enumerate(chosen, 1):
            view = views.popleft()
            group_id, data, event_id = items[i]
            try:
                planned = plan(view, data, now, kwargs)
            except Exception as exc:  # raised once the round is reported
                self.failed.append((i, exc))
                break
            self.sent.append(planned)
            ops.append(
                _op(CASOp, (group_id, view.version, planned.writes, event_id, True))
            )
            if n in ends:
                yield ops
                ops = []
        if ops:
            yield ops
