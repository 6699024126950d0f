"""Fixtures for the signal tests: bars from hand-written rows, and a Hypothesis strategy for random OHLCV."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import strategies as st

from signals.bars import Bars

# Monday 2024-01-01 00:00 UTC: hand-written bars start at a day (and ISO week) boundary.
START = 1_704_067_200
HOUR = 3_600

Row = Sequence[float]
BarsFactory = Callable[..., Bars]


def bars_from_rows(rows: Sequence[Row], step: int = HOUR, start: int = START) -> Bars:
    """Rows of (open, high, low, close[, volume]); volume defaults to 100; times every ``step`` seconds."""
    opens = [row[0] for row in rows]
    volumes = [row[4] if len(row) > 4 else 100.0 for row in rows]
    return Bars.from_arrays(
        [start + k * step for k in range(len(rows))],
        opens,
        [row[1] for row in rows],
        [row[2] for row in rows],
        [row[3] for row in rows],
        volumes,
    )


def bars_from_hl(highs: Sequence[float], lows: Sequence[float] | None = None) -> Bars:
    """Bars where only highs/lows matter (swings): open = close = midpoint."""
    lows = lows if lows is not None else [h - 1.0 for h in highs]
    rows = [((h + lo) / 2, h, lo, (h + lo) / 2) for h, lo in zip(highs, lows, strict=True)]
    return bars_from_rows(rows)


@st.composite
def ohlcv_bars(draw: st.DrawFn, min_size: int = 0, max_size: int = 60, step: int = HOUR) -> Bars:
    """Random but consistent candles on a coarse price grid, so ties, dojis and flat runs are common."""
    size = draw(st.integers(min_size, max_size))
    opens = draw(st.lists(st.integers(10, 30), min_size=size, max_size=size))
    closes = draw(st.lists(st.integers(10, 30), min_size=size, max_size=size))
    ups = draw(st.lists(st.integers(0, 3), min_size=size, max_size=size))
    downs = draw(st.lists(st.integers(0, 3), min_size=size, max_size=size))
    volumes = draw(st.lists(st.integers(0, 50), min_size=size, max_size=size))
    gaps = draw(st.lists(st.sampled_from([1, 1, 1, 2, 30]), min_size=size, max_size=size))
    o = np.array(opens, dtype=float)
    c = np.array(closes, dtype=float)
    h = np.maximum(o, c) + np.array(ups, dtype=float)
    lo = np.minimum(o, c) - np.array(downs, dtype=float)
    # Irregular spacing (some multi-hour and 30-hour jumps) exercises the day and week boundaries.
    times = START + step * np.cumsum([0, *gaps[1:]]) if size else np.array([], dtype=np.int64)
    return Bars.from_arrays(times, o, h, lo, c, np.array(volumes, dtype=float))


def random_walk(count: int, seed: int = 7, step: int = HOUR) -> Bars:
    """A deterministic geometric random walk with realistic candles."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, count)))
    open_ = np.r_[100.0, close[:-1]] * (1.0 + rng.normal(0.0, 0.002, count))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.006, count))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.006, count))
    volume = rng.uniform(100.0, 1_000.0, count).round()
    return Bars.from_arrays(START + step * np.arange(count), open_, high, low, close, volume)


@pytest.fixture(scope="session")
def rows_to_bars() -> Callable[..., Bars]:
    return bars_from_rows


@pytest.fixture(scope="session")
def hl_to_bars() -> Callable[..., Bars]:
    return bars_from_hl


@pytest.fixture(scope="session")
def walk() -> Callable[..., Bars]:
    return random_walk


@pytest.fixture(scope="session")
def bars_strategy() -> Callable[..., st.SearchStrategy[Bars]]:
    """``data.draw(bars_strategy(min_size=.., max_size=..))`` inside a ``@given(data=st.data())`` test."""
    return ohlcv_bars
