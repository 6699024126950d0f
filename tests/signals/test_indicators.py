"""Indicators against straightforward loop implementations of TA-Lib's conventions, plus hand-worked values."""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.bars import Bars
from signals.indicators import (
    INDICATOR_NAMES,
    atr,
    bollinger,
    compute_indicators,
    ema,
    linear_recurrence,
    macd,
    obv,
    rsi,
    sma,
    stochastic,
    values_at,
    vwap,
)
from signals.streaming import IndicatorState

NAN = math.nan
Strategy = Callable[..., st.SearchStrategy[Bars]]
WalkFactory = Callable[..., Bars]


# ----------------------------------------------------------------------------- reference implementations
def ref_sma(x: list[float], n: int) -> list[float]:
    return [NAN if i < n - 1 else sum(x[i - n + 1 : i + 1]) / n for i in range(len(x))]


def ref_ema(x: list[float], n: int, first: int = 0) -> list[float]:
    """TA-Lib TA_EMA: the seed is the mean of the first n inputs from ``first``; prev += k·(x − prev)."""
    out = [NAN] * len(x)
    k = 2.0 / (n + 1)
    if len(x) < first + n:
        return out
    prev = sum(x[first : first + n]) / n
    out[first + n - 1] = prev
    for i in range(first + n, len(x)):
        prev = (x[i] - prev) * k + prev
        out[i] = prev
    return out


def ref_rsi(c: list[float], n: int = 14) -> list[float]:
    """TA-Lib TA_RSI: mean of the first n gains/losses, then prev = (prev·(n−1) + x)/n; first output at n."""
    out = [NAN] * len(c)
    if len(c) <= n:
        return out
    gains = losses = 0.0
    for i in range(1, n + 1):
        d = c[i] - c[i - 1]
        gains += max(d, 0.0)
        losses += max(-d, 0.0)
    g, lo = gains / n, losses / n
    out[n] = 100.0 * g / (g + lo) if g + lo else 0.0
    for i in range(n + 1, len(c)):
        d = c[i] - c[i - 1]
        g = (g * (n - 1) + max(d, 0.0)) / n
        lo = (lo * (n - 1) + max(-d, 0.0)) / n
        out[i] = 100.0 * g / (g + lo) if g + lo else 0.0
    return out


def ref_macd(c: list[float]) -> tuple[list[float], list[float], list[float]]:
    """TA-Lib TA_MACD(12, 26, 9): the fast EMA is seeded on closes 14..25 so both EMAs start at 25; the signal
    EMA is seeded on MACD 25..33; all outputs start at 33."""
    slow = ref_ema(c, 26)
    fast = ref_ema(c, 12, first=14)
    line = [f - s for f, s in zip(fast, slow, strict=True)]
    signal = ref_ema(line, 9, first=25)
    out_line = [v if i >= 33 else NAN for i, v in enumerate(line)]
    out_signal = [v if i >= 33 else NAN for i, v in enumerate(signal)]
    return out_line, out_signal, [a - b for a, b in zip(out_line, out_signal, strict=True)]


def ref_bollinger(c: list[float], n: int = 20, k: float = 2.0) -> tuple[list[float], list[float], list[float]]:
    mid = ref_sma(c, n)
    up, low = [NAN] * len(c), [NAN] * len(c)
    for i in range(n - 1, len(c)):
        window = c[i - n + 1 : i + 1]
        sd = math.sqrt(sum((x - mid[i]) ** 2 for x in window) / n)  # population
        up[i], low[i] = mid[i] + k * sd, mid[i] - k * sd
    return up, mid, low


def ref_atr(h: list[float], lo: list[float], c: list[float], n: int = 14) -> list[float]:
    out = [NAN] * len(c)
    tr = [NAN] + [max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])) for i in range(1, len(c))]
    if len(c) <= n:
        return out
    prev = sum(tr[1 : n + 1]) / n
    out[n] = prev
    for i in range(n + 1, len(c)):
        prev = (prev * (n - 1) + tr[i]) / n
        out[i] = prev
    return out


def ref_stoch(h: list[float], lo: list[float], c: list[float]) -> tuple[list[float], list[float]]:
    fast = [NAN] * len(c)
    for i in range(13, len(c)):
        hh, ll = max(h[i - 13 : i + 1]), min(lo[i - 13 : i + 1])
        fast[i] = 100.0 * (c[i] - ll) / (hh - ll) if hh != ll else 0.0
    slow_k = [NAN if i < 15 else sum(fast[i - 2 : i + 1]) / 3 for i in range(len(c))]
    d = [NAN if i < 17 else sum(slow_k[i - 2 : i + 1]) / 3 for i in range(len(c))]
    return [v if i >= 17 else NAN for i, v in enumerate(slow_k)], d


