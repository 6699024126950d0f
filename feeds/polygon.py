"""PolygonSource: quotes (single-ticker snapshot) and history (aggregates) from Polygon's REST API, US stocks only.

Endpoints: ``GET /v2/snapshot/locale/us/markets/stocks/tickers/{ticker}`` for a quote (last trade price, NBBO
bid/ask, day volume and previous close in one call) and ``GET /v2/aggs/ticker/{ticker}/range/{multiplier}/
{timespan}/{from}/{to}`` for bars, following ``next_url`` pages. The key goes in the ``Authorization: Bearer``
header, not in the URL, so it never reaches a log line. 4-hour candles are resampled from hourly bars (aligned to
the Unix epoch like every Tickstream candle); daily bars, stamped by Polygon at 00:00 New York time, are stamped
00:00 UTC of their session date.

All network access goes through :meth:`PolygonSource._get`. ``requests`` timeouts bound each connect and read,
not the whole call: FailoverSource puts the hard wall-clock limit around it. Symbols outside Polygon's plain stock
tickers (``^GSPC``, ``GC=F``, ``BTC-USD``) are UnknownSymbol at once, so a failover chain asks the next source.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from feeds.http_client import ProviderHttp, bar_candle, stock_ticker, to_float, to_positive
from feeds.models import Candle, OptionChain, Period, Quote, Timeframe
from feeds.replay import resample_candles, select_window
from feeds.source import SourceError, UnknownSymbol, UnsupportedRequest

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.polygon.io"
# Timeframe → (multiplier, timespan, width to resample to or None).
_AGGS: dict[Timeframe, tuple[int, str, int | None]] = {
    Timeframe.M1: (1, "minute", None),
    Timeframe.M5: (5, "minute", None),
    Timeframe.M15: (15, "minute", None),
    Timeframe.M30: (30, "minute", None),
    Timeframe.H1: (1, "hour", None),
    Timeframe.H4: (1, "hour", 4 * 3600),
    Timeframe.D1: (1, "day", None),
}


class PolygonSource:
    """MarketSource on Polygon.io (stocks). Thread-safe: one requests.Session per thread."""

    name = "polygon"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | tuple[float, float] = (3.05, 10.0),
        clock: Callable[[], float] = time.time,
        max_pages: int = 20,
        session_factory: Callable[[], requests.Session] = requests.Session,
    ) -> None:
        if not api_key:
            raise ValueError("PolygonSource needs an API key (POLYGON_API_KEY)")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._clock = clock
        self.max_pages = max_pages
        self._http = ProviderHttp(
            self.name, {"Authorization": f"Bearer {api_key}"}, session_factory, message_keys=("error", "message")
        )

    def __repr__(self) -> str:
        return f"PolygonSource(base_url={self.base_url!r})"

    # -- the seam ----------------------------------------------------------------------------------------------

    def _get(self, path_or_url: str, params: dict[str, Any] | None, symbol: str) -> dict[str, Any]:
        """GET a JSON document from Polygon; every network access goes through here."""
        # next_url is absolute on Polygon's host; keep its path and query but our (injectable) base URL.
        if path_or_url.startswith("http"):
            parts = urlsplit(path_or_url)
            path_or_url = parts.path + (f"?{parts.query}" if parts.query else "")
        response, body, message = self._http.fetch(self.base_url + path_or_url, params, self.timeout)
        if response.status_code == 404:
            raise UnknownSymbol(f"polygon does not know {symbol}")
        body = self._http.checked(response, body, message, "API key")
        if body.get("status") == "NOT_FOUND":
            raise UnknownSymbol(f"polygon does not know {symbol}")
        if body.get("status") == "ERROR":
            raise self._http.error(SourceError(f"polygon: {message}"))
        return body

    # -- MarketSource ------------------------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        ticker = stock_ticker(symbol, self.name)
        body = self._get(f"/v2/snapshot/locale/us/markets/stocks/tickers/{ticker}", None, ticker)
        snap = body.get("ticker")
        if not isinstance(snap, dict):
            raise UnknownSymbol(f"polygon has no snapshot for {ticker}")
        last_trade = snap.get("lastTrade") or {}
        last_quote = snap.get("lastQuote") or {}
        day = snap.get("day") or {}
        minute = snap.get("min") or {}
        price = to_positive(last_trade.get("p")) or to_positive(minute.get("c")) or to_positive(day.get("c"))
        if price is None:
            raise SourceError(f"polygon snapshot for {ticker} has no price")
        # Trade and snapshot times are nanoseconds since the epoch.
        stamp_ns = to_float(last_trade.get("t")) or to_float(snap.get("updated"))
        return Quote(
            symbol=ticker,
            price=price,
            bid=to_positive(last_quote.get("p")),
            ask=to_positive(last_quote.get("P")),
            volume=to_float(day.get("v")) or 0.0,
            previous_close=to_positive((snap.get("prevDay") or {}).get("c")),
            timestamp=stamp_ns / 1e9 if stamp_ns else self._clock(),
            source=self.name,
        )

    def history(
        self,
        symbol: str,
        period: Period,
        timeframe: Timeframe,
        end: float | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        ticker = stock_ticker(symbol, self.name)
        multiplier, timespan, resample_to = _AGGS[timeframe]
        now = self._clock()
        reference = now if end is None else min(end, now)
        start = 0 if period.seconds is None else timeframe.bucket_start(reference - period.seconds)
        path = f"/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{int(start * 1000)}/{int(reference * 1000)}"
        params: dict[str, Any] | None = {"adjusted": "true", "sort": "asc", "limit": 50_000}
        results: list[dict[str, Any]] = []
        next_page: str | None = path
        for _ in range(self.max_pages):
            if next_page is None:
                break
            body = self._get(next_page, params, ticker)
            results.extend(r for r in body.get("results") or [] if isinstance(r, dict))
            next_page = body.get("next_url") or None
            params = None  # next_url carries its own query (cursor)
        else:
            if next_page is not None:
                log.warning("polygon: %s %s history cut after %d pages", ticker, timeframe.value, self.max_pages)
        if not results:
            raise SourceError(f"polygon returned no bars for {ticker} {timeframe.value}")
        candles = []
        try:
            for bar in results:
                seconds = float(bar["t"]) / 1000.0
                candles.append(bar_candle(bar, seconds, timeframe is Timeframe.D1))
        except (KeyError, TypeError, ValueError) as exc:
            raise self._http.error(SourceError(f"polygon: malformed bar for {ticker}: {exc!r}")) from exc
        candles.sort(key=lambda c: c.time)
        if resample_to is not None:
            candles = resample_candles(candles, resample_to)
        return select_window(candles, period, timeframe, now, None if end is None else reference, limit)

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        raise UnsupportedRequest("the polygon source serves quotes and bars only, no option chains")

    def health(self) -> dict[str, Any]:
        return {"name": self.name, "base_url": self.base_url, **self._http.health()}
