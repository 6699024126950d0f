"""The simulated market: a deterministic, continuous price path per (symbol, seed), served as quotes and history.

The path is built top-down so that any instant can be computed without replaying the past:

1. Daily anchors: the log price at each UTC midnight follows a mean-reverting random walk (Ornstein-Uhlenbeck
   on log price, half-life of about a year) around the symbol's base price.
2. Minutes of one day: geometric Brownian motion with a drift that changes every 20 minutes (trends and
   reversals) and rare jumps at a minute's open (gaps), pinned as a Brownian bridge to the next day's anchor.
   Each minute gets its open, close, high and low, and a volume that follows a U-shaped day curve.
3. Inside a minute: a jagged path through the open, ten random waypoints (two of them exactly the minute's high
   and low) and the close; volume accrues evenly.

Every random draw comes from a generator seeded by (seed, symbol, level, index), so history requested today and
live ticks produced tomorrow are the same path: the first live candle continues the last history candle.
The market trades around the clock (like crypto); there are no sessions or holidays.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from feeds.models import SECONDS_PER_DAY, Candle, OptionChain, Period, Quote, Timeframe
from feeds.source import UnsupportedRequest

MINUTES_PER_DAY = 1440
MINUTES_PER_YEAR = 525_600
# First day of the simulated past (2015-01-01); "max" history starts here.
EPOCH_DAY = 16_436
MAX_CANDLES_PER_REQUEST = 50_000

_DRIFT_BLOCK_MINUTES = 20
_DRIFT_SCALE = 0.45  # per-minute drift, in units of the per-minute volatility
_JUMP_PROBABILITY = 1 / 90  # per minute: about one gap every hour and a half
_JUMP_SCALE = 4.0
_WICK_SCALE = 0.6
_WAYPOINTS = 10
_OU_THETA = math.log(2) / 365  # daily mean reversion of the anchors
_ANCHOR_CHUNK = 512


@dataclass(frozen=True, slots=True)
class SymbolProfile:
    base_price: float
    annual_volatility: float
    spread_bps: float
    volume_per_minute: float
    decimals: int


_KNOWN_PROFILES: dict[str, SymbolProfile] = {
    "AAPL": SymbolProfile(190.0, 0.28, 1.0, 60_000, 2),
    "MSFT": SymbolProfile(420.0, 0.26, 1.0, 30_000, 2),
    "GOOGL": SymbolProfile(170.0, 0.30, 1.2, 35_000, 2),
    "AMZN": SymbolProfile(185.0, 0.32, 1.2, 45_000, 2),
    "NVDA": SymbolProfile(120.0, 0.50, 1.0, 300_000, 2),
    "TSLA": SymbolProfile(240.0, 0.60, 1.5, 120_000, 2),
    "META": SymbolProfile(500.0, 0.35, 1.2, 20_000, 2),
    "SPY": SymbolProfile(520.0, 0.15, 0.3, 80_000, 2),
    "QQQ": SymbolProfile(440.0, 0.20, 0.4, 50_000, 2),
    "^GSPC": SymbolProfile(5200.0, 0.16, 0.5, 250_000, 2),
    "^DJI": SymbolProfile(39_000.0, 0.15, 0.5, 30_000, 2),
    "^IXIC": SymbolProfile(16_000.0, 0.21, 0.5, 500_000, 2),
    "GC=F": SymbolProfile(2350.0, 0.15, 2.0, 1_500, 1),
    "SI=F": SymbolProfile(28.0, 0.28, 3.0, 800, 3),
    "CL=F": SymbolProfile(78.0, 0.35, 2.0, 4_000, 2),
    "BTC-USD": SymbolProfile(65_000.0, 0.55, 1.0, 25, 2),
    "ETH-USD": SymbolProfile(3200.0, 0.65, 1.5, 300, 2),
    "EURUSD=X": SymbolProfile(1.08, 0.07, 0.8, 50_000, 5),
    "GBPUSD=X": SymbolProfile(1.27, 0.08, 1.0, 40_000, 5),
    "JPY=X": SymbolProfile(155.0, 0.09, 1.0, 40_000, 3),
}


def _stable_hash(text: str) -> int:
    """A 32-bit hash that, unlike hash(), is the same in every process."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")


