"""The feed thread: events on the bus, supervision and restart after failures."""

from __future__ import annotations

import threading

from tests_support import wait_for  # type: ignore[import-not-found]

from feeds.bus import EventQueue, InProcessBus
from feeds.candles import CandleEvent
from feeds.live import LiveFeed
from feeds.models import Quote, Tick, Timeframe
from feeds.simulated import SimulatedSource


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_run_once_publishes_quote_tick_and_candles() -> None:
    clock = Clock(1_763_700_000.0)
    bus = InProcessBus()
    queue = EventQueue(1000)
    bus.subscribe(queue.put)
    feed = LiveFeed(SimulatedSource(seed=1, clock=clock), bus, ["AAPL", "GC=F"], interval=1.0, clock=clock)
    feed.run_once()
    clock.t += 1
    feed.run_once()
    topics = []
    while (item := queue.get(0)) is not None:
        topics.append(item[0])
    # First iteration seeds from history (no tick yet); the second publishes per symbol.
    for symbol in ("AAPL", "GC=F"):
        assert f"market_data.{symbol}" in topics
        assert f"ticks.{symbol}" in topics
        for timeframe in Timeframe:
            assert f"candles.{symbol}.{timeframe.value}" in topics
    assert feed.stats.quotes_fetched == 2


def test_minute_close_is_published_once_with_the_closed_candle() -> None:
    clock = Clock(1_763_700_000.0 + 50)
    bus = InProcessBus()
    closed: list[CandleEvent] = []
    bus.subscribe(lambda topic, e: closed.append(e) if isinstance(e, CandleEvent) and e.closed else None,
                  prefix="candles.AAPL.1m")
    feed = LiveFeed(SimulatedSource(seed=1, clock=clock), bus, ["AAPL"], interval=0.5, clock=clock)
    for _ in range(60):
        feed.run_once()
        clock.t += 0.5
    assert len(closed) == 1
    assert closed[0].candle.time == Timeframe.M1.bucket_start(1_763_700_000.0 + 50)
    assert closed[0].candle.close == feed.source.quote_at("AAPL", closed[0].candle.time + 59.5).price  # type: ignore[attr-defined]


