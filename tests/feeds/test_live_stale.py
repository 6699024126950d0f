"""The feed records when a symbol's latest price goes stale (its source fails) and when it is live again."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests_support import FakeClock

from api.health import health_body
from feeds.bus import InProcessBus
from feeds.cache import MarketCache
from feeds.failover import FailoverSource
from feeds.live import LiveFeed
from feeds.market import MarketService
from feeds.models import Candle, OptionChain, Period, Quote, Tick, Timeframe
from feeds.source import SourceError, UnsupportedRequest


class SwitchableSource:
    """A provider a test takes down and brings back; ``frozen_at`` pins its quote time (a closed market)."""

    name = "polygon"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.down = False
        self.price = 100.0
        self.frozen_at: float | None = None

    def quote(self, symbol: str) -> Quote:
        if self.down:
            raise SourceError("polygon is down")
        timestamp = self.clock() if self.frozen_at is None else self.frozen_at
        return Quote(symbol, self.price, None, None, 1000.0, 99.0, timestamp, self.name)

    def history(self, symbol: str, period: Period, timeframe: Timeframe, end: float | None = None,
                limit: int | None = None) -> list[Candle]:
        if self.down:
            raise SourceError("polygon is down")
        return []

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        raise UnsupportedRequest("no options here")

    def health(self) -> dict[str, Any]:
        return {"name": self.name}


class Setup:
    def __init__(self, tmp_path: Path, with_cache: bool) -> None:
        self.clock = FakeClock()
        self.provider = SwitchableSource(self.clock)
        self.cache = MarketCache(tmp_path / "cache", clock=self.clock) if with_cache else None
        self.failover = FailoverSource([self.provider], self.cache, self.clock, call_timeout=None)
        self.bus = InProcessBus()
        self.ticks: list[Tick] = []
        self.bus.subscribe(lambda topic, event: self.ticks.append(event), prefix="ticks.")
        self.feed = LiveFeed(self.failover, self.bus, ["AAPL"], interval=1.0, timeframes=(Timeframe.M1,),
                             clock=self.clock)

    def step(self) -> None:
        self.clock.advance(1)
        self.feed.run_once()

    def close(self) -> None:
        self.failover.close()
        if self.cache is not None:
            self.cache.close()


@pytest.fixture(params=[True, False], ids=["cache-fallback", "no-cache"])
def setup(request: pytest.FixtureRequest, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Setup]:
    caplog.set_level(logging.ERROR)  # every failed poll is logged by the failover
    made = Setup(tmp_path, with_cache=request.param)
    yield made
    made.close()


def test_latest_quote_goes_stale_when_the_source_fails_and_recovers(setup: Setup) -> None:
    setup.feed.run_once()
    setup.provider.price = 101.0
    setup.step()
    live = setup.feed.latest_quote("AAPL")
    assert live is not None and live.price == 101.0 and not live.stale
    ticks = len(setup.ticks)

    setup.provider.down = True
    for _ in range(4):  # past the breaker's threshold too: an open circuit still serves the stale value
        setup.step()
        stale = setup.feed.latest_quote("AAPL")
        assert stale is not None and stale.stale and stale.price == 101.0 and stale.timestamp == live.timestamp
    assert len(setup.ticks) == ticks  # nothing traded: no duplicate tick
    body, _ = health_body(setup.feed, setup.failover)
    assert body["live_data"]["stale"] is True and "stale data for AAPL" in body["reasons"]
    assert MarketService(setup.failover, setup.feed).quote_sourced("AAPL").stale

    setup.provider.down = False
    setup.provider.price = 102.0
    setup.clock.advance(60)  # the breaker's half-open probe is due
    setup.feed.run_once()
    back = setup.feed.latest_quote("AAPL")
    assert back is not None and back.price == 102.0 and not back.stale
    assert len(setup.ticks) == ticks + 1
    body, _ = health_body(setup.feed, setup.failover)
    assert body["live_data"]["stale"] is False and not any("stale" in r for r in body["reasons"])


def test_recovery_with_an_unchanged_quote_clears_staleness_without_a_tick(setup: Setup) -> None:
    setup.provider.frozen_at = setup.clock()  # a closed market: the provider's quote time does not move
    setup.feed.run_once()
    setup.step()
    ticks = len(setup.ticks)
    setup.provider.down = True
    setup.step()
    assert setup.feed.latest_quote("AAPL").stale  # type: ignore[union-attr]
    setup.provider.down = False
    setup.clock.advance(60)
    setup.feed.run_once()
    quote = setup.feed.latest_quote("AAPL")
    assert quote is not None and not quote.stale and quote.timestamp == setup.provider.frozen_at
    assert len(setup.ticks) == ticks
