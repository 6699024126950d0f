"""The watchlist: a table of symbols with live price, change, % change and an intraday sparkline.

The table's rows are drawn and kept live by assets/pages_watchlist.js (prices from ``market_data`` messages at
most four repaints a second, flashing up/down; the sparkline is one SVG path redrawn when a 5-minute candle
closes). ``sparkline_path`` is the path rule; pages_watchlist.js ``sparklinePath`` repeats it (a browser test
checks that both agree).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from dash import dcc, html

from components import ids
from feeds.models import InvalidInput, parse_symbol

# How many symbols a watchlist holds: the bound on what a browser (or an embed's query string) may ask for.
MAX_WATCHLIST = 30
# Sparkline box (SVG user units) and the candles it shows: 5-minute closes of the last trading day.
SPARK_WIDTH = 100
SPARK_HEIGHT = 24
SPARK_POINTS = 96
SPARK_TIMEFRAME = "5m"
# Browser storage of the analyst's list (one per browser until sign-in exists).
STORAGE_KEY = "tickstream-watchlist"


def sparkline_path(values: Sequence[float | None], width: float = SPARK_WIDTH, height: float = SPARK_HEIGHT,
                   points: int = SPARK_POINTS) -> str:
    """An SVG path through the last ``points`` finite ``values``, scaled to the box (higher values drawn higher),
    coordinates rounded to 0.1. Fewer than two values give an empty path; a flat series is drawn mid-height.

    >>> sparkline_path([1, 2, 3], width=10, height=10)
    'M0,10L5,5L10,0'
    >>> sparkline_path([5, 5], width=10, height=10)
    'M0,5L10,5'
    """
    finite = [float(v) for v in values if v is not None and math.isfinite(v)][-points:]
    if len(finite) < 2:
        return ""
    low, high = min(finite), max(finite)
    span = high - low
    step = width / (len(finite) - 1)
    parts = []
    for i, value in enumerate(finite):
        x = i * step
        y = height / 2 if span == 0 else height - (value - low) / span * height
        parts.append(f"{'M' if i == 0 else 'L'}{_num(x)},{_num(y)}")
    return "".join(parts)


def _num(value: float) -> str:
    """0.1 precision without a trailing ``.0`` (what JavaScript's ``Math.round(v * 10) / 10`` prints)."""
    rounded = math.floor(value * 10 + 0.5) / 10
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


def parse_symbol_list(raw: str | Iterable[str] | None, limit: int = MAX_WATCHLIST) -> list[str]:
    """Symbols of a comma-separated list (an embed's ``?symbols=``), valid ones only, upper-cased, first
    occurrence kept, at most ``limit``.

    >>> parse_symbol_list("aapl, msft,,AAPL, bad symbol!, ^gspc")
    ['AAPL', 'MSFT', '^GSPC']
    """
    if raw is None:
        return []
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    out: list[str] = []
    for item in items:
        if not item or not item.strip():
            continue
        try:
            symbol = parse_symbol(item)
        except InvalidInput:
            continue
        if symbol not in out:
            out.append(symbol)
        if len(out) >= limit:
            break
    return out


def watchlist(symbols: Sequence[str], compact: bool = False, editable: bool = True) -> html.Div:
    """The watchlist frame: the table header, an empty body the browser fills with one row per symbol, and (when
    ``editable``) the add box. ``symbols`` is the default list; a browser that saved its own list uses that."""
    columns = [("Symbol", "watch-symbol"), ("Trend", "watch-spark"), ("Price", "watch-price"),
               ("Change", "watch-change"), ("%", "watch-pct"), ("", "watch-actions")]
    if compact:
        columns = [c for c in columns if c[1] != "watch-spark"]
    table = html.Table(
        className="watchlist-table",
        children=[
            # Header cells share the body cells' classes, so a column hidden on a narrow screen goes as a whole.
            html.Thead(html.Tr([html.Th(label, scope="col", className=cls) for label, cls in columns])),
            html.Tbody(className="watchlist-rows"),
        ],
    )
    children: list[Any] = [table]
    if not symbols and not editable:
        children.append(html.P("No valid symbols: add ?symbols=AAPL,MSFT to the address.", className="muted"))
    if editable:
        children.append(html.Div(
            className="watchlist-add",
            children=[
                html.Label("Add symbol", htmlFor=ids.WATCHLIST_ADD_INPUT, className="visually-hidden"),
                dcc.Input(id=ids.WATCHLIST_ADD_INPUT, placeholder="Add symbol…", maxLength=20, type="text",
                          autoComplete="off", className="symbol-input"),
                html.Button("Add", id=ids.WATCHLIST_ADD, className="symbol-go"),
            ],
        ))
    return html.Div(id=ids.WATCHLIST, className="watchlist compact" if compact else "watchlist", children=children)


class _HasPrecision(Protocol):
    precision: int


def precisions(symbols: Iterable[str], resolve: Callable[[str], _HasPrecision | None]) -> dict[str, int]:
    """Decimal places of each symbol's prices, for the symbols ``resolve`` (the instrument universe) knows; the
    browser formats others with its default.

    >>> from types import SimpleNamespace
    >>> precisions(["GC=F", "ZZZ"], {"GC=F": SimpleNamespace(precision=1)}.get)
    {'GC=F': 1}
    """
    out: dict[str, int] = {}
    for symbol in symbols:
        instrument = resolve(symbol)
        if instrument is not None:
            out[symbol] = int(instrument.precision)
    return out


def watchlist_config(symbols: Sequence[str], compact: bool = False, editable: bool = True,
                     precision: dict[str, int] | None = None) -> dict[str, object]:
    """What pages_watchlist.js needs: the default list, whether the analyst may change it, the symbols' price
    precision (symbols added later ask /api/v1/symbols) and the sparkline's size and candles (one rule for both
    sides)."""
    return {
        "symbols": list(symbols),
        "precision": dict(precision or {}),
        "compact": compact,
        "editable": editable,
        "storageKey": STORAGE_KEY,
        "maxSymbols": MAX_WATCHLIST,
        "spark": {"width": SPARK_WIDTH, "height": SPARK_HEIGHT, "points": SPARK_POINTS,
                  "timeframe": SPARK_TIMEFRAME, "seconds": 300},
    }
