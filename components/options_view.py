"""The options page's pieces (pure): contracts around the money with their Greeks, why a contract is unusual, the
implied-volatility smile and open interest by strike (Plotly figures), the grids' columns and the page layout."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dash_ag_grid as dag
import dash_mantine_components as dmc
import plotly.graph_objects as go
from dash import dcc, html

from components import ids
from feeds.models import OptionChain, OptionContract
from feeds.options import UNUSUAL_MIN_VOLUME, UNUSUAL_OI_RATIO

# Strikes shown on each side of the underlying price.
STRIKES_EACH_SIDE = 8
# The designs' options refresh interval.
REFRESH_SECONDS = 60
# Colours that read on both themes (figures have transparent backgrounds and follow the page).
CALL_COLOUR = "#26a69a"
PUT_COLOUR = "#ef5350"
AXIS_COLOUR = "rgba(139, 143, 154, 0.9)"
GRID_COLOUR = "rgba(139, 143, 154, 0.18)"


def _finite(value: float | int | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def around_the_money(contracts: Iterable[OptionContract], underlying: float,
                     each_side: int = STRIKES_EACH_SIDE) -> list[OptionContract]:
    """The contracts of the ``each_side`` strikes below and the ``each_side`` at or above ``underlying``, by strike.

    >>> c = [OptionContract(f"X{k}", k, None, None, None, None, None, None, None, None, None, None)
    ...      for k in (90, 95, 100, 105, 110)]
    >>> [x.strike for x in around_the_money(c, 101, 1)]
    [100, 105]
    """
    ordered = sorted(contracts, key=lambda c: c.strike)
    below = [c for c in ordered if c.strike < underlying][-each_side:] if each_side else []
    above = [c for c in ordered if c.strike >= underlying][:each_side]
    return below + above


def unusual_reason(contract: OptionContract) -> str | None:
    """Why a contract is flagged unusual (feeds/options.py ``is_unusual``), in words; None when it is not.

    >>> unusual_reason(OptionContract("X", 100, 1, 1, 1, 900, 300, 0.3, 0.5, 0.01, -0.1, 0.2, True))
    'volume 900 is 3.0× open interest 300'
    """
    if not contract.unusual:
        return None
    volume, oi = contract.volume, contract.open_interest
    if volume is not None and volume >= UNUSUAL_MIN_VOLUME:
        if not oi:
            return f"volume {volume:,} with no open interest: new positions"
        if volume > UNUSUAL_OI_RATIO * oi:
            return f"volume {volume:,} is {volume / oi:.1f}× open interest {oi:,}"
        return f"volume {volume:,} far above the contract's usual daily volume"
    return "flagged by the data source"


def contract_row(contract: OptionContract, underlying: float, kind: str) -> dict[str, Any]:
    """One grid row: the contract's fields, whether it is in the money and why it is unusual."""
    itm = contract.strike < underlying if kind == "call" else contract.strike > underlying
    return {
        "contract_symbol": contract.contract_symbol, "strike": contract.strike,
        "last_price": _finite(contract.last_price), "bid": _finite(contract.bid), "ask": _finite(contract.ask),
        "volume": contract.volume, "open_interest": contract.open_interest,
        "implied_volatility": _finite(contract.implied_volatility), "delta": _finite(contract.delta),
        "gamma": _finite(contract.gamma), "theta": _finite(contract.theta), "vega": _finite(contract.vega),
        "itm": itm, "unusual": contract.unusual, "why": unusual_reason(contract) or "",
    }


def chain_rows(chain: OptionChain, each_side: int = STRIKES_EACH_SIDE) -> tuple[list[dict[str, Any]],
                                                                                list[dict[str, Any]]]:
    """Call rows and put rows around the money."""
    u = chain.underlying_price
    return ([contract_row(c, u, "call") for c in around_the_money(chain.calls, u, each_side)],
            [contract_row(c, u, "put") for c in around_the_money(chain.puts, u, each_side)])


