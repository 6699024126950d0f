"""Whole-history technical indicators with TA-Lib conventions (docs/signals.md "Indicators"), vectorised with NumPy.

Every function returns float arrays as long as its input, NaN where TA-Lib has no output yet (its
"lookback"), so index t always means bar t. Conventions (TA-Lib 0.4 C sources, ``ta_*.c``):

- SMA(n): first value at n-1.
- EMA(n): k = 2/(n+1), seeded with the SMA of the first n values, first value at n-1.
- RSI(n): Wilder smoothing seeded with the simple mean of the first n gains and losses; first value at
  index n; 0 when both averages are 0 (TA-Lib's choice for a flat series).
- MACD(12, 26, 9): slow EMA seeded with the mean of closes 0..25; the fast EMA is aligned on the slow one
  as TA-Lib does (seeded with the mean of closes 14..25, first value also at 25); the signal EMA is seeded
  with the mean of MACD 25..33. All three outputs start at index 33, as TA-Lib trims them.
- Bollinger(20, 2): SMA(20) ± 2 population standard deviations (TA_STDDEV divides by n).
- ATR(n): true range from bar 1, Wilder smoothing seeded with the mean of TR 1..n; first value at n.
- Stochastic(14, 3, 3): fast %K over 14 bars (0 when the range is 0), slow %K = SMA3(fast %K),
  %D = SMA3(slow %K); both outputs start at index 17 as TA-Lib trims them.
- OBV: starts at volume[0]; adds volume on an up close, subtracts on a down close.
- VWAP (not in TA-Lib): cumulative typical price × volume over cumulative volume, reset every UTC day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from signals.bars import Bars, FloatArray, IntArray
from signals.wire import num

RSI_PERIOD = 14
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
BB_PERIOD, BB_WIDTH = 20, 2.0
ATR_PERIOD = 14
STOCH_K, STOCH_SLOW_K, STOCH_D = 14, 3, 3
EMA_FAST, EMA_SLOW, SMA_PERIOD = 20, 50, 20

# Largest exponent kept inside one block of the blocked recurrence: a**-block stays below e**300.
_MAX_LOG_GROWTH = 300.0
_MAX_BLOCK = 512


def _nan(count: int) -> FloatArray:
    return np.full(count, np.nan)


def linear_recurrence(x: FloatArray, a: float, b: float, y0: float) -> FloatArray:
    """y[t] = a·y[t-1] + b·x[t] with y[-1] = y0, for 0 < a < 1, vectorised in blocks.

    Inside a block starting at s: y[s+m] = a^(m+1)·y0 + b·a^m·Σ_{j<=m} a^(-j)·x[s+j] (a cumulative sum);
    blocks are short enough that a^(-j) cannot overflow. Results match the sequential loop to ~1e-13
    relative, which is what EMA and Wilder smoothing (both of this form) need.
    """
    count = x.shape[0]
    out = np.empty(count)
    if count == 0:
        return out
    if not 0.0 < a < 1.0:
        raise ValueError(f"recurrence factor must be in (0, 1), got {a}")
    block = max(1, min(_MAX_BLOCK, int(_MAX_LOG_GROWTH / -math.log(a))))
    steps = np.arange(block, dtype=np.float64)
    grow = a ** (-steps)
    shrink = a**steps
    carry = a * shrink
    previous = y0
    for start in range(0, count, block):
        chunk = x[start : start + block]
        size = chunk.shape[0]
        values = carry[:size] * previous + b * shrink[:size] * np.cumsum(chunk * grow[:size])
        out[start : start + size] = values
        previous = float(values[-1])
    return out


def sma(values: FloatArray, period: int) -> FloatArray:
    count = values.shape[0]
    out = _nan(count)
    if count >= period:
        out[period - 1 :] = sliding_window_view(values, period).mean(axis=1)
    return out


def ema(values: FloatArray, period: int, start: int = 0) -> FloatArray:
    """TA-Lib EMA of ``values[start:]``: seeded with their first ``period`` values' mean at start+period-1."""
    count = values.shape[0]
    out = _nan(count)
    seed_end = start + period
    if count < seed_end:
        return out
    k = 2.0 / (period + 1)
    out[seed_end - 1] = float(np.mean(values[start:seed_end]))
    out[seed_end:] = linear_recurrence(values[seed_end:], 1.0 - k, k, out[seed_end - 1])
    return out


