"""On-disk market-data cache (diskcache): fresh values within a TTL, and the last good value kept for stale fallback.

Each entry is stored once as ``(written_at, source, value)``. ``written_at`` comes from the injected clock, so a
value is *fresh* while ``clock() - written_at <= ttl`` (tests move the clock instead of waiting) and, once older,
is still the *last good* value that FailoverSource serves marked stale when every source fails. diskcache's own
``expire`` is not used: it runs on real time and would delete the last good value.

The cache is shared by threads (feed thread, REST handlers) and by processes using the same directory; diskcache
(SQLite) handles both. Its ``timeout`` is the SQLite busy timeout: a small value (10 ms) means a locked or slow
database makes a read a miss and a write a no-op rather than blocking the caller.
"""

from __future__ import annotations

import logging
import pickle
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import diskcache

from feeds.models import Candle, OptionChain, Period, Quote, Timeframe

log = logging.getLogger(__name__)

T = TypeVar("T")

QUOTE_TTL = 30.0
OPTIONS_TTL = 60.0
# Intraday history: one candle width, capped at 15 min so the forming candle is never more than 15 min old.
INTRADAY_TTL_CAP = 900.0
DAILY_TTL = 4 * 3600.0
# History that ends more than one candle in the past cannot change any more.
CLOSED_HISTORY_TTL = 24 * 3600.0
DEFAULT_TIMEOUT = 0.010
# The feed thread may make a quote per symbol every 50 ms; one SQLite write per symbol every few seconds is enough
# for the stale fallback and keeps the disk out of the tick path.
QUOTE_WRITE_INTERVAL = 5.0
DEFAULT_SIZE_LIMIT = 256 * 1024 * 1024

# What diskcache/SQLite/pickle raise when the disk is locked, full or an entry was written by other code.
_CACHE_ERRORS: tuple[type[BaseException], ...] = (
    diskcache.Timeout,
    sqlite3.Error,
    OSError,
    pickle.PickleError,
    EOFError,
    AttributeError,
    ImportError,
    TypeError,
    ValueError,
)


@dataclass(frozen=True, slots=True)
class CacheEntry(Generic[T]):
    """A cached value with the source that produced it and when it was written (clock seconds)."""

    value: T
    source: str
    written_at: float

    def age(self, now: float) -> float:
        return now - self.written_at


def history_ttl(timeframe: Timeframe, end: float | None = None, now: float | None = None) -> float:
    """Seconds a history answer stays fresh: 1m → 60 s, 5m → 300 s, 15m and wider intraday → 900 s, 1d → 4 h.

    A window that ended more than one candle before ``now`` is closed and kept fresh for a day.
    """
    if end is not None and now is not None and end <= now - timeframe.seconds:
        return CLOSED_HISTORY_TTL
    if timeframe is Timeframe.D1:
        return DAILY_TTL
    return min(float(timeframe.seconds), INTRADAY_TTL_CAP)


def quote_key(symbol: str) -> str:
    return f"quote|{symbol}"


def history_key(symbol: str, period: Period, timeframe: Timeframe, end: float | None, limit: int | None) -> str:
    return f"history|{symbol}|{period.name}|{timeframe.value}|{end}|{limit}"


def options_key(symbol: str, expiration: str | None) -> str:
    return f"options|{symbol}|{expiration or ''}"


