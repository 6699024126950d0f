"""Classic floor pivots from the previous completed period (docs/signals.md "Classic floor pivots")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from feeds.models import Timeframe
from signals.bars import Bars, IntArray

SECONDS_PER_DAY = 86_400
SECONDS_PER_WEEK = 7 * SECONDS_PER_DAY
# 1970-01-01 was a Thursday; the first ISO week start (Monday 00:00 UTC) after the epoch is 4 days later.
_MONDAY_OFFSET = 4 * SECONDS_PER_DAY


@dataclass(frozen=True, slots=True)
class FloorPivots:
    """Levels that apply to the period starting at ``period_start`` (Unix seconds, UTC), computed from the
    high, low and close of the previous period that has data."""

    period_start: int
    P: float
    R1: float
    R2: float
    R3: float
    S1: float
    S2: float
    S3: float

    @classmethod
    def from_hlc(cls, period_start: int, high: float, low: float, close: float) -> FloorPivots:
        # Classic (floor trader) pivots, as defined in docs/signals.md; e.g. Murphy, "Technical Analysis of the
        # Financial Markets" (1999), and every charting package's "Traditional" pivot type.
        p = (high + low + close) / 3.0
        return cls(
            period_start=period_start,
            P=p,
            R1=2.0 * p - low,
            R2=p + (high - low),
            R3=high + 2.0 * (p - low),
            S1=2.0 * p - high,
            S2=p - (high - low),
            S3=low - 2.0 * (high - p),
        )

    def levels(self) -> dict[str, float]:
        return {"S3": self.S3, "S2": self.S2, "S1": self.S1, "P": self.P, "R1": self.R1, "R2": self.R2, "R3": self.R3}

    def to_dict(self) -> dict[str, object]:
        return {"period_start": self.period_start, **self.levels()}


def weekly_periods(timeframe: Timeframe | None) -> bool:
    """ISO weeks for daily candles, UTC days for everything shorter (docs/signals.md)."""
    return timeframe is Timeframe.D1


def period_start(time: int, weekly: bool) -> int:
    if weekly:
        return (time - _MONDAY_OFFSET) // SECONDS_PER_WEEK * SECONDS_PER_WEEK + _MONDAY_OFFSET
    return time // SECONDS_PER_DAY * SECONDS_PER_DAY


def period_starts(times: IntArray, weekly: bool) -> IntArray:
    if weekly:
        return (times - _MONDAY_OFFSET) // SECONDS_PER_WEEK * SECONDS_PER_WEEK + _MONDAY_OFFSET
    return times // SECONDS_PER_DAY * SECONDS_PER_DAY


def find_floor_pivots(bars: Bars, timeframe: Timeframe | None = None) -> list[tuple[int, FloorPivots]]:
    """(first bar index of the period, its pivots) for every period after the first one that has data.

    The pivots of a period are known at the close of its first bar (the bar that shows the previous period
    is complete); periods without bars are skipped, so Monday's daily pivots come from Friday.
    """
    if len(bars) == 0:
        return []
    keys = period_starts(bars.time, weekly_periods(timeframe))
    firsts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    highs = np.maximum.reduceat(bars.high, firsts)
    lows = np.minimum.reduceat(bars.low, firsts)
    lasts = np.r_[firsts[1:] - 1, len(bars) - 1]
    closes = bars.close[lasts]
    return [
        (
            int(firsts[k]),
            FloorPivots.from_hlc(int(keys[firsts[k]]), float(highs[k - 1]), float(lows[k - 1]), float(closes[k - 1])),
        )
        for k in range(1, firsts.shape[0])
    ]


class FloorPivotTracker:
    """Running high/low/close of the current period; emits the next period's pivots at its first bar. O(1)."""

    __slots__ = ("_close", "_current", "_high", "_low", "_period", "_weekly")

    def __init__(self, timeframe: Timeframe | None = None) -> None:
        self._weekly = weekly_periods(timeframe)
        self._period: int | None = None
        self._high = 0.0
        self._low = 0.0
        self._close = 0.0
        self._current: FloorPivots | None = None

    @property
    def current(self) -> FloorPivots | None:
        """Pivots in force for the period of the last bar fed, if a previous period had data."""
        return self._current

    def update(self, time: int, high: float, low: float, close: float) -> FloorPivots | None:
        """Feed one bar; returns new pivots when the bar opens a new period, else None."""
        key = period_start(time, self._weekly)
        new: FloorPivots | None = None
        if self._period is None or key != self._period:
            if self._period is not None:
                new = FloorPivots.from_hlc(key, self._high, self._low, self._close)
                self._current = new
            self._period, self._high, self._low = key, high, low
        else:
            self._high = max(self._high, high)
            self._low = min(self._low, low)
        self._close = close
        return new