def unusual_contracts(chain: OptionChain) -> list[tuple[str, str]]:
    """(contract symbol, reason) of every unusual contract of the expiration, by strike."""
    flagged = sorted((c for c in (*chain.calls, *chain.puts) if c.unusual), key=lambda c: (c.strike, c.contract_symbol))
    return [(c.contract_symbol, unusual_reason(c) or "") for c in flagged]


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 13}}, margin={"l": 50, "r": 10, "t": 36, "b": 40},
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)", font={"color": AXIS_COLOUR, "size": 11},
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"},
        hovermode="x unified",
    )
    fig.update_xaxes(title_text=x_title, gridcolor=GRID_COLOUR, zeroline=False)
    fig.update_yaxes(title_text=y_title, gridcolor=GRID_COLOUR, zeroline=False)
    return fig


def _underlying_line(fig: go.Figure, underlying: float) -> None:
    fig.add_vline(x=underlying, line={"color": AXIS_COLOUR, "dash": "dot", "width": 1},
                  annotation_text=f"{underlying:,.2f}", annotation_position="top")


def smile_figure(chain: OptionChain) -> go.Figure:
    """Implied volatility (%) by strike, calls and puts, with the underlying price marked."""
    fig = go.Figure()
    # Puts dashed: with one volatility surface for both sides the two curves often coincide.
    for name, contracts, colour, dash in (("Calls", chain.calls, CALL_COLOUR, "solid"),
                                          ("Puts", chain.puts, PUT_COLOUR, "dash")):
        points = sorted((c.strike, c.implied_volatility * 100) for c in contracts
                        if c.implied_volatility is not None and math.isfinite(c.implied_volatility)
                        and c.implied_volatility > 0)
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], name=name,
                                 mode="lines+markers", line={"color": colour, "width": 2, "dash": dash},
                                 marker={"size": 4}))
    _underlying_line(fig, chain.underlying_price)
    return _layout(fig, f"IV smile · {chain.expiration}", "Strike", "IV %")


def open_interest_figure(chain: OptionChain) -> go.Figure:
    """Open interest by strike, calls and puts side by side."""
    fig = go.Figure()
    for name, contracts, colour in (("Calls", chain.calls, CALL_COLOUR), ("Puts", chain.puts, PUT_COLOUR)):
        ordered = sorted(contracts, key=lambda c: c.strike)
        fig.add_trace(go.Bar(x=[c.strike for c in ordered], y=[c.open_interest or 0 for c in ordered], name=name,
                             marker={"color": colour}))
    _underlying_line(fig, chain.underlying_price)
    fig.update_layout(barmode="group", bargap=0.15)
    return _layout(fig, f"Open interest · {chain.expiration}", "Strike", "Contracts")


def _fn(expression: str) -> dict[str, str]:
    return {"function": expression}


def option_column_defs() -> list[dict[str, Any]]:
    number = {"type": "rightAligned", "minWidth": 62}
    return [
        {"field": "strike", "headerName": "Strike", "pinned": "left", "minWidth": 70, "type": "rightAligned",
         "valueFormatter": _fn("tsPrice(params.value)")},
        {"field": "last_price", "headerName": "Last", **number, "valueFormatter": _fn("tsNumber(params.value, 2)")},
        {"field": "bid", "headerName": "Bid", **number, "valueFormatter": _fn("tsNumber(params.value, 2)")},
        {"field": "ask", "headerName": "Ask", **number, "valueFormatter": _fn("tsNumber(params.value, 2)")},
        {"field": "implied_volatility", "headerName": "IV", **number, "valueFormatter": _fn("tsShare(params.value)")},
        {"field": "delta", "headerName": "Δ", **number, "valueFormatter": _fn("tsNumber(params.value, 2)")},
        {"field": "gamma", "headerName": "Γ", **number, "valueFormatter": _fn("tsNumber(params.value, 3)")},
        {"field": "theta", "headerName": "Θ", **number, "valueFormatter": _fn("tsNumber(params.value, 2)")},
        {"field": "vega", "headerName": "V", **number, "valueFormatter": _fn("tsNumber(params.value, 2)")},
        {"field": "volume", "headerName": "Vol", **number, "valueFormatter": _fn("tsInteger(params.value)")},
        {"field": "open_interest", "headerName": "OI", **number, "valueFormatter": _fn("tsInteger(params.value)")},
        {"field": "why", "headerName": "Unusual", "minWidth": 160, "tooltipField": "why"},
    ]


