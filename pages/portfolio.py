"""Portfolio (/portfolio): the paper account's performance cards, positions with live P&L, working orders (with
cancel), round-trip trades and the equity curve with its drawdown; an account reset behind a confirmation.

The grids and cards are live in the browser (assets/pages_portfolio.js, channels ``positions``, ``orders``,
``trades``, ``performance``); the equity figure comes with the page and is rebuilt by the callback below when the
browser says a ``performance`` message arrived (at most every EQUITY_REFRESH_SECONDS, never per tick)."""

from __future__ import annotations

import time
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, dcc, html
from flask import current_app

from components import ids
from components.alerts_view import POLITE
from components.live_page import connection_badge, live_page, section
from components.portfolio import (
    EQUITY_REFRESH_SECONDS,
    MAX_ORDER_ROWS,
    MAX_TRADE_ROWS,
    TRADES_LIMIT,
    equity_figure,
    equity_graph,
    orders_grid,
    performance_cards,
    positions_grid,
    reset_controls,
    trades_grid,
)

dash.register_page(__name__, path="/portfolio", title="Portfolio · Tickstream", name="Portfolio", nav_order=4,
                   nav_label="Portfolio", bundles=("dash_ag_grid", "dash_mantine_components"))


def _current_equity() -> tuple[go.Figure, float]:
    """The equity figure of the paper account now, and its starting cash."""
    trading = current_app.extensions["tickstream"].trading
    perf, curve = trading.performance()
    starting = float(trading.broker.account.starting_cash)
    return equity_figure(curve, start_peak=starting, now=(time.time(), perf.total_value)), starting


def layout(**_: Any) -> Any:
    figure, starting = _current_equity()
    return live_page(
        "portfolio",
        [
            html.Div(className="page-head", children=[
                html.H1("Portfolio"),
                html.Span("paper account", className="muted"),
                connection_badge("portfolio-conn"),
                html.Div(className="page-head-actions", children=[reset_controls(starting)]),
            ]),
            html.Div(id=ids.PORTFOLIO_MESSAGE, className="action-message", role="status", **POLITE),
            performance_cards(),
            html.Div(className="portfolio-layout", children=[
                html.Div(children=[
                    section("Positions", [positions_grid()]),
                    section("Working orders", [orders_grid()]),
                ]),
                section("Equity and drawdown", [equity_graph(figure)], "equity-panel"),
            ]),
            section("Trades", [trades_grid()]),
            dcc.Store(id=ids.PORTFOLIO_EQUITY_REFRESH),
        ],
        {"equityRefreshSeconds": EQUITY_REFRESH_SECONDS, "maxOrderRows": MAX_ORDER_ROWS,
         "maxTradeRows": MAX_TRADE_ROWS, "tradesLimit": TRADES_LIMIT},
    )


@dash.callback(
    Output(ids.PORTFOLIO_EQUITY, "figure"),
    Input(ids.PORTFOLIO_EQUITY_REFRESH, "data"),
    prevent_initial_call=True,
)
def refresh_equity(_stamp: Any) -> go.Figure:
    return _current_equity()[0]
