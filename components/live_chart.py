"""The live chart: header (instrument, price, source badge, connection state, OHLCV readout, countdown), toolbar
(timeframes, overlay and pane toggles, log scale, time zone), the graph with its loading and notice layers.

History comes over REST once (then older pages as the user pans left); every change arrives on the page's shared
WebSocket (assets/ws_client.js) and assets/live_chart.js applies it to the figure in place, at most once per
animation frame, giving Plotly only the candles in view plus a margin. The server never rebuilds the figure per
tick. The header's live numbers are written straight into their elements by that code (not through Dash
callbacks, which would cost a render of the page per tick).
"""

from __future__ import annotations

from urllib.parse import quote

from dash import ClientsideFunction, Dash, Input, Output, dcc, html

from components import ids
from components.figures import skeleton_figure
from components.order_ticket import order_ticket, order_ticket_toggle
from feeds.models import ALL_TIMEFRAMES, Timeframe
from feeds.universe import Instrument

# Overlay and pane toggles (legend name, label, on by default), in legend order. The names are the values of the
# `overlays` query parameter; assets/chart_overlays.js KINDS repeats them (a test keeps both in step).
OVERLAYS: tuple[tuple[str, str, bool], ...] = (
    ("signals", "BUY/SELL", True),
    ("fvg", "FVG", True),
    ("breaks", "BOS/CHOCH", True),
    ("swings", "Swings", False),
    ("levels", "Floor pivots", False),
    ("ema", "EMA 20/50", False),
    ("bollinger", "Bollinger", False),
    ("rsi", "RSI", False),
    ("macd", "MACD", False),
)
DEFAULT_OVERLAYS: tuple[str, ...] = tuple(name for name, _, on in OVERLAYS if on)


def source_label(feed: str, replay_speed: float) -> str:
    """What the source badge says before the first answer names the source (the browser code keeps it true)."""
    if feed == "sim":
        return "SIMULATED"
    if feed == "replay":
        return f"Replay ×{replay_speed:g}"
    return feed.capitalize()


def chart_config(symbol: str, timeframe: Timeframe, embed: bool = False, instrument: Instrument | None = None,
                 feed: str = "sim", replay_speed: float = 60.0) -> dict[str, object]:
    """What the browser code needs to load and stream one chart."""
    quoted = quote(symbol, safe="")
    return {
        "symbol": symbol,
        "name": instrument.name if instrument else "",
        "precision": instrument.precision if instrument else 2,
        "tickSize": instrument.tick_size if instrument else 0.01,
        "timeframe": timeframe.value,
        "timeframes": [tf.value for tf in ALL_TIMEFRAMES],
        "historyPath": f"/api/v1/market-data/{quoted}/history",
        "levelsPath": f"/api/v1/signals/symbol/{quoted}/levels",
        "signalsPath": f"/api/v1/signals/symbol/{quoted}",
        "apiBase": "/api/v1",
        "embed": embed,
        "feed": feed,
        "sourceLabel": source_label(feed, replay_speed),
        "overlays": [name for name, _, _ in OVERLAYS],
        "defaultOverlays": list(DEFAULT_OVERLAYS),
    }


def _toggle(label: str, pressed: bool = False, **data: str) -> html.Button:
    """A toggle button: ``aria-pressed`` says whether it is on (assets/live_chart.js flips it)."""
    attributes = {f"data-{key}": value for key, value in data.items()}
    return html.Button(label, type="button", className="chart-toggle", **{"aria-pressed": str(pressed).lower()},
                       **attributes)


def timeframe_buttons(timeframe: Timeframe) -> html.Div:
    """One button per timeframe; the keys 1–7 pick them in this order."""
    return html.Div(
        [_toggle(tf.value, tf is timeframe, tf=tf.value, **{"key-hint": str(n)})
         for n, tf in enumerate(ALL_TIMEFRAMES, start=1)],
        id=ids.CHART_TIMEFRAMES, className="chart-timeframes", role="group", **{"aria-label": "Timeframe"},
    )


def overlay_legend() -> html.Div:
    """One toggle per overlay and indicator pane, each with its colour swatch; the choice is remembered in the
    browser (local storage) and can be given in the URL (``?overlays=fvg,rsi``)."""
    return html.Div(
        [html.Button([html.Span(className=f"overlay-swatch overlay-{name}"), label], type="button",
                     className="chart-toggle overlay-toggle", **{"data-overlay": name,
                                                                "aria-pressed": str(on).lower()})
         for name, label, on in OVERLAYS],
        id=ids.CHART_OVERLAYS, className="overlay-legend", role="group", **{"aria-label": "Overlays"},
    )


