"""The live chart: header with price, LIVE badge and connection status, timeframe selector, overlay legend, graph,
WebSocket.

History is fetched once over REST by the browser, then every change arrives on the WebSocket and is applied to
the figure in place by assets/live_chart.js; the server never rebuilds the figure per tick. Signal overlays (swing
pivots, fair value gaps, structure breaks, floor pivots, BUY/SELL markers) are drawn the same way, by
assets/chart_overlays.js, from REST at load and then from ``full_update`` and ``signal`` messages.
"""

from __future__ import annotations

from urllib.parse import quote

from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html
from dash_extensions import WebSocket

from components import ids
from components.figures import candlestick_figure
from feeds.models import ALL_TIMEFRAMES, Timeframe

# Overlay kinds the legend toggles (value, label), in legend order; assets/chart_overlays.js KINDS repeats the values.
OVERLAYS: tuple[tuple[str, str], ...] = (
    ("pivots", "Swings"),
    ("fvg", "FVG"),
    ("breaks", "BOS/CHOCH"),
    ("levels", "Floor pivots"),
    ("signals", "BUY/SELL"),
)


def chart_config(symbol: str, timeframe: Timeframe, embed: bool = False) -> dict[str, object]:
    """What the browser code needs to load and stream one chart."""
    quoted = quote(symbol, safe="")
    return {
        "symbol": symbol,
        "timeframe": timeframe.value,
        "historyPath": f"/api/v1/market-data/{quoted}/history",
        "levelsPath": f"/api/v1/signals/symbol/{quoted}/levels",
        "signalsPath": f"/api/v1/signals/symbol/{quoted}",
        "wsPath": "/ws",
        "embed": embed,
    }


def overlay_legend() -> dcc.Checklist:
    """One checkbox per overlay kind, each with its colour swatch; the choice persists in the browser's local
    storage (Dash persistence), so every chart opens with the kinds the analyst last chose."""
    return dcc.Checklist(
        id=ids.CHART_OVERLAYS,
        options=[
            {"label": html.Span([html.Span(className=f"overlay-swatch overlay-{value}"), label]), "value": value}
            for value, label in OVERLAYS
        ],
        value=[value for value, _ in OVERLAYS],
        inline=True,
        persistence=True,
        persistence_type="local",
        className="overlay-legend",
    )


def live_chart(symbol: str, timeframe: Timeframe, embed: bool = False) -> html.Div:
    header = html.Div(
        className="chart-header",
        children=[
            html.H2(symbol, className="chart-symbol"),
            html.Span("—", id=ids.CHART_PRICE, className="chart-price"),
            html.Span("", id=ids.CHART_CHANGE, className="chart-change"),
            html.Span("LIVE", id=ids.CHART_LIVE, className="live-badge live-stale", title="no update yet"),
            html.Span("connecting", id=ids.CHART_STATUS, className="conn-status conn-connecting"),
            dcc.RadioItems(
                id=ids.CHART_TIMEFRAME,
                options=[{"label": tf.value, "value": tf.value} for tf in ALL_TIMEFRAMES],
                value=timeframe.value,
                inline=True,
                className="timeframe-selector",
            ),
            overlay_legend(),
        ],
    )
    return html.Div(
        className="live-chart embed" if embed else "live-chart",
        children=[
            header,
            dcc.Graph(
                id=ids.CHART_GRAPH,
                figure=candlestick_figure([], symbol, timeframe),
                config={"displaylogo": False, "scrollZoom": True, "responsive": True},
                className="chart-graph",
            ),
            WebSocket(id=ids.CHART_WS),
            dcc.Store(id=ids.CHART_CONFIG, data=chart_config(symbol, timeframe, embed)),
            dcc.Store(id=ids.CHART_SYNC),
            dcc.Store(id=ids.CHART_LOADED),
            dcc.Store(id=ids.CHART_OVERLAYS_SHOWN),
        ],
    )


def register_live_chart_callbacks(app: Dash) -> None:
    """Clientside callbacks of the live chart (the functions live in assets/live_chart.js)."""
    app.clientside_callback(
        ClientsideFunction(namespace="tickstream", function_name="loadChart"),
        Output(ids.CHART_LOADED, "data"),
        Input(ids.CHART_TIMEFRAME, "value"),
        State(ids.CHART_CONFIG, "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="tickstream", function_name="onMessage"),
        Output(ids.CHART_SYNC, "data"),
        Input(ids.CHART_WS, "message"),
        State(ids.CHART_CONFIG, "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="tickstream", function_name="onState"),
        Output(ids.CHART_STATUS, "children"),
        Output(ids.CHART_STATUS, "className"),
        Input(ids.CHART_WS, "state"),
        State(ids.CHART_CONFIG, "data"),
    )
    app.clientside_callback(
        ClientsideFunction(namespace="tickstream", function_name="showOverlays"),
        Output(ids.CHART_OVERLAYS_SHOWN, "data"),
        Input(ids.CHART_OVERLAYS, "value"),
    )
