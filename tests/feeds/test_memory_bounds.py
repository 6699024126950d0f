"""Every per-symbol structure of the feed layer is bounded and let go with the symbol; caches hold what they count."""

from __future__ import annotations

import gc
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests_support import FakeClock, wait_for

from api.signal_bridge import SignalEngine
from feeds import simulated
from feeds.bus import InProcessBus
from feeds.cache import MAX_QUOTE_SYMBOLS, MarketCache
from feeds.live import LiveFeed
from feeds.models import Candle, Period, Quote, Timeframe
from feeds.options import synthetic_chain
from feeds.simulated import SimulatedSource

NOW = 1_763_700_000.0 + 37.25


def _arrays(value: Any) -> list[np.ndarray]:
    if isinstance(value, np.ndarray):
        return [value]
    return [getattr(value, name) for name in value.__slots__]


def _caches(source: SimulatedSource) -> dict[str, Any]:
    return {"anchors": source._anchors, "days": source._days, "hours": source._hours, "paths": source._paths}


def _held(cache: Any) -> int:
    """What a cache's values really keep alive: their arrays' own buffers, plus any array they are a view of."""
    total = 0
    for value, _ in cache._items.values():
        for array in _arrays(value):
            total += array.nbytes if array.base is None else array.base.nbytes
    return total


def _keys_of(source: SimulatedSource, symbol: str) -> list[Any]:
    found = []
    for cache in _caches(source).values():
        found += [k for k in cache._items if k == symbol or (isinstance(k, tuple) and k[0] == symbol)]
    return found


def test_hour_cache_holds_contiguous_copies_of_960_bytes() -> None:
    source = SimulatedSource(seed=3, clock=lambda: NOW, any_symbol=True)
    source.history("AAPL", Period.parse("1mo"), Timeframe.H1)
    assert len(source._hours) >= 30
    for value, size in source._hours._items.values():
        # A strided view (o[::60]) would keep the day's 1,440 minutes (11.5 KB per column) alive.
        assert isinstance(value, np.ndarray) and value.base is None and value.flags.c_contiguous
        assert value.nbytes == 5 * 24 * 8
        assert size == value.nbytes + simulated._ENTRY_OVERHEAD


def test_every_cache_accounts_for_what_it_holds() -> None:
    source = SimulatedSource(seed=3, clock=lambda: NOW, any_symbol=True)
    for i in range(20):
        source.quote(f"SYM{i}")
        source.history(f"SYM{i}", Period.parse("5d"), Timeframe.H4)
    for name, cache in _caches(source).items():
        assert len(cache) > 0, name
        entries = len(cache)
        assert cache.bytes == _held(cache) + entries * simulated._ENTRY_OVERHEAD, name
    assert source.cache_bytes() == sum(c.bytes for c in _caches(source).values())


def test_anchor_cache_stays_within_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # About 35 KB of anchors per symbol: before, each distinct symbol quoted stayed for good.
    monkeypatch.setattr(simulated, "ANCHOR_CACHE_BYTES", 200_000)
    source = SimulatedSource(seed=3, clock=lambda: NOW, any_symbol=True)
    for i in range(40):
        source.quote(f"NEW{i}")
        assert source._anchors.bytes <= 200_000
    assert 0 < len(source._anchors) < 10
    assert source._anchors.get("NEW39") is not None  # the newest stay


def test_default_budgets_bound_many_distinct_symbols() -> None:
    source = SimulatedSource(seed=3, clock=lambda: NOW, any_symbol=True)
    for i in range(600):  # 600 × 35 KB of anchors and 600 × 69 KB of days would be 62 MB
        source.quote(f"MANY{i}")
    for name, limit in (("anchors", simulated.ANCHOR_CACHE_BYTES), ("days", simulated.DAY_CACHE_BYTES),
                        ("paths", simulated.PATH_CACHE_BYTES)):
        cache = _caches(source)[name]
        assert cache.bytes <= limit and _held(cache) <= limit, name
    assert len(source._anchors) < 600 and len(source._days) < 600


