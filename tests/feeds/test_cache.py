"""MarketCache: TTLs on an injected clock, last-good values, counters, the disk encoding, and a slow or locked disk
never holding up the caller (the feed thread)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import diskcache
import pytest
from tests_support import FakeClock, wait_for

from feeds.cache import MarketCache, history_ttl
from feeds.cache_entries import CacheEntry, decode_entry, encode_entry
from feeds.log_throttle import LogThrottle
from feeds.models import Candle, OptionChain, OptionContract, Period, Quote, Timeframe


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


def test_quote_disk_writes_are_throttled_per_symbol(cache: MarketCache, clock: FakeClock, tmp_path: Path) -> None:
    cache.put_quote(_quote(100.0))
    clock.advance(1)
    cache.put_quote(_quote(101.0))  # kept in memory; the disk need not follow a feed that quotes every 50 ms
    entry = cache.get_quote("AAPL")
    assert entry is not None and entry.value.price == 101.0
    assert cache.flush()
    assert _on_disk(tmp_path / "cache", clock, "AAPL") == 100.0
    clock.advance(4)
    cache.put_quote(_quote(102.0))
    assert cache.flush()
    assert _on_disk(tmp_path / "cache", clock, "AAPL") == 102.0


def _on_disk(directory: Path, clock: FakeClock, symbol: str) -> float | None:
    """The quote price another process sharing ``directory`` would read."""
    other = MarketCache(directory, clock=clock, read_timeout=5.0)
    try:
        entry = other.last_quote(symbol)
        return None if entry is None else entry.value.price
    finally:
        other.close()


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
    assert cache.flush()
    stats = cache.stats()
    assert stats["hits"] == 1 and stats["misses"] == 1 and stats["hit_rate"] == 0.5 and stats["writes"] == 1


def test_survives_restart(tmp_path: Path, clock: FakeClock) -> None:
    first = MarketCache(tmp_path / "c", clock=clock)
    first.put_quote(_quote(123.0))
    first.close()
    # A generous read limit: this test is about what reaches the disk, not about how fast it comes back.
    second = MarketCache(tmp_path / "c", clock=clock, read_timeout=5.0)
    try:
        entry = second.get_quote("AAPL")
        assert entry is not None and entry.value.price == 123.0
    finally:
        second.close()




def test_encoding_round_trips_every_kind() -> None:
    candles = [Candle(1_700_000_000 + 60 * i, 100.0 + i, 101.5 + i, 99.25, 100.5, 1234.0 + i) for i in range(3)]
    chain = OptionChain("AAPL", 190.0, "2024-01-19", ("2024-01-19", "2024-02-16"),
                        (OptionContract("AAPL240119C00190000", 190.0, 2.5, 2.4, 2.6, 10, 100, 0.25, 0.5, 0.01,
                                        -0.05, 0.1, True),), ())
    for value in (_quote(), candles, [], chain):
        entry = CacheEntry(value, "yahoo", 1_700_000_123.5)
        blob = encode_entry(entry)
        assert isinstance(blob, bytes)
        assert decode_entry(blob) == entry
    # Candles are stored as float64 rows, not pickled objects: 48 bytes each plus a small header.
    assert len(encode_entry(CacheEntry(candles * 1000, "yahoo", 0.0))) < 3000 * 48 + 200
    # Entries pickled by earlier versions are still read.
    assert decode_entry((1.0, "yahoo", _quote())) == CacheEntry(_quote(), "yahoo", 1.0)
    assert decode_entry(b"garbage") is None and decode_entry(None) is None


class SlowStore:
    """A disk that takes ``delay`` seconds for every read and write (``release`` ends the waits early)."""

    def __init__(self, delay: float = 1.0) -> None:
        self.delay = delay
        self.release = threading.Event()
        self.data: dict[str, Any] = {}
        self.reads = 0
        self.writes = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.release.wait(self.delay)
        self.reads += 1
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> bool:
        self.release.wait(self.delay)
        self.data[key] = value
        self.writes += 1
        return True

    def clear(self) -> int:
        self.data.clear()
        return 0

    def close(self) -> None:
        self.release.set()


@pytest.fixture
def slow_store() -> Iterator[SlowStore]:
    store = SlowStore(delay=1.0)
    yield store
    store.release.set()


def _timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


# Generous: the calls must not wait for the 1 s disk; this is a behaviour check, not a speed target.
CALLER_BOUND = 0.050


def test_a_slow_disk_never_holds_up_the_caller(tmp_path: Path, clock: FakeClock, slow_store: SlowStore) -> None:
    cache = MarketCache(tmp_path / "slow", clock=clock, store=slow_store)
    period, timeframe = Period.parse("2d"), Timeframe.M1
    candles = [Candle(1_699_900_000 + 60 * i, 100.0, 101.0, 99.0, 100.5, 10.0) for i in range(2880)]
    # The feed thread seeding history: a miss (nothing on disk yet), the source's answer stored, read back.
    miss, took = _timed(lambda: cache.get_history("AAPL", period, timeframe))
    assert miss is None and took < CALLER_BOUND
    _, took = _timed(lambda: cache.put_history("AAPL", period, timeframe, None, None, candles, "yahoo"))
    assert took < CALLER_BOUND
    hit, took = _timed(lambda: cache.get_history("AAPL", period, timeframe))
    assert hit is not None and hit.value == candles and took < CALLER_BOUND
    # Quotes on every tick, and the stale fallback.
    for price in (100.0, 101.0, 102.0):
        _, took = _timed(lambda p=price: cache.put_quote(_quote(p)))  # type: ignore[misc]
        assert took < CALLER_BOUND
    last, took = _timed(lambda: cache.last_quote("AAPL"))
    assert last is not None and last.value.price == 102.0 and took < CALLER_BOUND
    none, took = _timed(lambda: cache.last_quote("MSFT"))
    assert none is None and took < CALLER_BOUND
    assert cache.stats()["slow_reads"] >= 2
    # The writes do reach the slow disk, in the background.
    slow_store.release.set()
    assert cache.flush(5.0)
    assert set(slow_store.data) >= {"quote|AAPL", "history|AAPL|2d|1m|None|None"}
    cache.close()


def test_a_slow_read_fills_memory_for_the_next_lookup(tmp_path: Path, clock: FakeClock) -> None:
    store = SlowStore(delay=0.3)
    store.data["quote|AAPL"] = encode_entry(CacheEntry(_quote(77.0), "polygon", clock()))
    cache = MarketCache(tmp_path / "slow", clock=clock, store=store)
    first, took = _timed(lambda: cache.get_quote("AAPL"))
    assert first is None and took < CALLER_BOUND
    # The read finishes on its reader thread and lands in the memory front.
    entry = wait_for(lambda: cache.get_quote("AAPL"), timeout=5, interval=0.05, message="the slow read")
    assert entry.value.price == 77.0 and entry.source == "polygon"
    cache.close()


def test_writes_are_bounded_and_dropped_when_the_disk_cannot_keep_up(tmp_path: Path, clock: FakeClock,
                                                                     slow_store: SlowStore) -> None:
    cache = MarketCache(tmp_path / "slow", clock=clock, store=slow_store, max_pending_writes=4)
    period = Period.parse("1d")
    started = time.perf_counter()
    for i in range(20):
        cache.put_history(f"S{i}", period, Timeframe.M5, None, None, [Candle(0, 1, 1, 1, 1, 1)], "yahoo")
        # Rewriting a waiting key replaces its value instead of taking another place in the queue.
        cache.put_history("S0", period, Timeframe.M5, None, None, [Candle(0, 2, 2, 2, 2, 2)], "yahoo")
    assert time.perf_counter() - started < 20 * CALLER_BOUND
    stats = cache.stats()
    assert stats["pending_writes"] <= 4 and stats["dropped_writes"] >= 14
    # Dropped from the disk only: this process still answers from memory.
    for i in range(20):
        assert cache.get_history(f"S{i}", period, Timeframe.M5) is not None
    slow_store.release.set()
    assert cache.flush(5.0)
    cache.close()


def test_a_locked_database_never_blocks_the_caller(cache: MarketCache, tmp_path: Path, clock: FakeClock) -> None:
    cache.put_quote(_quote())
    assert cache.flush()
    clock.advance(10)
    # Another connection holds an exclusive lock, as a slow writer in another process would.
    other = diskcache.Cache(str(tmp_path / "cache"))
    try:
        # The raw SQLite connection is the only way to hold a lock from a test.
        con = other._con
        con.execute("BEGIN EXCLUSIVE")
        try:
            _, took = _timed(lambda: cache.put_quote(_quote(101.0)))
            assert took < CALLER_BOUND
            # The writer thread gives up after SQLite's busy timeout and counts the failure.
            assert cache.flush(10.0)
            assert cache.stats()["errors"] >= 1
        finally:
            con.execute("COMMIT")
    finally:
        other.close()
    entry = cache.get_quote("AAPL")
    assert entry is not None and entry.value.price == 101.0


def test_memory_front_is_bounded_and_the_disk_keeps_the_rest(tmp_path: Path, clock: FakeClock) -> None:
    cache = MarketCache(tmp_path / "small", clock=clock, memory_weight=100, read_timeout=5.0)
    period = Period.parse("1d")
    candles = [Candle(60 * i, 1, 1, 1, 1, 1) for i in range(60)]
    cache.put_history("A", period, Timeframe.M1, None, None, candles, "yahoo")
    cache.put_history("B", period, Timeframe.M1, None, None, candles, "yahoo")
    assert cache.stats()["memory_entries"] == 1
    assert cache.flush()
    entry = cache.get_history("A", period, Timeframe.M1)
    assert entry is not None and entry.value == candles
    # A caller changing the list it got does not change the cache.
    entry.value.clear()
    again = cache.get_history("A", period, Timeframe.M1)
    assert again is not None and again.value == candles
    cache.close()


# -- an unusable directory at start-up, a disk that fails while running ---------------------------------------------


def test_a_path_under_a_regular_file_gives_a_memory_only_cache(tmp_path: Path, clock: FakeClock,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a regular file where the cache directory should be")
    caplog.set_level(logging.WARNING, logger="feeds.cache")
    cache = MarketCache(blocker / "market" / "live", clock=clock)
    stats = cache.stats()
    assert stats["mode"] == "memory" and str(blocker) in stats["reason"]
    warnings = [r for r in caplog.records if r.name == "feeds.cache"]
    assert len(warnings) == 1 and "memory only" in warnings[0].getMessage() and warnings[0].exc_info is None
    # Everything but the disk still works: fresh reads, the stale fallback, clear and close.
    cache.put_quote(_quote(101.0))
    hit = cache.get_quote("AAPL")
    assert hit is not None and hit.value.price == 101.0
    clock.advance(3600)
    last = cache.last_quote("AAPL")
    assert last is not None and last.value.price == 101.0
    assert cache.flush() and cache.stats()["pending_writes"] == 0 and cache.stats()["errors"] == 0
    cache.clear()
    assert cache.last_quote("AAPL") is None
    cache.close()


def test_a_store_that_opens_but_cannot_write_is_not_used(tmp_path: Path, clock: FakeClock,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(self: diskcache.Cache, key: str, value: Any, *args: Any, **kwargs: Any) -> bool:
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(diskcache.Cache, "set", read_only)
    cache = MarketCache(tmp_path / "cache", clock=clock)
    assert cache.stats()["mode"] == "memory" and "readonly" in cache.stats()["reason"]
    cache.close()


def test_a_healthy_directory_reports_disk_mode(cache: MarketCache) -> None:
    stats = cache.stats()
    assert stats["mode"] == "disk" and stats["reason"] is None


class FullDisk(SlowStore):
    """A disk that filled up after start-up: every write fails."""

    def __init__(self) -> None:
        super().__init__(delay=0.0)

    def set(self, key: str, value: Any) -> bool:
        raise sqlite3.OperationalError("database or disk is full")


def test_a_full_disk_is_logged_once_per_minute_with_a_count(tmp_path: Path, clock: FakeClock,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    log_clock = FakeClock(0.0)
    throttle = LogThrottle(logging.getLogger("feeds.cache"), clock=log_clock)
    cache = MarketCache(tmp_path / "full", clock=clock, store=FullDisk(), log_throttle=throttle)
    caplog.set_level(logging.WARNING, logger="feeds.cache")
    period = Period.parse("1d")

    def write_many(count: int, prefix: str) -> None:
        for i in range(count):
            cache.put_history(f"{prefix}{i}", period, Timeframe.M5, None, None, [Candle(0, 1, 1, 1, 1, 1)], "yahoo")
            assert cache.flush(5.0)

    write_many(92, "A")
    records = [r for r in caplog.records if r.name == "feeds.cache"]
    assert len(records) == 1 and records[0].exc_info is not None and "disk is full" in records[0].getMessage()
    assert cache.stats()["errors"] == 92
    log_clock.advance(61)
    write_many(1, "B")
    records = [r for r in caplog.records if r.name == "feeds.cache"]
    assert len(records) == 2 and records[1].exc_info is None
    assert "91 more like it" in records[1].getMessage()
    cache.close()
