"""How track_many cuts a round into cache calls (``_batch.cuts``): pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dictrack._batch import CHUNK, MIN_CALL, TAIL, cuts


def sizes(n: int) -> list[int]:
    edges = [0, *sorted(cuts(n)), n]
    return [b - a for a, b in zip(edges, edges[1:], strict=False)]


def test_a_round_of_100_goes_as_40_30_20_10() -> None:
    assert sizes(100) == [40, 30, 20, 10]
    assert sizes(109) == [49, 30, 20, 10]  # fewer than MIN_CALL join the first
    assert sizes(30) == [20, 10]
    assert sizes(15) == [15]


@given(st.integers(1, 5_000))
def test_every_event_is_in_exactly_one_call_of_a_bounded_size(n: int) -> None:
    found = sizes(n)
    assert sum(found) == n and all(size > 0 for size in found)
    assert all(0 < cut < n for cut in cuts(n))
    if n < 2 * MIN_CALL:
        assert found == [n]
        return
    # The calls shrink towards the end: the last ones are the tail's sizes.
    tail = list(reversed(TAIL))[-(len(found) - 1) :]
    assert found[len(found) - len(tail) :] == tail
    assert all(MIN_CALL <= size < CHUNK + MIN_CALL for size in found)
