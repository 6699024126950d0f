"""Pure figure builders: candles in, a Plotly figure out (no Dash, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from feeds.models import Candle, Timeframe

UP_COLOR = "#26a69a"
DOWN_COLOR = "#ef5350"
PRICE_TRACE = 0
VOLUME_TRACE = 1


def candle_x(candle_time: int) -> str:
    """Plotly x value of a candle: its open time as an ISO string (the browser code writes the same form)."""
    return datetime.fromtimestamp(candle_time, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def volume_colors(candles: Sequence[Candle]) -> list[str]:
    return [UP_COLOR if c.close >= c.open else DOWN_COLOR for c in candles]


def candlestick_figure(candles: Sequence[Candle], symbol: str, timeframe: Timeframe) -> go.Figure:
    """Candlesticks over a volume pane sharing the time axis.

    Trace 0 is the price (candlestick), trace 1 the volume (bars coloured like their candle); the browser code
    extends exactly these two traces. ``uirevision`` keeps the user's zoom while data changes.
    """
    x = [candle_x(c.time) for c in candles]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.03, row_heights=[0.78, 0.22])
    figure.add_trace(
        go.Candlestick(
            x=x,
            open=[c.open for c in candles],
            high=[c.high for c in candles],
            low=[c.low for c in candles],
            close=[c.close for c in candles],
            name=symbol,
            increasing={"line": {"color": UP_COLOR}, "fillcolor": UP_COLOR},
            decreasing={"line": {"color": DOWN_COLOR}, "fillcolor": DOWN_COLOR},
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Bar(x=x, y=[c.volume for c in candles], marker={"color": volume_colors(candles)}, name="Volume",
               showlegend=False, hovertemplate="%{y:,.0f}<extra>volume</extra>"),
        row=2,
        col=1,
    )
    figure.update_layout(
        template="plotly_dark",
        paper_bgcolor="#131722",
        plot_bgcolor="#131722",
        margin={"l": 10, "r": 60, "t": 10, "b": 30},
        xaxis_rangeslider_visible=False,
        uirevision=f"{symbol}-{timeframe.value}",
        hovermode="x unified",
        dragmode="pan",
        meta={"symbol": symbol, "timeframe": timeframe.value, "seconds": timeframe.seconds,
              "up_color": UP_COLOR, "down_color": DOWN_COLOR},
    )
    figure.update_yaxes(side="right", gridcolor="#2a2e39", row=1, col=1)
    figure.update_yaxes(side="right", gridcolor="#2a2e39", showticklabels=False, row=2, col=1)
    figure.update_xaxes(gridcolor="#2a2e39", type="date")
    return figure