def ref_obv(c: list[float], v: list[float]) -> list[float]:
    out, total = [], 0.0
    for i in range(len(c)):
        if i == 0:
            total = v[0]
        elif c[i] > c[i - 1]:
            total += v[i]
        elif c[i] < c[i - 1]:
            total -= v[i]
        out.append(total)
    return out


def ref_vwap(t: list[int], h: list[float], lo: list[float], c: list[float], v: list[float]) -> list[float]:
    out, day, pv, vol = [], None, 0.0, 0.0
    for i in range(len(c)):
        if t[i] // 86_400 != day:
            day, pv, vol = t[i] // 86_400, 0.0, 0.0
        pv += (h[i] + lo[i] + c[i]) / 3 * v[i]
        vol += v[i]
        out.append(pv / vol if vol else NAN)
    return out


def close_enough(actual: np.ndarray, expected: list[float]) -> None:
    np.testing.assert_allclose(actual, np.array(expected, dtype=float), rtol=1e-9, atol=1e-9, equal_nan=True)


# ----------------------------------------------------------------------------- hand-worked values
def test_sma_and_ema_by_hand() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    close_enough(sma(x, 3), [NAN, NAN, 2.0, 3.0, 4.0])
    # EMA(3): k = 0.5, seed mean(1, 2, 3) = 2 at index 2, then 2 + 0.5·(4 − 2) = 3, 3 + 0.5·(5 − 3) = 4.
    close_enough(ema(x, 3), [NAN, NAN, 2.0, 3.0, 4.0])
    close_enough(ema(np.array([2.0, 4.0, 6.0, 0.0]), 2), [NAN, 3.0, 5.0, 5.0 / 3.0])


@pytest.mark.parametrize(
    ("closes", "expected_last"),
    [
        pytest.param([float(k) for k in range(1, 17)], 100.0, id="only-gains"),
        pytest.param([float(k) for k in range(16, 0, -1)], 0.0, id="only-losses"),
        pytest.param([5.0] * 16, 0.0, id="flat-is-zero-like-ta-lib"),
        # Seven gains and seven losses of 1 give 50 at index 14; the gain at index 15 makes it
        # (0.5·13 + 1)/14 over (0.5·13 + 1)/14 + 0.5·13/14 = 7.5/14.
        pytest.param([1.0, 2.0] * 8, 100.0 * 7.5 / 14, id="alternating"),
    ],
)
def test_rsi_by_hand(closes: list[float], expected_last: float) -> None:
    out = rsi(np.array(closes))
    assert np.isnan(out[:14]).all()
    assert out[-1] == pytest.approx(expected_last)


def test_rsi_first_value_is_at_index_14() -> None:
    closes = np.array([10, 11, 10, 12, 13, 12, 14, 15, 14, 13, 15, 16, 15, 17, 18], dtype=float)
    gains = sum(max(b - a, 0) for a, b in pairwise(closes))
    losses = sum(max(a - b, 0) for a, b in pairwise(closes))
    out = rsi(closes)
    assert np.isnan(out[13])
    assert out[14] == pytest.approx(100 * gains / (gains + losses))


def test_bollinger_uses_population_deviation() -> None:
    closes = np.array([float(k % 2) for k in range(20)])  # ten 0s and ten 1s: mean 0.5, population sd 0.5
    upper, middle, lower = bollinger(closes)
    assert (middle[-1], upper[-1], lower[-1]) == pytest.approx((0.5, 1.5, -0.5))
    flat_upper, flat_middle, flat_lower = bollinger(np.full(25, 7.0))
    assert flat_upper[-1] == flat_middle[-1] == flat_lower[-1] == 7.0


def test_atr_by_hand() -> None:
    # Constant ranges of 2 with no gaps: every true range is 2, so ATR is 2 from index 14.
    c = np.full(20, 10.0)
    out = atr(c + 1, c - 1, c)
    assert np.isnan(out[:14]).all()
    close_enough(out[14:], [2.0] * 6)


def test_stochastic_zero_range_and_alignment() -> None:
    flat = np.full(20, 3.0)
    k, d = stochastic(flat, flat, flat)
    assert np.isnan(k[:17]).all() and np.isnan(d[:17]).all()
    assert k[17] == d[17] == 0.0
    # Closing at the top of the 14-bar range every time: 100.
    rising = np.arange(1.0, 21.0)
    k, d = stochastic(rising, rising - 0.5, rising)
    assert k[-1] == d[-1] == 100.0


def test_obv_by_hand() -> None:
    close_enough(obv(np.array([1.0, 2.0, 2.0, 1.0, 3.0]), np.array([10.0, 5.0, 7.0, 3.0, 1.0])), [10, 15, 15, 12, 13])


