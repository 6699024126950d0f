"""Fixed-capacity window of the latest bars in NumPy arrays, O(1) per append, always one contiguous view."""

from __future__ import annotations

import numpy as np

from signals.bars import Bars

DEFAULT_CAPACITY = 500


class BarRing:
    """The last ``capacity`` bars as NumPy columns.

    Every bar is written twice, at slot p and p + capacity, so the latest k bars are always the contiguous
    slice ending at p + capacity + 1: reading a window never copies or re-orders. Views returned by
    :meth:`view` change on the next append (same-thread use only); :meth:`copy` is safe to share.
    """

    __slots__ = ("_capacity", "_columns", "_count", "_times")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._count = 0
        self._times = np.zeros(2 * capacity, dtype=np.int64)
        self._columns = np.zeros((5, 2 * capacity), dtype=np.float64)

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        return min(self._count, self._capacity)

    @property
    def total(self) -> int:
        """Bars appended since creation (not bounded by the capacity)."""
        return self._count

    def append(self, time: int, open_: float, high: float, low: float, close: float, volume: float) -> None:
        slot = self._count % self._capacity
        twin = slot + self._capacity
        self._times[slot] = self._times[twin] = time
        row = (open_, high, low, close, volume)
        self._columns[:, slot] = row
        self._columns[:, twin] = row
        self._count += 1

    def view(self, count: int | None = None) -> Bars:
        """The latest ``count`` bars (all kept bars by default) as views into the buffer."""
        size = len(self) if count is None else max(0, min(count, len(self)))
        end = (self._count - 1) % self._capacity + self._capacity + 1 if self._count else 0
        start = end - size
        columns = self._columns[:, start:end]
        return Bars(self._times[start:end], columns[0], columns[1], columns[2], columns[3], columns[4])

    def copy(self, count: int | None = None) -> Bars:
        window = self.view(count)
        return Bars.from_arrays(window.time, window.open, window.high, window.low, window.close, window.volume)