def readout() -> html.Div:
    """OHLCV of the hovered candle (or the latest), written by the browser code."""
    cells = []
    for key, label in (("time", ""), ("open", "O"), ("high", "H"), ("low", "L"), ("close", "C"), ("volume", "V")):
        cells.append(html.Span([html.Span(label, className="readout-label") if label else None,
                                html.Span("—", className="readout-value", **{"data-field": key})],
                               className=f"readout-cell readout-{key}"))
    return html.Div(cells, id=ids.CHART_READOUT, className="chart-readout")


def chart_header(symbol: str, config: dict[str, object], embed: bool) -> html.Div:
    identity = [html.H2(symbol, id=ids.CHART_SYMBOL, className="chart-symbol")]
    if not embed:
        identity.append(html.Span(str(config["name"]), id=ids.CHART_NAME, className="chart-name"))
    return html.Div(
        className="chart-header",
        children=[
            html.Div(identity, className="chart-identity"),
            html.Span("—", id=ids.CHART_PRICE, className="chart-price", **{"aria-live": "polite",
                                                                            "aria-label": "Last price"}),
            html.Span("", id=ids.CHART_CHANGE, className="chart-change"),
            html.Span(str(config["sourceLabel"]), id=ids.CHART_SOURCE, className="source-badge",
                      title="Where the prices come from"),
            html.Span("connecting", id=ids.CHART_STATUS, className="conn-status conn-connecting", role="status",
                      **{"aria-live": "polite"}),
            html.Span("", id=ids.CHART_COUNTDOWN, className="chart-countdown", title="Time until this candle closes"),
            readout(),
        ],
    )


def chart_toolbar(timeframe: Timeframe) -> html.Div:
    return html.Div(
        className="chart-toolbar",
        children=[
            timeframe_buttons(timeframe),
            overlay_legend(),
            html.Div(
                [_toggle("Log", action="log"), _toggle("UTC", action="utc"), order_ticket_toggle()],
                className="chart-switches", role="group", **{"aria-label": "Axes and trading"},
            ),
        ],
    )


def chart_stage(symbol: str, timeframe: Timeframe) -> html.Div:
    """The graph with the layers over it: a loading skeleton, and a notice (error, stalled, offline) with its
    retry button; both sit over the graph so the layout never moves when they change."""
    return html.Div(
        className="chart-stage chart-loading",
        id=ids.CHART_STAGE,
        children=[
            dcc.Graph(
                id=ids.CHART_GRAPH,
                figure=skeleton_figure(symbol, timeframe),
                config={"displaylogo": False, "scrollZoom": True, "responsive": True,
                        "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]},
                className="chart-graph",
            ),
            # The live layer (assets/chart_live_layer.js): what each tick changes, drawn over the figure.
            html.Div(id=ids.CHART_LIVE_LAYER, className="chart-live-layer", **{"aria-hidden": "true"}),
            html.Div([html.Div(className="skeleton-bar") for _ in range(24)], className="chart-skeleton",
                     **{"aria-hidden": "true"}),
            html.Div(
                [html.Span("", className="chart-notice-text"),
                 html.Button("Retry now", type="button", className="chart-retry", id=ids.CHART_RETRY)],
                id=ids.CHART_NOTICE, className="chart-notice", role="alert", hidden=True,
            ),
            html.Button("", type="button", id=ids.CHART_COARSER, className="chart-coarser", hidden=True),
        ],
    )


def live_chart(symbol: str, timeframe: Timeframe, embed: bool = False, instrument: Instrument | None = None,
               feed: str = "sim", replay_speed: float = 60.0) -> html.Div:
    config = chart_config(symbol, timeframe, embed, instrument, feed, replay_speed)
    children = [chart_header(symbol, config, embed)]
    if not embed:
        children += [chart_toolbar(timeframe), order_ticket()]
    children += [chart_stage(symbol, timeframe), dcc.Store(id=ids.CHART_CONFIG, data=config),
                 dcc.Store(id=ids.CHART_MOUNTED)]
    return html.Div(className="live-chart embed" if embed else "live-chart", id=ids.CHART_ROOT, children=children)


def register_live_chart_callbacks(app: Dash) -> None:
    """The one clientside callback of the chart: mounting it when its layout appears (assets/live_chart.js)."""
    app.clientside_callback(
        ClientsideFunction(namespace="tickstream", function_name="mountChart"),
        Output(ids.CHART_MOUNTED, "data"),
        Input(ids.CHART_CONFIG, "data"),
    )
