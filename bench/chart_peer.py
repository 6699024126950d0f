"""The peer of bench/chart_latency.py: the live chart built "the usual Dash way", instrumented; not part of the product.

A ``dcc.Interval`` (50 ms) fires a server callback that returns a whole server-built ``go.Figure`` (candles, volume,
RSI and MACD panes, indicators from signals.indicators) of the feed's data, and dcc.Graph redraws it. The page is
``/bench/chart-peer/<symbol>?candles=N`` and exists only when the ``bench_peer_route`` setting is on
(TICKSTREAM_BENCH_PEER_ROUTE=1): create_app then calls ``register_chart_peer``.

Instrumentation, in the same terms as the real chart's ``window.tickstream.stats``: every figure carries in
``layout.meta`` the server time of the newest tick it shows (``tick``) and the feed interval; a ``plotly_afterplot``
listener (installed by a clientside callback, so it runs on this page only) records in ``window.tickstreamPeer`` the
tick-to-paint latency of each new figure, the redraws, the first paint with candles, figures showing a tick already
shown (``duplicates``) and ticks the feed produced that no figure showed (``gaps``, counted from the tick times and
the feed interval).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import dash
import numpy as np
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html
from flask import current_app
from plotly.subplots import make_subplots

from components.figures import DOWN_COLOR, UP_COLOR, candle_x
from feeds.models import Candle, InvalidInput, Period, Timeframe, parse_symbol
from signals.indicators import macd, rsi

PATH_TEMPLATE = "/bench/chart-peer/<symbol>"
# Component ids of the peer page (bench only, so kept here rather than in components/ids.py).
GRAPH = "bench-peer-graph"
INTERVAL = "bench-peer-interval"
CONFIG = "bench-peer-config"
PROBE = "bench-peer-probe"
INTERVAL_MS = 50
DEFAULT_CANDLES = 500
MAX_CANDLES = 5000
TIMEFRAME = Timeframe.M1

# Installs the afterplot listener once per page; see the module docstring for what it records.
INSTRUMENT_JS = """
function (config) {
    if (window.tickstreamPeer) {
        return window.dash_clientside.no_update;
    }
    const stats = window.tickstreamPeer = {
        latencies: [], redraws: 0, applied: 0, duplicates: 0, gaps: 0, firstCandleMs: null, lastTick: null,
        plotted: 0,
    };
    let lastMeta = null;
    function afterplot(gd) {
        stats.redraws += 1;
        const candles = gd.data && gd.data[0] && gd.data[0].x ? gd.data[0].x.length : 0;
        stats.plotted = candles;
        if (candles > 0 && stats.firstCandleMs === null) {
            stats.firstCandleMs = performance.now();
        }
        const meta = gd.layout && gd.layout.meta;
        if (!meta || meta === lastMeta || typeof meta.tick !== "number") {
            return;  // a redraw of a figure already counted (resize), or not a server figure
        }
        lastMeta = meta;
        stats.latencies.push(Date.now() - meta.tick * 1000);
        if (stats.latencies.length > 5000) {
            stats.latencies.splice(0, stats.latencies.length - 5000);
        }
        if (stats.lastTick !== null) {
            if (meta.tick <= stats.lastTick) {
                stats.duplicates += 1;
                return;
            }
            stats.gaps += Math.max(0, Math.round((meta.tick - stats.lastTick) / meta.interval) - 1);
        }
        stats.applied += 1;
        stats.lastTick = meta.tick;
    }
    (function attach() {
        const holder = document.getElementById("__GRAPH__");
        const gd = holder && holder.querySelector(".js-plotly-plot");
        if (gd && typeof gd.on === "function") {
            gd.on("plotly_afterplot", function () { afterplot(gd); });
            if (gd.data && gd.data.length) {
                afterplot(gd);
            }
        } else {
            setTimeout(attach, 5);
        }
    })();
    return 1;
}
""".replace("__GRAPH__", GRAPH)


def peer_figure(candles: Sequence[Candle], symbol: str, tick: float, interval: float) -> go.Figure:
    """Candles, volume, RSI(14) and MACD(12, 26, 9) in four panes, rebuilt whole (the usual Dash way).
    ``layout.meta`` carries the newest tick's server time and the feed interval for the page's probe."""
    x = [candle_x(c.time) for c in candles]
    close = np.array([c.close for c in candles], dtype=float)
    rsi_values = rsi(close) if len(close) else close
    line, signal, histogram = macd(close) if len(close) else (close, close, close)
    figure = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.02,
                           row_heights=[0.55, 0.15, 0.15, 0.15])
    figure.add_trace(go.Candlestick(x=x, open=[c.open for c in candles], high=[c.high for c in candles],
                                    low=[c.low for c in candles], close=close, name=symbol,
                                    increasing_line_color=UP_COLOR, decreasing_line_color=DOWN_COLOR),
                     row=1, col=1)
    figure.add_trace(go.Bar(x=x, y=[c.volume for c in candles], name="Volume",
                            marker_color=[UP_COLOR if c.close >= c.open else DOWN_COLOR for c in candles]),
                     row=2, col=1)
    figure.add_trace(go.Scatter(x=x, y=_nulls(rsi_values), name="RSI 14", mode="lines"), row=3, col=1)
    figure.add_trace(go.Scatter(x=x, y=_nulls(line), name="MACD", mode="lines"), row=4, col=1)
    figure.add_trace(go.Scatter(x=x, y=_nulls(signal), name="Signal", mode="lines"), row=4, col=1)
    figure.add_trace(go.Bar(x=x, y=_nulls(histogram), name="Histogram"), row=4, col=1)
    figure.update_layout(uirevision=symbol, showlegend=False, margin={"l": 50, "r": 50, "t": 20, "b": 20},
                         xaxis_rangeslider_visible=False, meta={"tick": tick, "interval": interval})
    return figure


def _nulls(values: Any) -> list[float | None]:
    return [None if not math.isfinite(v) else float(v) for v in values]


class CandleWindow:
    """The newest ``size`` one-minute candles of a symbol: read from history once, then kept current from the
    feed's forming candle (what a Dash app would keep in a cache). Any thread."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, int], list[Candle]] = {}
        self._lock = threading.Lock()

    def candles(self, market: Any, symbol: str, size: int) -> list[Candle]:
        key = (symbol, size)
        with self._lock:
            window = self._windows.get(key)
        if window is None:
            days = math.ceil(size * TIMEFRAME.seconds / 86_400) + 1
            window = list(market.history(symbol, Period.parse(f"{days}d"), TIMEFRAME, limit=size))
        live = market.feed.latest_candle(symbol, TIMEFRAME)
        if live is not None and window:
            if live.time == window[-1].time:
                window = [*window[:-1], live]
            elif live.time > window[-1].time:
                window = [*window, live][-size:]
        with self._lock:
            self._windows[key] = window
        return window