def _wilder(values: FloatArray, period: int, first: int) -> FloatArray:
    """Wilder's smoothing of ``values[first:]`` (1/n weight), seeded with the mean of its first n values."""
    count = values.shape[0]
    out = _nan(count)
    seed_end = first + period
    if count < seed_end:
        return out
    out[seed_end - 1] = float(np.mean(values[first:seed_end]))
    out[seed_end:] = linear_recurrence(values[seed_end:], (period - 1) / period, 1.0 / period, out[seed_end - 1])
    return out


def rsi(close: FloatArray, period: int = RSI_PERIOD) -> FloatArray:
    """Wilder's RSI (Wilder, "New Concepts in Technical Trading Systems", 1978), TA-Lib seeding."""
    count = close.shape[0]
    if count == 0:
        return _nan(0)
    change = np.r_[np.nan, np.diff(close)]
    gains = np.where(change > 0, change, 0.0)
    losses = np.where(change < 0, -change, 0.0)
    average_gain = _wilder(gains, period, 1)
    average_loss = _wilder(losses, period, 1)
    total = average_gain + average_loss
    out = _nan(count)
    ready = ~np.isnan(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[ready] = np.where(total[ready] != 0.0, 100.0 * average_gain[ready] / total[ready], 0.0)
    return out


def macd(
    close: FloatArray, fast: int = MACD_FAST, slow: int = MACD_SLOW, signal: int = MACD_SIGNAL
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line, signal line and histogram (Appel), with TA-Lib's seeding and output alignment."""
    count = close.shape[0]
    slow_line = ema(close, slow)
    fast_line = ema(close, fast, start=slow - fast)
    line = fast_line - slow_line
    signal_line = ema(line, signal, start=slow - 1)
    first = slow - 1 + signal - 1
    out_line, out_signal = _nan(count), _nan(count)
    out_line[first:] = line[first:]
    out_signal[first:] = signal_line[first:]
    return out_line, out_signal, out_line - out_signal


def bollinger(
    close: FloatArray, period: int = BB_PERIOD, width: float = BB_WIDTH
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bollinger bands (Bollinger, "Bollinger on Bollinger Bands", 2001): SMA ± width × population std."""
    count = close.shape[0]
    middle, deviation = _nan(count), _nan(count)
    if count >= period:
        windows = sliding_window_view(close, period)
        middle[period - 1 :] = windows.mean(axis=1)
        deviation[period - 1 :] = windows.std(axis=1)
    return middle + width * deviation, middle, middle - width * deviation


def true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """Wilder's true range; NaN at bar 0, which has no previous close (TA-Lib TRANGE)."""
    out = _nan(close.shape[0])
    if close.shape[0] > 1:
        previous = close[:-1]
        current_high, current_low = high[1:], low[1:]
        out[1:] = np.maximum(
            current_high - current_low, np.maximum(np.abs(current_high - previous), np.abs(current_low - previous))
        )
    return out


def atr(high: FloatArray, low: FloatArray, close: FloatArray, period: int = ATR_PERIOD) -> FloatArray:
    return _wilder(true_range(high, low, close), period, 1)


def stochastic(
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    k_period: int = STOCH_K,
    slow_k_period: int = STOCH_SLOW_K,
    d_period: int = STOCH_D,
) -> tuple[FloatArray, FloatArray]:
    """Slow stochastic %K and %D (Lane), SMA smoothing, TA-Lib's zero for a zero range and trimmed start."""
    count = close.shape[0]
    fast_k = _nan(count)
    if count >= k_period:
        highest = sliding_window_view(high, k_period).max(axis=1)
        lowest = sliding_window_view(low, k_period).min(axis=1)
        span = highest - lowest
        with np.errstate(invalid="ignore", divide="ignore"):
            fast_k[k_period - 1 :] = np.where(span != 0.0, 100.0 * (close[k_period - 1 :] - lowest) / span, 0.0)
    slow_k = _nan(count)
    start = k_period - 1
    slow_k[start:] = sma(fast_k[start:], slow_k_period)
    d = _nan(count)
    start += slow_k_period - 1
    d[start:] = sma(slow_k[start:], d_period)
    first = start + d_period - 1
    out_k = _nan(count)
    out_k[first:] = slow_k[first:]
    return out_k, d


def obv(close: FloatArray, volume: FloatArray) -> FloatArray:
    """On-balance volume (Granville, 1963), starting at volume[0] like TA-Lib."""
    if close.shape[0] == 0:
        return _nan(0)
    direction = np.sign(np.diff(close))
    return np.cumsum(np.r_[volume[0], direction * volume[1:]])


def vwap(time: IntArray, high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray) -> FloatArray:
    """Session VWAP with the typical price (h+l+c)/3, sessions being UTC days; NaN while the day has no volume."""
    typical = (high + low + close) / 3.0
    day = pd.Series(time // 86_400)
    weighted = pd.Series(typical * volume).groupby(day).cumsum().to_numpy(dtype=np.float64)
    total = pd.Series(volume).groupby(day).cumsum().to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0.0, weighted / np.where(total > 0.0, total, 1.0), np.nan)


@dataclass(frozen=True, slots=True)
class IndicatorValues:
    """Indicator values of one bar (NaN while an indicator is still in its warm-up)."""

    rsi: float = math.nan
    macd: float = math.nan
    signal: float = math.nan
    hist: float = math.nan
    bb_upper: float = math.nan
    bb_middle: float = math.nan
    bb_lower: float = math.nan
    ema_20: float = math.nan
    ema_50: float = math.nan
    sma_20: float = math.nan
    atr: float = math.nan
    stoch_k: float = math.nan
    stoch_d: float = math.nan
    obv: float = math.nan
    vwap: float = math.nan

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready: NaN becomes None."""
        return {field.name: num(getattr(self, field.name)) for field in fields(self)}


INDICATOR_NAMES: tuple[str, ...] = tuple(field.name for field in fields(IndicatorValues))


def compute_indicators(bars: Bars) -> dict[str, FloatArray]:
    """Every indicator of :class:`IndicatorValues` over the whole history, by name.

    Finite prices near the float limit (1e308) overflow to infinities or NaN, which are valid answers here (None
    on the wire): NumPy's overflow warnings for them are silenced rather than printed from the feed thread.
    """
    h, lo, c, v = bars.high, bars.low, bars.close, bars.volume
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _compute(h, lo, c, v, bars.time)


def _compute(h: FloatArray, lo: FloatArray, c: FloatArray, v: FloatArray, time: IntArray) -> dict[str, FloatArray]:
    line, signal_line, hist = macd(c)
    upper, middle, lower = bollinger(c)
    k, d = stochastic(h, lo, c)
    series = {
        "rsi": rsi(c),
        "macd": line,
        "signal": signal_line,
        "hist": hist,
        "bb_upper": upper,
        "bb_middle": middle,
        "bb_lower": lower,
        "ema_20": ema(c, EMA_FAST),
        "ema_50": ema(c, EMA_SLOW),
        "sma_20": sma(c, SMA_PERIOD),
        "atr": atr(h, lo, c),
        "stoch_k": k,
        "stoch_d": d,
        "obv": obv(c, v),
        "vwap": vwap(time, h, lo, c, v),
    }
    return series


def values_at(series: dict[str, FloatArray], index: int) -> IndicatorValues:
    """The :class:`IndicatorValues` of bar ``index`` (negative counts from the end); all NaN if out of range."""
    length = next(iter(series.values())).shape[0] if series else 0
    if not -length <= index < length:
        return IndicatorValues()
    return IndicatorValues(**{name: float(series[name][index]) for name in INDICATOR_NAMES})
