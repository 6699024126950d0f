"""OHLCV columns as read-only NumPy arrays: the input of every whole-history signal function."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from feeds.models import Candle

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class InvalidBars(ValueError):
    """OHLCV data that breaks an assumption of docs/signals.md (sorted unique times, positive finite prices)."""


def _frozen_float(values: object) -> FloatArray:
    array = np.array(values, dtype=np.float64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, slots=True, eq=False)
class Bars:
    """Columns of N candles, oldest first; ``time`` is each candle's open time in Unix seconds.

    Arrays are copied on construction and made read-only, so a ``Bars`` can be shared between threads.
    """

    time: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return int(self.time.shape[0])

    @classmethod
    def from_arrays(
        cls,
        time: object,
        open: object,
        high: object,
        low: object,
        close: object,
        volume: object | None = None,
    ) -> Bars:
        times = np.array(time, dtype=np.int64)
        times.setflags(write=False)
        columns = [_frozen_float(values) for values in (open, high, low, close)]
        volumes = _frozen_float(np.zeros(times.shape[0]) if volume is None else volume)
        lengths = {times.shape[0], volumes.shape[0], *(column.shape[0] for column in columns)}
        if len(lengths) != 1:
            raise InvalidBars(f"columns have different lengths: {sorted(lengths)}")
        if times.ndim != 1:
            raise InvalidBars("columns must be one-dimensional")
        return cls(times, columns[0], columns[1], columns[2], columns[3], volumes)

    @classmethod
    def from_candles(cls, candles: Sequence[Candle]) -> Bars:
        return cls.from_arrays(
            [c.time for c in candles],
            [c.open for c in candles],
            [c.high for c in candles],
            [c.low for c in candles],
            [c.close for c in candles],
            [c.volume for c in candles],
        )

    def candle(self, index: int) -> Candle:
        return Candle(
            int(self.time[index]),
            float(self.open[index]),
            float(self.high[index]),
            float(self.low[index]),
            float(self.close[index]),
            float(self.volume[index]),
        )

    def candles(self) -> list[Candle]:
        return [self.candle(i) for i in range(len(self))]

    def head(self, count: int) -> Bars:
        """The first ``count`` bars (views, no copy): what was known after bar ``count - 1`` closed."""
        return Bars(
            self.time[:count],
            self.open[:count],
            self.high[:count],
            self.low[:count],
            self.close[:count],
            self.volume[:count],
        )

    def tail(self, count: int) -> Bars:
        """The last ``count`` bars (views, no copy)."""
        start = max(0, len(self) - count)
        return Bars(
            self.time[start:],
            self.open[start:],
            self.high[start:],
            self.low[start:],
            self.close[start:],
            self.volume[start:],
        )


def validate_bars(bars: Bars) -> None:
    """Raise InvalidBars with a row number (0-based) for the first problem found."""
    if len(bars) == 0:
        raise InvalidBars("no candles")
    if len(bars) > 1:
        steps = np.diff(bars.time)
        bad = np.flatnonzero(steps <= 0)
        if bad.size:
            row = int(bad[0]) + 1
            what = "duplicate" if steps[bad[0]] == 0 else "unsorted"
            raise InvalidBars(f"{what} time at row {row}: times must be strictly increasing")
    for name in ("open", "high", "low", "close"):
        column: FloatArray = getattr(bars, name)
        bad = np.flatnonzero(~np.isfinite(column) | (column <= 0))
        if bad.size:
            row = int(bad[0])
            raise InvalidBars(f"non-positive or missing {name} at row {row}: {column[row]!r}")
    bad = np.flatnonzero(~np.isfinite(bars.volume) | (bars.volume < 0))
    if bad.size:
        raise InvalidBars(f"negative or missing volume at row {int(bad[0])}")
    bad = np.flatnonzero(
        (bars.high < bars.low)
        | (bars.high < np.maximum(bars.open, bars.close))
        | (bars.low > np.minimum(bars.open, bars.close))
    )
    if bad.size:
        raise InvalidBars(f"inconsistent candle at row {int(bad[0])}: high/low do not contain open and close")
