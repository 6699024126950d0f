"""AlpacaSource against a local HTTP server that serves recorded Alpaca answers (tests/data/alpaca)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from tests_support import RecordedServer, serve_recorded

from feeds.alpaca import AlpacaSource
from feeds.errors import RateLimited
from feeds.models import Period, Timeframe
from feeds.source import MarketSource, SourceError, UnknownSymbol, UnsupportedRequest

DATA = Path(__file__).resolve().parent.parent / "data" / "alpaca"
NOW = pd.Timestamp("2024-01-12 21:30", tz="UTC").timestamp()


@pytest.fixture
def server() -> Iterator[RecordedServer]:
    with serve_recorded(DATA, b'{"message":"no route in test"}') as state:
        yield state


@pytest.fixture
def alpaca(server: RecordedServer) -> AlpacaSource:
    return AlpacaSource("key-id", "secret", base_url=server.base_url, clock=lambda: NOW, timeout=2.0)


def test_follows_the_protocol(alpaca: AlpacaSource) -> None:
    assert isinstance(alpaca, MarketSource)
    assert "secret" not in repr(alpaca)


def test_quote_from_snapshot(alpaca: AlpacaSource, server: RecordedServer) -> None:
    server.add("/v2/stocks/AAPL/snapshot", (200, "snapshot_AAPL.json"))
    q = alpaca.quote("aapl")
    assert (q.symbol, q.price, q.bid, q.ask, q.previous_close) == ("AAPL", 185.83, 185.81, 185.86, 185.59)
    assert q.volume == 1024562 and q.source == "alpaca"
    assert q.timestamp == pytest.approx(pd.Timestamp("2024-01-12T20:59:59.871262Z").timestamp())
    _path, query, headers = server.requests[-1]
    assert headers["APCA-API-KEY-ID"] == "key-id" and headers["APCA-API-SECRET-KEY"] == "secret"
    assert query["feed"] == ["iex"]


def test_unknown_ticker(alpaca: AlpacaSource, server: RecordedServer) -> None:
    server.add("/v2/stocks/ZZZZ/", (404, "not_found.json"))
    with pytest.raises(UnknownSymbol):
        alpaca.quote("ZZZZ")
    with pytest.raises(UnknownSymbol, match="stock tickers only"):
        alpaca.history("GC=F", Period.parse("1d"), Timeframe.M1)
    assert len(server.requests) == 1


def test_minute_bars_follow_page_token(alpaca: AlpacaSource, server: RecordedServer) -> None:
    server.add("/v2/stocks/AAPL/bars", (200, "bars_AAPL_1Min_page1.json"), (200, "bars_AAPL_1Min_page2.json"))
    candles = alpaca.history("AAPL", Period.parse("1d"), Timeframe.M1)
    page1 = json.loads((DATA / "bars_AAPL_1Min_page1.json").read_text())
    first = page1["bars"][0]
    assert len(candles) == 60
    assert candles[0].time == int(pd.Timestamp(first["t"]).timestamp())
    assert (candles[0].open, candles[0].high, candles[0].low, candles[0].close, candles[0].volume) == (
        first["o"], first["h"], first["l"], first["c"], first["v"])
    (_, q1, _), (_, q2, _) = server.requests
    assert q1["timeframe"] == ["1Min"] and q1["end"] == ["2024-01-12T21:30:00Z"]
    assert q1["start"] == ["2024-01-11T21:30:00Z"] and "page_token" not in q1
    assert q2["page_token"] == [page1["next_page_token"]]


def test_daily_bars_stamped_utc_midnight(alpaca: AlpacaSource, server: RecordedServer) -> None:
    server.add("/v2/stocks/AAPL/bars", (200, "bars_AAPL_1Day.json"))
    end = pd.Timestamp("2024-01-12", tz="UTC").timestamp()
    candles = alpaca.history("AAPL", Period.parse("1mo"), Timeframe.D1, end=end, limit=2)
    assert [c.time for c in candles] == [
        int(pd.Timestamp(d, tz="UTC").timestamp()) for d in ("2024-01-10", "2024-01-11")
    ]


def test_null_bars_is_a_failure(alpaca: AlpacaSource, server: RecordedServer) -> None:
    server.add("/v2/stocks/AAPL/bars", (200, "bars_empty.json"))
    with pytest.raises(SourceError, match="no bars"):
        alpaca.history("AAPL", Period.parse("1d"), Timeframe.H4)
    assert server.requests[-1][1]["timeframe"] == ["1Hour"]


def test_bad_keys_and_rate_limit(alpaca: AlpacaSource, server: RecordedServer) -> None:
    server.add("/v2/stocks/", (401, "unauthorized.json"), (429, "rate_limited.json", {"Retry-After": "3"}))
    with pytest.raises(SourceError, match="API keys") as info:
        alpaca.quote("AAPL")
    assert not isinstance(info.value, UnknownSymbol)
    with pytest.raises(RateLimited) as limited:
        alpaca.quote("AAPL")
    assert limited.value.retry_after == 3.0
    assert alpaca.health()["errors"] == 2


def test_connection_refused_is_a_source_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = AlpacaSource("k", "s", base_url=f"http://127.0.0.1:{port}", timeout=1.0)
    with pytest.raises(SourceError, match="ConnectionError"):
        source.quote("AAPL")


def test_no_option_chains(alpaca: AlpacaSource) -> None:
    with pytest.raises(UnsupportedRequest):
        alpaca.options_chain("AAPL")
