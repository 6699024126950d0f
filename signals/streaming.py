"""Incremental indicator state: one closed bar in, the bar's :class:`IndicatorValues` out, O(1) per bar.

Same conventions as :mod:`signals.indicators` (TA-Lib seeding and output alignment); the two paths agree
to floating-point rounding, which tests check bar for bar. Any finite input is taken without raising: values
too large for a float come out as infinities or NaN (None on the wire), never as an exception in the feed thread.
"""

from __future__ import annotations

import math
from collections import deque

from signals.indicators import (
    ATR_PERIOD,
    BB_PERIOD,
    BB_WIDTH,
    EMA_FAST,
    EMA_SLOW,
    MACD_FAST,
    MACD_SIGNAL,
    MACD_SLOW,
    RSI_PERIOD,
    SMA_PERIOD,
    STOCH_D,
    STOCH_K,
    STOCH_SLOW_K,
    IndicatorValues,
)

NAN = math.nan


class _SeededSmoothing:
    """TA-Lib seeding: NaN until ``period`` values are fed, then their mean; after that Wilder's step when ``k`` is
    None, else the EMA step with weight ``k``. A branch, not an overridden step method: that extra call made each
    update about a fifth slower, and every bar runs eight of them."""

    __slots__ = ("_fed", "_k", "_period", "_total", "value")

    def __init__(self, period: int, k: float | None) -> None:
        self._period = period
        self._k = k
        self._fed = 0
        self._total = 0.0
        self.value = NAN

    def update(self, x: float) -> float:
        self._fed += 1
        if self._fed < self._period:
            self._total += x
        elif self._fed == self._period:
            self.value = (self._total + x) / self._period
        elif self._k is None:
            self.value = (self.value * (self._period - 1) + x) / self._period
        else:
            self.value += self._k * (x - self.value)
        return self.value


class Ema(_SeededSmoothing):
    """TA-Lib EMA: the first ``period`` values fed are averaged into the seed, then y += k·(x − y)."""

    __slots__ = ()

    def __init__(self, period: int) -> None:
        super().__init__(period, 2.0 / (period + 1))


class Wilder(_SeededSmoothing):
    """Wilder's smoothing, seeded with the mean of the first ``period`` values: y = (y·(n−1) + x)/n."""

    __slots__ = ()

    def __init__(self, period: int) -> None:
        super().__init__(period, None)


def _mean(window: deque[float]) -> float:
    return sum(window) / len(window)


class IndicatorState:
    """Everything :func:`signals.indicators.compute_indicators` computes, one bar at a time."""

    __slots__ = (
        "_atr",
        "_bar",
        "_closes",
        "_day",
        "_day_pv",
        "_day_volume",
        "_ema_fast",
        "_ema_slow",
        "_fast_k",
        "_highs",
        "_lows",
        "_macd_fast",
        "_macd_signal",
        "_macd_slow",
        "_obv",
        "_previous_close",
        "_rsi_gain",
        "_rsi_loss",
        "_slow_k",
        "latest",
    )

    def __init__(self) -> None:
        self._bar = 0
        self._previous_close = NAN
        self._rsi_gain, self._rsi_loss = Wilder(RSI_PERIOD), Wilder(RSI_PERIOD)
        self._macd_fast, self._macd_slow, self._macd_signal = Ema(MACD_FAST), Ema(MACD_SLOW), Ema(MACD_SIGNAL)
        self._ema_fast, self._ema_slow = Ema(EMA_FAST), Ema(EMA_SLOW)
        self._closes: deque[float] = deque(maxlen=max(BB_PERIOD, SMA_PERIOD))
        self._atr = Wilder(ATR_PERIOD)
        self._highs: deque[float] = deque(maxlen=STOCH_K)
        self._lows: deque[float] = deque(maxlen=STOCH_K)
        self._fast_k: deque[float] = deque(maxlen=STOCH_SLOW_K)
        self._slow_k: deque[float] = deque(maxlen=STOCH_D)
        self._obv = NAN
        self._day = -1
        self._day_pv = 0.0
        self._day_volume = 0.0
        self.latest = IndicatorValues()

    def update(self, time: int, high: float, low: float, close: float, volume: float) -> IndicatorValues:
        bar = self._bar
        self._bar += 1
        previous = self._previous_close
        self._previous_close = close

        rsi = NAN
        if bar >= 1:
            change = close - previous
            gain = self._rsi_gain.update(change if change > 0 else 0.0)
            loss = self._rsi_loss.update(-change if change < 0 else 0.0)
            if not math.isnan(gain):
                rsi = 100.0 * gain / (gain + loss) if gain + loss != 0.0 else 0.0

        # TA-Lib aligns the fast EMA on the slow one: it starts at bar slow − fast (see signals.indicators).
        slow = self._macd_slow.update(close)
        fast = self._macd_fast.update(close) if bar >= MACD_SLOW - MACD_FAST else NAN
        line = signal = hist = NAN
        if not math.isnan(slow):
            raw = fast - slow
            signal_value = self._macd_signal.update(raw)
            if not math.isnan(signal_value):
                line, signal, hist = raw, signal_value, raw - signal_value

        self._closes.append(close)
        sma = upper = middle = lower = NAN
        if len(self._closes) >= SMA_PERIOD:
            sma = middle = _mean(self._closes)
            # d * d, not d ** 2: near 1e308 a product turns into inf while a float power raises OverflowError.
            deviation = math.sqrt(sum((x - middle) * (x - middle) for x in self._closes) / len(self._closes))
            upper, lower = middle + BB_WIDTH * deviation, middle - BB_WIDTH * deviation

        atr = NAN
        if bar >= 1:
            true_range = max(high - low, abs(high - previous), abs(low - previous))
            atr = self._atr.update(true_range)

        self._highs.append(high)
        self._lows.append(low)
        stoch_k = stoch_d = NAN
        if len(self._highs) == STOCH_K:
            highest, lowest = max(self._highs), min(self._lows)
            span = highest - lowest
            self._fast_k.append(100.0 * (close - lowest) / span if span != 0.0 else 0.0)
            if len(self._fast_k) == STOCH_SLOW_K:
                self._slow_k.append(_mean(self._fast_k))
                if len(self._slow_k) == STOCH_D:
                    stoch_k, stoch_d = self._slow_k[-1], _mean(self._slow_k)

        if bar == 0:
            self._obv = volume
        elif close > previous:
            self._obv += volume
        elif close < previous:
            self._obv -= volume

        day = time // 86_400
        if day != self._day:
            self._day, self._day_pv, self._day_volume = day, 0.0, 0.0
        self._day_pv += (high + low + close) / 3.0 * volume
        self._day_volume += volume
        vwap = self._day_pv / self._day_volume if self._day_volume > 0.0 else NAN

        self.latest = IndicatorValues(
            rsi=rsi,
            macd=line,
            signal=signal,
            hist=hist,
            bb_upper=upper,
            bb_middle=middle,
            bb_lower=lower,
            ema_20=self._ema_fast.update(close),
            ema_50=self._ema_slow.update(close),
            sma_20=sma,
            atr=atr,
            stoch_k=stoch_k,
            stoch_d=stoch_d,
            obv=self._obv,
            vwap=vwap,
        )
        return self.latest
