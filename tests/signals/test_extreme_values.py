"""Indicators, and the whole tracker built on them, survive any finite input: 1e308 prices, 5e-324, huge volumes.

Sources drop non-finite and non-positive prices (feeds/quote_validation.py), but 1e308 is a finite positive price,
so everything that computes with candles must take it without raising (it may answer NaN or None)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.models import Candle, Timeframe
from signals.analysis import analyze_candles
from signals.bars import Bars
from signals.indicators import compute_indicators
from signals.streaming import IndicatorState
from signals.tracker import SignalTracker

START = 1_704_067_200
EXTREMES = [1e308, 1.7976931348623157e308, 5e-324, 2.2250738585072014e-308, 1e-300, 1e300, 1.0, 100.0]

# Any positive finite float, with the extremes drawn often.
prices = st.one_of(st.sampled_from(EXTREMES),
                   st.floats(min_value=5e-324, max_value=1.7976931348623157e308, allow_nan=False,
                             allow_infinity=False))
volumes = st.one_of(st.sampled_from([0.0, 1e308, 1.7976931348623157e308, 1.0]),
                    st.floats(min_value=0.0, max_value=1.7976931348623157e308, allow_nan=False,
                              allow_infinity=False))


@st.composite
def extreme_candles(draw: st.DrawFn, min_size: int = 1, max_size: int = 40) -> list[Candle]:
    size = draw(st.integers(min_size, max_size))
    candles = []
    for i in range(size):
        a, b, c, d = (draw(prices) for _ in range(4))
        low, high = min(a, b, c, d), max(a, b, c, d)
        candles.append(Candle(START + 3600 * i, b if b != low else c, high, low, c, draw(volumes)))
    return candles


def _bars(candles: list[Candle]) -> Bars:
    return Bars.from_candles(candles)


def test_the_reported_overflow_is_gone() -> None:
    # 1e200 among prices near 1: the Bollinger deviation squared (1e400) raised OverflowError.
    state = IndicatorState()
    for i in range(25):
        price = 1e200 if i == 20 else 1.0
        values = state.update(START + 3600 * i, price, price, price, 1e308)
    assert values.bb_upper == math.inf and values.to_dict()["bb_upper"] is None
    compute_indicators(_bars([Candle(START + 3600 * i, 1e308, 1e308, 1.0, 1e308 if i % 2 else 1.0, 1e308)
                              for i in range(60)]))


@settings(max_examples=100, deadline=None)
@given(candles=extreme_candles(min_size=21, max_size=40))
def test_indicators_survive_any_finite_input(candles: list[Candle]) -> None:
    state = IndicatorState()
    for c in candles:
        values = state.update(c.time, c.high, c.low, c.close, c.volume)
        for name in values.__dataclass_fields__:
            value = getattr(values, name)
            assert value is None or isinstance(value, float)
    whole = compute_indicators(_bars(candles))
    assert all(len(series) == len(candles) for series in whole.values())
    assert all(np.asarray(series).dtype.kind == "f" for series in whole.values())


@settings(max_examples=30, deadline=None)
@given(candles=extreme_candles(min_size=21, max_size=40))
def test_the_tracker_and_the_analysis_survive_any_finite_input(candles: list[Candle]) -> None:
    tracker = SignalTracker("X", Timeframe.H1, clock=lambda: float(START))
    half = len(candles) // 2
    tracker.seed(candles[:half])
    for candle in candles[half:]:
        tracker.on_candle_closed(candle)
    assert tracker.stats()["last_candle_count"] == len(candles)
    tracker.overlays()
    tracker.signals()
    analyze_candles(candles, Timeframe.H1)
