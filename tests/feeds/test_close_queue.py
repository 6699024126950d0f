"""Closed-candle work spread over feed iterations: the queue's budget and order, then the feed using it."""

from __future__ import annotations

from typing import Any

from feeds.bus import InProcessBus
from feeds.candles import CandleEvent
from feeds.close_queue import CloseQueue
from feeds.live import LiveFeed
from feeds.models import Candle, Timeframe
from feeds.simulated import SimulatedSource


def event(symbol: str, t: int, closed: bool, close: float = 1.0) -> CandleEvent:
    return CandleEvent(symbol, Timeframe.M1, Candle(t, 1.0, 2.0, 0.5, close, 10.0), closed, t + 60.0)


class StepClock:
    """A clock that moves ``step`` seconds each time the handler runs (it stands for the work's cost)."""

    def __init__(self, step: float) -> None:
        self.t = 0.0
        self.step = step

    def __call__(self) -> float:
        return self.t


def test_drain_stops_at_the_budget_and_serves_everything_in_later_calls() -> None:
    queue = CloseQueue(max_waiting=100)
    for i in range(10):
        queue.push(event(f"S{i}", 0, closed=True))
    clock = StepClock(0.001)
    handled: list[str] = []

    def handle(e: CandleEvent) -> None:
        handled.append(e.symbol)
        clock.t += clock.step

    assert queue.drain(handle, budget=0.0035, clock=clock) == 4
    assert len(queue) == 6
    assert queue.drain(handle, budget=0.0, clock=clock) == 1, "always at least one: the queue moves on"
    while len(queue):
        queue.drain(handle, budget=0.0035, clock=clock)
    assert handled == [f"S{i}" for i in range(10)], "oldest first, each once"


def test_order_per_symbol_is_kept_and_forming_updates_wait_coalesced() -> None:
    queue = CloseQueue(max_waiting=100)
    queue.push(event("A", 0, closed=True))
    assert queue.waiting(("A", Timeframe.M1)) and not queue.waiting(("B", Timeframe.M1))
    queue.push(event("A", 60, closed=False, close=1.1))
    queue.push(event("A", 60, closed=False, close=1.2))  # replaces the waiting update of the same candle
    queue.push(event("B", 0, closed=True))
    queue.push(event("A", 60, closed=True, close=1.3))
    assert len(queue) == 4
    seen: list[tuple[str, int, bool, float]] = []
    queue.drain(lambda e: seen.append((e.symbol, e.candle.time, e.closed, e.candle.close)), budget=1.0)
    assert [s for s in seen if s[0] == "A"] == [("A", 0, True, 1.0), ("A", 60, False, 1.2), ("A", 60, True, 1.3)]
    assert seen[1][0] == "B", "pairs take turns"
    assert not queue.waiting(("A", Timeframe.M1)) and len(queue) == 0


def test_the_bound_overrides_the_budget_and_forget_drops_a_symbol() -> None:
    queue = CloseQueue(max_waiting=3)
    for i in range(6):
        queue.push(event(f"S{i}", 0, closed=True))
    assert queue.drain(lambda e: None, budget=0.0) == 3
    queue.forget({"S3", "S4"})
    assert len(queue) == 1 and queue.waiting(("S5", Timeframe.M1))


class CountingListener:
    def __init__(self) -> None:
        self.closed: list[tuple[str, int]] = []

    def candle_closed(self, event: CandleEvent) -> list[tuple[str, Any]]:
        self.closed.append((event.symbol, event.candle.time))
        return [(f"signals.{event.symbol}", ("signal", event.symbol, event.candle.time))]

    def prepare(self, symbol: str, timeframe: Timeframe, candles: list[Candle]) -> None:
        return None

    def install(self, prepared: None) -> None:
        pass

    def seed(self, symbol: str, timeframe: Timeframe, candles: list[Candle]) -> None:
        pass


def test_the_feed_spreads_a_burst_of_closes_and_keeps_each_symbols_order() -> None:
    """With no budget the feed hands the listener one closed candle per iteration: every symbol's ticks of the
    iteration at the minute's edge go out at once, the closes follow one by one, each before its symbol's next
    candle and its own signal right after it."""
    now = [1_763_700_000.0 + 59.5]  # half a second before a minute's edge
    symbols = ["AAPL", "MSFT", "NVDA"]
    listener = CountingListener()
    bus = InProcessBus()
    published: list[tuple[str, Any]] = []
    bus.subscribe(lambda topic, e: published.append((topic, e)))
    feed = LiveFeed(SimulatedSource(seed=1, clock=lambda: now[0]), bus, symbols, interval=0.1,
                    clock=lambda: now[0], listener=listener, timeframes=(Timeframe.M1,), close_budget=0.0)
    feed.run_once()
    feed._listener_backlog.clear()  # no seeding in this test
    now[0] += 1.0
    published.clear()
    feed.run_once()
    assert {e.symbol for topic, e in published if topic.startswith("ticks.")} == set(symbols)
    assert len(listener.closed) == 1
    feed.run_once()
    feed.run_once()
    assert sorted(s for s, _ in listener.closed) == sorted(symbols)
    for _ in range(4):  # the updates that waited behind the closes go out in turn
        feed.run_once()
    assert len(feed._closes) == 0
    for symbol in symbols:
        events = [e for topic, e in published if topic in (f"candles.{symbol}.1m", f"signals.{symbol}")]
        close = next(i for i, e in enumerate(events) if isinstance(e, CandleEvent) and e.closed)
        assert events[close + 1] == ("signal", symbol, events[close].candle.time), "its signal right after it"
        later = [e for e in events[close + 2:] if isinstance(e, CandleEvent)]
        assert later and all(e.candle.time > events[close].candle.time for e in later)
        assert not any(isinstance(e, CandleEvent) and e.candle.time > events[close].candle.time
                       for e in events[:close]), "the next candle never overtakes the close"