def peer_layout(symbol: str | None = None, candles: str | None = None, interval_ms: str | None = None,
                **_: Any) -> Any:
    """``?candles=N`` (default 500, at most 5000) and ``?interval_ms=`` (default 50: the feed's 20 ticks/s)."""
    try:
        parsed = parse_symbol(symbol or "AAPL")
        size = int(candles) if candles else DEFAULT_CANDLES
        every = int(interval_ms) if interval_ms else INTERVAL_MS
    except (InvalidInput, ValueError) as exc:
        return html.Div(str(exc), className="page-error")
    size = max(1, min(MAX_CANDLES, size))
    every = max(10, min(60_000, every))
    return html.Div([
        dcc.Store(id=CONFIG, data={"symbol": parsed, "candles": size}),
        dcc.Store(id=PROBE),
        dcc.Graph(id=GRAPH, style={"height": "80vh"}, config={"displaylogo": False}),
        dcc.Interval(id=INTERVAL, interval=every),
    ])


def register_chart_peer(app: dash.Dash) -> None:
    """Add the peer page and its callbacks to ``app`` (create_app, only with the bench_peer_route setting)."""
    dash.register_page("bench.chart_peer", path_template=PATH_TEMPLATE, layout=peer_layout,
                       title="Tickstream bench peer")
    windows = CandleWindow()

    @app.callback(Output(GRAPH, "figure"), Input(INTERVAL, "n_intervals"), State(CONFIG, "data"))
    def refresh(_n: int | None, config: dict[str, Any]) -> go.Figure:
        services = current_app.extensions["tickstream"]
        symbol = config["symbol"]
        quote = services.feed.latest_quote(symbol)
        candles = windows.candles(services.market, symbol, int(config["candles"]))
        tick = quote.timestamp if quote is not None else 0.0
        return peer_figure(candles, symbol, tick, services.settings.update_interval)

    app.clientside_callback(INSTRUMENT_JS, Output(PROBE, "data"), Input(CONFIG, "data"))
