"""Pure figure builders: candles in, a Plotly figure out (no Dash, no I/O).

The live chart's figure has one time axis and up to four panes stacked on it: price (``y``), volume (``y2``),
RSI (``y3``) and MACD (``y4``). The browser code (assets/live_chart.js) fills the traces and shows or hides the
indicator panes with the same ``pane_domains`` rule, so a figure built here and one the browser changed agree.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go

from feeds.models import Candle, Timeframe

PRICE_TRACE = 0
VOLUME_TRACE = 1
# Indicator panes in stacking order under the price pane, with the y axis each one uses.
INDICATOR_PANES: tuple[tuple[str, str], ...] = (("rsi", "yaxis3"), ("macd", "yaxis4"))
# Share of the plot height: the volume pane always, each shown indicator pane, the gap between panes.
VOLUME_SHARE = 0.14
INDICATOR_SHARE = 0.17
PANE_GAP = 0.015


@dataclass(frozen=True, slots=True)
class ChartTheme:
    """Colours of one theme; assets/chart.css has the same values for the page around the chart."""

    name: str
    background: str
    grid: str
    text: str
    muted: str
    up: str
    down: str


THEMES: dict[str, ChartTheme] = {
    "dark": ChartTheme("dark", background="#131722", grid="#2a2e39", text="#d1d4dc", muted="#787b86",
                       up="#26a69a", down="#ef5350"),
    "light": ChartTheme("light", background="#ffffff", grid="#e0e3eb", text="#131722", muted="#6a6d78",
                        up="#089981", down="#f23645"),
}
UP_COLOR = THEMES["dark"].up
DOWN_COLOR = THEMES["dark"].down


def theme_of(name: str | None) -> ChartTheme:
    return THEMES.get(name or "dark", THEMES["dark"])


def pane_domains(indicators: Collection[str]) -> dict[str, list[float]]:
    """The y domain of every pane for the indicator panes shown (``{"rsi", "macd"}`` or fewer), bottom up.

    Hidden panes get an empty domain at the bottom (their axes are hidden too). assets/live_chart.js
    ``paneDomains`` is the same rule.
    """
    shown = [axis for name, axis in INDICATOR_PANES if name in indicators]
    domains: dict[str, list[float]] = {axis: [0.0, 0.0] for _, axis in INDICATOR_PANES}
    bottom = 0.0
    for axis in reversed(shown):
        domains[axis] = [bottom, round(bottom + INDICATOR_SHARE, 4)]
        bottom = round(bottom + INDICATOR_SHARE + PANE_GAP, 4)
    domains["yaxis2"] = [bottom, round(bottom + VOLUME_SHARE, 4)]
    domains["yaxis"] = [round(bottom + VOLUME_SHARE + PANE_GAP, 4), 1.0]
    return domains


def candle_x(candle_time: int) -> str:
    """Plotly x value of a candle in UTC (the browser code writes the viewer's zone: chart_format.js plotX)."""
    return datetime.fromtimestamp(candle_time, UTC).strftime("%Y-%m-%d %H:%M:%S")


def volume_colors(candles: Sequence[Candle], theme: ChartTheme = THEMES["dark"]) -> list[str]:
    return [theme.up if c.close >= c.open else theme.down for c in candles]


def _axis(theme: ChartTheme, **extra: Any) -> dict[str, Any]:
    return {"gridcolor": theme.grid, "zeroline": False, "color": theme.muted, "linecolor": theme.grid,
            "tickfont": {"color": theme.muted}, **extra}


def candlestick_figure(candles: Sequence[Candle], symbol: str, timeframe: Timeframe, theme: str = "dark",
                       indicators: Collection[str] = (), price_format: str = ",.2f") -> go.Figure:
    """Candlesticks over a volume pane, with the RSI and MACD panes laid out (shown when in ``indicators``).

    Trace 0 is the price (candlestick), trace 1 the volume (bars coloured like their candle); the browser code
    adds the overlay and indicator traces after them. ``uirevision`` keeps the user's zoom while data changes.
    """
    colors = theme_of(theme)
    x = [candle_x(c.time) for c in candles]
    domains = pane_domains(indicators)
    figure = go.Figure()
    figure.add_trace(go.Candlestick(
        x=x, open=[c.open for c in candles], high=[c.high for c in candles], low=[c.low for c in candles],
        close=[c.close for c in candles], name=symbol, uid="price", yaxis="y",
        increasing={"line": {"color": colors.up, "width": 1}, "fillcolor": colors.up},
        decreasing={"line": {"color": colors.down, "width": 1}, "fillcolor": colors.down},
        showlegend=False, hoverinfo="none",
    ))
    figure.add_trace(go.Bar(
        x=x, y=[c.volume for c in candles], marker={"color": volume_colors(candles, colors), "line": {"width": 0}},
        name="Volume", uid="volume", yaxis="y2", showlegend=False, hoverinfo="none", opacity=0.6,
    ))
    shown = {axis for name, axis in INDICATOR_PANES if name in indicators}
    figure.update_layout(
        paper_bgcolor=colors.background,
        # Transparent: the paper has the colour. Hidden panes' subplots overlap the others, and Plotly paints the
        # plot background of overlapping subplots over the traces beneath them.
        plot_bgcolor="rgba(0,0,0,0)",
        font={"color": colors.text, "size": 11},
        margin={"l": 8, "r": 72, "t": 8, "b": 28},
        uirevision=f"{symbol}-{timeframe.value}",
        hovermode="x",
        hoverdistance=-1,
        spikedistance=-1,
        dragmode="pan",
        showlegend=False,
        bargap=0.2,
        xaxis=_axis(colors, type="date", rangeslider={"visible": False}, showspikes=True, spikemode="across",
                    spikesnap="cursor", spikethickness=1, spikedash="dot", spikecolor=colors.muted,
                    anchor="free", position=0),
        yaxis=_axis(colors, domain=domains["yaxis"], side="right", tickformat=price_format, fixedrange=False,
                    showspikes=True, spikemode="across", spikesnap="cursor", spikethickness=1, spikedash="dot",
                    spikecolor=colors.muted),
        yaxis2=_axis(colors, domain=domains["yaxis2"], side="right", showticklabels=False, fixedrange=True,
                     showgrid=False, rangemode="tozero"),
        yaxis3=_axis(colors, domain=domains["yaxis3"], side="right", range=[0, 100], tickvals=[30, 50, 70],
                     fixedrange=True, visible="yaxis3" in shown),
        yaxis4=_axis(colors, domain=domains["yaxis4"], side="right", fixedrange=True, visible="yaxis4" in shown,
                     tickformat=".3~g"),
        meta={"symbol": symbol, "timeframe": timeframe.value, "seconds": timeframe.seconds, "theme": colors.name,
              "up_color": colors.up, "down_color": colors.down},
    )
    return figure


@functools.lru_cache(maxsize=len(THEMES) * 8)
def _empty_figure(timeframe: Timeframe, theme: str) -> dict[str, Any]:
    return candlestick_figure([], "", timeframe, theme).to_plotly_json()  # type: ignore[no-any-return]


def skeleton_figure(symbol: str, timeframe: Timeframe, theme: str = "dark") -> dict[str, Any]:
    """``candlestick_figure`` without candles, as a plain dict: what a chart page starts from. Built once per
    timeframe and theme (building a go.Figure costs tens of milliseconds of every page load), then given the symbol."""
    figure = copy.deepcopy(_empty_figure(timeframe, theme_of(theme).name))
    figure["data"][PRICE_TRACE]["name"] = symbol
    figure["layout"]["uirevision"] = f"{symbol}-{timeframe.value}"
    figure["layout"]["meta"]["symbol"] = symbol
    return figure