def test_eviction_never_changes_the_market(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = SimulatedSource(seed=3, clock=lambda: NOW, any_symbol=True)
    expected = fresh.history("GC=F", Period.parse("1mo"), Timeframe.H4), fresh.quote("GC=F")
    for name in ("ANCHOR_CACHE_BYTES", "DAY_CACHE_BYTES", "HOUR_CACHE_BYTES", "PATH_CACHE_BYTES"):
        monkeypatch.setattr(simulated, name, 1)
    tiny = SimulatedSource(seed=3, clock=lambda: NOW, any_symbol=True)
    tiny.history("AAPL", Period.parse("1mo"), Timeframe.H4)  # evicts GC=F's entries as they come
    assert (tiny.history("GC=F", Period.parse("1mo"), Timeframe.H4), tiny.quote("GC=F")) == expected
    assert all(len(cache) == 1 for cache in _caches(tiny).values())


def test_forget_symbols_drops_only_their_entries() -> None:
    source = SimulatedSource(seed=3, clock=lambda: NOW, any_symbol=True)
    for symbol in ("AAPL", "ZZZZ9"):
        source.quote(symbol)
        source.history(symbol, Period.parse("5d"), Timeframe.H1)
    assert _keys_of(source, "ZZZZ9")
    source.forget_symbols(["ZZZZ9"])
    assert _keys_of(source, "ZZZZ9") == []
    assert _keys_of(source, "AAPL")
    assert source.cache_bytes() == sum(_held(c) + len(c) * simulated._ENTRY_OVERHEAD
                                       for c in _caches(source).values())


def test_a_removed_symbol_leaves_nothing_behind_in_the_feed() -> None:
    clock = FakeClock(NOW)
    source = SimulatedSource(seed=1, clock=clock, any_symbol=True)
    engine = SignalEngine(timeframes=(Timeframe.M5, Timeframe.H1))
    feed = LiveFeed(source, InProcessBus(), ["AAPL"], interval=1.0, clock=clock, listener=engine,
                    timeframes=(Timeframe.M5, Timeframe.H1))
    for cycle in range(2):
        names = [f"C{cycle}X{i}" for i in range(3)]
        for name in names:
            assert feed.add_symbol(name)
        for _ in range(16):  # long enough to seed every tracker and close 5-minute candles
            feed.run_once()
            clock.advance(20)
        assert {t.symbol for t in engine.trackers()} == {"AAPL", *names}
        for name in names:
            feed.remove_symbol(name)
        feed.run_once()
        assert feed.symbols == ("AAPL",)
        assert set(feed._quotes) == {"AAPL"}
        assert {s for s, _ in feed._candles} == {"AAPL"}
        assert {s for s, _ in feed._builder._current} <= {"AAPL"}
        assert set(feed._builder._last_tick_time) == {"AAPL"}
        assert feed._retry == {} and all(s == "AAPL" for s, _ in feed._listener_backlog)
        assert {t.symbol for t in engine.trackers()} == {"AAPL"}
        for name in names:
            assert _keys_of(source, name) == []


class MemoryStore:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> bool:
        self.data[key] = value
        return True

    def clear(self) -> None:
        self.data.clear()

    def close(self) -> None:
        pass


def test_quote_write_times_are_bounded(tmp_path: Path) -> None:
    clock = FakeClock()
    cache = MarketCache(tmp_path, clock=clock, store=MemoryStore(), max_pending_writes=100_000)
    try:
        for i in range(MAX_QUOTE_SYMBOLS + 500):
            cache.put_quote(Quote(f"Q{i}", 10.0, None, None, 0.0, None, clock(), "yahoo"))
        assert len(cache._quote_written) == MAX_QUOTE_SYMBOLS
        clock.advance(5.0)
        cache.put_quote(Quote("AAPL", 10.0, None, None, 0.0, None, clock(), "yahoo"))
        # Every other symbol's write is due again anyway: nothing to remember about them.
        assert list(cache._quote_written) == ["AAPL"]
        assert cache.flush()
        writes = cache.stats()["writes"]
        clock.advance(1.0)
        cache.put_quote(Quote("AAPL", 11.0, None, None, 0.0, None, clock(), "yahoo"))
        assert cache.flush() and cache.stats()["writes"] == writes  # still spaced per symbol
    finally:
        cache.close()


def test_long_daily_history_leaves_the_day_cache_to_live_quotes() -> None:
    source = SimulatedSource(seed=3, clock=lambda: NOW, any_symbol=True)
    source.quote("AAPL")
    days_before = set(source._days._items)
    source.history("MSFT", Period.parse("1y"), Timeframe.D1)
    # Hours are cached (960 B a day); the 365 days of minutes they came from (69 KB each) are not.
    assert len(source._hours) >= 365
    assert days_before <= set(source._days._items) and len(source._days) <= len(days_before) + 2


class BlockingHistory:
    """The simulated market whose history requests wait for ``release``; records forget_symbols calls."""

    def __init__(self, clock: FakeClock) -> None:
        self.sim = SimulatedSource(seed=1, clock=clock, any_symbol=True)
        self.name = "sim"
        self.release = threading.Event()
        self.asked = threading.Event()
        self.forgotten: list[str] = []

    def quote(self, symbol: str) -> Quote:
        return self.sim.quote(symbol)

    def forming_candle(self, symbol: str, timeframe: Timeframe, t: float) -> Any:
        return self.sim.forming_candle(symbol, timeframe, t)

    def history(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        if symbol != "AAPL":
            self.asked.set()
            self.release.wait(10)
        return self.sim.history(symbol, *args, **kwargs)

    def forget_symbols(self, symbols: Any) -> None:
        self.forgotten.extend(symbols)
        self.sim.forget_symbols(symbols)


def test_a_seed_thrown_away_on_removal_forgets_what_its_history_cached() -> None:
    clock = FakeClock(NOW)
    source = BlockingHistory(clock)
    feed = LiveFeed(source, InProcessBus(), [], interval=1.0, clock=clock, seed_in_background=True,  # type: ignore[arg-type]
                    listener=SignalEngine(timeframes=(Timeframe.H1,)), timeframes=(Timeframe.H1,))
    try:
        feed.add_symbol("GONE")
        feed.run_once()
        assert source.asked.wait(10)  # the worker is inside GONE's history request
        feed.remove_symbol("GONE")
        feed.run_once()
        assert source.forgotten == ["GONE"]
        source.release.set()  # the request finishes and caches GONE's days and hours
        wait_for(lambda: source.forgotten == ["GONE", "GONE"], 10, message="the late forget")
        assert _keys_of(source.sim, "GONE") == []
    finally:
        source.release.set()


class NullStore(MemoryStore):
    def set(self, key: str, value: Any) -> bool:
        return True


def _fill_quotes(cache: MarketCache, clock: FakeClock) -> None:
    for i in range(1000):
        cache.put_quote(Quote(f"Q{i}", 10.0 + i, 9.9 + i, 10.1 + i, 1e6 + i, 9.0 + i, clock() + i, "yahoo"))


def _fill_history(cache: MarketCache, clock: FakeClock) -> None:
    for i in range(30):
        candles = [Candle(60 * k, 1.0 + k, 2.0 + k, 0.5 + k, 1.5 + k, 100.0 + k) for k in range(i * 100, i * 100 + 500)]
        cache.put_history(f"H{i}", Period.parse("5d"), Timeframe.M1, None, None, candles, "yahoo")


def _fill_options(cache: MarketCache, clock: FakeClock) -> None:
    for i in range(20):
        chain = synthetic_chain(f"O{i}", 100.0 + i, clock(), 0.3, i)
        cache.put_options(chain, "yahoo", requested=chain.expiration)


@pytest.mark.parametrize("fill", [_fill_quotes, _fill_history, _fill_options])
def test_market_cache_memory_front_weighs_what_it_holds(tmp_path: Path, fill: Any) -> None:
    """The front's weight, in candles of about 240 bytes, is within a factor 1.5 of the memory its entries hold
    (a quote counted as one candle was a third of its cost)."""
    clock = FakeClock()
    cache = MarketCache(tmp_path, clock=clock, store=NullStore(), max_pending_writes=100_000)
    try:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        fill(cache, clock)
        assert cache.flush()
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
        accounted = cache._memory_used * 240
        assert accounted / 1.5 <= held <= accounted * 1.5, (held, accounted)
    finally:
        cache.close()
