"""Signals (/signals): the live consensus signals (filterable, newest first, each row's agent votes and a link to
the chart at its candle) and, beside them, the live trade ideas."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, html
from flask import current_app

from components import ids
from components.live_page import connection_badge, live_page, section
from components.signals_table import (
    MAX_IDEA_ROWS,
    MAX_SIGNAL_ROWS,
    PAPER_ORDER_NOTE,
    filter_bar,
    filter_model,
    ideas_grid,
    signals_grid,
    votes_panel,
)
from components.watchlist import precisions
from feeds.universe import shipped

dash.register_page(__name__, path="/signals", title="Signals · Tickstream", name="Signals", nav_order=2,
                   nav_label="Signals", bundles=("dash_ag_grid", "dash_mantine_components"))

# Signals read over REST per watched symbol when the page opens (newest first), before the live ones.
HISTORY_PER_SYMBOL = 50


def layout(**_: Any) -> Any:
    symbols = list(current_app.extensions["tickstream"].settings.symbols)
    return live_page(
        "signals",
        [
            html.Div(className="page-head", children=[html.H1("Signals"), connection_badge("signals-conn")]),
            html.Div(
                className="signals-layout",
                children=[
                    html.Div(children=[
                        section("Consensus signals", [filter_bar(), signals_grid()]),
                        section("Agent votes", [votes_panel()]),
                    ]),
                    section("Trade ideas", [ideas_grid(), html.P(PAPER_ORDER_NOTE, id="signals-paper-result",
                                                                 className="note", role="status")]),
                ],
            ),
        ],
        {"symbols": symbols, "precision": precisions(symbols, shipped().resolve),
         "historyPerSymbol": HISTORY_PER_SYMBOL, "maxSignalRows": MAX_SIGNAL_ROWS,
         "maxIdeaRows": MAX_IDEA_ROWS, "paperTrading": True, "paperNote": PAPER_ORDER_NOTE},
    )


@dash.callback(
    Output(ids.SIGNALS_GRID, "filterModel"),
    Input(ids.SIGNALS_FILTER_SYMBOL, "value"),
    Input(ids.SIGNALS_FILTER_ACTION, "value"),
    Input(ids.SIGNALS_FILTER_TIMEFRAME, "value"),
    prevent_initial_call=True,
)
def apply_filters(symbol: str | None, action: str | None, timeframe: str | None) -> dict[str, Any]:
    return filter_model(symbol, action, timeframe)
