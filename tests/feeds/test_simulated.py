"""The simulated market: deterministic per (symbol, seed), continuous from history into live ticks."""

from __future__ import annotations

import numpy as np
import pytest

from feeds.bus import InProcessBus
from feeds.live import LiveFeed
from feeds.models import Period, Timeframe
from feeds.simulated import MAX_CANDLES_PER_REQUEST, SimulatedSource, profile_for
from feeds.source import UnsupportedRequest

NOW = 1_763_700_000.0 + 37.25  # a fixed instant 37.25 s into a minute


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def sim(seed: int = 7, t: float = NOW) -> tuple[SimulatedSource, Clock]:
    clock = Clock(t)
    return SimulatedSource(seed=seed, clock=clock), clock


def test_same_seed_same_market() -> None:
    a, _ = sim(7)
    b, _ = sim(7)
    assert a.history("AAPL", Period.parse("5d"), Timeframe.M5) == b.history("AAPL", Period.parse("5d"), Timeframe.M5)
    assert a.quote("AAPL") == b.quote("AAPL")


def test_other_seed_or_symbol_other_market() -> None:
    a, _ = sim(7)
    b, _ = sim(8)
    period = Period.parse("1d")
    assert a.history("AAPL", period, Timeframe.M1) != b.history("AAPL", period, Timeframe.M1)
    closes_a = [c.close for c in a.history("AAPL", period, Timeframe.M1)]
    closes_msft = [c.close for c in a.history("MSFT", period, Timeframe.M1)]
    assert closes_a != closes_msft


def test_order_of_requests_does_not_change_the_path() -> None:
    a, _ = sim(7)
    b, _ = sim(7)
    a.history("GC=F", Period.parse("1y"), Timeframe.D1)  # warms caches in another order
    assert a.history("GC=F", Period.parse("1d"), Timeframe.M1) == b.history("GC=F", Period.parse("1d"), Timeframe.M1)


@pytest.mark.parametrize(("symbol", "any_symbol"), [
    ("AAPL", False), ("GC=F", False), ("BTC-USD", False), ("^GSPC", False), ("EURUSD=X", False), ("BRK-B", False),
    ("ES=F", False), ("ZN=F", False), ("7203.T", False), ("SHIB-USD", False), ("^TNX", False), ("ZZZZ9", True),
])
def test_any_valid_symbol_trades(symbol: str, any_symbol: bool) -> None:
    source = SimulatedSource(seed=7, clock=Clock(NOW), any_symbol=any_symbol)
    candles = source.history(symbol, Period.parse("1d"), Timeframe.M5)
    assert len(candles) == 289  # 288 complete 5-minute candles in a day, and the forming one
    for c in candles:
        assert c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high
        assert c.volume >= 0
    quote = source.quote(symbol)
    assert quote.bid is not None and quote.ask is not None and quote.bid <= quote.price <= quote.ask
    base = profile_for(symbol).base_price
    assert base / 3 < quote.price < base * 3


def test_wider_candles_aggregate_the_minutes() -> None:
    source, _ = sim()
    minutes = source.history("AAPL", Period.parse("1d"), Timeframe.M1)
    hours = source.history("AAPL", Period.parse("1d"), Timeframe.H1)
    hour = hours[-3]
    inside = [c for c in minutes if hour.time <= c.time < hour.time + 3600]
    assert len(inside) == 60
    assert hour.open == inside[0].open
    assert hour.close == inside[-1].close
    assert hour.high == max(c.high for c in inside)
    assert hour.low == min(c.low for c in inside)
    assert hour.volume == pytest.approx(sum(c.volume for c in inside))


def test_forming_candle_ends_at_the_current_quote() -> None:
    source, _ = sim()
    for timeframe in Timeframe:
        last = source.history("AAPL", Period.parse(timeframe.default_period), timeframe)[-1]
        assert last.time == timeframe.bucket_start(NOW)
        assert last.close == source.quote("AAPL").price


def test_history_and_live_ticks_are_one_path() -> None:
    """The first live candle continues the last history candle: same open, highs and lows only widen."""
    source, clock = sim()
    seen = source.history("AAPL", Period.parse("1d"), Timeframe.M1)[-1]
    clock.t += 10
    later = source.history("AAPL", Period.parse("1d"), Timeframe.M1)[-1]
    assert later.time == seen.time
    assert later.open == seen.open
    assert later.high >= seen.high and later.low <= seen.low
    assert later.volume >= seen.volume


def test_live_feed_candles_continue_history() -> None:
    source, clock = sim()
    bus = InProcessBus()
    feed = LiveFeed(source, bus, ["AAPL"], interval=1.0, clock=clock)
    history_last = source.history("AAPL", Period.parse("1d"), Timeframe.M1)[-1]
    feed.run_once()
    assert feed.latest_candle("AAPL", Timeframe.M1) == history_last
    # Tick through the next minute boundary: the new live candle is the one history will show.
    while clock.t < history_last.time + 60 + 30:
        clock.t += 0.5
        feed.run_once()
    live_closed = source.history("AAPL", Period.parse("1d"), Timeframe.M1, end=history_last.time + 60)[-1]
    assert live_closed.time == history_last.time
    live_now = feed.latest_candle("AAPL", Timeframe.M1)
    history_now = source.history("AAPL", Period.parse("1d"), Timeframe.M1)[-1]
    assert live_now is not None and live_now.time == history_now.time
    assert live_now.open == history_now.open
    assert live_now.close == history_now.close
    assert live_now.volume == pytest.approx(history_now.volume)
    # Ticks sample the path, so extremes seen live lie within the path's own.
    assert history_now.low <= live_now.low <= live_now.high <= history_now.high


def test_end_returns_candles_opening_strictly_before_it() -> None:
    source, _ = sim()
    latest = source.history("AAPL", Period.parse("1d"), Timeframe.M1)
    end = latest[-10].time
    older = source.history("AAPL", Period.parse("1d"), Timeframe.M1, end=end)
    assert older[-1].time == end - 60
    assert older[-5:] == latest[-15:-10]
    assert all(c.time < end for c in older)


def test_limit_keeps_the_newest() -> None:
    source, _ = sim()
    full = source.history("AAPL", Period.parse("5d"), Timeframe.M15)
    assert source.history("AAPL", Period.parse("5d"), Timeframe.M15, limit=7) == full[-7:]


def test_too_many_candles_is_a_clear_error() -> None:
    source, _ = sim()
    with pytest.raises(UnsupportedRequest, match=str(MAX_CANDLES_PER_REQUEST)):
        source.history("AAPL", Period.parse("1y"), Timeframe.M1)


def test_trends_gaps_and_reversals_within_an_hour() -> None:
    """Enough happens in an hour of 1-minute candles for signals to fire (checked over several hours)."""
    source, _ = sim()
    candles = source.history("AAPL", Period.parse("1d"), Timeframe.M1)
    closes = np.array([c.close for c in candles])
    gaps = sum(1 for a, b in zip(candles, candles[1:], strict=False) if b.open != a.close)
    assert gaps >= 6  # about one an hour and a half over a day
    hours_with_trend = 0
    for start in range(0, len(closes) - 60, 60):
        window = closes[start:start + 60]
        move = abs(window[-1] - window[0])
        swing = window.max() - window.min()
        if move > 0.5 * swing and swing > 0:
            hours_with_trend += 1
    assert hours_with_trend >= 4
    ups = np.sign(np.diff(closes[::10]))
    reversals = int(np.sum(ups[1:] != ups[:-1]))
    assert reversals > 20
