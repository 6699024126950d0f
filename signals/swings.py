"""Swing highs and lows (docs/signals.md "Swing points"): whole-history detection and the incremental detector."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from signals.bars import Bars, BoolArray, FloatArray

DEFAULT_SWING_LENGTH = 5


class SwingKind(str, Enum):
    HIGH = "high"
    LOW = "low"


@dataclass(frozen=True, slots=True)
class Swing:
    """A swing point at bar ``index``, known at the close of bar ``confirmed_index`` (= index + n)."""

    time: int
    index: int
    kind: SwingKind
    price: float
    confirmed_time: int
    confirmed_index: int

    def to_dict(self) -> dict[str, object]:
        return {
            "time": self.time,
            "index": self.index,
            "kind": self.kind.value,
            "price": self.price,
            "confirmed_time": self.confirmed_time,
            "confirmed_index": self.confirmed_index,
        }


def _check_length(swing_length: int) -> None:
    if swing_length < 1:
        raise ValueError(f"swing length must be at least 1, got {swing_length}")


def swing_flags(high: FloatArray, low: FloatArray, swing_length: int) -> tuple[BoolArray, BoolArray]:
    """Boolean arrays (is swing high, is swing low) per bar, per the definition of docs/signals.md.

    Swing high at i: ``h[i] > max(h[i-n..i-1])`` and ``h[i] >= max(h[i+1..i+n])``; lows mirror it.
    Bars without n bars on both sides are never flagged.
    """
    _check_length(swing_length)
    n = swing_length
    count = high.shape[0]
    is_high = np.zeros(count, dtype=np.bool_)
    is_low = np.zeros(count, dtype=np.bool_)
    if count < 2 * n + 1:
        return is_high, is_low
    # Row k of a window covers bars k .. k+2n, so its centre is bar k+n.
    highs = sliding_window_view(high, 2 * n + 1)
    lows = sliding_window_view(low, 2 * n + 1)
    centre_high = high[n : count - n]
    centre_low = low[n : count - n]
    is_high[n : count - n] = (centre_high > highs[:, :n].max(axis=1)) & (centre_high >= highs[:, n + 1 :].max(axis=1))
    is_low[n : count - n] = (centre_low < lows[:, :n].min(axis=1)) & (centre_low <= lows[:, n + 1 :].min(axis=1))
    return is_high, is_low


def find_swings(bars: Bars, swing_length: int = DEFAULT_SWING_LENGTH) -> list[Swing]:
    """Every swing of the history, ordered by bar index (a high before a low on the same bar)."""
    is_high, is_low = swing_flags(bars.high, bars.low, swing_length)
    swings: list[Swing] = []
    times = bars.time
    for index in np.flatnonzero(is_high | is_low).tolist():
        confirmed = index + swing_length
        if is_high[index]:
            swings.append(
                Swing(
                    int(times[index]), index, SwingKind.HIGH, float(bars.high[index]), int(times[confirmed]), confirmed
                )
            )
        if is_low[index]:
            swings.append(
                Swing(int(times[index]), index, SwingKind.LOW, float(bars.low[index]), int(times[confirmed]), confirmed)
            )
    return swings


class SwingDetector:
    """Incremental swing detection: O(n) per bar, keeping only the last 2n+1 bars.

    ``update`` for bar t returns the swings at bar t-n, which bar t confirms; the comparisons are the same
    float comparisons as :func:`swing_flags`, so both paths agree exactly.
    """

    __slots__ = ("_highs", "_length", "_lows", "_times")

    def __init__(self, swing_length: int = DEFAULT_SWING_LENGTH) -> None:
        _check_length(swing_length)
        self._length = swing_length
        self._times: list[int] = []
        self._highs: list[float] = []
        self._lows: list[float] = []

    @property
    def swing_length(self) -> int:
        return self._length

    def update(self, index: int, time: int, high: float, low: float) -> tuple[Swing, ...]:
        n = self._length
        self._times.append(time)
        self._highs.append(high)
        self._lows.append(low)
        if len(self._times) > 2 * n + 1:
            del self._times[0], self._highs[0], self._lows[0]
        if len(self._times) < 2 * n + 1:
            return ()
        found: list[Swing] = []
        highs, lows = self._highs, self._lows
        centre_high, centre_low = highs[n], lows[n]
        if centre_high > max(highs[:n]) and centre_high >= max(highs[n + 1 :]):
            found.append(Swing(self._times[n], index - n, SwingKind.HIGH, centre_high, time, index))
        if centre_low < min(lows[:n]) and centre_low <= min(lows[n + 1 :]):
            found.append(Swing(self._times[n], index - n, SwingKind.LOW, centre_low, time, index))
        return tuple(found)