def profile_for(symbol: str) -> SymbolProfile:
    """The known profile of a symbol, or one derived from its name so that every valid symbol trades."""
    if symbol in _KNOWN_PROFILES:
        return _KNOWN_PROFILES[symbol]
    h = _stable_hash(symbol)
    if symbol.endswith("=X"):
        return SymbolProfile(0.5 + (h % 1500) / 1000, 0.06 + (h >> 11) % 6 / 100, 1.0, 30_000, 5)
    if symbol.endswith("-USD"):
        return SymbolProfile(0.5 + (h % 2000), 0.6 + (h >> 11) % 30 / 100, 2.0, 5_000, 4)
    return SymbolProfile(10 + (h % 49_000) / 100, 0.2 + (h >> 11) % 40 / 100, 2.0, 10_000 + (h >> 7) % 40_000, 2)


def _volume_day_curve() -> np.ndarray:
    # U-shape over the UTC day, like an exchange session's open and close rushes.
    x = (np.arange(MINUTES_PER_DAY) - MINUTES_PER_DAY / 2) / (MINUTES_PER_DAY / 2)
    curve: np.ndarray = 0.55 + 0.9 * x**2
    return curve


_DAY_CURVE = _volume_day_curve()


@dataclass(frozen=True, slots=True)
class _DayMinutes:
    """Minute bars of one UTC day for one symbol (arrays of length 1440)."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    spread_factor: np.ndarray


@dataclass(frozen=True, slots=True)
class _MinutePath:
    """Waypoints inside one minute: times in [0, 1] and prices."""

    times: np.ndarray
    prices: np.ndarray

    def price_at(self, fraction: float) -> float:
        return float(np.interp(fraction, self.times, self.prices))

    def range_until(self, fraction: float) -> tuple[float, float]:
        """High and low of the path from the minute's open up to ``fraction``."""
        seen = self.prices[self.times <= fraction]
        now = self.price_at(fraction)
        return max(float(seen.max()), now), min(float(seen.min()), now)


