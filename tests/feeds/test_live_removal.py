"""LiveFeed.remove_symbol: queued from any thread, applied on the feed thread, everything of the symbol let go."""

from __future__ import annotations

from typing import Any

from feeds.bus import InProcessBus
from feeds.candles import CandleEvent
from feeds.live import LiveFeed
from feeds.models import Candle, Timeframe
from feeds.simulated import SimulatedSource


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class RecordingListener:
    def __init__(self) -> None:
        self.seeded: list[tuple[str, Timeframe]] = []
        self.dropped: list[str] = []

    def candle_closed(self, event: CandleEvent) -> list[tuple[str, Any]]:
        return []

    def prepare(self, symbol: str, timeframe: Timeframe, candles: list[Candle]) -> tuple[str, Timeframe]:
        return symbol, timeframe

    def install(self, prepared: tuple[str, Timeframe]) -> None:
        self.seeded.append(prepared)

    def seed(self, symbol: str, timeframe: Timeframe, candles: list[Candle]) -> None:
        self.install(self.prepare(symbol, timeframe, candles))

    def drop_symbol(self, symbol: str) -> None:
        self.dropped.append(symbol)


def make_feed(max_symbols: int = 200) -> tuple[LiveFeed, Clock, RecordingListener]:
    clock = Clock(1_763_700_000.0)
    listener = RecordingListener()
    feed = LiveFeed(SimulatedSource(seed=1, clock=clock), InProcessBus(), ["AAPL"], interval=1.0, clock=clock,
                    listener=listener, max_symbols=max_symbols, timeframes=(Timeframe.M1, Timeframe.M5))
    return feed, clock, listener


def test_removal_is_applied_at_the_next_iteration_and_forgets_everything() -> None:
    feed, clock, listener = make_feed()
    feed.add_symbol("MSFT")
    feed.run_once()
    clock.t += 1
    feed.run_once()
    assert feed.latest_quote("MSFT") is not None and feed.latest_candle("MSFT", Timeframe.M1) is not None
    feed.remove_symbol("MSFT")
    assert feed.symbols == ("AAPL",)  # statistics show it leaving at once
    assert feed.latest_quote("MSFT") is not None  # the feed thread has not run yet
    clock.t += 1
    feed.run_once()
    assert feed.latest_quote("MSFT") is None
    assert feed.latest_candle("MSFT", Timeframe.M1) is None and feed.latest_candle("MSFT", Timeframe.M5) is None
    assert feed._builder.current("MSFT", Timeframe.M1) is None
    assert listener.dropped == ["MSFT"]
    assert all(symbol != "MSFT" for symbol, _ in feed._listener_backlog)
    ticks_before = feed.stats.quotes_fetched
    clock.t += 1
    feed.run_once()
    assert feed.stats.quotes_fetched == ticks_before + 1  # only AAPL is polled now
    assert feed.latest_quote("AAPL") is not None


def test_removal_purges_the_listener_backlog() -> None:
    feed, clock, listener = make_feed()
    feed.add_symbol("MSFT")
    feed.run_once()  # AAPL and MSFT start; one tracker is seeded per iteration
    feed.remove_symbol("MSFT")
    for _ in range(6):
        clock.t += 1
        feed.run_once()
    assert all(symbol == "AAPL" for symbol, _ in listener.seeded)
    assert set(listener.seeded) == {("AAPL", Timeframe.M1), ("AAPL", Timeframe.M5)}


def test_adding_again_cancels_a_queued_removal() -> None:
    feed, clock, listener = make_feed()
    feed.add_symbol("MSFT")
    feed.run_once()
    feed.remove_symbol("MSFT")
    assert feed.add_symbol("MSFT")
    assert feed.symbols == ("AAPL", "MSFT")
    clock.t += 1
    feed.run_once()
    assert feed.latest_quote("MSFT") is not None and listener.dropped == []


def test_a_symbol_removed_before_it_started_never_starts() -> None:
    feed, _, listener = make_feed()
    feed.add_symbol("MSFT")
    feed.remove_symbol("MSFT")
    assert feed.symbols == ("AAPL",)
    feed.run_once()
    assert feed.latest_quote("MSFT") is None and feed.symbols == ("AAPL",)


def test_a_removal_during_the_admission_applies_next_iteration() -> None:
    """remove_symbol may come while the feed thread is starting the symbol: it still goes, one iteration later."""
    feed, clock, _ = make_feed()
    feed.add_symbol("MSFT")
    source = feed.source
    original = source.quote

    def quote_then_remove(symbol: str) -> Any:
        if symbol == "MSFT":
            feed.remove_symbol("MSFT")  # as another thread would, mid-admission
        return original(symbol)

    source.quote = quote_then_remove  # type: ignore[method-assign]
    feed.run_once()
    source.quote = original  # type: ignore[method-assign]
    assert "MSFT" not in feed.symbols
    clock.t += 1
    feed.run_once()
    assert feed.latest_quote("MSFT") is None and "MSFT" not in feed._symbols


def test_leaving_symbols_free_their_place_under_the_limit() -> None:
    feed, _, _ = make_feed(max_symbols=2)
    assert feed.add_symbol("MSFT")
    feed.run_once()
    assert not feed.add_symbol("TSLA")
    feed.remove_symbol("MSFT")
    assert feed.add_symbol("TSLA")
    feed.run_once()
    assert feed.symbols == ("AAPL", "TSLA")


def test_a_failing_symbol_waiting_for_its_retry_can_be_removed() -> None:
    feed, clock, _ = make_feed()
    feed._retry["BAD"] = (0.0, 3)
    feed.remove_symbol("BAD")
    assert "BAD" not in feed.symbols
    feed.run_once()
    assert "BAD" not in feed._retry
