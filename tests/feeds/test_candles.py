"""The pure candle builder: bucket edges, update versus close, out-of-order ticks."""

from __future__ import annotations

import pytest

from feeds.candles import CandleBuilder
from feeds.models import Candle, Tick, Timeframe

T0 = 1_700_000_040  # 2023-11-14 22:14:00 UTC, a whole minute


def tick(t: float, price: float, volume: float = 1.0, symbol: str = "AAPL") -> Tick:
    return Tick(symbol, t, price, price - 0.01, price + 0.01, volume)


def test_first_tick_opens_a_candle_per_timeframe() -> None:
    builder = CandleBuilder()
    events = builder.apply(tick(T0 + 5, 100.0, 3))
    assert [e.timeframe for e in events] == list(Timeframe)
    assert all(not e.closed for e in events)
    m1 = events[0].candle
    assert m1 == Candle(T0, 100.0, 100.0, 100.0, 100.0, 3)
    assert events[-1].candle.time == T0 - T0 % 86_400


def test_ticks_inside_a_bucket_update_it() -> None:
    builder = CandleBuilder([Timeframe.M1])
    builder.apply(tick(T0 + 1, 100.0, 1))
    builder.apply(tick(T0 + 20, 103.0, 2))
    events = builder.apply(tick(T0 + 59.999, 99.0, 4))
    assert len(events) == 1 and not events[0].closed
    assert events[0].candle == Candle(T0, 100.0, 103.0, 99.0, 99.0, 7)


@pytest.mark.parametrize(
    ("t", "closes"),
    [(T0 + 59.999, False), (T0 + 60, True), (T0 + 61, True), (T0 + 600, True)],
)
def test_bucket_edge_closes_the_candle(t: float, closes: bool) -> None:
    builder = CandleBuilder([Timeframe.M1])
    builder.apply(tick(T0, 100.0))
    events = builder.apply(tick(t, 101.0))
    assert [e.closed for e in events] == ([True, False] if closes else [False])
    if closes:
        assert events[0].candle.time == T0 and events[0].candle.close == 100.0
        assert events[1].candle.time == Timeframe.M1.bucket_start(t)
        assert events[1].candle.open == 101.0


def test_each_timeframe_closes_on_its_own_edge() -> None:
    builder = CandleBuilder([Timeframe.M1, Timeframe.M5])
    start = T0 - T0 % 300
    builder.apply(tick(start + 1, 100.0))
    closed = [e.timeframe for e in builder.apply(tick(start + 61, 100.0)) if e.closed]
    assert closed == [Timeframe.M1]
    closed = [e.timeframe for e in builder.apply(tick(start + 300, 100.0)) if e.closed]
    assert closed == [Timeframe.M1, Timeframe.M5]


def test_out_of_order_ticks_are_ignored() -> None:
    builder = CandleBuilder([Timeframe.M1])
    builder.apply(tick(T0 + 10, 100.0))
    assert builder.apply(tick(T0 + 5, 500.0)) == []
    assert builder.ignored_ticks == 1
    assert builder.current("AAPL", Timeframe.M1) == Candle(T0, 100.0, 100.0, 100.0, 100.0, 1)
    # An old tick from a previous bucket must not reopen or close anything either.
    builder.apply(tick(T0 + 70, 101.0))
    assert builder.apply(tick(T0 + 30, 1.0)) == []


def test_symbols_are_independent() -> None:
    builder = CandleBuilder([Timeframe.M1])
    builder.apply(tick(T0 + 10, 100.0, symbol="AAPL"))
    events = builder.apply(tick(T0 + 5, 50.0, symbol="MSFT"))
    assert events and events[0].candle.open == 50.0


def test_seeded_candle_is_continued() -> None:
    builder = CandleBuilder([Timeframe.M1])
    builder.seed("AAPL", Timeframe.M1, Candle(T0, 10.0, 12.0, 9.0, 11.0, 100.0), as_of=T0 + 30)
    events = builder.apply(tick(T0 + 31, 12.5, 5))
    assert events[0].candle == Candle(T0, 10.0, 12.5, 9.0, 12.5, 105.0)
    assert builder.apply(tick(T0 + 29, 1.0)) == []


def test_close_due_closes_quiet_candles() -> None:
    builder = CandleBuilder([Timeframe.M1, Timeframe.H1])
    builder.apply(tick(T0 + 1, 100.0))
    assert builder.close_due(T0 + 59) == []
    events = builder.close_due(T0 + 60)
    assert [(e.timeframe, e.closed) for e in events] == [(Timeframe.M1, True)]
    assert builder.current("AAPL", Timeframe.M1) is None
    # The next tick opens a fresh candle rather than closing the old one twice.
    events = builder.apply(tick(T0 + 90, 101.0))
    assert [e.closed for e in events] == [False, False]