class FlakySource(SimulatedSource):
    """Raises a chosen exception type on its n-th quote, once."""

    def __init__(self, fail_on: int, exc: BaseException, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.calls = 0
        self.fail_on = fail_on
        self.exc = exc

    def quote(self, symbol: str) -> Quote:
        self.calls += 1
        if self.calls == self.fail_on:
            raise self.exc
        return super().quote(symbol)


class ExplodingBus(InProcessBus):
    """Raises inside the feed loop itself (not inside a handler) on one publish."""

    def __init__(self, fail_on: int, exc: BaseException) -> None:
        super().__init__()
        self.count = 0
        self.fail_on = fail_on
        self.exc = exc

    def publish(self, topic: str, event: object) -> None:
        self.count += 1
        if self.count == self.fail_on:
            raise self.exc
        super().publish(topic, event)


def test_source_errors_are_counted_and_the_feed_goes_on() -> None:
    feed = LiveFeed(FlakySource(3, RuntimeError("provider down"), seed=1), InProcessBus(), ["AAPL"], interval=0.01)
    for _ in range(5):
        feed.run_once()
    assert feed.stats.errors == 1
    assert "provider down" in (feed.stats.last_error or "")
    assert feed.stats.quotes_fetched >= 3


def test_supervisor_restarts_the_thread_after_an_exception() -> None:
    bus = ExplodingBus(5, RuntimeError("bug in the loop"))
    ticks: list[Tick] = []
    feed = LiveFeed(SimulatedSource(seed=1), bus, ["AAPL"], interval=0.01)
    bus.subscribe(lambda topic, e: ticks.append(e) if isinstance(e, Tick) else None)
    feed.start()
    try:
        wait_for(lambda: feed.stats.restarts >= 1 and len(ticks) >= 5, 10, message="restart and more ticks")
        assert feed.is_running
        assert "bug in the loop" in (feed.stats.last_error or "")
    finally:
        feed.stop()
    assert not feed.is_running


def test_supervisor_survives_system_exit() -> None:
    """dash.testing stops its server by raising SystemExit in every thread; the feed must come back."""
    bus = ExplodingBus(3, SystemExit())
    feed = LiveFeed(SimulatedSource(seed=1), bus, ["AAPL"], interval=0.01)
    feed.start()
    try:
        wait_for(lambda: feed.stats.restarts >= 1 and bus.count > 10, 10, message="restart after SystemExit")
        assert feed.is_running
    finally:
        feed.stop()


def test_ensure_running_revives_a_dead_thread() -> None:
    feed = LiveFeed(SimulatedSource(seed=1), InProcessBus(), ["AAPL"], interval=0.01)
    dead = threading.Thread(target=lambda: None)
    dead.start()
    dead.join()
    feed._thread = dead  # as if the thread had been killed outright
    feed.ensure_running()
    try:
        wait_for(lambda: feed.iterations > 2, 10, message="feed iterations")
        assert feed.stats.restarts == 1
    finally:
        feed.stop()


def test_add_symbol_respects_the_limit() -> None:
    feed = LiveFeed(SimulatedSource(seed=1), InProcessBus(), ["AAPL"], interval=1, max_symbols=2)
    assert feed.add_symbol("MSFT")
    assert feed.add_symbol("MSFT")
    assert not feed.add_symbol("TSLA")
    feed.run_once()
    assert feed.symbols == ("AAPL", "MSFT")
    assert feed.latest_quote("MSFT") is not None


class GatedSource(SimulatedSource):
    """Holds the first quote of one symbol until the test opens the gate; fails another symbol's quotes."""

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def quote(self, symbol: str) -> Quote:
        if symbol == "SLOW" and not self.gate.is_set():
            self.waiting.set()
            self.gate.wait(10)
        if symbol == "BAD":
            raise RuntimeError("provider does not answer")
        return super().quote(symbol)


def test_symbols_on_their_way_in_count_against_the_limit() -> None:
    source = GatedSource(seed=1)
    feed = LiveFeed(source, InProcessBus(), ["AAPL"], interval=1, max_symbols=3)
    feed.run_once()
    assert feed.add_symbol("BAD")
    feed.run_once()  # BAD's first quote fails: it waits to retry, still wanted
    assert feed.add_symbol("SLOW")
    starting = threading.Thread(target=feed.run_once)
    starting.start()
    try:
        assert source.waiting.wait(5), "the feed thread must be starting SLOW"
        assert not feed.add_symbol("MSFT"), "AAPL, BAD (retrying) and SLOW (starting) fill the limit"
        assert set(feed.symbols) == {"AAPL", "BAD", "SLOW"}
    finally:
        source.gate.set()
        starting.join(10)
    assert not feed.add_symbol("MSFT")
    feed.remove_symbol("BAD")
    feed.run_once()
    assert feed.add_symbol("MSFT")


class DownAtStartSource(SimulatedSource):
    """Fails every quote for one symbol until told the provider is back."""

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.down = True

    def quote(self, symbol: str) -> Quote:
        if self.down and symbol == "MSFT":
            raise RuntimeError("provider down")
        return super().quote(symbol)


def test_a_symbol_whose_first_quote_failed_is_retried() -> None:
    source = DownAtStartSource(seed=1)
    feed = LiveFeed(source, InProcessBus(), ["AAPL", "MSFT"], interval=0.01)
    feed.run_once()
    assert feed.latest_quote("MSFT") is None
    assert feed.symbols == ("AAPL", "MSFT")  # still wanted, waiting for its retry
    source.down = False
    feed._retry["MSFT"] = (0.0, 1)  # the backoff has run out
    feed.run_once()
    assert feed.latest_quote("MSFT") is not None
    assert feed.symbols == ("AAPL", "MSFT") and not feed._retry
