"""Quote and candle validation at the source boundary: the pure checks, the failover chain dropping and counting
what fails them per source, the simulated market and the replay path, and a feed that never sees a bad quote."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests_support import FakeClock

from api.health import source_states
from feeds.bus import InProcessBus
from feeds.cache import MarketCache
from feeds.factory import CheckedSimulatedSource, ReplayChain
from feeds.failover import FailoverSource
from feeds.live import LiveFeed
from feeds.models import Candle, OptionChain, Period, Quote, Timeframe
from feeds.quote_validation import InvalidQuote, candle_problem, quote_problem
from feeds.replay import ReplaySource
from feeds.simulated import SimulatedSource
from feeds.source import SourceError

NOW = 1_700_000_000.0


def _quote(price: Any = 100.0, bid: Any = 99.9, ask: Any = 100.1, volume: Any = 10.0, previous: Any = 98.0,
           timestamp: Any = NOW) -> Quote:
    return Quote("AAPL", price, bid, ask, volume, previous, timestamp, "test")


@pytest.mark.parametrize(
    ("quote", "problem"),
    [
        (_quote(), None),
        (_quote(bid=None, ask=None, previous=None), None),
        (_quote(price=1e308, bid=1e308, ask=1.7976931348623157e308, volume=1e308), None),  # finite: usable
        (_quote(price=5e-324, bid=None, ask=None), None),
        (_quote(price=math.nan), "price nan is not a finite positive number"),
        (_quote(price=math.inf), "price inf is not a finite positive number"),
        (_quote(price=0.0), "price 0.0 is not a finite positive number"),
        (_quote(price=-3.0), "price -3.0 is not a finite positive number"),
        (_quote(price=None), "price None is not a finite positive number"),
        (_quote(price=True), "price True is not a finite positive number"),
        (_quote(price="100"), "price '100' is not a finite positive number"),
        (_quote(bid=0.0), "bid 0.0 is not a finite positive number"),
        (_quote(ask=math.inf), "ask inf is not a finite positive number"),
        (_quote(bid=100.2, ask=100.1), "bid 100.2 is above ask 100.1"),
        (_quote(previous=-1.0), "previous_close -1.0 is not a finite positive number"),
        (_quote(volume=-1.0), "volume -1.0 is not a finite number >= 0"),
        (_quote(volume=math.nan), "volume nan is not a finite number >= 0"),
        (_quote(timestamp=math.inf), "timestamp inf is not a finite positive number"),
    ],
)
def test_quote_problem(quote: Quote, problem: str | None) -> None:
    assert quote_problem(quote) == problem


@pytest.mark.parametrize(
    ("candle", "problem"),
    [
        (Candle(0, 10.0, 11.0, 9.0, 10.5, 1.0), None),
        (Candle(0, 1e308, 1.7976931348623157e308, 1e-300, 1.0, 1e308), None),
        (Candle(0, 10.0, 9.0, 11.0, 10.0, 1.0), "high 9.0 is below low 11.0"),
        (Candle(0, 12.0, 11.0, 9.0, 10.0, 1.0), "high/low 11.0/9.0 do not contain open 12.0 and close 10.0"),
        (Candle(0, 10.0, 11.0, 9.0, 8.0, 1.0), "high/low 11.0/9.0 do not contain open 10.0 and close 8.0"),
        (Candle(0, 10.0, math.nan, 9.0, 10.0, 1.0), "high nan is not a finite positive number"),
        (Candle(0, 10.0, 11.0, 0.0, 10.0, 1.0), "low 0.0 is not a finite positive number"),
        (Candle(0, 10.0, 11.0, 9.0, 10.0, -1.0), "volume -1.0 is not a finite number >= 0"),
    ],
)
def test_candle_problem(candle: Candle, problem: str | None) -> None:
    assert candle_problem(candle) == problem


class ScriptedSource:
    """Answers the quotes (and history) a test lines up, in order; the last one repeats."""

    def __init__(self, name: str, quotes: list[Quote], candles: list[Candle] | None = None) -> None:
        self.name = name
        self.quotes = quotes
        self.candles = candles or []
        self.calls = 0

    def quote(self, symbol: str) -> Quote:
        quote = self.quotes[min(self.calls, len(self.quotes) - 1)]
        self.calls += 1
        return quote

    def history(self, symbol: str, period: Period, timeframe: Timeframe, end: float | None = None,
                limit: int | None = None) -> list[Candle]:
        return list(self.candles)

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        raise SourceError("no options")

    def health(self) -> dict[str, Any]:
        return {"name": self.name}


@pytest.fixture
def chains(cache: MarketCache, clock: FakeClock) -> Iterator[list[FailoverSource]]:
    made: list[FailoverSource] = []
    yield made
    for chain in made:
        chain.close()


def test_an_invalid_quote_goes_to_the_next_source_and_is_counted(cache: MarketCache, clock: FakeClock,
                                                                 chains: list[FailoverSource]) -> None:
    bad = ScriptedSource("yahoo", [_quote(bid=101.0, ask=100.0)])
    good = ScriptedSource("polygon", [_quote(price=100.5)])
    chain = FailoverSource([bad, good], cache, clock, call_timeout=None)
    chains.append(chain)
    sourced = chain.quote_sourced("AAPL")
    assert sourced.source == "polygon" and sourced.value.price == 100.5
    states = {s["name"]: s for s in source_states(chain)}
    assert states["yahoo"]["rejected_quotes"] == 1 and states["polygon"]["rejected_quotes"] == 0
    assert "bid 101.0 is above ask 100.0" in states["yahoo"]["last_rejection"]
    # The provider answered: its breaker is not charged for the bad value.
    assert states["yahoo"]["state"] == "closed" and states["yahoo"]["consecutive_failures"] == 0


def test_an_invalid_quote_is_never_cached_and_the_last_good_one_is_served_stale(
        cache: MarketCache, clock: FakeClock, chains: list[FailoverSource]) -> None:
    source = ScriptedSource("yahoo", [_quote(price=101.0), _quote(price=math.inf)])
    chain = FailoverSource([source], cache, clock, call_timeout=None)
    chains.append(chain)
    assert chain.quote("AAPL").price == 101.0
    stale = chain.quote_sourced("AAPL")
    assert stale.stale and stale.value.price == 101.0
    last = cache.last_quote("AAPL")
    assert last is not None and last.value.price == 101.0
    assert source_states(chain)[0]["rejected_quotes"] == 1


def test_history_candles_with_high_below_low_are_left_out(cache: MarketCache, clock: FakeClock,
                                                         chains: list[FailoverSource]) -> None:
    candles = [Candle(60 * i, 10.0, 11.0, 9.0, 10.0, 1.0) for i in range(5)]
    candles[2] = Candle(120, 10.0, 9.0, 11.0, 10.0, 1.0)
    chain = FailoverSource([ScriptedSource("yahoo", [_quote()], candles)], cache, clock, call_timeout=None)
    chains.append(chain)
    history = chain.history("AAPL", Period.parse("1d"), Timeframe.M1)
    assert [c.time for c in history] == [0, 60, 180, 240]
    state = source_states(chain)[0]
    assert state["rejected_candles"] == 1 and "high 9.0 is below low 11.0" in state["last_rejection"]


def test_the_feed_never_sees_an_invalid_quote(cache: MarketCache, clock: FakeClock,
                                              chains: list[FailoverSource]) -> None:
    quotes = [_quote(price=100.0, timestamp=NOW), _quote(price=math.nan, timestamp=NOW + 1),
              _quote(price=1e308, bid=100.0, ask=99.0, timestamp=NOW + 2), _quote(price=-5.0, timestamp=NOW + 3),
              _quote(price=101.0, timestamp=NOW + 4)]
    chain = FailoverSource([ScriptedSource("yahoo", quotes)], cache, clock, call_timeout=None)
    chains.append(chain)
    bus = InProcessBus()
    published: list[Any] = []
    bus.subscribe(lambda topic, event: published.append((topic, event)), prefix="")
    feed = LiveFeed(chain, bus, ["AAPL"], interval=1.0, timeframes=(Timeframe.M1,), clock=clock)
    for _ in range(len(quotes)):
        feed.run_once()
    prices = [event.price for topic, event in published if topic.startswith("ticks.")]
    assert prices == [101.0]  # the first quote seeds the feed; the three bad ones never become ticks
    candles = [event.candle for topic, event in published if topic.startswith("candles.")]
    assert all(c.high >= c.low and math.isfinite(c.high) for c in candles)
    assert source_states(chain)[0]["rejected_quotes"] == 3


def test_the_simulated_market_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = CheckedSimulatedSource(seed=1, clock=lambda: NOW)
    assert isinstance(sim, SimulatedSource) and sim.quote("AAPL").price > 0
    monkeypatch.setattr(SimulatedSource, "quote", lambda self, symbol: _quote(price=math.nan))
    with pytest.raises(InvalidQuote):
        sim.quote("AAPL")
    state = source_states(sim)[0]
    assert state["rejected_quotes"] == 1 and "price nan" in state["last_rejection"]


def test_the_replay_path_drops_invalid_quotes(tmp_path: Path, cache: MarketCache, clock: FakeClock,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "AAPL.csv").write_text("time,open,high,low,close,volume\n"
                                       + "".join(f"{1704067200 + 60 * i},10,11,9,10.5,5\n" for i in range(10)))
    replay = ReplaySource(tmp_path, speed=60.0, start=1704067200 + 300, clock=lambda: 0.0)
    chain = ReplayChain(replay, cache, replay.clock, call_timeout=1.0)
    good = replay.path_quotes("AAPL", 1704067200, 1704067500, 100)
    assert len(good) > 4
    tampered = [*good[:2], _quote(price=-1.0), *good[2:]]
    monkeypatch.setattr(replay, "path_quotes", lambda *args: tampered)
    assert chain.path_quotes("AAPL", 1704067200, 1704067500, 100) == good
    assert source_states(chain)[0]["rejected_quotes"] == 1
    chain.close()
