"""Portfolio (/portfolio): says that paper trading is not set up yet; the trading issue fills this page."""

from __future__ import annotations

from typing import Any

import dash
import dash_mantine_components as dmc
from dash import html

from components.cards import SUMMARY_METRICS, metric_cards
from components.live_page import live_page

dash.register_page(__name__, path="/portfolio", title="Portfolio · Tickstream", name="Portfolio", nav_order=4,
                   nav_label="Portfolio", bundles=("dash_mantine_components",))

NOT_SET_UP = ("Paper trading is not set up yet. Positions, orders, trades and performance will appear here once "
              "the paper broker is available; trade ideas on the Signals page already carry their prepared orders.")


def layout(**_: Any) -> Any:
    return live_page(
        "portfolio",
        [
            html.Div(className="page-head", children=[html.H1("Portfolio")]),
            dmc.Alert(NOT_SET_UP, title="No paper account yet", color="yellow", variant="light",
                      className="portfolio-note"),
            html.Div(className="portfolio-cards", children=[
                metric_cards(SUMMARY_METRICS, value="—", note="no paper account yet"),
            ]),
            html.P(["Meanwhile: ", html.A("trade ideas", href="/signals", className="feed-link"), " · ",
                    html.A("watchlist", href="/", className="feed-link")], className="muted"),
        ],
    )
