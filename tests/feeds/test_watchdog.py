"""The feed watchdog as functions: iteration times in, feed states out; observations in, status changes out; and the
feed's own bookkeeping driven through an injected clock."""

from __future__ import annotations

from typing import Any

import pytest
from tests_support import FakeClock

from api.health import health_body
from feeds.bus import InProcessBus
from feeds.live import LiveFeed
from feeds.models import Candle, OptionChain, Period, Quote, Timeframe
from feeds.source import SourceError, UnsupportedRequest
from feeds.watchdog import (
    DataState,
    FeedCheck,
    FeedState,
    Limits,
    Observation,
    StatusBook,
    check_feed,
    classify,
)

LIMITS = Limits(late_after=2.0, stalled_after=10.0)


@pytest.mark.parametrize(("interval", "late", "stalled"), [
    (0.05, 2.0, 10.0),  # the floors
    (1.0, 3.0, 10.0),
    (2.0, 6.0, 20.0),  # relative to the interval
])
def test_limits_follow_the_interval_with_floors(interval: float, late: float, stalled: float) -> None:
    assert Limits.for_interval(interval) == Limits(late, stalled)


@pytest.mark.parametrize(("started", "completed", "now", "state", "idle"), [
    (None, None, 100.0, FeedState.STOPPED, 0.0),
    (100.0, None, 100.5, FeedState.STARTING, 0.5),
    (100.0, None, 130.0, FeedState.STARTING, 30.0),  # starting lasts until the first iteration completes
    (100.0, 101.0, 102.9, FeedState.RUNNING, 1.9),
    (100.0, 101.0, 103.0, FeedState.LATE, 2.0),
    (100.0, 101.0, 110.9, FeedState.LATE, 9.9),
    (100.0, 101.0, 111.0, FeedState.STALLED, 10.0),
    (200.0, 101.0, 201.0, FeedState.RUNNING, 1.0),  # restarted: counted from the new start
])
def test_check_feed(started: float | None, completed: float | None, now: float, state: FeedState,
                    idle: float) -> None:
    check = check_feed(now, started, completed, LIMITS)
    assert check.state is state and check.idle == pytest.approx(idle)


def test_a_feed_stuck_before_its_first_iteration_is_overdue_for_subscribers() -> None:
    assert not check_feed(101.0, 100.0, None, LIMITS).overdue
    stuck = check_feed(103.0, 100.0, None, LIMITS)
    assert stuck.overdue and "first update" in stuck.reason


RUNNING = FeedCheck(FeedState.RUNNING, 0.1, LIMITS)
LATE = FeedCheck(FeedState.LATE, 2.5, LIMITS)


@pytest.mark.parametrize(("feed", "seen", "waited", "expected"), [
    (RUNNING, Observation(True, True), 0.0, DataState.LIVE),
    (RUNNING, Observation(True, True, stale=True), 0.0, DataState.STALE),
    (LATE, Observation(True, True), 0.0, DataState.STALLED),  # the stall outranks everything
    (LATE, Observation(True, True, stale=True), 0.0, DataState.STALLED),
    (RUNNING, Observation(True, False), 0.5, None),  # a new symbol: too early to say
    (RUNNING, Observation(True, False), 2.0, DataState.NO_DATA),
    (RUNNING, Observation(True, False, failure="UnknownSymbol: ZZZZ"), 0.0, DataState.NO_DATA),
    (RUNNING, Observation(False, False), 3.0, DataState.NO_DATA),  # a signals filter on a symbol not streamed
])
def test_classify(feed: FeedCheck, seen: Observation, waited: float, expected: DataState | None) -> None:
    verdict = classify(feed, seen, waited)
    assert (verdict[0] if verdict else None) is expected


def test_status_book_announces_changes_only() -> None:
    book = StatusBook()
    live = {"AAPL": Observation(True, True), "MSFT": Observation(True, True)}
    assert book.update(10.0, 1000.0, RUNNING, live) == []  # live from the start: nothing to say
    stalled = book.update(13.0, 1003.0, LATE, live)
    assert [(s.symbol, s.state) for s in stalled] == [("AAPL", DataState.STALLED), ("MSFT", DataState.STALLED)]
    assert stalled[0].since == pytest.approx(1003.0 - LATE.idle)  # when the data stopped
    assert book.update(13.5, 1003.5, LATE, live) == []  # still stalled: said once
    assert book.current("AAPL", 1003.5) is not None and book.current("AAPL", 1003.5).state is DataState.STALLED
    resumed = book.update(14.0, 1004.0, RUNNING, live)
    assert [(s.symbol, s.state, s.since) for s in resumed] == [("AAPL", DataState.LIVE, 1004.0),
                                                               ("MSFT", DataState.LIVE, 1004.0)]
    assert book.current("AAPL", 1004.0) is None and book.not_live() == []


def test_status_book_no_data_after_a_grace_then_live() -> None:
    book = StatusBook()
    waiting = {"NEWCO": Observation(True, False)}
    assert book.update(10.0, 1000.0, RUNNING, waiting) == []
    assert book.update(11.0, 1001.0, RUNNING, waiting) == []
    [no_data] = book.update(12.0, 1002.0, RUNNING, waiting)
    assert no_data.state is DataState.NO_DATA and no_data.since == pytest.approx(1000.0)
    [live] = book.update(13.0, 1003.0, RUNNING, {"NEWCO": Observation(True, True)})
    assert live.state is DataState.LIVE


