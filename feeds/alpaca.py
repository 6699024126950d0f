"""AlpacaSource: quotes (stock snapshot) and history (bars) from Alpaca's market data API v2, US stocks only.

Endpoints: ``GET /v2/stocks/{symbol}/snapshot`` for a quote (latest trade price, latest NBBO quote's bid/ask, daily
bar volume and the previous daily bar's close in one call; ``/quotes/latest`` alone has no trade price or previous
close) and ``GET /v2/stocks/{symbol}/bars`` for history, following ``next_page_token``. Keys go in the
``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers. ``feed`` is ``iex`` (free plans) or ``sip``.

4-hour candles are resampled from hourly bars (aligned to the Unix epoch like every Tickstream candle); daily bars,
stamped by Alpaca at 00:00 New York time, are stamped 00:00 UTC of their session date. All network access goes
through :meth:`AlpacaSource._get`; ``requests`` timeouts bound each connect and read, FailoverSource adds the hard
wall-clock limit. Symbols that are not plain stock tickers (``^GSPC``, ``GC=F``, ``BTC-USD``) are UnknownSymbol at
once so that a failover chain asks the next source.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import requests

from feeds.errors import RateLimited
from feeds.models import Candle, OptionChain, Period, Quote, Timeframe, parse_symbol
from feeds.polygon import session_day_to_utc_midnight
from feeds.replay import resample_candles, select_window
from feeds.source import SourceError, UnknownSymbol, UnsupportedRequest

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://data.alpaca.markets"
_STOCK_RE = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")
# Timeframe → (Alpaca timeframe, width to resample to or None).
_BARS: dict[Timeframe, tuple[str, int | None]] = {
    Timeframe.M1: ("1Min", None),
    Timeframe.M5: ("5Min", None),
    Timeframe.M15: ("15Min", None),
    Timeframe.M30: ("30Min", None),
    Timeframe.H1: ("1Hour", None),
    Timeframe.H4: ("1Hour", 4 * 3600),
    Timeframe.D1: ("1Day", None),
}
_PAGE_LIMIT = 10_000


def _rfc3339(t: float) -> str:
    return pd.Timestamp(t, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return pd.Timestamp(text).timestamp()
    except ValueError:
        return None


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


class AlpacaSource:
    """MarketSource on Alpaca market data v2 (stocks). Thread-safe: one requests.Session per thread."""

    name = "alpaca"

    def __init__(
        self,
        key_id: str,
        secret_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        feed: str = "iex",
        timeout: float | tuple[float, float] = (3.05, 10.0),
        clock: Callable[[], float] = time.time,
        max_pages: int = 20,
        session_factory: Callable[[], requests.Session] = requests.Session,
    ) -> None:
        if not key_id or not secret_key:
            raise ValueError("AlpacaSource needs ALPACA_API_KEY and ALPACA_SECRET_KEY")
        self._key_id = key_id
        self._secret_key = secret_key
        self.base_url = base_url.rstrip("/")
        self.feed = feed
        self.timeout = timeout
        self._clock = clock
        self.max_pages = max_pages
        self._session_factory = session_factory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._stats = {"requests": 0, "errors": 0}
        self._last_error: str | None = None

    def __repr__(self) -> str:
        return f"AlpacaSource(base_url={self.base_url!r}, feed={self.feed!r})"

    # -- the seam ----------------------------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._session_factory()
            session.headers["APCA-API-KEY-ID"] = self._key_id
            session.headers["APCA-API-SECRET-KEY"] = self._secret_key
            self._local.session = session
        return session

    def _get(self, path: str, params: dict[str, Any], symbol: str) -> dict[str, Any]:
        """GET a JSON document from Alpaca; every network access goes through here."""
        with self._lock:
            self._stats["requests"] += 1
        try:
            response = self._session().get(self.base_url + path, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise self._error(SourceError(f"alpaca: {type(exc).__name__}: {exc}")) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        message = str(body.get("message") or "") if isinstance(body, dict) else ""
        status = response.status_code
        if status == 429:
            retry = _float(response.headers.get("Retry-After"))
            raise self._error(RateLimited(f"alpaca: too many requests ({message})", retry_after=retry))
        if status == 404 or (status in (400, 422) and "symbol" in message.lower()):
            raise UnknownSymbol(f"alpaca does not know {symbol} ({message})")
        if status in (401, 403):
            raise self._error(SourceError(f"alpaca rejected the API keys (HTTP {status}: {message})"))
        if status >= 400:
            raise self._error(SourceError(f"alpaca: HTTP {status}: {message or response.reason}"))
        if not isinstance(body, dict):
            raise self._error(SourceError("alpaca: the answer is not a JSON object"))
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
            raise UnknownSymbol(f"the alpaca source serves US stock tickers only, not {symbol}")
        return symbol

    # -- MarketSource ------------------------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        ticker = self._ticker(symbol)
        snap = self._get(f"/v2/stocks/{ticker}/snapshot", {"feed": self.feed}, ticker)
        trade = snap.get("latestTrade") or {}
        nbbo = snap.get("latestQuote") or {}
        daily = snap.get("dailyBar") or {}
        minute = snap.get("minuteBar") or {}
        price = _positive(trade.get("p")) or _positive(minute.get("c")) or _positive(daily.get("c"))
        if price is None:
            raise SourceError(f"alpaca snapshot for {ticker} has no price")
        stamp = _epoch(trade.get("t")) or _epoch(minute.get("t"))
        return Quote(
            symbol=ticker,
            price=price,
            bid=_positive(nbbo.get("bp")),
            ask=_positive(nbbo.get("ap")),
            volume=_float(daily.get("v")) or 0.0,
            previous_close=_positive((snap.get("prevDailyBar") or {}).get("c")),
            timestamp=stamp if stamp is not None else self._clock(),
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
        alpaca_timeframe, resample_to = _BARS[timeframe]
        now = self._clock()
        reference = now if end is None else min(end, now)
        # Alpaca's data starts in 2016; "max" asks from 2015 on.
        start = 1_420_070_400 if period.seconds is None else timeframe.bucket_start(reference - period.seconds)
        params: dict[str, Any] = {
            "timeframe": alpaca_timeframe,
            "start": _rfc3339(start),
            "end": _rfc3339(reference),
            "limit": _PAGE_LIMIT,
            "adjustment": "split",
            "feed": self.feed,
            "sort": "asc",
        }
        bars: list[dict[str, Any]] = []
        for _ in range(self.max_pages):
            body = self._get(f"/v2/stocks/{ticker}/bars", params, ticker)
            bars.extend(b for b in body.get("bars") or [] if isinstance(b, dict))
            token = body.get("next_page_token")
            if not token:
                break
            params = {**params, "page_token": token}
        else:
            log.warning("alpaca: %s %s history cut after %d pages", ticker, timeframe.value, self.max_pages)
        if not bars:
            raise SourceError(f"alpaca returned no bars for {ticker} {timeframe.value}")
        candles = []
        try:
            for bar in bars:
                seconds = _epoch(bar["t"])
                if seconds is None:
                    raise ValueError(f"bad time {bar['t']!r}")
                t = session_day_to_utc_midnight(seconds) if timeframe is Timeframe.D1 else int(seconds)
                candles.append(Candle(t, float(bar["o"]), float(bar["h"]), float(bar["l"]), float(bar["c"]),
                                      float(bar.get("v") or 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise self._error(SourceError(f"alpaca: malformed bar for {ticker}: {exc!r}")) from exc
        candles.sort(key=lambda c: c.time)
        if resample_to is not None:
            candles = resample_candles(candles, resample_to)
        return select_window(candles, period, timeframe, now, None if end is None else reference, limit)

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        raise UnsupportedRequest("the alpaca source serves quotes and bars only, no option chains")

    def health(self) -> dict[str, Any]:
        with self._lock:
            return {"name": self.name, "base_url": self.base_url, "feed": self.feed, "last_error": self._last_error,
                    **self._stats}
