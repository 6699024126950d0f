"""Overview (/): the watchlist, the latest consensus signals, recent alerts and the paper account's summary cards."""

from __future__ import annotations

from typing import Any

import dash
from dash import html
from flask import current_app

from components import ids
from components.cards import summary_cards
from components.live_page import connection_badge, live_page, section
from components.watchlist import MAX_WATCHLIST, precisions, watchlist, watchlist_config
from feeds.universe import shipped

dash.register_page(__name__, path="/", title="Overview · Tickstream", name="Overview", nav_order=1,
                   nav_label="Overview")

# How many signals and alerts the overview lists (the newest).
LATEST_SIGNALS = 8
RECENT_ALERTS = 8


def layout(**_: Any) -> Any:
    symbols = list(current_app.extensions["tickstream"].settings.symbols)[:MAX_WATCHLIST]
    return live_page(
        "overview",
        [
            html.Div(className="page-head", children=[html.H1("Overview"), connection_badge("overview-conn")]),
            summary_cards(),
            html.Div(
                className="overview-grid",
                children=[
                    section("Watchlist", [watchlist(symbols)], "overview-watchlist"),
                    html.Div(className="overview-side", children=[
                        section("Latest signals", [html.Ol(id=ids.OVERVIEW_SIGNALS, className="feed-list",
                                                           children=[html.Li("Waiting for signals…",
                                                                             className="muted")])]),
                        section("Recent alerts", [html.Ol(id=ids.OVERVIEW_ALERTS, className="feed-list",
                                                          children=[html.Li("No alerts yet.", className="muted")])]),
                    ]),
                ],
            ),
        ],
        {**watchlist_config(symbols, precision=precisions(symbols, shipped().resolve)),
         "latestSignals": LATEST_SIGNALS, "recentAlerts": RECENT_ALERTS},
        mantine=False,
    )
