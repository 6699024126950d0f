"""The simulated market: deterministic per (symbol, seed), continuous from history into live ticks."""

from __future__ import annotations

import numpy as np
import pytest

from feeds.bus import InProcessBus
from feeds.live import LiveFeed
from feeds.models import Period, Tick, Timeframe, decimals_of
from feeds.simulated import _KNOWN_PROFILES, MAX_CANDLES_PER_REQUEST, SimulatedSource, profile_for
from feeds.source import UnknownSymbol, UnsupportedRequest
from feeds.universe import shipped

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


# -- the symbol universe, currency pair aliases, precision ------------------------------------------------------


def test_symbols_outside_the_universe_are_unknown() -> None:
    source, _ = sim()
    for call in (lambda: source.quote("ZZZZ"), lambda: source.history("ZZZZ", Period.parse("1d"), Timeframe.M5),
                 lambda: source.forming_candle("ZZZZ", Timeframe.M1, NOW), lambda: source.options_chain("ZZZZ"),
                 lambda: source.quote("BRK.B")):
        with pytest.raises(UnknownSymbol, match="TICKSTREAM_SIM_ANY_SYMBOL"):
            call()
    anything = SimulatedSource(seed=7, clock=Clock(NOW), any_symbol=True)
    assert anything.quote("ZZZZ").symbol == "ZZZZ"
    assert anything.quote("ZZZZ").price == anything.quote("ZZZZ").price


@pytest.mark.parametrize(("written", "listed"), [
    ("EURUSD", "EURUSD=X"), ("GBPUSD", "GBPUSD=X"), ("USDJPY", "JPY=X"), ("AUDUSD", "AUDUSD=X"),
    ("USDCAD", "CAD=X"), ("USDCHF", "CHF=X"), ("NZDUSD", "NZDUSD=X"),
])
def test_currency_pairs_without_suffix_trade_on_the_listed_path(written: str, listed: str) -> None:
    source, _ = sim()
    bare, suffixed = source.quote(written), source.quote(listed)
    assert bare.symbol == written and suffixed.symbol == listed
    assert (bare.price, bare.bid, bare.ask, bare.volume, bare.previous_close) == (
        suffixed.price, suffixed.bid, suffixed.ask, suffixed.volume, suffixed.previous_close)
    period = Period.parse("5d")
    assert source.history(written, period, Timeframe.M15) == source.history(listed, period, Timeframe.M15)
    assert source.forming_candle(written, Timeframe.H1, NOW) == source.forming_candle(listed, Timeframe.H1, NOW)
    chain = source.options_chain(written)
    assert chain.symbol == written and chain.underlying_price == bare.price


def test_eurusd_trades_near_its_level_with_five_decimals() -> None:
    source, _ = sim()
    quote = source.quote("EURUSD")
    assert 0.9 < quote.price < 1.3
    candles = source.history("EURUSD", Period.parse("1d"), Timeframe.M1)
    prices = [quote.price, quote.bid, quote.ask, *(v for c in candles for v in (c.open, c.high, c.low, c.close))]
    assert all(decimals_of(p) <= 5 for p in prices if p is not None)
    assert max(decimals_of(p) for p in prices if p is not None) == 5


@pytest.mark.parametrize("symbol", ["AAPL", "ES=F", "ZN=F", "GC=F", "SI=F", "EURUSD=X", "JPY=X", "^TNX", "7203.T",
                                    "SHIB-USD", "BTC-USD", "SPY"])
def test_prices_are_on_the_tick_grid_with_the_instruments_decimals(symbol: str) -> None:
    instrument = shipped().get(symbol)
    assert instrument is not None
    source, clock = sim()
    candles = source.history(symbol, Period.parse("1d"), Timeframe.M5)
    quotes = []
    for _ in range(20):
        clock.t += 0.7
        quotes.append(source.quote(symbol))
    prices = [v for c in candles for v in (c.open, c.high, c.low, c.close)]
    prices += [v for q in quotes for v in (q.price, q.bid, q.ask, q.previous_close) if v is not None]
    for price in prices:
        steps = price / instrument.tick_size
        assert abs(steps - round(steps)) < 1e-6, (price, instrument.tick_size)
        assert decimals_of(price) <= instrument.precision, price
    for q in quotes:
        assert q.bid is not None and q.ask is not None and q.bid < q.price < q.ask
        for derived in (q.change, q.spread):
            assert derived is not None and decimals_of(derived) <= instrument.precision, derived
        assert q.change_percent is not None and decimals_of(q.change_percent) <= 4


def test_volumes_are_whole_numbers() -> None:
    source, clock = sim()
    for timeframe in (Timeframe.M1, Timeframe.H1, Timeframe.D1):
        candles = source.history("AAPL", Period.parse(timeframe.default_period), timeframe)
        assert all(type(c.volume) is int for c in candles), timeframe
    assert type(source.quote("AAPL").volume) is int
    assert type(source.forming_candle("AAPL", Timeframe.H4, NOW).volume) is int
    bus = InProcessBus()
    ticks = []
    bus.subscribe(lambda _topic, event: ticks.append(event) if isinstance(event, Tick) else None)
    feed = LiveFeed(source, bus, ["AAPL"], interval=1.0, clock=clock)
    for _ in range(5):
        clock.t += 1
        feed.run_once()
    assert ticks and all(type(t.volume) is int for t in ticks)
    candle = feed.latest_candle("AAPL", Timeframe.M5)
    assert candle is not None and type(candle.volume) is int


def test_known_profiles_agree_with_the_universe() -> None:
    for symbol, profile in _KNOWN_PROFILES.items():
        instrument = shipped().get(symbol)
        assert instrument is not None, symbol
        assert profile.decimals == instrument.precision, symbol
        assert (profile.tick_size or 10.0 ** -profile.decimals) == pytest.approx(instrument.tick_size), symbol
