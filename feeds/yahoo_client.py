"""The network seam of YahooSource: one ``fetch`` method, raw yfinance results in, nothing parsed.

Tests replace :class:`YFinanceClient` with recorded frames; parsing, limits and error translation are
feeds/yahoo.py's job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import yfinance as yf


class YahooClient(Protocol):
    """The network seam: one method, raw yfinance results in, nothing parsed.

    - ``fetch("info", symbol)`` → ``Ticker.info`` dict;
    - ``fetch("history", symbol, interval=..., start=unix|None, end=unix|None, period="max"|None)`` →
      ``Ticker.history`` DataFrame (tz-aware DatetimeIndex, Open High Low Close Volume Dividends Stock Splits);
    - ``fetch("options", symbol, expiration=ISO|None)`` → ``{"expirations": tuple[str], "calls": DataFrame,
      "puts": DataFrame, "underlying": dict}`` from ``Ticker.options`` and ``Ticker.option_chain``.
    """

    def fetch(self, kind: str, symbol: str, **kw: Any) -> Any: ...


class YFinanceClient:
    """The real client: thin calls into yfinance; parsing and error translation are YahooSource's job.

    Construction does no network I/O. It points yfinance's own caches (time zones, cookies, ISINs) at
    ``cache_dir`` and sets yfinance's process-wide ``config.debug.hide_exceptions = False`` so failures arrive as
    typed exceptions (YFTzMissingError, YFRateLimitError…) rather than logged-and-empty frames.
    """

    def __init__(self, cache_dir: str | Path | None = None, timeout: float = 10.0, session: Any = None) -> None:
        if cache_dir is not None:
            path = Path(cache_dir)
            path.mkdir(parents=True, exist_ok=True)
            # yfinance >= 0.2.5x: one call moves the tz, cookie and ISIN caches.
            yf.set_tz_cache_location(str(path))
        yf.config.debug.hide_exceptions = False
        self._timeout = timeout
        self._session = session

    def _ticker(self, symbol: str) -> yf.Ticker:
        # A new Ticker per call: a Ticker keeps .info and the option expirations forever once fetched.
        return yf.Ticker(symbol, session=self._session)

    def fetch(self, kind: str, symbol: str, **kw: Any) -> Any:
        ticker = self._ticker(symbol)
        if kind == "info":
            return ticker.info
        if kind == "history":
            return ticker.history(
                period=kw.get("period"),
                interval=kw["interval"],
                start=kw.get("start"),
                end=kw.get("end"),
                auto_adjust=True,
                actions=True,
                timeout=self._timeout,
            )
        if kind == "options":
            expirations = tuple(ticker.options)
            wanted = kw.get("expiration") or (expirations[0] if expirations else None)
            if wanted not in expirations:
                # Nothing to fetch; YahooSource turns this into "no such expiration" with the list.
                return {"expirations": expirations, "calls": None, "puts": None, "underlying": {}}
            chain = ticker.option_chain(wanted)
            return {"expirations": expirations, "calls": chain.calls, "puts": chain.puts,
                    "underlying": chain.underlying or {}}
        raise ValueError(f"unknown fetch kind {kind!r}")
