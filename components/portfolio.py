"""The portfolio page's pieces: performance cards, the positions, working-orders and trades grids (dash-ag-grid) and
the equity curve with its drawdown (a pure Plotly builder). Rows come from the browser (assets/pages_portfolio.js)
as AG Grid transactions fed by the ``positions``, ``orders`` and ``trades`` channels; the equity figure is rebuilt
here when a ``performance`` message says the figures moved (at most every EQUITY_REFRESH_SECONDS)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import dash_ag_grid as dag
import plotly.graph_objects as go
from dash import dcc, html

from components import ids
from components.cards import metric_cards

# The performance cards: (key of the ``performance`` message / GET /api/v1/performance, label). The browser formats
# each by its key (assets/pages_portfolio.js CARD_FORMATS).
PERFORMANCE_METRICS: tuple[tuple[str, str], ...] = (
    ("total_value", "Total value"),
    ("daily_pnl", "Daily P&L"),
    ("open_positions", "Open positions"),
    ("win_rate", "Win rate"),
    ("profit_factor", "Profit factor"),
    ("max_drawdown", "Max drawdown"),
    ("sharpe", "Sharpe"),
)
# Rows each grid keeps (the oldest dropped first): the bound on a page left open for days.
MAX_ORDER_ROWS = 1000
MAX_TRADE_ROWS = 500
# Trades read over REST when the page needs them again (a reconnect, a reset).
TRADES_LIMIT = 200
# The equity figure is rebuilt at most this often (``performance`` messages come up to once a second while a
# position is open; the curve itself is sampled once a minute).
EQUITY_REFRESH_SECONDS = 10
# Colours that read on both themes (the figure's background is transparent and follows the page).
EQUITY_COLOUR = "#2962ff"
DRAWDOWN_COLOUR = "#ef5350"
AXIS_COLOUR = "rgba(139, 143, 154, 0.9)"
GRID_COLOUR = "rgba(139, 143, 154, 0.18)"
# Points the equity figure draws at most (the curve keeps up to 50,000 samples, about 35 days of minutes): past
# that, each bucket of samples is drawn by its lowest and highest value (``decimate``), so peaks and troughs stay.
MAX_EQUITY_POINTS = 2000
# Share of the figure's height the drawdown pane takes (under the equity pane).
DRAWDOWN_SHARE = 0.28
PANE_GAP = 0.06


def drawdowns(values: Sequence[float], start_peak: float | None = None) -> list[float]:
    """1 − value ÷ running peak for each value (docs/trading.md "max_drawdown"), the peak starting at
    ``start_peak`` (the starting cash) when given.

    >>> drawdowns([100, 110, 99, 121, 110], start_peak=100)
    [0.0, 0.0, 0.1, 0.0, 0.0909090909]
    >>> drawdowns([90, 95], start_peak=100)
    [0.1, 0.05]
    """
    peak = start_peak if start_peak is not None and start_peak > 0 else None
    out: list[float] = []
    for value in values:
        peak = value if peak is None else max(peak, value)
        out.append(round(1 - value / peak, 10) if peak > 0 else 0.0)
    return out


def decimate(values: Sequence[float], limit: int) -> list[int]:
    """Indices of at most ``limit`` of ``values`` (and never fewer than all when they fit), in order: the lowest and
    the highest of each of ``(limit - 2) // 2`` equal buckets, and the first and the last value.

    >>> decimate([5, 1, 9, 2, 8, 3, 7, 4], 4)
    [0, 1, 2, 7]
    >>> decimate([5, 1, 9, 2, 8, 3, 7, 4, 6, 0], 6)
    [0, 1, 2, 6, 9]
    >>> decimate([1, 2, 3], 10)
    [0, 1, 2]
    """
    count = len(values)
    if count <= limit:
        return list(range(count))
    buckets = max(1, (limit - 2) // 2)  # two per bucket, plus the first and the last
    keep = {0, count - 1}
    for b in range(buckets):
        start, end = b * count // buckets, (b + 1) * count // buckets
        if start >= end:
            continue
        chunk = range(start, end)
        keep.add(min(chunk, key=values.__getitem__))
        keep.add(max(chunk, key=values.__getitem__))
    return sorted(keep)


def money_tick_format(span: float) -> str:
    """Tick labels of the equity axis: whole dollars, or cents while the curve spans less than $50 (else every tick
    of a flat curve reads the same).

    >>> money_tick_format(3.5), money_tick_format(2500)
    (',.2f', ',.0f')
    """
    return ",.2f" if span < 50 else ",.0f"


def _x(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def equity_figure(curve: Sequence[tuple[float, float]], start_peak: float | None = None,
                  now: tuple[float, float] | None = None) -> go.Figure:
    """The equity curve (total value, top pane) over its drawdown in percent (bottom pane, filled below zero).

    ``curve`` is ``[(unix seconds, total value)]`` oldest first (GET /api/v1/performance ``equity_curve``); ``now``
    the current (time, total value), added when newer than the last sample so the line reaches the present.
    """
    points = [(float(t), float(v)) for t, v in curve]
    if now is not None and (not points or now[0] > points[-1][0]):
        points.append((float(now[0]), float(now[1])))
    # Drawdowns from every sample (a running peak must see them all), then the points drawn.
    all_down = drawdowns([v for _, v in points], start_peak)
    chosen = decimate([v for _, v in points], MAX_EQUITY_POINTS)
    x = [_x(points[i][0]) for i in chosen]
    values = [points[i][1] for i in chosen]
    down = [-all_down[i] * 100 for i in chosen]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=x, y=values, name="Equity", mode="lines", yaxis="y",
                                line={"color": EQUITY_COLOUR, "width": 2},
                                hovertemplate="%{x}<br>$%{y:,.2f}<extra>equity</extra>"))
    figure.add_trace(go.Scatter(x=x, y=down, name="Drawdown", mode="lines", yaxis="y2", fill="tozeroy",
                                line={"color": DRAWDOWN_COLOUR, "width": 1},
                                fillcolor="rgba(239, 83, 80, 0.25)",
                                hovertemplate="%{x}<br>%{y:.2f}%<extra>drawdown</extra>"))
    span = (max(values) - min(values)) if values else 0.0
    deepest = max((-d for d in down), default=0.0)
    axis = {"gridcolor": GRID_COLOUR, "color": AXIS_COLOUR, "zeroline": False, "linecolor": GRID_COLOUR}
    figure.update_layout(
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"color": AXIS_COLOUR, "size": 11},
        margin={"l": 8, "r": 8, "t": 8, "b": 28},
        showlegend=False,
        hovermode="x unified",
        uirevision="equity",
        xaxis={**axis, "type": "date", "anchor": "y2"},
        yaxis={**axis, "domain": [DRAWDOWN_SHARE + PANE_GAP, 1.0], "side": "right", "tickprefix": "$",
               "tickformat": money_tick_format(span), "title": None},
        # Drawdowns are drawn below zero; a curve without one still shows a 1 % scale.
        yaxis2={**axis, "domain": [0.0, DRAWDOWN_SHARE], "side": "right", "ticksuffix": "%",
                "tickformat": ".1f", "range": [-max(deepest * 1.15, 1.0), 0.0]},
        meta={"points": len(points)},
    )
    if len(points) < 2:
        figure.add_annotation(text="The equity curve starts with the first samples (one a minute).",
                              showarrow=False, xref="paper", yref="paper", x=0.5, y=0.65,
                              font={"color": AXIS_COLOUR, "size": 12})
    return figure


def _fn(expression: str) -> dict[str, str]:
    return {"function": expression}


# Buys and longs in the "up" colour, sells and shorts in the "down" one.
_SIDE_CLASSES: dict[str, Any] = {"cellClassRules": {
    "action-cell-buy": "params.value === 'buy' || params.value === 'long'",
    "action-cell-sell": "params.value === 'sell' || params.value === 'short'"}}


def _price(field: str, header: str, **extra: Any) -> dict[str, Any]:
    return {"field": field, "headerName": header, "type": "rightAligned", "minWidth": 80,
            "valueFormatter": _fn("tsPrice(params.value, params.data.symbol)"), **extra}


def _pnl(field: str, header: str) -> dict[str, Any]:
    return {"field": field, "headerName": header, "type": "rightAligned", "minWidth": 90,
            "valueFormatter": _fn("tsMoney(params.value, true)"),
            "cellClassRules": {"up": "params.value > 0", "down": "params.value < 0"}}


def _quantity(field: str, header: str) -> dict[str, Any]:
    return {"field": field, "headerName": header, "type": "rightAligned", "minWidth": 70,
            "valueFormatter": _fn("tsQuantity(params.value)")}


def position_column_defs() -> list[dict[str, Any]]:
    """Columns of the positions grid (``position`` message / GET /api/v1/positions item)."""
    return [
        {"field": "symbol", "headerName": "Symbol", "minWidth": 80},
        _quantity("quantity", "Qty"),
        _price("avg_price", "Avg price"),
        _price("market_price", "Last"),
        {"field": "market_value", "headerName": "Value", "type": "rightAligned", "minWidth": 100,
         "valueFormatter": _fn("tsMoney(params.value)")},
        _pnl("unrealized_pnl", "Unrealised"),
        _pnl("realized_pnl", "Realised"),
    ]


def order_column_defs() -> list[dict[str, Any]]:
    """Columns of the working-orders grid (``order_update`` message / GET /api/v1/orders item)."""
    return [
        {"field": "updated_at", "headerName": "Updated", "sort": "desc", "minWidth": 105,
         "valueFormatter": _fn("tsClock(params.value)")},
        {"field": "symbol", "headerName": "Symbol", "minWidth": 70},
        {"field": "side", "headerName": "Side", "minWidth": 55, **_SIDE_CLASSES},
        {"field": "type", "headerName": "Type", "minWidth": 75,
         "valueFormatter": _fn("(params.value || '').replace('_', ' ') + ' · ' + params.data.time_in_force")},
        _quantity("quantity", "Qty"),
        _quantity("filled_quantity", "Filled"),
        # The limit, else the stop (a stop-limit shows both).
        {"field": "limit_price", "headerName": "Price", "type": "rightAligned", "minWidth": 85,
         "valueGetter": _fn("params.data.limit_price ?? params.data.stop_price"),
         "valueFormatter": _fn("tsOrderPrice(params.data)")},
        {"field": "status", "headerName": "Status", "minWidth": 90,
         "valueFormatter": _fn("(params.value || '').replace('_', ' ') + (params.data.leg && "
                               "params.data.leg !== 'entry' ? ' · ' + params.data.leg.replace('_', ' ') : '')")},
        {"field": "order_id", "headerName": "", "cellRenderer": "CancelOrderButton", "sortable": False,
         "minWidth": 95, "maxWidth": 100},
    ]


def trade_column_defs() -> list[dict[str, Any]]:
    """Columns of the trades grid (round trips: ``trade`` message / GET /api/v1/trades item)."""
    return [
        {"field": "opened_at", "headerName": "Opened", "sort": "desc", "minWidth": 130,
         "valueFormatter": _fn("tsIsoTime(params.value)")},
        {"field": "symbol", "headerName": "Symbol", "minWidth": 80},
        {"field": "side", "headerName": "Side", "minWidth": 60, **_SIDE_CLASSES},
        _quantity("quantity", "Qty"),
        _price("entry_price", "Entry"),
        _price("exit_price", "Exit"),
        _pnl("realized_pnl", "P&L"),
        {"field": "status", "headerName": "Status", "minWidth": 70},
        {"field": "closed_at", "headerName": "Closed", "minWidth": 130,
         "valueFormatter": _fn("tsIsoTime(params.value)")},
    ]


def portfolio_grid(grid_id: str, columns: list[dict[str, Any]], row_id: str, class_name: str,
                   empty: str) -> dag.AgGrid:
    """An AG Grid whose rows the browser adds by transactions (``rowData`` stays empty on the Dash side)."""
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=[],
        columnSize="responsiveSizeToFit",
        defaultColDef={"sortable": True, "resizable": True, "suppressHeaderMenuButton": True, "filter": False},
        dashGridOptions={"animateRows": False, "rowHeight": 30, "headerHeight": 32, "suppressCellFocus": True,
                         "localeText": {"noRowsToShow": empty}},
        getRowId=f"params.data.{row_id}",
        className=f"grid {class_name}",
        style={"height": None},
    )


def positions_grid() -> dag.AgGrid:
    return portfolio_grid(ids.PORTFOLIO_POSITIONS_GRID, position_column_defs(), "symbol", "grid-positions",
                          "No open positions.")


def orders_grid() -> dag.AgGrid:
    return portfolio_grid(ids.PORTFOLIO_ORDERS_GRID, order_column_defs(), "order_id", "grid-orders",
                          "No working orders.")


def trades_grid() -> dag.AgGrid:
    return portfolio_grid(ids.PORTFOLIO_TRADES_GRID, trade_column_defs(), "trade_id", "grid-trades",
                          "No trades yet.")


def performance_cards() -> html.Div:
    """The seven performance cards; the ``performance`` channel's snapshot and messages fill them."""
    return metric_cards(PERFORMANCE_METRICS, ids.PORTFOLIO_CARDS, value="—", note="")


