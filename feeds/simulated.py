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

Symbols: the instruments of the shipped universe (feeds/universe.py), priced at their precision and on their tick
grid (``ES=F`` moves in quarters); others raise UnknownSymbol unless the source is built with ``any_symbol``
(``TICKSTREAM_SIM_ANY_SYMBOL=1``), which prices any well-formed ticker. A currency pair written without ``=X``
(``EURUSD``) trades on the same path as the listed pair and is echoed as it was asked for. Volumes are whole numbers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np

from feeds.models import SECONDS_PER_DAY, Candle, OptionChain, Period, Quote, Timeframe
from feeds.source import UnknownSymbol, UnsupportedRequest
from feeds.universe import AssetClass, Instrument, shipped

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
    # The price grid; None: one unit of the last decimal.
    tick_size: float | None = None


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
    "SI=F": SymbolProfile(28.0, 0.28, 3.0, 800, 3, 0.005),
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


# Per kind of instrument: annual volatility (lowest, spread of the hashed part), spread in basis points, volume
# per minute.
_CLASS_TRAITS: dict[AssetClass, tuple[float, float, float, float]] = {
    AssetClass.EQUITY: (0.2, 0.4, 2.0, 10_000),
    AssetClass.ETF: (0.12, 0.2, 1.0, 20_000),
    AssetClass.INDEX: (0.14, 0.1, 0.5, 100_000),
    AssetClass.FUTURE: (0.18, 0.2, 1.5, 2_000),
    AssetClass.CURRENCY: (0.06, 0.06, 1.0, 30_000),
    AssetClass.CRYPTO: (0.6, 0.3, 2.0, 500),
}


@lru_cache(maxsize=4096)
def profile_for(symbol: str) -> SymbolProfile:
    """The known profile of a symbol, one derived from its universe entry, or (for any other symbol, when the
    source serves any) one derived from its name alone. ``symbol`` is the universe's spelling (``EURUSD=X``)."""
    if symbol in _KNOWN_PROFILES:
        return _KNOWN_PROFILES[symbol]
    h = _stable_hash(symbol)
    instrument = shipped().get(symbol)
    if instrument is not None:
        return _universe_profile(instrument, h)
    if symbol.endswith("=X"):
        return SymbolProfile(0.5 + (h % 1500) / 1000, 0.06 + (h >> 11) % 6 / 100, 1.0, 30_000, 5)
    if symbol.endswith("-USD"):
        return SymbolProfile(0.5 + (h % 2000), 0.6 + (h >> 11) % 30 / 100, 2.0, 5_000, 4)
    return SymbolProfile(10 + (h % 49_000) / 100, 0.2 + (h >> 11) % 40 / 100, 2.0, 10_000 + (h >> 7) % 40_000, 2)


def _universe_profile(instrument: Instrument, h: int) -> SymbolProfile:
    low, width, spread_bps, volume = _CLASS_TRAITS[instrument.asset_class]
    base = instrument.reference_price
    if base is None:
        # 10-500 in units of a cent tick; 1,000-50,000 where the tick is a whole unit (yen-priced shares).
        base = (10 + (h % 49_000) / 100) * max(1.0, instrument.tick_size * 100)
    return SymbolProfile(
        base_price=base,
        annual_volatility=low + (h >> 11) % 100 / 100 * width,
        spread_bps=spread_bps,
        volume_per_minute=volume * (0.5 + (h >> 7) % 100 / 100),
        decimals=instrument.precision,
        tick_size=instrument.tick_size,
    )


Prices = TypeVar("Prices", float, np.ndarray)


def _on_grid(values: Prices, profile: SymbolProfile) -> Prices:
    """Prices rounded to the profile's tick and written with its decimals (no 0.15000000000000568)."""
    tick = profile.tick_size
    if tick is None:
        return np.round(values, profile.decimals)  # type: ignore[no-any-return]
    return np.round(np.round(values / tick) * tick, profile.decimals)  # type: ignore[no-any-return]


def _tick_below(price: float, profile: SymbolProfile) -> float:
    tick = profile.tick_size or 10.0 ** -profile.decimals
    # The epsilon keeps a price already on the grid (2.9999999999 ticks) where it is.
    return round(math.floor(price / tick + 1e-9) * tick, profile.decimals)


