"""Shared plumbing of the REST market-data providers: per-thread sessions, JSON fetch with error mapping, parsing."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import requests

from feeds.errors import RateLimited
from feeds.models import Candle, parse_symbol
from feeds.source import SourceError, UnknownSymbol

_STOCK_RE = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")
_NY = "America/New_York"


def to_float(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing or not a number (a JSON boolean is not a number)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def to_positive(value: Any) -> float | None:
    """``value`` as a float when it is a number above zero (providers send 0 for "no price"), else None."""
    number = to_float(value)
    return number if number is not None and number > 0 else None


def stock_ticker(symbol: str, provider: str) -> str:
    """``symbol`` normalised; UnknownSymbol at once unless it is a plain US stock ticker, so a failover chain asks
    the next source without a network call."""
    symbol = parse_symbol(symbol)
    if not _STOCK_RE.match(symbol):
        raise UnknownSymbol(f"the {provider} source serves US stock tickers only, not {symbol}")
    return symbol


def session_day_to_utc_midnight(epoch_seconds: float) -> int:
    """A bar stamped at 00:00 New York time → 00:00 UTC of the same date (Timeframe.D1.bucket_start)."""
    day = pd.Timestamp(epoch_seconds, unit="s", tz="UTC").tz_convert(_NY).date()
    return int(pd.Timestamp(day, tz="UTC").timestamp())


def bar_candle(bar: Mapping[str, Any], seconds: float, daily: bool) -> Candle:
    """A provider bar (``o``/``h``/``l``/``c``/``v`` keys) that starts at ``seconds`` as a Candle; a daily bar is
    stamped 00:00 UTC of its session date. KeyError, TypeError or ValueError when the bar is malformed."""
    t = session_day_to_utc_midnight(seconds) if daily else int(seconds)
    return Candle(t, float(bar["o"]), float(bar["h"]), float(bar["l"]), float(bar["c"]), float(bar.get("v") or 0.0))


class ProviderHttp:
    """One provider's HTTP side: a requests.Session per thread with its auth headers, counters and the last error.

    Thread-safe. ``message_keys``: the fields of an error answer that carry its message, first non-empty one wins.
    """

    def __init__(
        self,
        provider: str,
        headers: Mapping[str, str],
        session_factory: Callable[[], requests.Session],
        message_keys: tuple[str, ...] = ("message",),
    ) -> None:
        self.provider = provider
        self._headers = dict(headers)
        self._session_factory = session_factory
        self._message_keys = message_keys
        self._local = threading.local()
        self._lock = threading.Lock()
        self._stats = {"requests": 0, "errors": 0}
        self._last_error: str | None = None

    def session(self) -> requests.Session:
        # requests.Session is not thread-safe; the feed and request threads each get their own.
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._session_factory()
            session.headers.update(self._headers)
            self._local.session = session
        return session

    def error(self, exc: SourceError) -> SourceError:
        """Count ``exc`` as a failure of the provider and keep it for health(); returns it, for ``raise``."""
        with self._lock:
            self._stats["errors"] += 1
            self._last_error = str(exc)
        return exc

    def fetch(
        self, url: str, params: dict[str, Any] | None, timeout: float | tuple[float, float]
    ) -> tuple[requests.Response, Any, str]:
        """GET ``url``: the response, its JSON body (None if it is not JSON) and the error message in it ("" if none).

        A network failure is a SourceError and HTTP 429 is RateLimited (with the answer's Retry-After); every other
        status is the caller's to judge, then :meth:`checked`'s.
        """
        with self._lock:
            self._stats["requests"] += 1
        try:
            response = self.session().get(url, params=params, timeout=timeout)
        except requests.RequestException as exc:
            raise self.error(SourceError(f"{self.provider}: {type(exc).__name__}: {exc}")) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        message = ""
        if isinstance(body, dict):
            message = str(next((body[key] for key in self._message_keys if body.get(key)), ""))
        if response.status_code == 429:
            retry = to_float(response.headers.get("Retry-After"))
            raise self.error(RateLimited(f"{self.provider}: too many requests ({message})", retry_after=retry))
        return response, body, message

    def checked(self, response: requests.Response, body: Any, message: str, credentials: str) -> dict[str, Any]:
        """The JSON object of a successful answer; SourceError when the ``credentials`` were rejected, for any other
        HTTP error, and when the body is not a JSON object."""
        status = response.status_code
        if status in (401, 403):
            raise self.error(SourceError(f"{self.provider} rejected the {credentials} (HTTP {status}: {message})"))
        if status >= 400:
            raise self.error(SourceError(f"{self.provider}: HTTP {status}: {message or response.reason}"))
        if not isinstance(body, dict):
            raise self.error(SourceError(f"{self.provider}: the answer is not a JSON object"))
        return body

    def health(self) -> dict[str, Any]:
        """``last_error``, ``requests`` and ``errors``, for the source's health()."""
        with self._lock:
            return {"last_error": self._last_error, **self._stats}