class _LRU:
    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class SimulatedSource:
    """Deterministic simulated market; the default source. Thread-safe: each cache has its own lock; a history
    request does not take the source's lock (a year of days built under it held the feed's quotes for a second)."""

    name = "sim"

    def __init__(self, seed: int = 42, clock: Callable[[], float] = time.time) -> None:
        self.seed = seed
        self.clock = clock
        self._lock = threading.Lock()
        self._anchors: dict[str, np.ndarray] = {}
        self._days = _LRU(256)
        self._hours = _LRU(50_000)
        # At least one minute path per streamed symbol (200 by default) and the one before it: fewer, and every
        # quote rebuilt its path (4x the feed's work per iteration with 200 symbols).
        self._paths = _LRU(1024)
        self._quotes_served = 0

    # -- random generators -------------------------------------------------------------------------------------

    def _rng(self, symbol: str, level: int, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed & 0xFFFFFFFF, _stable_hash(symbol), level, index])

    # -- level 1: daily anchors ----------------------------------------------------------------------------------

    def _anchor(self, symbol: str, day: int) -> float:
        """Log price at the start of UTC day ``day`` (days since the Unix epoch)."""
        offset = day - EPOCH_DAY
        if offset < 0:
            raise UnsupportedRequest(f"the simulated market starts on 2015-01-01; no data for day {day}")
        anchors = self._anchors.get(symbol)
        if anchors is None or offset >= len(anchors):
            anchors = self._extend_anchors(symbol, anchors, offset + 1)
        return float(anchors[offset])

    def _extend_anchors(self, symbol: str, anchors: np.ndarray | None, needed: int) -> np.ndarray:
        profile = profile_for(symbol)
        mean = math.log(profile.base_price)
        sigma_day = profile.annual_volatility / math.sqrt(365)
        values = [mean] if anchors is None else anchors.tolist()
        while len(values) < needed:
            chunk = (len(values) - 1) // _ANCHOR_CHUNK
            shocks = self._rng(symbol, 1, chunk).standard_normal(_ANCHOR_CHUNK)
            start = chunk * _ANCHOR_CHUNK
            for i in range(len(values) - 1 - start, _ANCHOR_CHUNK):
                last = values[-1]
                values.append(last + _OU_THETA * (mean - last) + sigma_day * float(shocks[i]))
        extended = np.asarray(values)
        self._anchors[symbol] = extended
        return extended

    # -- level 2: the minutes of a day -----------------------------------------------------------------------------

    def _day(self, symbol: str, day: int, keep: bool = True) -> _DayMinutes:
        """The minutes of a day; ``keep=False`` does not cache a day it had to build (long hourly histories
        would push the days the live quotes need out of the cache)."""
        key = (symbol, day)
        cached = self._days.get(key)
        if cached is not None:
            return cached
        profile = profile_for(symbol)
        start_log = self._anchor(symbol, day)
        end_log = self._anchor(symbol, day + 1)
        sigma = profile.annual_volatility / math.sqrt(MINUTES_PER_YEAR)
        rng = self._rng(symbol, 2, day)
        noise = rng.standard_normal(MINUTES_PER_DAY)
        drift = np.repeat(rng.standard_normal(MINUTES_PER_DAY // _DRIFT_BLOCK_MINUTES), _DRIFT_BLOCK_MINUTES)
        jumps = np.where(rng.random(MINUTES_PER_DAY) < _JUMP_PROBABILITY, rng.standard_normal(MINUTES_PER_DAY), 0.0)
        wick_up = np.abs(rng.standard_normal(MINUTES_PER_DAY))
        wick_down = np.abs(rng.standard_normal(MINUTES_PER_DAY))
        volume_noise = rng.standard_normal(MINUTES_PER_DAY)
        spread_noise = rng.random(MINUTES_PER_DAY)

        gaps = sigma * _JUMP_SCALE * jumps
        moves = sigma * (noise + _DRIFT_SCALE * drift)
        # Brownian bridge: spread the miss against the next anchor evenly over the day's minutes.
        miss = float(np.sum(gaps) + np.sum(moves)) - (end_log - start_log)
        moves = moves - miss / MINUTES_PER_DAY
        log_close = start_log + np.cumsum(gaps + moves)
        log_open = np.concatenate(([start_log], log_close[:-1])) + gaps
        opens = np.exp(log_open)
        closes = np.exp(log_close)
        highs = np.maximum(opens, closes) * np.exp(sigma * _WICK_SCALE * wick_up)
        lows = np.minimum(opens, closes) * np.exp(-sigma * _WICK_SCALE * wick_down)
        d = profile.decimals
        volume = np.round(
            profile.volume_per_minute * _DAY_CURVE * np.exp(0.35 * volume_noise - 0.06) * (1 + 0.6 * np.abs(noise))
        )
        minutes = _DayMinutes(
            open=np.round(opens, d),
            high=np.round(highs, d),
            low=np.round(lows, d),
            close=np.round(closes, d),
            volume=volume,
            spread_factor=0.8 + 0.4 * spread_noise,
        )
        # The day's last close is the next day's first open only up to a gap; rounding keeps them equal.
        if keep:
            self._days.put(key, minutes)
        return minutes

    def _minute_arrays(self, symbol: str, first: int, stop: int, keep: bool = True) -> tuple[np.ndarray, ...]:
        """O, H, L, C, V of the complete minutes with indices in [first, stop) (minutes since the Unix epoch)."""
        parts: list[tuple[np.ndarray, ...]] = []
        minute = first
        while minute < stop:
            day, offset = divmod(minute, MINUTES_PER_DAY)
            end = min(MINUTES_PER_DAY, offset + (stop - minute))
            bars = self._day(symbol, day, keep)
            parts.append(
                (bars.open[offset:end], bars.high[offset:end], bars.low[offset:end], bars.close[offset:end],
                 bars.volume[offset:end])
            )
            minute += end - offset
        if not parts:
            empty = np.empty(0)
            return empty, empty, empty, empty, empty
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(5))

    def _hour_arrays(self, symbol: str, first: int, stop: int) -> tuple[np.ndarray, ...]:
        """O, H, L, C, V of the complete hours with indices in [first, stop), cached per day in aggregated form."""
        columns: list[list[np.ndarray]] = [[], [], [], [], []]
        hour = first
        while hour < stop:
            day, offset = divmod(hour, 24)
            end = min(24, offset + (stop - hour))
            hours = self._hours.get((symbol, day))
            if hours is None:
                hours = _aggregate(*self._minute_arrays(symbol, day * MINUTES_PER_DAY, (day + 1) * MINUTES_PER_DAY,
                                                        keep=False), width=60)
                self._hours.put((symbol, day), hours)
            for i in range(5):
                columns[i].append(hours[i][offset:end])
            hour += end - offset
        if not columns[0]:
            empty = np.empty(0)
            return empty, empty, empty, empty, empty
        return tuple(np.concatenate(c) for c in columns)

    # -- level 3: inside a minute -----------------------------------------------------------------------------------

    def _minute_path(self, symbol: str, minute: int) -> _MinutePath:
        key = (symbol, minute)
        cached = self._paths.get(key)
        if cached is not None:
            return cached
        day, offset = divmod(minute, MINUTES_PER_DAY)
        bars = self._day(symbol, day)
        o, h, lo, c = (float(bars.open[offset]), float(bars.high[offset]), float(bars.low[offset]),
                       float(bars.close[offset]))
        rng = self._rng(symbol, 3, minute)
        times = np.sort(rng.uniform(0.02, 0.98, _WAYPOINTS))
        prices = rng.uniform(lo, h, _WAYPOINTS)
        high_at, low_at = rng.choice(_WAYPOINTS, size=2, replace=False)
        prices[high_at] = h
        prices[low_at] = lo
        decimals = profile_for(symbol).decimals
        path = _MinutePath(
            times=np.concatenate(([0.0], times, [1.0])),
            prices=np.round(np.concatenate(([o], prices, [c])), decimals),
        )
        self._paths.put(key, path)
        return path

    def _partial_minute(self, symbol: str, t: float) -> tuple[float, float, float, float, float]:
        """O, H, L, C, V of the minute containing t, from its open up to t."""
        minute = int(t // 60)
        fraction = (t - minute * 60) / 60
        path = self._minute_path(symbol, minute)
        high, low = path.range_until(fraction)
        day, offset = divmod(minute, MINUTES_PER_DAY)
        volume = float(int(self._day(symbol, day).volume[offset] * fraction))
        d = profile_for(symbol).decimals
        return float(path.prices[0]), round(high, d), round(low, d), round(path.price_at(fraction), d), volume

    # -- MarketSource -----------------------------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        with self._lock:
            return self._quote_at(symbol, self.clock())

    def quote_at(self, symbol: str, t: float) -> Quote:
        """The quote at instant t (any past or present instant)."""
        with self._lock:
            return self._quote_at(symbol, t)

    def _quote_at(self, symbol: str, t: float) -> Quote:
        profile = profile_for(symbol)
        minute = int(t // 60)
        day, offset = divmod(minute, MINUTES_PER_DAY)
        bars = self._day(symbol, day)
        _, _, _, price, partial_volume = self._partial_minute(symbol, t)
        half_spread = price * profile.spread_bps / 1e4 * float(bars.spread_factor[offset]) / 2
        d = profile.decimals
        self._quotes_served += 1
        return Quote(
            symbol=symbol,
            price=round(price, d),
            bid=round(price - half_spread, d),
            ask=round(price + half_spread, d),
            volume=float(bars.volume[:offset].sum()) + partial_volume,
            previous_close=round(math.exp(self._anchor(symbol, day)), d),
            timestamp=t,
            source=self.name,
        )

    def history(
        self,
        symbol: str,
        period: Period,
        timeframe: Timeframe,
        end: float | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        now = self.clock()
        width = timeframe.seconds
        forming_open = timeframe.bucket_start(now)
        stop = now if end is None else min(float(end), now)
        if end is None or end > forming_open:
            # The window reaches into the candle that is still forming: serve it as it stands now.
            include_forming = True
            last_open = forming_open - width
        else:
            include_forming = False
            last_open = timeframe.bucket_start(stop)
            if last_open == stop:
                last_open -= width
        first_open = EPOCH_DAY * SECONDS_PER_DAY
        if period.seconds is not None:
            first_open = max(first_open, timeframe.bucket_start(stop - period.seconds))
        count = max(0, (last_open - first_open) // width + 1)
        total = count + (1 if include_forming else 0)
        if limit is not None and total > limit:
            drop = total - limit
            first_open += drop * width
            count = max(0, count - drop)
            total = limit
        if total > MAX_CANDLES_PER_REQUEST:
            raise UnsupportedRequest(
                f"{total} candles of {timeframe.value} in {period.name}: "
                f"at most {MAX_CANDLES_PER_REQUEST} per request; "
                "use a shorter period, a larger interval, or limit"
            )
        # Not under self._lock: what two threads compute twice comes out the same (the path is deterministic).
        candles = self._complete_candles(symbol, timeframe, first_open, count) if count > 0 else []
        if include_forming and (limit is None or limit > 0):
            candles.append(self._forming_candle(symbol, timeframe, now))
        return candles

    def forming_candle(self, symbol: str, timeframe: Timeframe, t: float) -> Candle:
        """The candle of ``timeframe`` containing t, built from its open up to t (seeds the live candle builder)."""
        with self._lock:
            return self._forming_candle(symbol, timeframe, t)

    def _complete_candles(self, symbol: str, timeframe: Timeframe, first_open: int, count: int) -> list[Candle]:
        width = timeframe.seconds
        if width >= 3600:
            first, per = first_open // 3600, width // 3600
            arrays = self._hour_arrays(symbol, first, first + count * per)
        else:
            first, per = first_open // 60, width // 60
            arrays = self._minute_arrays(symbol, first, first + count * per)
        o, h, lo, c, v = _aggregate(*arrays, width=per)
        times = first_open + width * np.arange(count)
        return [
            Candle(int(t), float(a), float(b), float(x), float(y), float(z))
            for t, a, b, x, y, z in zip(times, o, h, lo, c, v, strict=True)
        ]

    def _forming_candle(self, symbol: str, timeframe: Timeframe, t: float) -> Candle:
        bucket = timeframe.bucket_start(t)
        minute_now = int(t // 60)
        po, ph, pl, pc, pv = self._partial_minute(symbol, t)
        o, h, lo, v = po, ph, pl, pv
        first_minute = bucket // 60
        if first_minute < minute_now:
            mo, mh, ml, _, mv = self._minute_arrays(symbol, first_minute, minute_now)
            o = float(mo[0])
            h = max(h, float(mh.max()))
            lo = min(lo, float(ml.min()))
            v += float(mv.sum())
        return Candle(bucket, o, h, lo, pc, v)

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        from feeds.options import synthetic_chain

        q = self.quote(symbol)
        profile = profile_for(symbol)
        chain: OptionChain = synthetic_chain(
            symbol, q.price, q.timestamp, profile.annual_volatility, self.seed ^ _stable_hash(symbol)
        )
        if expiration is None or expiration == chain.expiration:
            return chain
        if expiration not in chain.expirations:
            raise UnsupportedRequest(f"no expiration {expiration}; available: {', '.join(chain.expirations)}")
        picked: OptionChain = synthetic_chain(
            symbol, q.price, q.timestamp, profile.annual_volatility, self.seed ^ _stable_hash(symbol),
            expiration=expiration,
        )
        return picked

    def health(self) -> dict[str, Any]:
        return {"name": self.name, "state": "ok", "seed": self.seed, "quotes_served": self._quotes_served}


def _aggregate(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray,
               width: int) -> tuple[np.ndarray, ...]:
    """Group consecutive bars ``width`` at a time into wider bars (len(o) must be a multiple of width)."""
    if width == 1:
        return o, h, lo, c, v
    n = len(o) // width
    return (
        o[::width][:n],
        h[: n * width].reshape(n, width).max(axis=1),
        lo[: n * width].reshape(n, width).min(axis=1),
        c[width - 1 :: width][:n],
        v[: n * width].reshape(n, width).sum(axis=1),
    )
