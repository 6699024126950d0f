"""Whether a quote or candle from a source is usable: finite, positive prices and a consistent bid/ask or high/low.

Pure functions, applied where sources hand values to the feed (``FailoverSource`` for every provider and the
replay, the checked simulated source): a value they reject is dropped and counted for its source, and never
reaches the candle builder, the trackers or a client. Finite extremes (1e308) pass: they are prices, and what
computes with them must survive them.
"""

from __future__ import annotations

import math

from feeds.models import Candle, Quote
from feeds.source import SourceError


class InvalidQuote(SourceError):
    """A source answered with a quote (or candle) that fails :func:`quote_problem` (:func:`candle_problem`)."""


def _bad_number(value: object, *, positive: bool) -> bool:
    """True unless ``value`` is a finite real number (and > 0 when ``positive``, else >= 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return True
    if not math.isfinite(value):
        return True
    return value <= 0 if positive else value < 0


def quote_problem(quote: Quote) -> str | None:
    """Why ``quote`` cannot be used, or None when it can.

    >>> quote_problem(Quote("AAPL", 100.0, 99.9, 100.1, 5.0, 98.0, 1.7e9, "yahoo")) is None
    True
    >>> quote_problem(Quote("AAPL", 100.0, 100.2, 100.1, 5.0, 98.0, 1.7e9, "yahoo"))
    'bid 100.2 is above ask 100.1'
    """
    if _bad_number(quote.price, positive=True):
        return f"price {quote.price!r} is not a finite positive number"
    for name in ("bid", "ask", "previous_close"):
        value = getattr(quote, name)
        if value is not None and _bad_number(value, positive=True):
            return f"{name} {value!r} is not a finite positive number"
    if quote.bid is not None and quote.ask is not None and quote.bid > quote.ask:
        return f"bid {quote.bid!r} is above ask {quote.ask!r}"
    if _bad_number(quote.volume, positive=False):
        return f"volume {quote.volume!r} is not a finite number >= 0"
    if _bad_number(quote.timestamp, positive=True):
        return f"timestamp {quote.timestamp!r} is not a finite positive number"
    return None


def candle_problem(candle: Candle) -> str | None:
    """Why ``candle`` cannot be used (a price not finite and positive, a high/low that does not contain the open
    and close, a negative volume), or None when it can.

    >>> candle_problem(Candle(0, 10.0, 9.0, 11.0, 10.0, 1.0))
    'high 9.0 is below low 11.0'
    """
    for name in ("open", "high", "low", "close"):
        value = getattr(candle, name)
        if _bad_number(value, positive=True):
            return f"{name} {value!r} is not a finite positive number"
    if candle.high < candle.low:
        return f"high {candle.high!r} is below low {candle.low!r}"
    if not candle.low <= min(candle.open, candle.close) or not max(candle.open, candle.close) <= candle.high:
        return f"high/low {candle.high!r}/{candle.low!r} do not contain open {candle.open!r} and close {candle.close!r}"
    if _bad_number(candle.volume, positive=False):
        return f"volume {candle.volume!r} is not a finite number >= 0"
    return None
