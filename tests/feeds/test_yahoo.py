"""YahooSource on recorded yfinance-shaped frames (tests/data/yahoo), with the network replaced at its one seam."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yfinance as yf
from tests_support import wait_for
from yfinance import exceptions as yf_errors

from api.health import source_states
from api.metrics import PrometheusExporter
from feeds.breaker import BreakerState
from feeds.errors import NoSourceAvailable, RateLimited, SourceBusy, SourceTimeout
from feeds.failover import FailoverSource
from feeds.models import Candle, Period, Timeframe
from feeds.options import bs_greeks, year_fraction
from feeds.source import MarketSource, SourceError, UnknownSymbol, UnsupportedRequest
from feeds.yahoo import YahooSource
from feeds.yahoo_client import YFinanceClient
from settings import Settings

DATA = Path(__file__).resolve().parent.parent / "data" / "yahoo"
NY = "America/New_York"
NOW = pd.Timestamp("2024-01-12 21:30", tz="UTC").timestamp()  # a Friday, after the close
SUNDAY = pd.Timestamp("2024-01-14 12:00", tz="UTC").timestamp()
FRIDAY = pd.Timestamp("2024-01-12", tz="UTC").timestamp()


def read_history(symbol: str, interval: str) -> pd.DataFrame:
    frame = pd.read_csv(DATA / f"{symbol}_{interval}.csv", index_col=0)
    index = pd.DatetimeIndex(pd.to_datetime(frame.index, utc=True).tz_convert(NY), name=frame.index.name)
    frame.index = index
    return frame


def yahoo_range(frame: pd.DataFrame, period: str, now: float) -> pd.DataFrame:
    """What Yahoo's ``range=`` gives up to ``now``: the last N trading days for "Nd" (1d on a Sunday is Friday's
    session), calendar months or years back from now for "Nmo"/"Ny", everything for "max"."""
    stamps = frame.index.tz_convert("UTC")
    moment = pd.Timestamp(now, unit="s", tz="UTC")
    frame = frame[stamps <= moment]
    if period == "max":
        return frame
    match = re.fullmatch(r"([1-9][0-9]*)(d|mo|y)", period)
    assert match, period
    count, unit = int(match.group(1)), match.group(2)
    if unit == "d":
        sessions = sorted(set(frame.index.date))[-count:]
        return frame[pd.Index(frame.index.date).isin(sessions)]
    offset = pd.DateOffset(months=count) if unit == "mo" else pd.DateOffset(years=count)
    return frame[frame.index.tz_convert("UTC") > moment - offset]


class RecordedClient:
    """Answers ``fetch`` from the recorded files the way yfinance would (start inclusive, end exclusive; a
    ``period`` as Yahoo's range ending at ``now()``)."""

    def __init__(self, now: Callable[[], float] = lambda: NOW) -> None:
        self.now = now
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.error: BaseException | None = None
        self.block: threading.Event | None = None
        self.empty = False

    def fetch(self, kind: str, symbol: str, **kw: Any) -> Any:
        self.calls.append((kind, symbol, kw))
        if self.block is not None:
            self.block.wait(10)
        if self.error is not None:
            raise self.error
        if kind == "info":
            path = DATA / f"{symbol}_info.json"
            # What yfinance 1.x hands back for a ticker Yahoo does not know.
            return json.loads(path.read_text()) if path.exists() else {"trailingPegRatio": None}
        if kind == "history":
            if self.empty:
                return yf.utils.empty_df()
            path = DATA / f"{symbol}_{kw['interval']}.csv"
            if not path.exists():
                raise yf_errors.YFPricesMissingError(symbol, "", yahoo_reason="No data found, symbol may be delisted")
            frame = read_history(symbol, kw["interval"])
            if kw.get("period") is not None and kw.get("start") is None and kw.get("end") is None:
                return yahoo_range(frame, kw["period"], self.now())
            stamps = frame.index.tz_convert("UTC")
            if kw.get("start") is not None:
                frame = frame[stamps >= pd.Timestamp(kw["start"], unit="s", tz="UTC")]
                stamps = frame.index.tz_convert("UTC")
            if kw.get("end") is not None:
                frame = frame[stamps < pd.Timestamp(kw["end"], unit="s", tz="UTC")]
            return frame
        if kind == "options":
            meta = json.loads((DATA / f"{symbol}_options.json").read_text())
            expiration = kw.get("expiration") or meta["expirations"][0]
            if expiration not in meta["expirations"]:
                return {"expirations": tuple(meta["expirations"]), "calls": None, "puts": None, "underlying": {}}
            sides = {}
            for side in ("calls", "puts"):
                frame = pd.read_csv(DATA / f"{symbol}_{side}_{expiration}.csv")
                frame["lastTradeDate"] = pd.to_datetime(frame["lastTradeDate"], utc=True)
                sides[side] = frame
            return {"expirations": tuple(meta["expirations"]), "underlying": meta["underlying"], **sides}
        raise AssertionError(kind)


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(clock: Clock) -> RecordedClient:
    return RecordedClient(clock)


@pytest.fixture
def yahoo(client: RecordedClient, clock: Clock) -> YahooSource:
    source = YahooSource(client, clock=clock, sleep=clock.sleep, call_timeout=0.3, min_interval=0.0)
    yield source
    if client.block is not None:
        client.block.set()
    source.close()


def test_follows_the_protocol(yahoo: YahooSource) -> None:
    assert isinstance(yahoo, MarketSource)


def test_quote_from_info(yahoo: YahooSource) -> None:
    info = json.loads((DATA / "AAPL_info.json").read_text())
    q = yahoo.quote("aapl")
    assert q.symbol == "AAPL" and q.source == "yahoo" and not q.stale
    assert q.price == info["regularMarketPrice"] and q.previous_close == 185.59
    assert q.change == pytest.approx(info["regularMarketPrice"] - 185.59)
    assert q.change_percent == round((info["regularMarketPrice"] - 185.59) / 185.59 * 100, 4)
    assert (q.bid, q.ask) == (info["bid"], info["ask"])
    assert q.volume == 40477782 and q.timestamp == 1705093201


def test_index_quote_has_no_bid_ask(yahoo: YahooSource) -> None:
    q = yahoo.quote("^GSPC")
    assert q.bid is None and q.ask is None and q.price == 4783.83


def test_unknown_ticker_quote(yahoo: YahooSource) -> None:
    with pytest.raises(UnknownSymbol):
        yahoo.quote("ZZZZZ")


def test_daily_history(yahoo: YahooSource, client: RecordedClient) -> None:
    candles = yahoo.history("AAPL", Period.parse("1mo"), Timeframe.D1)
    frame = read_history("AAPL", "1d")
    assert candles[-1].time == int(pd.Timestamp("2024-01-12", tz="UTC").timestamp())
    assert all(c.time % 86_400 == 0 for c in candles)
    assert [c.time for c in candles] == sorted(c.time for c in candles)
    # Yahoo's "1mo": a calendar month back from the clock (2023-12-12 21:30 UTC), so the first bar is 12-13.
    assert candles[0].time == int(pd.Timestamp("2023-12-13", tz="UTC").timestamp())
    last = frame.iloc[-1]
    assert (candles[-1].open, candles[-1].high, candles[-1].low, candles[-1].close, candles[-1].volume) == (
        last["Open"], last["High"], last["Low"], last["Close"], last["Volume"]
    )
    kind, symbol, kw = client.calls[-1]
    # Without end, Yahoo is asked by period (its last trading days), not from a computed start.
    assert (kind, symbol, kw["interval"], kw["period"], kw["start"], kw["end"]) == (
        "history", "AAPL", "1d", "1mo", None, None)


def test_one_minute_history_of_one_day(yahoo: YahooSource) -> None:
    candles = yahoo.history("AAPL", Period.parse("1d"), Timeframe.M1)
    assert len(candles) == 390
    assert candles[0].time == int(pd.Timestamp("2024-01-12 14:30", tz="UTC").timestamp())
    assert all(b.time - a.time == 60 for a, b in itertools.pairwise(candles))


def test_end_and_limit(yahoo: YahooSource) -> None:
    end = pd.Timestamp("2024-01-10", tz="UTC").timestamp()
    candles = yahoo.history("AAPL", Period.parse("1y"), Timeframe.D1, end=end, limit=5)
    assert len(candles) == 5 and all(c.time < end for c in candles)
    assert candles[-1].time == int(pd.Timestamp("2024-01-09", tz="UTC").timestamp())


def test_four_hours_resampled_from_hours(yahoo: YahooSource) -> None:
    candles = yahoo.history("AAPL", Period.parse("1mo"), Timeframe.H4)
    assert all(c.time % 14_400 == 0 for c in candles)
    hours = read_history("AAPL", "1h")
    hours = hours[hours.index >= pd.Timestamp(candles[0].time, unit="s", tz="UTC")]
    expected = hours.tz_convert("UTC").resample("4h", origin="epoch").agg(
        {"Open": "first", "High": "max", "Low": "min", "Close": "last", "Volume": "sum"}
    ).dropna()
    assert len(candles) == len(expected)
    for candle, (stamp, row) in zip(candles, expected.iterrows(), strict=True):
        assert candle.time == int(stamp.timestamp())
        assert (candle.open, candle.high, candle.low, candle.close) == pytest.approx(
            (row["Open"], row["High"], row["Low"], row["Close"])
        )
        assert candle.volume == row["Volume"]


@pytest.mark.parametrize(
    ("period", "timeframe", "end_days_ago", "message"),
    [
        ("1mo", Timeframe.M1, None, "at most 7 days"),
        ("1d", Timeframe.M1, 40, "last 30 days"),
        ("3mo", Timeframe.M5, None, "last 60 days"),
        ("3mo", Timeframe.M15, None, "last 60 days"),
        ("3mo", Timeframe.M30, None, "last 60 days"),
        ("5y", Timeframe.H1, None, "last 730 days"),
        ("5y", Timeframe.H4, None, "last 730 days"),
        ("1mo", Timeframe.H1, 720, "last 730 days"),
        ("1mo", Timeframe.H4, 720, "last 730 days"),
        # An end older than Yahoo keeps: no window can be served, even "as far back as Yahoo keeps".
        ("max", Timeframe.M1, 40, "last 30 days"),
        ("max", Timeframe.M5, 61, "last 60 days"),
        ("max", Timeframe.M15, 61, "last 60 days"),
        ("max", Timeframe.M30, 61, "last 60 days"),
        ("max", Timeframe.H1, 731, "last 730 days"),
        ("1d", Timeframe.M15, 61, "last 60 days"),
        ("3y", Timeframe.H4, None, None),
    ],
)
def test_intraday_limits_are_unsupported_requests(
    yahoo: YahooSource, client: RecordedClient, period: str, timeframe: Timeframe, end_days_ago: int | None,
    message: str | None,
) -> None:
    if message is None:
        with pytest.raises(Exception, match="invalid_period|unknown period"):
            Period.parse(period)
        return
    end = None if end_days_ago is None else NOW - end_days_ago * 86_400
    with pytest.raises(UnsupportedRequest, match=message) as info:
        yahoo.history("AAPL", Period.parse(period), timeframe, end=end)
    assert info.value.code == "unsupported_request"
    assert client.calls == []


@pytest.mark.parametrize("timeframe", [Timeframe.M5, Timeframe.M15, Timeframe.M30])
def test_five_to_thirty_minutes_within_sixty_days_is_asked(
    yahoo: YahooSource, client: RecordedClient, timeframe: Timeframe
) -> None:
    with pytest.raises(UnknownSymbol):  # no file recorded: yfinance's "symbol may be delisted" answer
        yahoo.history("AAPL", Period.parse("60d"), timeframe)
    assert client.calls[-1][2]["interval"] == timeframe.value


@pytest.mark.parametrize(
    ("period", "timeframe", "end_days_ago"),
    [("2y", Timeframe.H1, None), ("2y", Timeframe.H4, None), ("5d", Timeframe.H1, 700), ("max", Timeframe.H4, None)],
)
def test_hours_within_730_days_are_asked(
    yahoo: YahooSource, client: RecordedClient, period: str, timeframe: Timeframe, end_days_ago: int | None
) -> None:
    end = None if end_days_ago is None else NOW - end_days_ago * 86_400
    candles = yahoo.history("AAPL", Period.parse(period), timeframe, end=end)
    assert client.calls[-1][2]["interval"] == "1h"
    # The recording starts 2023-12-01: a window 700 days back holds nothing, which is an answer, not an error.
    assert (candles == []) is (end is not None)


@pytest.mark.parametrize("end_days_ago", [0.5, 29])
def test_max_one_minute_with_end_is_one_request_back_from_end(
    yahoo: YahooSource, client: RecordedClient, end_days_ago: float
) -> None:
    end = NOW - end_days_ago * 86_400
    yahoo.history("AAPL", Period.parse("max"), Timeframe.M1, end=end)
    kw = client.calls[-1][2]
    assert kw["end"] == int(end) and kw["start"] < kw["end"]
    assert kw["start"] >= NOW - 30 * 86_400 and kw["end"] - kw["start"] <= 7 * 86_400 + 60


def test_max_intraday_is_clamped(yahoo: YahooSource, client: RecordedClient) -> None:
    candles = yahoo.history("AAPL", Period.parse("max"), Timeframe.M1)
    assert len(candles) == 780
    assert client.calls[-1][2]["start"] >= NOW - 7 * 86_400 - 60


def test_empty_frame_is_a_failure(yahoo: YahooSource, client: RecordedClient) -> None:
    client.empty = True
    with pytest.raises(SourceError, match="empty") as info:
        yahoo.history("AAPL", Period.parse("1mo"), Timeframe.D1)
    assert not isinstance(info.value, UnknownSymbol)


@pytest.mark.parametrize(
    ("timeframe", "count"), [(Timeframe.M1, 390), (Timeframe.H1, 7), (Timeframe.H4, 3), (Timeframe.D1, 1)]
)
def test_one_day_on_a_sunday_is_fridays_session(clock: Clock, timeframe: Timeframe, count: int) -> None:
    clock.now = SUNDAY
    client = RecordedClient(clock)
    yahoo = YahooSource(client, clock=clock, sleep=clock.sleep, call_timeout=5, min_interval=0.0)
    chain = FailoverSource([yahoo], None, clock, failure_threshold=1)
    try:
        for end in (None, SUNDAY + 60):
            candles = chain.history("AAPL", Period.parse("1d"), timeframe, end=end)
            assert len(candles) == count
            assert FRIDAY <= candles[0].time and candles[-1].time < FRIDAY + 86_400
            assert client.calls[-1][2]["period"] == "1d" and client.calls[-1][2]["start"] is None
        assert chain.breakers["yahoo"].state is BreakerState.CLOSED
        assert chain.breakers["yahoo"].snapshot()["total_failures"] == 0
    finally:
        chain.close()
        yahoo.close()


@pytest.mark.parametrize(
    "error",
    [
        None,  # an empty frame
        yf_errors.YFPricesMissingError(
            "AAPL", "", yahoo_reason="Data doesn't exist for startDate = 1651363200, endDate = 1654041600"
        ),
        yf_errors.YFPricesMissingError("AAPL", " (1d 2022-05-01 -> 2022-06-01)"),
    ],
)
def test_a_past_window_without_candles_is_an_empty_answer(
    clock: Clock, error: Exception | None
) -> None:
    clock.now = SUNDAY + 2 * 86_400
    client = RecordedClient(clock)
    client.error = error
    yahoo = YahooSource(client, clock=clock, sleep=clock.sleep, call_timeout=5, min_interval=0.0)
    chain = FailoverSource([yahoo], None, clock, failure_threshold=1)
    before_listing = pd.Timestamp("2022-06-01", tz="UTC").timestamp()
    try:
        assert chain.history("AAPL", Period.parse("1mo"), Timeframe.D1, end=before_listing) == []
        # The day before a Sunday noon holds no 1-minute bar either.
        assert chain.history("AAPL", Period.parse("1d"), Timeframe.M1, end=SUNDAY) == []
        assert chain.breakers["yahoo"].snapshot()["total_failures"] == 0
        assert yahoo.health()["errors"] == 0
    finally:
        chain.close()
        yahoo.close()


@pytest.mark.parametrize(
    "error",
    [
        yf_errors.YFTzMissingError("ZZZZZ"),
        yf_errors.YFPricesMissingError("ZZZZZ", "", yahoo_reason="No data found, symbol may be delisted"),
    ],
)
def test_unknown_ticker_errors(yahoo: YahooSource, client: RecordedClient, error: Exception) -> None:
    client.error = error
    with pytest.raises(UnknownSymbol):
        yahoo.history("ZZZZZ", Period.parse("1mo"), Timeframe.D1)


def test_other_errors_are_source_errors(yahoo: YahooSource, client: RecordedClient) -> None:
    client.error = KeyError("chart")
    with pytest.raises(SourceError, match="KeyError"):
        yahoo.quote("AAPL")
    assert yahoo.health()["errors"] == 1


class _Response:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.headers = headers or {}


class _HTTPError(Exception):
    """The shape of requests' and curl_cffi's HTTPError: the response rides on the exception."""

    def __init__(self, response: _Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


@pytest.mark.parametrize("error", ["yfinance", "http_429"])
def test_rate_limit_backoff(yahoo: YahooSource, client: RecordedClient, clock: Clock, error: str) -> None:
    """yfinance's YFRateLimitError and a bare HTTP 429 start the same backoff."""
    client.error = yf_errors.YFRateLimitError() if error == "yfinance" else _HTTPError(_Response(429))
    with pytest.raises(RateLimited) as info:
        yahoo.quote("AAPL")
    assert info.value.retry_after == 2.0
    calls = len(client.calls)
    clock.now += 1.9
    with pytest.raises(RateLimited, match="not calling"):
        yahoo.quote("MSFT")
    assert len(client.calls) == calls  # Yahoo was not asked during the backoff
    clock.now += 0.2
    with pytest.raises(RateLimited) as info:
        yahoo.quote("AAPL")
    assert info.value.retry_after == 4.0
    assert yahoo.health()["state"] == "rate_limited" and yahoo.health()["rate_limited"] == 2
    clock.now += 4
    client.error = None
    assert yahoo.quote("AAPL").price > 0
    assert yahoo.health()["backoff"] == 0.0


def test_minimum_spacing_per_symbol(client: RecordedClient, clock: Clock) -> None:
    source = YahooSource(client, clock=clock, sleep=clock.sleep, min_interval=1.5)
    try:
        source.quote("AAPL")
        source.quote("^GSPC")
        assert clock.sleeps == []
        source.quote("AAPL")
        assert clock.sleeps == [1.5]
    finally:
        source.close()


def test_hanging_call_is_cut(yahoo: YahooSource, client: RecordedClient) -> None:
    client.block = threading.Event()
    started = time.monotonic()
    with pytest.raises(SourceTimeout, match="may linger"):
        yahoo.quote("AAPL")
    assert time.monotonic() - started < 2.0
    assert yahoo.health()["lingering_calls"] == 1 and yahoo.health()["timeouts"] == 1


def test_option_chain_with_greeks(yahoo: YahooSource) -> None:
    chain = yahoo.options_chain("AAPL")
    calls = pd.read_csv(DATA / "AAPL_calls_2024-01-19.csv")
    assert chain.expiration == "2024-01-19" and chain.expirations[0] == "2024-01-19"
    assert chain.underlying_price == 185.83
    assert len(chain.calls) == len(calls) and len(chain.puts) == 11
    t = year_fraction(NOW, "2024-01-19")
    c = chain.calls[5]
    expected = bs_greeks("call", 185.83, c.strike, t, yahoo.rate, c.implied_volatility)
    assert c.contract_symbol == calls.loc[5, "contractSymbol"]
    assert c.implied_volatility == calls.loc[5, "impliedVolatility"]
    assert (c.delta, c.gamma, c.theta, c.vega) == pytest.approx(
        (expected.delta, expected.gamma, expected.theta, expected.vega)
    )
    assert 0.3 < c.delta < 0.7 and c.theta < 0 and c.vega > 0
    assert all(p.delta is not None and p.delta < 0 for p in chain.puts)
    unusual = [x.strike for x in chain.calls if x.unusual]
    assert unusual == [192.5]
    dead = chain.calls[10]
    assert dead.volume is None and dead.implied_volatility is None and dead.delta is None


def test_unknown_expiration(yahoo: YahooSource) -> None:
    with pytest.raises(UnsupportedRequest, match="available"):
        yahoo.options_chain("AAPL", "2024-01-20")


def test_real_client_points_yfinance_caches_at_the_cache_dir(tmp_path: Path) -> None:
    before = yf.cache._TzDBManager.get_location()
    try:
        YFinanceClient(tmp_path / "yf")
        assert yf.cache._TzDBManager.get_location() == str(tmp_path / "yf")
        assert yf.cache._CookieDBManager.get_location() == str(tmp_path / "yf")
        assert yf.config.debug.hide_exceptions is False
    finally:
        yf.set_tz_cache_location(before)


# -- local throttling is not a provider failure (spacing, single flight, worker queue) -----------------------------


def test_a_burst_for_one_symbol_never_opens_the_breaker() -> None:
    """14 concurrent history requests for AAPL on a healthy Yahoo: those beyond the spacing are skipped as busy,
    none times out or counts as a failure, and the breaker stays closed for the other symbols."""
    started = time.monotonic()

    def clock() -> float:
        return NOW + (time.monotonic() - started)

    client = RecordedClient(clock)
    yahoo = YahooSource(client, clock=clock, sleep=time.sleep, call_timeout=2.0, min_interval=0.2)
    chain = FailoverSource([yahoo], None, clock, call_timeout=0.5, failure_threshold=3)
    periods = ["1d", "2d", "3d", "4d", "5d", "6d", "7d", "8d", "9d", "10d", "1mo", "3mo", "6mo", "1y"]
    outcomes: dict[str, list[Candle] | BaseException] = {}

    def ask(period: str) -> None:
        try:
            outcomes[period] = chain.history("AAPL", Period.parse(period), Timeframe.D1)
        except Exception as exc:
            outcomes[period] = exc

    threads = [threading.Thread(target=ask, args=(period,)) for period in periods]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        answered = [v for v in outcomes.values() if isinstance(v, list)]
        busy = [v for v in outcomes.values() if isinstance(v, NoSourceAvailable) and "busy" in str(v)]
        assert answered and len(answered) + len(busy) == len(periods), outcomes
        assert all(b.retry_after is not None and b.retry_after > 0 for b in busy)
        snapshot = chain.breakers["yahoo"].snapshot()
        assert snapshot["state"] == "closed" and snapshot["total_failures"] == 0
        assert snapshot["skipped"] == len(busy)
        health = yahoo.health()
        assert health["timeouts"] == 0 and health["errors"] == 0 and health["lingering_calls"] == 0
        assert chain.quote("^GSPC").source == "yahoo"
    finally:
        chain.close()
        yahoo.close()


def test_spacing_wait_is_capped_and_busy_is_not_an_error(client: RecordedClient, clock: Clock) -> None:
    waits: list[float] = []  # a sleep that lets no time pass, so the slots pile up as under a burst
    source = YahooSource(client, clock=clock, sleep=waits.append, min_interval=1.0)
    try:
        source.quote("AAPL")
        source.quote("AAPL")
        assert waits == [1.0]  # one slot behind the call just made: waited for
        with pytest.raises(SourceBusy) as info:
            source.quote("AAPL")  # two slots behind: not waited for, not asked
        assert info.value.retry_after == 2.0 and waits == [1.0] and len(client.calls) == 2
        assert source.quote("^GSPC").price > 0  # another symbol has its own slots
        health = source.health()
        assert health["throttled"] == 1 and health["errors"] == 0 and health["last_error"] is None
        clock.now += 2.0
        assert source.quote("AAPL").price > 0
    finally:
        source.close()


def run_joined(ask: Callable[[], None], count: int, source: YahooSource, client: RecordedClient) -> None:
    """Run ``ask`` on ``count`` threads while the client is blocked, so that all but the first join its call."""
    threads = [threading.Thread(target=ask) for _ in range(count)]
    for thread in threads:
        thread.start()
    wait_for(lambda: source.health()["coalesced"] == count - 1, 5, message=f"{count - 1} requests joining the first")
    client.block.set()
    for thread in threads:
        thread.join(5)


def test_identical_concurrent_requests_share_one_call(client: RecordedClient, clock: Clock) -> None:
    client.block = threading.Event()
    source = YahooSource(client, clock=clock, sleep=clock.sleep, call_timeout=5, min_interval=1.0)
    results: list[list[Candle]] = []

    def ask() -> None:
        results.append(source.history("AAPL", Period.parse("1mo"), Timeframe.D1))

    try:
        run_joined(ask, 5, source, client)
        assert len(results) == 5 and all(r == results[0] for r in results) and results[0]
        assert len(client.calls) == 1 and source.health()["calls"] == 1 and clock.sleeps == []
    finally:
        client.block.set()
        source.close()


def test_identical_requests_share_the_failure_too(client: RecordedClient, clock: Clock) -> None:
    client.block = threading.Event()
    client.error = KeyError("chart")
    source = YahooSource(client, clock=clock, sleep=clock.sleep, call_timeout=5, min_interval=1.0)
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            source.quote("AAPL")
        except SourceError as exc:
            errors.append(exc)

    try:
        run_joined(ask, 3, source, client)
        assert len(errors) == 3 and all("KeyError" in str(e) for e in errors)
        assert len(client.calls) == 1 and source.health()["errors"] == 1
    finally:
        client.block.set()
        source.close()


# -- rate limits --------------------------------------------------------------------------------------------------


def test_retry_after_of_a_429_lengthens_the_backoff(
    yahoo: YahooSource, client: RecordedClient, clock: Clock
) -> None:
    client.error = _HTTPError(_Response(429, {"Retry-After": "30"}))
    with pytest.raises(RateLimited) as info:
        yahoo.quote("AAPL")
    assert info.value.retry_after == 30.0
    clock.now += 29
    with pytest.raises(RateLimited, match="not calling"):
        yahoo.quote("AAPL")
    assert len(client.calls) == 1


# -- limits from settings, lingering calls in health and metrics --------------------------------------------------


def test_call_limit_defaults_to_the_settings_source_timeout(client: RecordedClient) -> None:
    source = YahooSource(client)
    try:
        assert source.call_timeout == Settings().source_timeout
    finally:
        source.close()
    limited = YahooSource(client, call_timeout=2.5)
    try:
        assert limited.call_timeout == 2.5
    finally:
        limited.close()


def test_yahoos_own_lingering_calls_reach_health_and_metrics(client: RecordedClient, clock: Clock) -> None:
    client.block = threading.Event()
    yahoo = YahooSource(client, clock=clock, sleep=clock.sleep, call_timeout=0.2, min_interval=0.0)
    chain = FailoverSource([yahoo], None, clock, call_timeout=5)
    try:
        with pytest.raises(NoSourceAvailable, match="no answer within 0.2 s"):
            chain.quote("AAPL")
        entry = source_states(chain)[0]
        assert entry["name"] == "yahoo" and entry["lingering_calls"] == 1
        snapshot = {
            "quotes_fetched": 0, "errors": 1, "restarts": 0, "ticks": 0, "candles_closed": 0, "uptime": 1.0,
            "feed_running": True, "update_interval": 1.0, "symbols": ["AAPL"], "sources": source_states(chain),
            "cache": None, "bus": {"published": 0, "handler_errors": 0}, "websocket": {},
        }
        text = PrometheusExporter(lambda: snapshot).render().decode()
        assert 'tickstream_source_lingering_calls{source="yahoo"} 1.0' in text
        client.block.set()
        wait_for(lambda: source_states(chain)[0]["lingering_calls"] == 0, 5, message="the call to end")
    finally:
        client.block.set()
        chain.close()
        yahoo.close()