def options_grid(grid_id: str) -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id,
        columnDefs=option_column_defs(),
        rowData=[],
        columnSize="autoSize",
        defaultColDef={"sortable": True, "resizable": True, "suppressHeaderMenuButton": True},
        dashGridOptions={"rowHeight": 28, "headerHeight": 30, "animateRows": False, "suppressCellFocus": True,
                         "tooltipShowDelay": 200},
        getRowId="params.data.contract_symbol",
        rowClassRules={"unusual": "params.data.unusual", "itm": "params.data.itm"},
        className="grid grid-options",
        style={"height": None},
    )


def expiration_picker(expirations: Sequence[str] = (), value: str | None = None) -> dmc.Select:
    return dmc.Select(id=ids.OPTIONS_EXPIRATION, data=list(expirations), value=value, label="Expiration",
                      size="xs", w=160, allowDeselect=False, checkIconPosition="right")


def unusual_list(items: Sequence[tuple[str, str]]) -> list[Any]:
    if not items:
        return [html.P("No unusual contracts in this expiration.", className="muted")]
    return [html.Ul(className="unusual-list",
                    children=[html.Li([html.Strong(symbol), " — ", reason]) for symbol, reason in items])]


@dataclass(frozen=True, slots=True)
class OptionsContent:
    """Everything the page shows of one chain: what the layout starts with and what each refresh sends."""

    calls: list[dict[str, Any]]
    puts: list[dict[str, Any]]
    smile: go.Figure
    open_interest: go.Figure
    unusual: list[Any]
    expirations: list[str]
    expiration: str


def options_content(chain: OptionChain) -> OptionsContent:
    calls, puts = chain_rows(chain)
    return OptionsContent(calls, puts, smile_figure(chain), open_interest_figure(chain),
                          unusual_list(unusual_contracts(chain)), list(chain.expirations), chain.expiration)


def options_view(symbol: str, content: OptionsContent | None = None, note: str = "") -> list[Any]:
    """The page's body, filled with ``content`` when the chain could be read (the refresh callback keeps it
    current; without content the first refresh fills it)."""
    graph_config = {"displaylogo": False, "responsive": True, "displayModeBar": False}

    def graph(graph_id: str, figure: go.Figure | None) -> dcc.Graph:
        extra = {"figure": figure} if figure is not None else {}
        return dcc.Graph(id=graph_id, config=graph_config, className="options-figure", **extra)

    calls_grid, puts_grid = options_grid(ids.OPTIONS_CALLS_GRID), options_grid(ids.OPTIONS_PUTS_GRID)
    if content is not None:
        calls_grid.rowData, puts_grid.rowData = content.calls, content.puts
    return [
        html.Div(className="page-head", children=[
            html.H1(f"{symbol} options"),
            html.Span("—", id="options-price", className="price"),
            html.Span("", id="options-change", className="chart-change"),
            html.A("chart ↗", href=f"/chart/{symbol}", className="feed-link"),
            expiration_picker(content.expirations if content else (), content.expiration if content else None),
            html.Span(note, id=ids.OPTIONS_HEADER, className="muted"),
        ]),
        html.Div(className="side-by-side", children=[
            html.Section(className="panel", children=[html.H3("Calls", className="panel-title"), calls_grid]),
            html.Section(className="panel", children=[html.H3("Puts", className="panel-title"), puts_grid]),
        ]),
        html.Div(className="side-by-side", children=[
            html.Section(className="panel", children=[graph(ids.OPTIONS_SMILE, content.smile if content else None)]),
            html.Section(className="panel", children=[
                graph(ids.OPTIONS_OI, content.open_interest if content else None)]),
        ]),
        html.Section(className="panel", children=[html.H3("Unusual activity", className="panel-title"),
                                                  html.Div(content.unusual if content else [],
                                                           id=ids.OPTIONS_UNUSUAL)]),
        dcc.Interval(id=ids.OPTIONS_REFRESH, interval=REFRESH_SECONDS * 1000),
    ]
