"""First-crossing searches over a sparse table, against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.scan import (
    NOT_FOUND,
    first_above,
    first_at_or_above,
    first_at_or_below,
    first_below,
)

SEARCHES = {
    first_at_or_below: lambda x, v: x <= v,
    first_below: lambda x, v: x < v,
    first_above: lambda x, v: x > v,
    first_at_or_above: lambda x, v: x >= v,
}


def brute(values: list[float], start: int, threshold: float, test) -> int:
    for j in range(max(start, 0), len(values)):
        if test(values[j], threshold):
            return j
    return NOT_FOUND


@pytest.mark.parametrize(
    ("values", "start", "threshold", "expected"),
    [
        ([5, 4, 3, 2, 1], 0, 3, 2),
        ([5, 4, 3, 2, 1], 3, 3, 3),
        ([5, 4, 3, 2, 1], 0, 0.5, NOT_FOUND),
        ([1, 9, 9, 9], 1, 1, NOT_FOUND),
        ([3], 0, 3, 0),
        ([3], 1, 9, NOT_FOUND),
    ],
)
def test_first_at_or_below_by_hand(values: list[float], start: int, threshold: float, expected: int) -> None:
    found = first_at_or_below(np.array(values, dtype=float), np.array([start]), np.array([threshold], dtype=float))
    assert found.tolist() == [expected]


def test_empty_inputs() -> None:
    assert first_at_or_below(np.array([]), np.array([0]), np.array([1.0])).tolist() == [NOT_FOUND]
    assert first_at_or_below(np.array([1.0]), np.array([], dtype=np.int64), np.array([])).tolist() == []


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.integers(0, 12), min_size=1, max_size=70),
    queries=st.lists(st.tuples(st.integers(0, 75), st.integers(-1, 13)), min_size=1, max_size=20),
    search=st.sampled_from(list(SEARCHES)),
)
def test_matches_brute_force(
    values: list[int],
    queries: list[tuple[int, int]],
    search,
) -> None:
    array = np.array(values, dtype=float)
    starts = np.array([q[0] for q in queries], dtype=np.int64)
    thresholds = np.array([q[1] for q in queries], dtype=float)
    expected = [brute(values, s, v, SEARCHES[search]) for s, v in queries]
    assert search(array, starts, thresholds).tolist() == expected