class MarketCache:
    """Quotes, history and option chains on disk, with fresh/last-good reads and hit/miss counters."""

    def __init__(
        self,
        directory: str | Path,
        clock: Callable[[], float] = time.time,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        size_limit: int = DEFAULT_SIZE_LIMIT,
        quote_ttl: float = QUOTE_TTL,
        options_ttl: float = OPTIONS_TTL,
        quote_write_interval: float = QUOTE_WRITE_INTERVAL,
    ) -> None:
        self.directory = Path(directory)
        self._clock = clock
        self._quote_ttl = quote_ttl
        self._options_ttl = options_ttl
        self._quote_write_interval = quote_write_interval
        self._quote_written: dict[str, float] = {}
        self._cache = diskcache.Cache(str(self.directory), timeout=timeout, size_limit=size_limit)
        self._lock = threading.Lock()
        self._counts = {"hits": 0, "misses": 0, "stale_reads": 0, "writes": 0, "errors": 0}

    # -- low level ---------------------------------------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _read(self, key: str) -> CacheEntry[Any] | None:
        try:
            raw = self._cache.get(key)
        except _CACHE_ERRORS as exc:
            self._count("errors")
            log.warning("cache read of %s failed: %s", key, exc, exc_info=not isinstance(exc, diskcache.Timeout))
            return None
        if not (isinstance(raw, tuple) and len(raw) == 3):
            return None
        written_at, source, value = raw
        return CacheEntry(value=value, source=str(source), written_at=float(written_at))

    def _write(self, key: str, value: object, source: str) -> None:
        try:
            self._cache.set(key, (self._clock(), source, value))
        except _CACHE_ERRORS as exc:
            self._count("errors")
            log.warning("cache write of %s failed: %s", key, exc, exc_info=not isinstance(exc, diskcache.Timeout))
            return
        self._count("writes")

    def get_fresh(self, key: str, ttl: float) -> CacheEntry[Any] | None:
        """The entry under ``key`` if it was written at most ``ttl`` seconds ago (counts a hit or a miss)."""
        entry = self._read(key)
        if entry is not None and entry.age(self._clock()) <= ttl:
            self._count("hits")
            return entry
        self._count("misses")
        return None

    def get_last_good(self, key: str) -> CacheEntry[Any] | None:
        """The entry under ``key`` whatever its age (the stale fallback)."""
        entry = self._read(key)
        if entry is not None:
            self._count("stale_reads")
        return entry

    # -- typed helpers -----------------------------------------------------------------------------------------

    def put_quote(self, quote: Quote) -> None:
        """Store a quote, at most once per ``quote_write_interval`` seconds per symbol (later ones are dropped)."""
        now = self._clock()
        with self._lock:
            last = self._quote_written.get(quote.symbol)
            if last is not None and now - last < self._quote_write_interval:
                return
            self._quote_written[quote.symbol] = now
        self._write(quote_key(quote.symbol), quote, quote.source)

    def get_quote(self, symbol: str) -> CacheEntry[Quote] | None:
        return self.get_fresh(quote_key(symbol), self._quote_ttl)

    def last_quote(self, symbol: str) -> CacheEntry[Quote] | None:
        return self.get_last_good(quote_key(symbol))

    def put_history(
        self,
        symbol: str,
        period: Period,
        timeframe: Timeframe,
        end: float | None,
        limit: int | None,
        candles: list[Candle],
        source: str,
    ) -> None:
        self._write(history_key(symbol, period, timeframe, end, limit), list(candles), source)

    def get_history(
        self, symbol: str, period: Period, timeframe: Timeframe, end: float | None = None, limit: int | None = None
    ) -> CacheEntry[list[Candle]] | None:
        ttl = history_ttl(timeframe, end, self._clock())
        return self.get_fresh(history_key(symbol, period, timeframe, end, limit), ttl)

    def last_history(
        self, symbol: str, period: Period, timeframe: Timeframe, end: float | None = None, limit: int | None = None
    ) -> CacheEntry[list[Candle]] | None:
        return self.get_last_good(history_key(symbol, period, timeframe, end, limit))

    def put_options(self, chain: OptionChain, source: str, requested: str | None = None) -> None:
        """Store ``chain`` under its own expiration and, if different, under the one asked for (None: nearest)."""
        self._write(options_key(chain.symbol, chain.expiration), chain, source)
        if requested != chain.expiration:
            self._write(options_key(chain.symbol, requested), chain, source)

    def get_options(self, symbol: str, expiration: str | None = None) -> CacheEntry[OptionChain] | None:
        return self.get_fresh(options_key(symbol, expiration), self._options_ttl)

    def last_options(self, symbol: str, expiration: str | None = None) -> CacheEntry[OptionChain] | None:
        return self.get_last_good(options_key(symbol, expiration))

    # -- reporting ---------------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters since start: hits/misses of fresh reads, hit_rate, stale_reads, writes, errors."""
        with self._lock:
            counts: dict[str, Any] = dict(self._counts)
        lookups = counts["hits"] + counts["misses"]
        counts["hit_rate"] = counts["hits"] / lookups if lookups else None
        counts["directory"] = str(self.directory)
        return counts

    def clear(self) -> None:
        self._cache.clear()

    def close(self) -> None:
        self._cache.close()
