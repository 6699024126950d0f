"""PolygonSource against a local HTTP server that serves recorded Polygon answers (tests/data/polygon)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from tests_support import RecordedServer, serve_recorded

from feeds.errors import RateLimited
from feeds.models import Period, Timeframe
from feeds.polygon import PolygonSource
from feeds.source import MarketSource, SourceError, UnknownSymbol, UnsupportedRequest

DATA = Path(__file__).resolve().parent.parent / "data" / "polygon"
NOW = pd.Timestamp("2024-01-12 21:30", tz="UTC").timestamp()


@pytest.fixture
def server() -> Iterator[RecordedServer]:
    with serve_recorded(DATA, b'{"status":"ERROR","error":"no route in test"}') as state:
        yield state


@pytest.fixture
def polygon(server: RecordedServer) -> PolygonSource:
    return PolygonSource("test-key", base_url=server.base_url, clock=lambda: NOW, timeout=2.0)


def test_follows_the_protocol(polygon: PolygonSource) -> None:
    assert isinstance(polygon, MarketSource)
    assert "test-key" not in repr(polygon)


def test_quote_from_snapshot(polygon: PolygonSource, server: RecordedServer) -> None:
    server.add("/v2/snapshot/locale/us/markets/stocks/tickers/AAPL", (200, "snapshot_AAPL.json"))
    q = polygon.quote("aapl")
    assert (q.symbol, q.price, q.bid, q.ask, q.previous_close) == ("AAPL", 185.83, 185.82, 185.85, 185.59)
    assert q.volume == 40477782.0 and q.source == "polygon"
    assert q.timestamp == pytest.approx(1705093199.871)
    _path, query, headers = server.requests[-1]
    assert headers["Authorization"] == "Bearer test-key" and "apiKey" not in query


def test_unknown_ticker(polygon: PolygonSource, server: RecordedServer) -> None:
    server.add("/v2/snapshot/locale/us/markets/stocks/tickers/ZZZZ", (404, "not_found.json"))
    with pytest.raises(UnknownSymbol):
        polygon.quote("ZZZZ")
    with pytest.raises(UnknownSymbol, match="stock tickers only"):
        polygon.quote("^GSPC")
    assert len(server.requests) == 1


def test_minute_history_follows_next_url(polygon: PolygonSource, server: RecordedServer) -> None:
    server.add("/v2/aggs/ticker/AAPL/range/1/minute/", (200, "aggs_AAPL_minute_page1.json"),
               (200, "aggs_AAPL_minute_page2.json"))
    candles = polygon.history("AAPL", Period.parse("1d"), Timeframe.M1)
    page1 = json.loads((DATA / "aggs_AAPL_minute_page1.json").read_text())["results"]
    assert len(candles) == 60 and candles[0].time == page1[0]["t"] // 1000
    assert (candles[0].open, candles[0].high, candles[0].low, candles[0].close, candles[0].volume) == (
        page1[0]["o"], page1[0]["h"], page1[0]["l"], page1[0]["c"], page1[0]["v"])
    (first_path, first_query, _), (second_path, second_query, _) = server.requests
    start_ms = int(Timeframe.M1.bucket_start(NOW - 86_400) * 1000)
    assert first_path == f"/v2/aggs/ticker/AAPL/range/1/minute/{start_ms}/{int(NOW * 1000)}"
    assert first_query["adjusted"] == ["true"] and first_query["sort"] == ["asc"]
    assert "cursor" in second_query and second_path.startswith("/v2/aggs/ticker/AAPL/range/1/minute/")


def test_daily_history_stamped_utc_midnight(polygon: PolygonSource, server: RecordedServer) -> None:
    server.add("/v2/aggs/ticker/AAPL/range/1/day/", (200, "aggs_AAPL_day.json"))
    candles = polygon.history("AAPL", Period.parse("1mo"), Timeframe.D1, limit=3)
    assert [c.time for c in candles] == [
        int(pd.Timestamp(d, tz="UTC").timestamp()) for d in ("2024-01-10", "2024-01-11", "2024-01-12")
    ]


def test_four_hour_candles_from_hours(polygon: PolygonSource, server: RecordedServer) -> None:
    server.add("/v2/aggs/ticker/AAPL/range/1/hour/", (200, "aggs_AAPL_hour.json"))
    candles = polygon.history("AAPL", Period.parse("5d"), Timeframe.H4)
    hours = json.loads((DATA / "aggs_AAPL_hour.json").read_text())["results"]
    assert all(c.time % 14_400 == 0 for c in candles)
    assert sum(c.volume for c in candles) == sum(h["v"] for h in hours)
    first = [h for h in hours if h["t"] // 1000 // 14_400 * 14_400 == candles[0].time]
    assert candles[0].open == first[0]["o"] and candles[0].close == first[-1]["c"]
    assert candles[0].high == max(h["h"] for h in first)


def test_empty_result_is_a_failure(polygon: PolygonSource, server: RecordedServer) -> None:
    server.add("/v2/aggs/", (200, "aggs_empty.json"))
    with pytest.raises(SourceError, match="no bars"):
        polygon.history("AAPL", Period.parse("1d"), Timeframe.M5)


def test_bad_key_and_rate_limit(polygon: PolygonSource, server: RecordedServer) -> None:
    server.add("/v2/snapshot/", (401, "auth_error.json"), (429, "rate_limited.json", {"Retry-After": "12"}))
    with pytest.raises(SourceError, match="API key") as info:
        polygon.quote("AAPL")
    assert not isinstance(info.value, UnknownSymbol)
    with pytest.raises(RateLimited) as limited:
        polygon.quote("AAPL")
    assert limited.value.retry_after == 12.0
    assert polygon.health()["errors"] == 2


def test_connection_refused_is_a_source_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = PolygonSource("k", base_url=f"http://127.0.0.1:{port}", timeout=1.0)
    with pytest.raises(SourceError, match="ConnectionError"):
        source.quote("AAPL")


def test_no_option_chains(polygon: PolygonSource) -> None:
    with pytest.raises(UnsupportedRequest):
        polygon.options_chain("AAPL")
