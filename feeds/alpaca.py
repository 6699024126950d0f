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
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import requests

from feeds.http_client import ProviderHttp, bar_candle, stock_ticker, to_float, to_positive
from feeds.models import Candle, OptionChain, Period, Quote, Timeframe
from feeds.replay import resample_candles, select_window
from feeds.source import SourceError, UnknownSymbol, UnsupportedRequest

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://data.alpaca.markets"
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
        self.base_url = base_url.rstrip("/")
        self.feed = feed
        self.timeout = timeout
        self._clock = clock
        self.max_pages = max_pages
        self._http = ProviderHttp(
            self.name, {"APCA-API-KEY-ID": key_id, "APCA-API-SECRET-KEY": secret_key}, session_factory
        )

    def __repr__(self) -> str:
        return f"AlpacaSource(base_url={self.base_url!r}, feed={self.feed!r})"

    # -- the seam ----------------------------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any], symbol: str) -> dict[str, Any]:
        """GET a JSON document from Alpaca; every network access goes through here."""
        response, body, message = self._http.fetch(self.base_url + path, params, self.timeout)
        status = response.status_code
        if status == 404 or (status in (400, 422) and "symbol" in message.lower()):
            raise UnknownSymbol(f"alpaca does not know {symbol} ({message})")
        return self._http.checked(response, body, message, "API keys")

    # -- MarketSource ------------------------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        ticker = stock_ticker(symbol, self.name)
        snap = self._get(f"/v2/stocks/{ticker}/snapshot", {"feed": self.feed}, ticker)
        trade = snap.get("latestTrade") or {}
        nbbo = snap.get("latestQuote") or {}
        daily = snap.get("dailyBar") or {}
        minute = snap.get("minuteBar") or {}
        price = to_positive(trade.get("p")) or to_positive(minute.get("c")) or to_positive(daily.get("c"))
        if price is None:
            raise SourceError(f"alpaca snapshot for {ticker} has no price")
        stamp = _epoch(trade.get("t")) or _epoch(minute.get("t"))
        return Quote(
            symbol=ticker,
            price=price,
            bid=to_positive(nbbo.get("bp")),
            ask=to_positive(nbbo.get("ap")),
            volume=to_float(daily.get("v")) or 0.0,
            previous_close=to_positive((snap.get("prevDailyBar") or {}).get("c")),
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
        ticker = stock_ticker(symbol, self.name)
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
                candles.append(bar_candle(bar, seconds, timeframe is Timeframe.D1))
        except (KeyError, TypeError, ValueError) as exc:
            raise self._http.error(SourceError(f"alpaca: malformed bar for {ticker}: {exc!r}")) from exc
        candles.sort(key=lambda c: c.time)
        if resample_to is not None:
            candles = resample_candles(candles, resample_to)
        return select_window(candles, period, timeframe, now, None if end is None else reference, limit)

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        raise UnsupportedRequest("the alpaca source serves quotes and bars only, no option chains")

    def health(self) -> dict[str, Any]:
        return {"name": self.name, "base_url": self.base_url, "feed": self.feed, **self._http.health()}
