"""Vectorised "first bar at or after s where the series crosses v" queries, answered for many (s, v) at once."""

from __future__ import annotations

import numpy as np

from signals.bars import FloatArray, IntArray

NOT_FOUND = -1


def _min_table(values: FloatArray) -> list[FloatArray]:
    """Sparse table: level k holds min(values[p : p + 2**k]) for every p where the block fits.

    O(N log N) memory and time once, then every query is a O(log N) descent (Bender & Farach-Colton's
    range-minimum table, used here for "first index" search instead of range queries).
    """
    levels = [values]
    size = 1
    while size * 2 <= values.shape[0]:
        previous = levels[-1]
        levels.append(np.minimum(previous[:-size], previous[size:]))
        size *= 2
    return levels


def first_at_or_below(values: FloatArray, starts: IntArray, thresholds: FloatArray) -> IntArray:
    """For each query q: the smallest j >= starts[q] with values[j] <= thresholds[q], or -1.

    Greedy descent over the sparse table: a whole block of length 2**k is skipped when its minimum is
    still above the threshold; blocks are tried from the largest down, so each query takes O(log N).
    """
    count = values.shape[0]
    starts = np.asarray(starts, dtype=np.int64)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if count == 0 or starts.shape[0] == 0:
        return np.full(starts.shape[0], NOT_FOUND, dtype=np.int64)
    position = starts.copy()
    levels = _min_table(values)
    for level in range(len(levels) - 1, -1, -1):
        size = 1 << level
        table = levels[level]
        fits = position <= count - size
        probe = np.where(fits, position, 0)
        skip = fits & (table[probe] > thresholds)
        position = position + np.where(skip, size, 0)
    inside = position < count
    found = inside & (values[np.where(inside, position, 0)] <= thresholds)
    return np.where(found, position, NOT_FOUND)


def first_above(values: FloatArray, starts: IntArray, thresholds: FloatArray) -> IntArray:
    """For each query q: the smallest j >= starts[q] with values[j] > thresholds[q] (strictly), or -1."""
    negated = -np.asarray(values, dtype=np.float64)
    # values[j] > v  <=>  -values[j] < -v; nextafter turns the strict test into the "<=" the table answers.
    # At the largest finite threshold the step goes to -inf, which is the right bound: no overflow to report.
    with np.errstate(over="ignore"):
        limits = np.nextafter(-np.asarray(thresholds, dtype=np.float64), -np.inf)
    return first_at_or_below(negated, starts, limits)


def first_below(values: FloatArray, starts: IntArray, thresholds: FloatArray) -> IntArray:
    """For each query q: the smallest j >= starts[q] with values[j] < thresholds[q] (strictly), or -1."""
    with np.errstate(over="ignore"):
        limits = np.nextafter(np.asarray(thresholds, dtype=np.float64), -np.inf)
    return first_at_or_below(np.asarray(values, dtype=np.float64), starts, limits)


def first_at_or_above(values: FloatArray, starts: IntArray, thresholds: FloatArray) -> IntArray:
    """For each query q: the smallest j >= starts[q] with values[j] >= thresholds[q], or -1."""
    return first_at_or_below(-np.asarray(values, dtype=np.float64), starts, -np.asarray(thresholds, dtype=np.float64))
