"""YahooSource on recorded yfinance-shaped frames (tests/data/yahoo), with the network replaced at its one seam."""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yfinance as yf
from yfinance import exceptions as yf_errors

from feeds.errors import RateLimited, SourceTimeout
from feeds.models import Period, Timeframe
from feeds.options import bs_greeks, year_fraction
from feeds.source import MarketSource, SourceError, UnknownSymbol, UnsupportedRequest
from feeds.yahoo import YahooSource, YFinanceClient

DATA = Path(__file__).resolve().parent.parent / "data" / "yahoo"
NY = "America/New_York"
NOW = pd.Timestamp("2024-01-12 21:30", tz="UTC").timestamp()


def read_history(symbol: str, interval: str) -> pd.DataFrame:
    frame = pd.read_csv(DATA / f"{symbol}_{interval}.csv", index_col=0)
    index = pd.DatetimeIndex(pd.to_datetime(frame.index, utc=True).tz_convert(NY), name=frame.index.name)
    frame.index = index
    return frame


class RecordedClient:
    """Answers ``fetch`` from the recorded files the way yfinance would (start inclusive, end exclusive)."""

    def __init__(self) -> None:
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
def client() -> RecordedClient:
    return RecordedClient()


@pytest.fixture
def clock() -> Clock:
    return Clock()


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
    assert q.change_percent == pytest.approx((info["regularMarketPrice"] - 185.59) / 185.59 * 100)
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
    assert candles[0].time >= Timeframe.D1.bucket_start(NOW - 30 * 86_400)
    last = frame.iloc[-1]
    assert (candles[-1].open, candles[-1].high, candles[-1].low, candles[-1].close, candles[-1].volume) == (
        last["Open"], last["High"], last["Low"], last["Close"], last["Volume"]
    )
    kind, symbol, kw = client.calls[-1]
    assert (kind, symbol, kw["interval"], kw["period"]) == ("history", "AAPL", "1d", None)


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
        ("3mo", Timeframe.M30, None, "last 60 days"),
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


def test_five_minutes_within_sixty_days_is_asked(yahoo: YahooSource, client: RecordedClient) -> None:
    with pytest.raises(UnknownSymbol):  # no 5m file recorded: yfinance's "symbol may be delisted" answer
        yahoo.history("AAPL", Period.parse("60d"), Timeframe.M5)
    assert client.calls[-1][2]["interval"] == "5m"


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


def test_rate_limit_backoff(yahoo: YahooSource, client: RecordedClient, clock: Clock) -> None:
    client.error = yf_errors.YFRateLimitError()
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
    assert yahoo.health()["state"] == "rate_limited"
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