def _tick_above(price: float, profile: SymbolProfile) -> float:
    tick = profile.tick_size or 10.0 ** -profile.decimals
    return round(math.ceil(price / tick - 1e-9) * tick, profile.decimals)


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
    """A least-recently-used cache bounded by the bytes its values hold (``weigh``), not by their count.

    Values must own their memory (no NumPy views into larger arrays), or the bound would not be the memory held.
    Thread-safe with a lock of its own: a history request builds entries without the source's lock, so that a year
    of days built for a tracker does not hold up the feed's quotes.
    """

    def __init__(self, max_bytes: int, weigh: Callable[[Any], int]) -> None:
        self.max_bytes = max_bytes
        self._weigh = weigh
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Any) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: Any, value: Any) -> None:
        size = self._weigh(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._items[key] = (value, size)
            self.bytes += size
            # The newest entry stays even when it alone is over the limit: the caller is about to use it.
            while self.bytes > self.max_bytes and len(self._items) > 1:
                _, (_, evicted) = self._items.popitem(last=False)
                self.bytes -= evicted

    def discard_where(self, predicate: Callable[[Any], bool]) -> None:
        """Drop every entry whose key matches ``predicate`` (one pass)."""
        with self._lock:
            for key in [k for k in self._items if predicate(k)]:
                self.bytes -= self._items.pop(key)[1]


# What one cache entry costs besides its arrays' data: the key tuple, the OrderedDict node, the array headers.
_ENTRY_OVERHEAD = 512


def _nbytes(*arrays: np.ndarray) -> int:
    return sum(a.nbytes for a in arrays) + _ENTRY_OVERHEAD


# Byte budgets of the simulated source's caches. The anchors of one symbol since 2015 take about 35 KB (about 470
# symbols fit), a day of minute bars 69 KB (about 360 fit), a day of hour bars 1.5 KB with its overhead. The first
# two hold the current day of more symbols than the feed tracks (200 by default), so live quotes do not recompute
# their day on every tick.
ANCHOR_CACHE_BYTES = 16 * 2**20
DAY_CACHE_BYTES = 24 * 2**20
HOUR_CACHE_BYTES = 24 * 2**20
PATH_CACHE_BYTES = 2**20


class SimulatedSource:
    """Deterministic simulated market; the default source. Thread-safe (one lock around its caches).

    ``any_symbol``: price every well-formed ticker, not only the universe's (tests and demos).
    The caches are bounded in bytes (``*_CACHE_BYTES``) whatever the number of symbols asked for, and
    ``forget_symbols`` lets go of a symbol's entries at once (the feed calls it when it stops tracking one).
    """

    name = "sim"

    def __init__(self, seed: int = 42, clock: Callable[[], float] = time.time, any_symbol: bool = False) -> None:
        self.seed = seed
        self.clock = clock
        self.any_symbol = any_symbol
        self._lock = threading.Lock()
        # Every cache is bounded in bytes and holds arrays that own their data (see _LRU); forget_symbols drops
        # a symbol's entries when the feed lets go of it.
        self._anchors = _LRU(ANCHOR_CACHE_BYTES, _nbytes)
        self._days = _LRU(DAY_CACHE_BYTES, lambda d: _nbytes(d.open, d.high, d.low, d.close, d.volume,
                                                              d.spread_factor))
        self._hours = _LRU(HOUR_CACHE_BYTES, _nbytes)
        self._paths = _LRU(PATH_CACHE_BYTES, lambda p: _nbytes(p.times, p.prices))
        self._quotes_served = 0

    # -- random generators -------------------------------------------------------------------------------------

    def knows(self, symbol: str) -> bool:
        """Whether this market prices ``symbol``: a subscription to one it does not is refused at once."""
        return self.any_symbol or shipped().resolve(symbol) is not None

    def _path_symbol(self, symbol: str) -> str:
        """The symbol whose path prices ``symbol`` (``EURUSD`` → ``EURUSD=X``); UnknownSymbol if there is none."""
        instrument = shipped().resolve(symbol)
        if instrument is not None:
            return instrument.symbol
        if self.any_symbol:
            return symbol
        raise UnknownSymbol(f"the simulated market has no symbol {symbol} (GET /api/v1/symbols?q=… lists its "
                            "symbols; TICKSTREAM_SIM_ANY_SYMBOL=1 prices any ticker)")

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
        self._anchors.put(symbol, extended)
        return extended

    # -- level 2: the minutes of a day -----------------------------------------------------------------------------

    def _day(self, symbol: str, day: int, remember: bool = True) -> _DayMinutes:
        """The minutes of ``day``; ``remember=False`` leaves a day not yet cached out of the cache."""
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
        volume = np.round(
            profile.volume_per_minute * _DAY_CURVE * np.exp(0.35 * volume_noise - 0.06) * (1 + 0.6 * np.abs(noise))
        )
        minutes = _DayMinutes(
            open=_on_grid(opens, profile),
            high=_on_grid(highs, profile),
            low=_on_grid(lows, profile),
            close=_on_grid(closes, profile),
            volume=volume,
            spread_factor=0.8 + 0.4 * spread_noise,
        )
        # The day's last close is the next day's first open only up to a gap; rounding keeps them equal.
        if remember:
            self._days.put(key, minutes)
        return minutes

    def _minute_arrays(self, symbol: str, first: int, stop: int, remember: bool = True) -> tuple[np.ndarray, ...]:
        """O, H, L, C, V of the complete minutes with indices in [first, stop) (minutes since the Unix epoch)."""
        parts: list[tuple[np.ndarray, ...]] = []
        minute = first
        while minute < stop:
            day, offset = divmod(minute, MINUTES_PER_DAY)
            end = min(MINUTES_PER_DAY, offset + (stop - minute))
            bars = self._day(symbol, day, remember)
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
                # The day's minutes are not cached for this: a year of daily candles would push the days that
                # live quotes use out of the day cache.
                aggregated = _aggregate(*self._minute_arrays(symbol, day * MINUTES_PER_DAY,
                                                             (day + 1) * MINUTES_PER_DAY, remember=False), width=60)
                # One (5, 24) array that owns its 960 bytes: the strided opens and closes _aggregate returns are
                # views, each keeping a whole day of minutes alive (23.6 KB an entry instead of 960 B).
                hours = np.stack(aggregated)
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
        path = _MinutePath(
            times=np.concatenate(([0.0], times, [1.0])),
            prices=_on_grid(np.concatenate(([o], prices, [c])), profile_for(symbol)),
        )
        self._paths.put(key, path)
        return path

    def _partial_minute(self, symbol: str, t: float) -> tuple[float, float, float, float, int]:
        """O, H, L, C, V of the minute containing t, from its open up to t."""
        minute = int(t // 60)
        fraction = (t - minute * 60) / 60
        path = self._minute_path(symbol, minute)
        high, low = path.range_until(fraction)
        day, offset = divmod(minute, MINUTES_PER_DAY)
        volume = int(self._day(symbol, day).volume[offset] * fraction)
        profile = profile_for(symbol)
        # High and low are waypoints (on the grid already) or the price now.
        now = float(_on_grid(path.price_at(fraction), profile))
        return (float(path.prices[0]), max(float(_on_grid(high, profile)), now),
                min(float(_on_grid(low, profile)), now), now, volume)

    # -- MarketSource -----------------------------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        return self.quote_at(symbol, self.clock())

    def quote_at(self, symbol: str, t: float) -> Quote:
        """The quote at instant t (any past or present instant)."""
        path_symbol = self._path_symbol(symbol)
        with self._lock:
            quote = self._quote_at(path_symbol, t)
        return quote if path_symbol == symbol else dataclasses.replace(quote, symbol=symbol)

    def _quote_at(self, symbol: str, t: float) -> Quote:
        profile = profile_for(symbol)
        minute = int(t // 60)
        day, offset = divmod(minute, MINUTES_PER_DAY)
        bars = self._day(symbol, day)
        _, _, _, price, partial_volume = self._partial_minute(symbol, t)
        half_spread = price * profile.spread_bps / 1e4 * float(bars.spread_factor[offset]) / 2
        self._quotes_served += 1
        return Quote(
            symbol=symbol,
            price=price,
            # On the grid on either side of the price: never crossed, never wider than a tick more than asked.
            bid=_tick_below(price - half_spread, profile),
            ask=_tick_above(price + half_spread, profile),
            volume=int(bars.volume[:offset].sum()) + partial_volume,
            previous_close=float(_on_grid(math.exp(self._anchor(symbol, day)), profile)),
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
        symbol = self._path_symbol(symbol)
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
        symbol = self._path_symbol(symbol)
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
            Candle(int(t), float(a), float(b), float(x), float(y), int(z))
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
            v += int(mv.sum())
        return Candle(bucket, o, h, lo, pc, v)

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        from feeds.options import synthetic_chain

        path_symbol = self._path_symbol(symbol)
        q = self.quote(symbol)
        profile = profile_for(path_symbol)
        chain: OptionChain = synthetic_chain(
            symbol, q.price, q.timestamp, profile.annual_volatility, self.seed ^ _stable_hash(path_symbol)
        )
        if expiration is None or expiration == chain.expiration:
            return chain
        if expiration not in chain.expirations:
            raise UnsupportedRequest(f"no expiration {expiration}; available: {', '.join(chain.expirations)}")
        picked: OptionChain = synthetic_chain(
            symbol, q.price, q.timestamp, profile.annual_volatility, self.seed ^ _stable_hash(path_symbol),
            expiration=expiration,
        )
        return picked

    def forget_symbols(self, symbols: Iterable[str]) -> None:
        """Drop the cached anchors, days, hours and minute paths of ``symbols`` (the feed stopped tracking them)."""
        gone = set(symbols)
        with self._lock:
            self._anchors.discard_where(gone.__contains__)
            for cache in (self._days, self._hours, self._paths):
                cache.discard_where(lambda key: key[0] in gone)

    def cache_bytes(self) -> int:
        """Bytes held by the caches (array data and per-entry overhead, as they account it)."""
        with self._lock:
            return sum(c.bytes for c in (self._anchors, self._days, self._hours, self._paths))

    def health(self) -> dict[str, Any]:
        return {"name": self.name, "state": "ok", "seed": self.seed, "quotes_served": self._quotes_served,
                "any_symbol": self.any_symbol}


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
