"""MarketCache: TTLs on an injected clock, last-good values, counters, and a locked database not blocking."""

from __future__ import annotations

from pathlib import Path

import diskcache
import pytest
from tests_support import FakeClock

from feeds.cache import MarketCache, history_ttl
from feeds.models import Candle, OptionChain, Period, Quote, Timeframe


def _quote(price: float = 100.0) -> Quote:
    return Quote("AAPL", price, 99.9, 100.1, 1000.0, 98.0, 1_700_000_000.0, "yahoo")


def test_quote_fresh_for_30_seconds_then_only_last_good(cache: MarketCache, clock: FakeClock) -> None:
    cache.put_quote(_quote())
    clock.advance(30)
    hit = cache.get_quote("AAPL")
    assert hit is not None and hit.value == _quote() and hit.source == "yahoo"
    clock.advance(0.5)
    assert cache.get_quote("AAPL") is None
    last = cache.last_quote("AAPL")
    assert last is not None and last.value.price == 100.0 and last.age(clock()) == pytest.approx(30.5)


def test_quote_writes_are_throttled_per_symbol(cache: MarketCache, clock: FakeClock) -> None:
    cache.put_quote(_quote(100.0))
    clock.advance(1)
    cache.put_quote(_quote(101.0))  # dropped: the feed may quote every 50 ms, the disk need not follow
    entry = cache.get_quote("AAPL")
    assert entry is not None and entry.value.price == 100.0
    clock.advance(4)
    cache.put_quote(_quote(102.0))
    entry = cache.get_quote("AAPL")
    assert entry is not None and entry.value.price == 102.0


@pytest.mark.parametrize(
    ("timeframe", "ttl"),
    [(Timeframe.M1, 60), (Timeframe.M5, 300), (Timeframe.M15, 900), (Timeframe.H1, 900), (Timeframe.D1, 4 * 3600)],
)
def test_history_ttl_by_interval(cache: MarketCache, clock: FakeClock, timeframe: Timeframe, ttl: float) -> None:
    assert history_ttl(timeframe) == ttl
    period = Period.parse("5d")
    candles = [Candle(1_699_999_940, 1, 2, 0.5, 1.5, 10)]
    cache.put_history("AAPL", period, timeframe, None, None, candles, "yahoo")
    clock.advance(ttl)
    entry = cache.get_history("AAPL", period, timeframe)
    assert entry is not None and entry.value == candles
    clock.advance(1)
    assert cache.get_history("AAPL", period, timeframe) is None
    assert cache.last_history("AAPL", period, timeframe) is not None
    # Other parameters are other keys.
    assert cache.last_history("AAPL", period, timeframe, limit=5) is None


def test_closed_history_window_is_kept_a_day(clock: FakeClock) -> None:
    assert history_ttl(Timeframe.M1, end=clock() - 3600, now=clock()) == 24 * 3600
    assert history_ttl(Timeframe.M1, end=clock(), now=clock()) == 60


def test_options_stored_under_requested_and_own_expiration(cache: MarketCache) -> None:
    chain = OptionChain("AAPL", 190.0, "2024-01-19", ("2024-01-19",), (), ())
    cache.put_options(chain, "yahoo", requested=None)
    assert cache.get_options("AAPL") is not None
    assert cache.get_options("AAPL", "2024-01-19") is not None
    assert cache.get_options("AAPL", "2024-02-16") is None


def test_counters(cache: MarketCache) -> None:
    assert cache.get_quote("MSFT") is None
    cache.put_quote(_quote())
    assert cache.get_quote("AAPL") is not None
    stats = cache.stats()
    assert stats["hits"] == 1 and stats["misses"] == 1 and stats["hit_rate"] == 0.5 and stats["writes"] == 1


def test_survives_restart(tmp_path: Path, clock: FakeClock) -> None:
    first = MarketCache(tmp_path / "c", clock=clock)
    first.put_quote(_quote(123.0))
    first.close()
    second = MarketCache(tmp_path / "c", clock=clock)
    try:
        entry = second.get_quote("AAPL")
        assert entry is not None and entry.value.price == 123.0
    finally:
        second.close()


def test_locked_database_is_a_miss_not_a_wait(cache: MarketCache, tmp_path: Path, clock: FakeClock) -> None:
    cache.put_quote(_quote())
    clock.advance(10)
    # Another connection holds an exclusive lock, as a slow writer in another process would.
    other = diskcache.Cache(str(tmp_path / "cache"))
    try:
        # The raw SQLite connection is the only way to hold a lock from a test.
        con = other._con
        con.execute("BEGIN EXCLUSIVE")
        try:
            cache.put_quote(_quote(101.0))
            assert cache.stats()["errors"] >= 1
        finally:
            con.execute("COMMIT")
    finally:
        other.close()
    entry = cache.get_quote("AAPL")
    assert entry is not None and entry.value.price == 100.0
