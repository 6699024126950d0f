"""The signals page's pieces: the live consensus-signals grid, its filter bar, the agent-votes panel and the trade
ideas grid (dash-ag-grid). Rows come from the browser (assets/pages_signals.js) as AG Grid transactions; these
builders only define columns and layout. Value formatters name functions of ``dashAgGridFunctions``
(assets/pages_grid.js)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import dash_ag_grid as dag
import dash_mantine_components as dmc
from dash import html

from components import ids
from feeds.models import ALL_TIMEFRAMES

ACTIONS = ("BUY", "SELL", "HOLD")
# Rows the signals grid keeps (oldest dropped first): the bound on a page left open for days.
MAX_SIGNAL_ROWS = 2000
MAX_IDEA_ROWS = 500
PAPER_ORDER_NOTE = ("“Paper order” sends a pending idea's prepared order (a limit entry with its stop loss and target) "
                    "to the paper broker; it then shows on the Portfolio page.")


def chart_link(symbol: str, timeframe: str, at: int | float | None = None) -> str:
    """The chart of ``symbol`` at one candle: ``/chart/SYM?tf=1h&at=1705312800``.

    >>> chart_link("BRK.B", "1h", 1705312800)
    '/chart/BRK.B?tf=1h&at=1705312800'
    >>> chart_link("^GSPC", "5m")
    '/chart/%5EGSPC?tf=5m'
    """
    query: dict[str, Any] = {"tf": timeframe}
    if at is not None:
        query["at"] = int(at)
    return f"/chart/{quote(symbol, safe='.')}?{urlencode(query)}"


def _fn(name: str) -> dict[str, str]:
    return {"function": name}


def signal_column_defs() -> list[dict[str, Any]]:
    """Columns of the consensus-signals grid; rows are ``pages_signals.js signalRow`` objects."""
    return [
        {"field": "time", "headerName": "Time", "sort": "desc", "valueFormatter": _fn("tsTime(params.value)"),
         "filter": False, "minWidth": 140},
        {"field": "symbol", "headerName": "Symbol", "filter": "agTextColumnFilter", "minWidth": 90},
        {"field": "timeframe", "headerName": "TF", "filter": "agTextColumnFilter", "maxWidth": 80, "minWidth": 60},
        {"field": "action", "headerName": "Action", "filter": "agTextColumnFilter", "minWidth": 80,
         "cellClassRules": {"action-cell-buy": "params.value === 'BUY'", "action-cell-sell": "params.value === 'SELL'",
                            "action-cell-hold": "params.value === 'HOLD'"}},
        {"field": "confidence", "headerName": "Confidence", "filter": "agNumberColumnFilter", "type": "rightAligned",
         "valueFormatter": _fn("tsShare(params.value)"), "minWidth": 100},
        {"field": "price", "headerName": "Price", "type": "rightAligned", "filter": False,
         "valueFormatter": _fn("tsPrice(params.value, params.data.symbol)"), "minWidth": 90},
        {"field": "agents", "headerName": "Agents", "filter": False, "minWidth": 80},
        {"field": "chart", "headerName": "Chart", "cellRenderer": "ChartLink", "filter": False, "sortable": False,
         "minWidth": 90},
    ]


def idea_column_defs() -> list[dict[str, Any]]:
    """Columns of the trade-ideas grid (the ``idea`` message's data)."""
    price = {"type": "rightAligned", "valueFormatter": _fn("tsPrice(params.value, params.data.symbol)"), "minWidth": 80}
    return [
        {"field": "symbol", "headerName": "Symbol", "minWidth": 80},
        {"field": "timeframe", "headerName": "TF", "maxWidth": 70, "minWidth": 55},
        {"field": "side", "headerName": "Side", "minWidth": 65},
        {"field": "entry", "headerName": "Entry", **price},
        {"field": "stop_loss", "headerName": "Stop", **price},
        {"field": "take_profit", "headerName": "Target", **price},
        {"field": "risk_reward", "headerName": "R:R", "type": "rightAligned", "minWidth": 60,
         "valueFormatter": _fn("tsRatio(params.value)")},
        {"field": "status", "headerName": "Status", "minWidth": 85},
        {"field": "idea_id", "headerName": "", "cellRenderer": "PaperOrderButton", "sortable": False,
         "filter": False, "minWidth": 110},
    ]


def _grid(grid_id: str, columns: list[dict[str, Any]], class_name: str, row_id: str) -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=[],
        columnSize="responsiveSizeToFit",
        defaultColDef={"sortable": True, "resizable": True, "suppressHeaderMenuButton": True},
        dashGridOptions={
            "animateRows": False, "rowHeight": 30, "headerHeight": 32, "suppressCellFocus": True,
            "rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
        },
        getRowId=f"params.data.{row_id}",
        className=f"grid {class_name}",
        style={"height": None},
    )


def filter_bar() -> html.Div:
    """Symbol, action and timeframe filters; a clientside callback turns them into the grid's filter model."""
    return html.Div(
        className="filter-bar",
        children=[
            dmc.TextInput(id=ids.SIGNALS_FILTER_SYMBOL, placeholder="Symbol", size="xs", w=120, debounce=300,
                          **{"aria-label": "Filter by symbol"}),
            dmc.SegmentedControl(id=ids.SIGNALS_FILTER_ACTION, data=["All", *ACTIONS], value="All", size="xs"),
            dmc.Select(id=ids.SIGNALS_FILTER_TIMEFRAME, data=[tf.value for tf in ALL_TIMEFRAMES],
                       placeholder="Timeframe", clearable=True, size="xs", w=120,
                       **{"aria-label": "Filter by timeframe"}),
        ],
    )


def signals_grid() -> dag.AgGrid:
    return _grid(ids.SIGNALS_GRID, signal_column_defs(), "grid-signals", "signal_id")


def ideas_grid() -> dag.AgGrid:
    return _grid(ids.SIGNALS_IDEAS_GRID, idea_column_defs(), "grid-ideas", "idea_id")


def votes_panel() -> html.Div:
    return html.Div(id=ids.SIGNALS_DETAIL, className="signal-detail",
                    children=html.P("Select a signal to see every agent's vote.", className="muted"))


def filter_model(symbol: str | None, action: str | None, timeframe: str | None) -> dict[str, Any]:
    """AG Grid filter model of the filter bar (the clientside callback in pages/signals.py builds the same).

    >>> filter_model(" aapl ", "BUY", None)
    {'symbol': {'filterType': 'text', 'type': 'equals', 'filter': 'AAPL'}, \
'action': {'filterType': 'text', 'type': 'equals', 'filter': 'BUY'}}
    """
    model: dict[str, Any] = {}
    if symbol and symbol.strip():
        model["symbol"] = {"filterType": "text", "type": "equals", "filter": symbol.strip().upper()}
    if action and action in ACTIONS:
        model["action"] = {"filterType": "text", "type": "equals", "filter": action}
    if timeframe:
        model["timeframe"] = {"filterType": "text", "type": "equals", "filter": timeframe}
    return model