def equity_graph(figure: go.Figure) -> dcc.Graph:
    return dcc.Graph(id=ids.PORTFOLIO_EQUITY, figure=figure, className="equity-figure",
                     config={"displaylogo": False, "responsive": True, "displayModeBar": False})


_DIALOG_ROLE: dict[str, Any] = {"aria-label": "Reset the paper account", "role": "alertdialog"}


def reset_controls(starting_cash: float) -> html.Div:
    """The reset button and its confirmation (a modal ``<dialog>``: focus stays in it until answered)."""
    return html.Div(className="reset-controls", children=[
        html.Button("Reset account…", id=ids.PORTFOLIO_RESET, className="button button-danger", type="button"),
        html.Dialog(
            id=ids.PORTFOLIO_RESET_DIALOG,
            className="confirm-dialog",
            children=[
                html.H2("Reset the paper account?"),
                html.P(f"Open orders are canceled; positions, trades and the equity curve are cleared; the account "
                       f"starts again with ${starting_cash:,.2f}. This cannot be undone."),
                html.Div(className="dialog-actions", children=[
                    html.Button("Keep my account", id=ids.PORTFOLIO_RESET_CANCEL, className="button", type="button",
                                autoFocus=True),
                    html.Button("Reset", id=ids.PORTFOLIO_RESET_CONFIRM, className="button button-danger",
                                type="button"),
                ]),
            ],
            **_DIALOG_ROLE,
        ),
    ])
