"""How track_many cuts a round into cache calls (``_batch.cuts``): pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dictrack._batch import CHUNK, HEAD, LAST, MIN_CALL, cuts


def sizes(n: int) -> list[int]:
    edges = [0, *sorted(cuts(n)), n]
    return [b - a for a, b in zip(edges, edges[1:], strict=False)]


def test_a_round_of_100_goes_as_a_small_first_call_then_25s_then_a_small_last() -> None:
    assert sizes(100) == [10, 25, 25, 25, 15]
    assert sizes(25) == [25]  # no call would be worth splitting off
    assert sizes(30) == [10, 20]  # too few between the first and last: joined


@given(st.integers(1, 5_000))
def test_every_event_is_in_exactly_one_call_of_a_bounded_size(n: int) -> None:
    found = sizes(n)
    assert sum(found) == n and all(size > 0 for size in found)
    assert all(0 < cut < n for cut in cuts(n))
    if n <= HEAD + LAST:
        assert found == [n]
        return
    assert found[0] == HEAD  # the server starts early
    assert found[-1] <= LAST + MIN_CALL  # and has little left at the end
    assert all(MIN_CALL <= size <= CHUNK for size in found[1:-1])
    # Even sizes between: as few calls as CHUNK allows.
    assert max(found[1:-1], default=0) - min(found[1:-1], default=0) <= 1