def test_a_flapping_source_changes_a_status_at_most_once_a_second() -> None:
    book = StatusBook(min_gap=1.0)
    announced = []
    for step in range(40):  # stale on every other check, four checks a second, for ten seconds
        seen = {"AAPL": Observation(True, True, stale=step % 2 == 1)}
        announced += [(step / 4, s.state) for s in book.update(step / 4, 1000 + step / 4, RUNNING, seen)]
    times = [t for t, _ in announced]
    assert announced and all(b - a >= 1.0 for a, b in zip(times, times[1:], strict=False))
    assert len(announced) <= 10


def test_a_stall_is_announced_at_once_even_right_after_another_change() -> None:
    book = StatusBook(min_gap=1.0)
    book.update(1.0, 1.0, RUNNING, {"AAPL": Observation(True, True)})
    [stale] = book.update(1.25, 1.25, RUNNING, {"AAPL": Observation(True, True, stale=True)})
    [stalled] = book.update(1.5, 1.5, LATE, {"AAPL": Observation(True, True, stale=True)})
    assert (stale.state, stalled.state) == (DataState.STALE, DataState.STALLED)


def test_status_book_stale_and_back() -> None:
    book = StatusBook()
    assert book.update(1.0, 1.0, RUNNING, {"AAPL": Observation(True, True)}) == []
    [stale] = book.update(2.0, 2.0, RUNNING, {"AAPL": Observation(True, True, stale=True)})
    assert stale.state is DataState.STALE
    [live] = book.update(3.0, 3.0, RUNNING, {"AAPL": Observation(True, True)})
    assert live.state is DataState.LIVE


def test_status_book_forgets_symbols_no_longer_watched_and_ignores_a_stopped_feed() -> None:
    book = StatusBook()
    book.update(1.0, 1.0, LATE, {"AAPL": Observation(True, True)})
    assert book.not_live()
    book.update(2.0, 2.0, LATE, {})
    assert book.not_live() == []
    stopped = FeedCheck(FeedState.STOPPED, 0.0, LIMITS)
    assert book.update(10.0, 10.0, stopped, {"AAPL": Observation(True, False)}) == []


def test_a_new_subscriber_during_a_stall_learns_it_at_once() -> None:
    book = StatusBook()
    book.update(1.0, 1001.0, LATE, {})
    status = book.current("NEWCO", 1001.0)
    assert status is not None and status.state is DataState.STALLED
    # Stored, so the next round does not announce it a second time.
    assert book.update(1.2, 1001.2, LATE, {"NEWCO": Observation(True, False)}) == []


# -- the feed's bookkeeping, with the stall injected through its clock ------------------------------------------------


class SteadySource:
    name = "steady"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.unknown: set[str] = set()

    def quote(self, symbol: str) -> Quote:
        if symbol in self.unknown:
            raise SourceError(f"no such ticker {symbol}")
        return Quote(symbol, 100.0, None, None, 1000.0, 99.0, self.clock(), self.name)

    def history(self, symbol: str, period: Period, timeframe: Timeframe, end: float | None = None,
                limit: int | None = None) -> list[Candle]:
        return []

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        raise UnsupportedRequest("no options here")

    def health(self) -> dict[str, Any]:
        return {"name": self.name}


def test_the_feed_records_its_iterations_for_the_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    source = SteadySource(clock)
    feed = LiveFeed(source, InProcessBus(), ["AAPL"], interval=1.0, timeframes=(Timeframe.M1,), clock=clock,
                    monotonic=clock)
    assert feed.watchdog_limits == Limits(3.0, 10.0)
    assert feed.watchdog_check().state is FeedState.STOPPED
    # As if start() had run: health reads is_running, and the thread itself would only get in the way.
    feed._started_at = clock()
    monkeypatch.setattr(LiveFeed, "is_running", property(lambda self: True))

    body, code = health_body(feed, source)
    assert (body["status"], code, body["live_data"]["feed_state"]) == ("starting", 503, "starting")

    feed.run_once()
    body, code = health_body(feed, source)
    assert (body["status"], code) == ("healthy", 200) and body["live_data"]["seconds_since_update"] == 0
    assert feed.stats.snapshot()["iterations"] == 1

    clock.advance(3.0)  # no iteration for three intervals: the loop is stuck
    body, code = health_body(feed, source)
    assert (body["status"], code, body["live_data"]["feed_state"]) == ("degraded", 200, "late")
    assert any("no update for 3.0 s" in reason for reason in body["reasons"])

    clock.advance(7.0)
    body, code = health_body(feed, source)
    assert (body["status"], code, body["live_data"]["feed_state"]) == ("unhealthy", 503, "stalled")

    clock.advance(1.0)
    feed.run_once()  # it resumes
    body, code = health_body(feed, source)
    assert (body["status"], code) == ("healthy", 200)


def test_the_feed_tells_why_a_symbol_has_no_data() -> None:
    clock = FakeClock()
    source = SteadySource(clock)
    source.unknown.add("ZZZZ")
    feed = LiveFeed(source, InProcessBus(), ["AAPL", "ZZZZ"], interval=1.0, timeframes=(Timeframe.M1,), clock=clock,
                    monotonic=clock)
    feed.run_once()
    seen = feed.observe(["AAPL", "ZZZZ", "MSFT"])
    assert seen["AAPL"] == Observation(True, True, False, None)
    assert seen["ZZZZ"].tracked and not seen["ZZZZ"].has_quote and "no such ticker" in str(seen["ZZZZ"].failure)
    assert seen["MSFT"] == Observation(False, False, False, None)
    feed.remove_symbol("ZZZZ")
    feed.run_once()
    assert feed.observe(["ZZZZ"])["ZZZZ"].failure is None  # released with the symbol
