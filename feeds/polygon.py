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
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import requests

from feeds.errors import RateLimited
from feeds.models import Candle, OptionChain, Period, Quote, Timeframe, parse_symbol
from feeds.replay import resample_candles, select_window
from feeds.source import SourceError, UnknownSymbol, UnsupportedRequest

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.polygon.io"
_STOCK_RE = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")
_NY = "America/New_York"
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


def session_day_to_utc_midnight(epoch_seconds: float) -> int:
    """A bar stamped at 00:00 New York time → 00:00 UTC of the same date (Timeframe.D1.bucket_start)."""
    day = pd.Timestamp(epoch_seconds, unit="s", tz="UTC").tz_convert(_NY).date()
    return int(pd.Timestamp(day, tz="UTC").timestamp())


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _positive(value: Any) -> float | None:
    number = _float(value)
    return number if number is not None and number > 0 else None


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
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._clock = clock
        self.max_pages = max_pages
        self._session_factory = session_factory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._stats = {"requests": 0, "errors": 0}
        self._last_error: str | None = None

    def __repr__(self) -> str:
        return f"PolygonSource(base_url={self.base_url!r})"

    # -- the seam ----------------------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._session_factory()
            session.headers["Authorization"] = f"Bearer {self._api_key}"
            self._local.session = session
        return session

    def _get(self, path_or_url: str, params: dict[str, Any] | None, symbol: str) -> dict[str, Any]:
        """GET a JSON document from Polygon; every network access goes through here."""
        # next_url is absolute on Polygon's host; keep its path and query but our (injectable) base URL.
        if path_or_url.startswith("http"):
            parts = urlsplit(path_or_url)
            path_or_url = parts.path + (f"?{parts.query}" if parts.query else "")
        url = self.base_url + path_or_url
        with self._lock:
            self._stats["requests"] += 1
        try:
            response = self._session().get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise self._error(SourceError(f"polygon: {type(exc).__name__}: {exc}")) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        message = ""
        if isinstance(body, dict):
            message = str(body.get("error") or body.get("message") or "")
        status = response.status_code
        if status == 429:
            retry = _float(response.headers.get("Retry-After"))
            raise self._error(RateLimited(f"polygon: too many requests ({message})", retry_after=retry))
        if status == 404:
            raise UnknownSymbol(f"polygon does not know {symbol}")
        if status in (401, 403):
            raise self._error(SourceError(f"polygon rejected the API key (HTTP {status}: {message})"))
        if status >= 400:
            raise self._error(SourceError(f"polygon: HTTP {status}: {message or response.reason}"))
        if not isinstance(body, dict):
            raise self._error(SourceError("polygon: the answer is not a JSON object"))
        if body.get("status") == "NOT_FOUND":
            raise UnknownSymbol(f"polygon does not know {symbol}")
        if body.get("status") == "ERROR":
            raise self._error(SourceError(f"polygon: {message}"))
        return body

    def _error(self, exc: SourceError) -> SourceError:
        with self._lock:
            self._stats["errors"] += 1
            self._last_error = str(exc)
        return exc

    @staticmethod
    def _ticker(symbol: str) -> str:
        symbol = parse_symbol(symbol)
        if not _STOCK_RE.match(symbol):
            raise UnknownSymbol(f"the polygon source serves US stock tickers only, not {symbol}")
        return symbol

    # -- MarketSource ------------------------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        ticker = self._ticker(symbol)
        body = self._get(f"/v2/snapshot/locale/us/markets/stocks/tickers/{ticker}", None, ticker)
        snap = body.get("ticker")
        if not isinstance(snap, dict):
            raise UnknownSymbol(f"polygon has no snapshot for {ticker}")
        last_trade = snap.get("lastTrade") or {}
        last_quote = snap.get("lastQuote") or {}
        day = snap.get("day") or {}
        minute = snap.get("min") or {}
        price = _positive(last_trade.get("p")) or _positive(minute.get("c")) or _positive(day.get("c"))
        if price is None:
            raise SourceError(f"polygon snapshot for {ticker} has no price")
        # Trade and snapshot times are nanoseconds since the epoch.
        stamp_ns = _float(last_trade.get("t")) or _float(snap.get("updated"))
        return Quote(
            symbol=ticker,
            price=price,
            bid=_positive(last_quote.get("p")),
            ask=_positive(last_quote.get("P")),
            volume=_float(day.get("v")) or 0.0,
            previous_close=_positive((snap.get("prevDay") or {}).get("c")),
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
        ticker = self._ticker(symbol)
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
                t = session_day_to_utc_midnight(seconds) if timeframe is Timeframe.D1 else int(seconds)
                candles.append(Candle(t, float(bar["o"]), float(bar["h"]), float(bar["l"]), float(bar["c"]),
                                      float(bar.get("v") or 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise self._error(SourceError(f"polygon: malformed bar for {ticker}: {exc!r}")) from exc
        candles.sort(key=lambda c: c.time)
        if resample_to is not None:
            candles = resample_candles(candles, resample_to)
        return select_window(candles, period, timeframe, now, None if end is None else reference, limit)

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        raise UnsupportedRequest("the polygon source serves quotes and bars only, no option chains")

    def health(self) -> dict[str, Any]:
        with self._lock:
            return {"name": self.name, "base_url": self.base_url, "last_error": self._last_error, **self._stats}