def test_vwap_resets_each_utc_day() -> None:
    day = 1_704_067_200
    times = np.array([day, day + 3_600, day + 86_400])
    price = np.array([10.0, 20.0, 30.0])
    out = vwap(times, price, price, price, np.array([1.0, 3.0, 2.0]))
    close_enough(out, [10.0, 17.5, 30.0])
    assert np.isnan(vwap(times, price, price, price, np.zeros(3))).all()


def test_macd_alignment() -> None:
    closes = np.linspace(100, 130, 40)
    line, signal, hist = macd(closes)
    assert np.isnan(line[:33]).all() and not np.isnan(line[33:]).any()
    assert np.isnan(signal[:33]).all() and np.isnan(hist[:33]).all()


def test_short_and_empty_inputs() -> None:
    for count in (0, 1, 5):
        x = np.arange(1.0, count + 1.0)
        assert np.isnan(rsi(x)).all() and np.isnan(ema(x, 10)).all() and np.isnan(sma(x, 10)).all()
        assert len(macd(x)[0]) == count and len(stochastic(x, x, x)[0]) == count


@pytest.mark.parametrize("a", [0.01, 1 / 3, 0.5, 13 / 14, 0.99, 0.9999])
def test_linear_recurrence_matches_the_loop(a: float) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 5.0, 3_000) + 50.0
    expected, y = [], 7.0
    for value in x:
        y = a * y + (1 - a) * value
        expected.append(y)
    np.testing.assert_allclose(linear_recurrence(x, a, 1 - a, 7.0), expected, rtol=1e-10, atol=1e-10)


def test_linear_recurrence_rejects_unstable_factor() -> None:
    with pytest.raises(ValueError, match="factor"):
        linear_recurrence(np.ones(3), 1.0, 0.0, 0.0)


# ----------------------------------------------------------------------------- against the references
def reference_all(bars: Bars) -> dict[str, list[float]]:
    t = bars.time.tolist()
    h, lo, c, v = (x.tolist() for x in (bars.high, bars.low, bars.close, bars.volume))
    line, signal, hist = ref_macd(c)
    up, mid, low = ref_bollinger(c)
    k, d = ref_stoch(h, lo, c)
    return {
        "rsi": ref_rsi(c),
        "macd": line,
        "signal": signal,
        "hist": hist,
        "bb_upper": up,
        "bb_middle": mid,
        "bb_lower": low,
        "ema_20": ref_ema(c, 20),
        "ema_50": ref_ema(c, 50),
        "sma_20": ref_sma(c, 20),
        "atr": ref_atr(h, lo, c),
        "stoch_k": k,
        "stoch_d": d,
        "obv": ref_obv(c, v),
        "vwap": ref_vwap(t, h, lo, c, v),
    }


def test_random_walk_matches_references(walk: WalkFactory) -> None:
    bars = walk(700, seed=11, step=900)
    computed = compute_indicators(bars)
    expected = reference_all(bars)
    assert tuple(computed) == INDICATOR_NAMES
    for name in INDICATOR_NAMES:
        close_enough(computed[name], expected[name])


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_grid_prices_match_references_and_stream(bars_strategy: Strategy, data: st.DataObject) -> None:
    """Coarse prices (many flat runs, zero ranges, zero volume): vectorised = reference = streaming."""
    bars = data.draw(bars_strategy(min_size=0, max_size=80))
    computed = compute_indicators(bars)
    expected = reference_all(bars)
    state = IndicatorState()
    streamed = [
        state.update(
            int(bars.time[i]), float(bars.high[i]), float(bars.low[i]), float(bars.close[i]), float(bars.volume[i])
        )
        for i in range(len(bars))
    ]
    for name in INDICATOR_NAMES:
        close_enough(computed[name], expected[name])
        close_enough(np.array([getattr(s, name) for s in streamed]), expected[name])


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_no_repaint(bars_strategy: Strategy, data: st.DataObject) -> None:
    """Indicator values of bar t never depend on later bars."""
    bars = data.draw(bars_strategy(min_size=40, max_size=70))
    full = compute_indicators(bars)
    for t in range(0, len(bars) + 1, 3):
        prefix = compute_indicators(bars.head(t))
        for name in INDICATOR_NAMES:
            close_enough(prefix[name], full[name][:t].tolist())


def test_values_at_turns_nan_into_none(walk: WalkFactory) -> None:
    bars = walk(30)
    values = values_at(compute_indicators(bars), -1)
    as_dict = values.to_dict()
    assert as_dict["ema_50"] is None and as_dict["macd"] is None
    assert as_dict["rsi"] == pytest.approx(values.rsi)
    assert values_at(compute_indicators(bars), 99).to_dict()["rsi"] is None
