"""FailoverSource and CircuitBreaker: order of sources, failures, hangs cut by the hard limit, stale fallback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from tests_support import FakeClock

from api.health import source_states
from feeds.breaker import BreakerState, CircuitBreaker, DeadlineCaller
from feeds.cache import MarketCache
from feeds.errors import NoSourceAvailable, SourceBusy, SourceTimeout
from feeds.failover import FailoverSource
from feeds.models import Candle, OptionChain, Period, Quote, Timeframe
from feeds.source import MarketSource, SourceError, UnknownSymbol, UnsupportedRequest


class FakeSource:
    """A source whose behaviour a test sets: "ok", "error", "empty", "hang", "unknown", "unsupported", "bug",
    "busy" (its own throttling refuses the call)."""

    def __init__(self, name: str, mode: str = "ok", price: float = 100.0, release: threading.Event | None = None):
        self.name = name
        self.mode = mode
        self.price = price
        self.calls = 0
        self.release = release or threading.Event()
        self.threads: list[threading.Thread] = []

    def _act(self) -> None:
        self.calls += 1
        self.threads.append(threading.current_thread())
        if self.mode == "busy":
            raise SourceBusy(f"{self.name}: no free slot", retry_after=0.5)
        if self.mode == "error":
            raise SourceError(f"{self.name} is down")
        if self.mode == "empty":
            raise SourceError(f"{self.name} returned an empty frame")
        if self.mode == "hang":
            self.release.wait(30)
            raise SourceError("released")
        if self.mode == "unknown":
            raise UnknownSymbol("no such ticker")
        if self.mode == "unsupported":
            raise UnsupportedRequest("not served here")
        if self.mode == "bug":
            raise KeyError("regularMarketPrice")

    def quote(self, symbol: str) -> Quote:
        self._act()
        return Quote(symbol, self.price, None, None, 10.0, 99.0, 1_700_000_000.0, self.name)

    def history(
        self, symbol: str, period: Period, timeframe: Timeframe, end: float | None = None, limit: int | None = None
    ) -> list[Candle]:
        self._act()
        return [Candle(1_700_000_000, self.price, self.price, self.price, self.price, 1.0)]

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        self._act()
        return OptionChain(symbol, self.price, "2024-01-19", ("2024-01-19",), (), ())

    def health(self) -> dict[str, Any]:
        return {"name": self.name, "mode": self.mode}


@pytest.fixture
def make_failover(cache: MarketCache, clock: FakeClock) -> Callable[..., FailoverSource]:
    created: list[FailoverSource] = []
    releases: list[threading.Event] = []

    def make(*sources: FakeSource, **kwargs: Any) -> FailoverSource:
        releases.extend(s.release for s in sources)
        kwargs.setdefault("call_timeout", 0.3)
        f = FailoverSource(list(sources), cache, clock, **kwargs)
        created.append(f)
        return f

    yield make
    for event in releases:
        event.set()
    for f in created:
        f.close()


def test_fake_source_follows_the_protocol() -> None:
    assert isinstance(FakeSource("a"), MarketSource)
    assert isinstance(FailoverSource([FakeSource("a")], None), MarketSource)


def test_first_healthy_source_answers(make_failover: Callable[..., FailoverSource]) -> None:
    a, b = FakeSource("a", "error"), FakeSource("b", price=101.0)
    f = make_failover(a, b)
    q = f.quote("AAPL")
    assert q.price == 101.0 and q.source == "b" and not q.stale
    assert f.quote_sourced("AAPL").source == "b"


def test_hanging_source_is_cut_by_the_hard_limit(make_failover: Callable[..., FailoverSource]) -> None:
    hang, good = FakeSource("hang", "hang"), FakeSource("good", price=42.0)
    f = make_failover(hang, good, call_timeout=0.3)
    started = time.monotonic()
    q = f.quote("AAPL")
    elapsed = time.monotonic() - started
    assert q.source == "good" and q.price == 42.0
    assert 0.25 <= elapsed < 2.0
    health = f.health()["sources"][0]
    assert health["lingering_calls"] == 1 and "no answer within 0.3 s" in health["last_error"]


def test_empty_then_error_then_stale_from_cache(
    make_failover: Callable[..., FailoverSource], clock: FakeClock
) -> None:
    a, b = FakeSource("a", "empty"), FakeSource("b", price=55.0)
    f = make_failover(a, b)
    assert f.quote("AAPL").price == 55.0
    b.mode = "error"
    clock.advance(3600)
    q = f.quote("AAPL")
    assert q.stale and q.price == 55.0 and q.source == "b"
    sourced = f.quote_sourced("AAPL")
    assert sourced.stale and sourced.cached and sourced.source == "b" and sourced.age(clock()) == 3600


def test_history_and_options_stale_are_labelled(
    make_failover: Callable[..., FailoverSource], clock: FakeClock
) -> None:
    src = FakeSource("yahoo", price=7.0)
    f = make_failover(src)
    period = Period.parse("1d")
    fresh = f.history_sourced("AAPL", period, Timeframe.M1)
    assert fresh.source == "yahoo" and not fresh.stale and not fresh.cached
    # Within the 1m TTL the cache answers and the source is not called.
    assert f.history_sourced("AAPL", period, Timeframe.M1).cached and src.calls == 1
    assert f.options_chain_sourced("AAPL").source == "yahoo"
    src.mode = "error"
    clock.advance(120)
    stale = f.history_sourced("AAPL", period, Timeframe.M1)
    assert stale.stale and stale.source == "yahoo" and stale.value[0].close == 7.0
    chain = f.options_chain_sourced("AAPL")
    assert chain.stale and chain.value.underlying_price == 7.0
    assert f.history("AAPL", period, Timeframe.M1) == stale.value


def test_nothing_at_all_is_no_source_available(make_failover: Callable[..., FailoverSource]) -> None:
    f = make_failover(FakeSource("a", "error"), FakeSource("b", "empty"))
    with pytest.raises(NoSourceAvailable, match="a: a is down"):
        f.quote("AAPL")
    assert issubclass(NoSourceAvailable, SourceError)


def test_unknown_symbol_everywhere_is_404_and_not_a_failure(make_failover: Callable[..., FailoverSource]) -> None:
    a, b = FakeSource("a", "unknown"), FakeSource("b", "unknown")
    f = make_failover(a, b)
    for _ in range(5):
        with pytest.raises(UnknownSymbol):
            f.quote("NOPE")
    assert f.breakers["a"].state is BreakerState.CLOSED
    assert f.health()["status"] == "ok"


def test_unknown_on_one_source_tries_the_next(make_failover: Callable[..., FailoverSource]) -> None:
    f = make_failover(FakeSource("replay", "unknown"), FakeSource("yahoo", price=3.0))
    assert f.quote("GC=F").source == "yahoo"


def test_unknown_with_a_failure_prefers_stale_then_404(
    make_failover: Callable[..., FailoverSource], clock: FakeClock
) -> None:
    a, b = FakeSource("a", "unknown"), FakeSource("b", "error")
    f = make_failover(a, b)
    with pytest.raises(UnknownSymbol):
        f.quote("AAPL")
    b.mode = "ok"
    f.quote("AAPL")
    b.mode = "error"
    assert f.quote("AAPL").stale


def test_unsupported_goes_to_next_source_else_400(make_failover: Callable[..., FailoverSource]) -> None:
    f = make_failover(FakeSource("polygon", "unsupported"), FakeSource("yahoo"))
    assert f.options_chain("AAPL").underlying_price == 100.0
    g = make_failover(FakeSource("polygon2", "unsupported"))
    with pytest.raises(UnsupportedRequest):
        g.options_chain("MSFT")


def test_unexpected_exception_counts_as_failure(
    make_failover: Callable[..., FailoverSource], caplog: pytest.LogCaptureFixture
) -> None:
    f = make_failover(FakeSource("buggy", "bug"), FakeSource("ok"))
    assert f.quote("AAPL").source == "ok"
    assert f.breakers["buggy"].snapshot()["consecutive_failures"] == 1
    assert any(r.exc_info for r in caplog.records)


def test_open_breaker_skips_source_until_backoff(
    make_failover: Callable[..., FailoverSource], clock: FakeClock
) -> None:
    bad, good = FakeSource("bad", "error"), FakeSource("good")
    f = make_failover(bad, good, failure_threshold=3)
    for _ in range(3):
        f.quote("AAPL")
    assert f.breakers["bad"].state is BreakerState.OPEN and bad.calls == 3
    f.quote("AAPL")
    assert bad.calls == 3  # skipped while open
    assert f.health()["status"] == "degraded"
    clock.advance(5)
    bad.mode = "ok"
    assert f.quote("AAPL").source == "bad"  # the half-open probe succeeded
    assert f.breakers["bad"].state is BreakerState.CLOSED


def test_breaker_transitions_and_backoff_growth(clock: FakeClock) -> None:
    b = CircuitBreaker(clock, failure_threshold=2, base_backoff=5.0, backoff_factor=1.5, max_backoff=30.0)
    assert b.allow()
    b.record_failure(SourceError("x"))
    assert b.state is BreakerState.CLOSED
    b.record_failure(SourceError("y"))
    assert b.state is BreakerState.OPEN and not b.allow()
    waits = []
    for _ in range(7):
        waits.append(b.backoff)
        clock.advance(b.backoff - 0.01)
        assert not b.allow()
        clock.advance(0.01)
        assert b.allow() and b.state is BreakerState.HALF_OPEN
        assert not b.allow()  # one probe at a time
        b.record_failure("probe failed")
    assert waits == pytest.approx([5.0, 7.5, 11.25, 16.875, 25.3125, 30.0, 30.0])
    clock.advance(30)
    assert b.allow()
    b.record_success()
    snap = b.snapshot()
    assert snap["state"] == "closed" and snap["consecutive_failures"] == 0 and snap["last_success"] == clock()
    assert snap["last_error"] == "probe failed" and b.backoff == 5.0


def test_deadline_caller_fails_fast_when_all_workers_are_stuck() -> None:
    caller = DeadlineCaller("t", max_workers=1)
    release = threading.Event()
    try:
        with pytest.raises(SourceTimeout):
            caller.call(lambda: release.wait(10), timeout=0.05)
        started = time.monotonic()
        with pytest.raises(SourceTimeout, match="stuck"):
            caller.call(lambda: 1, timeout=5)
        assert time.monotonic() - started < 0.5
        release.set()
        deadline = time.monotonic() + 5
        while caller.lingering and time.monotonic() < deadline:
            time.sleep(0.01)
        assert caller.call(lambda: 2, timeout=5) == 2
    finally:
        release.set()
        caller.close()


def test_deadline_caller_passes_exceptions() -> None:
    caller = DeadlineCaller("t", max_workers=2)
    try:
        with pytest.raises(UnknownSymbol):
            caller.call(lambda: (_ for _ in ()).throw(UnknownSymbol("x")), timeout=1)
    finally:
        caller.close()


def test_health_lists_every_source(make_failover: Callable[..., FailoverSource]) -> None:
    f = make_failover(FakeSource("a"), FakeSource("b"))
    health = f.health()
    assert [s["name"] for s in health["sources"]] == ["a", "b"]
    assert health["sources"][0]["details"] == {"name": "a", "mode": "ok"}
    assert {"state", "consecutive_failures", "last_error", "last_success"} <= set(health["sources"][0])
    assert "hit_rate" in health["cache"]


def test_a_busy_source_is_skipped_without_a_breaker_failure(
    make_failover: Callable[..., FailoverSource], clock: FakeClock
) -> None:
    busy, good = FakeSource("busy", "busy"), FakeSource("good", price=9.0)
    f = make_failover(busy, good, failure_threshold=2)
    for _ in range(5):
        assert f.quote("AAPL").source == "good"
    snap = f.breakers["busy"].snapshot()
    assert snap["state"] == "closed" and snap["total_failures"] == 0 and snap["skipped"] == 5
    assert busy.calls == 5  # asked every time: being busy now says nothing about the next call


def test_busy_alone_serves_stale_else_no_source_with_retry_after(
    make_failover: Callable[..., FailoverSource], clock: FakeClock
) -> None:
    src = FakeSource("yahoo", price=12.0)
    f = make_failover(src)
    f.quote("AAPL")
    src.mode = "busy"
    clock.advance(60)
    stale = f.quote_sourced("AAPL")
    assert stale.stale and stale.value.price == 12.0
    with pytest.raises(NoSourceAvailable, match="busy") as info:
        f.quote("MSFT")
    assert info.value.retry_after == 0.5
    assert f.breakers["yahoo"].state is BreakerState.CLOSED


class SelfLimitedSource(FakeSource):
    """A source that, like YahooSource, puts its own network calls under a hard limit."""

    limits_own_calls = True

    def health(self) -> dict[str, Any]:
        return {"name": self.name, "lingering_calls": 2}


def test_a_source_that_limits_its_own_calls_is_called_directly(
    make_failover: Callable[..., FailoverSource],
) -> None:
    own, other = SelfLimitedSource("yahoo"), FakeSource("polygon")
    f = make_failover(own, other)
    assert f.quote("AAPL").source == "yahoo"
    assert own.threads == [threading.current_thread()]  # no worker thread, no second time limit around it
    own.mode = "error"
    assert f.quote("AAPL").source == "polygon"
    assert other.threads[0] is not threading.current_thread()  # the others still run under the chain's limit


def test_lingering_calls_include_the_sources_own(make_failover: Callable[..., FailoverSource]) -> None:
    f = make_failover(SelfLimitedSource("yahoo"), FakeSource("polygon"))
    entries = {e["name"]: e for e in f.health()["sources"]}
    assert entries["yahoo"]["lingering_calls"] == 2 and entries["polygon"]["lingering_calls"] == 0
    assert {s["name"]: s["lingering_calls"] for s in source_states(f)} == {"yahoo": 2, "polygon": 0}
