"""Status (/status): health, sources and their circuits, data age per symbol, cache hit rate, WebSocket traffic,
signal trackers, feed restarts, uptime and the latest error; refreshed every few seconds while visible."""

from __future__ import annotations

import time
from typing import Any

import dash
from dash import Input, Output, dcc, html
from flask import current_app

from components import ids
from components.live_page import live_page
from components.status_view import status_cards

dash.register_page(__name__, path="/status", title="Status · Tickstream", name="Status", nav_order=9,
                   nav_label="Status")

REFRESH_SECONDS = 3


def layout(**_: Any) -> Any:
    return live_page(
        "status",
        [
            html.Div(className="page-head", children=[
                html.H1("Status"),
                html.Span("", id=ids.STATUS_UPDATED, className="muted"),
                html.A("/health", href="/health", className="feed-link"),
                html.A("/metrics/live-data", href="/metrics/live-data", className="feed-link"),
                html.A("/ws/status", href="/ws/status", className="feed-link"),
                html.A("API docs", href="/api/docs", className="feed-link"),
            ]),
            html.Div(id=ids.STATUS_CARDS, className="status-grid"),
            dcc.Interval(id=ids.STATUS_REFRESH, interval=REFRESH_SECONDS * 1000),
        ],
        {"refreshSeconds": REFRESH_SECONDS, "interval": ids.STATUS_REFRESH},
        mantine=False,
    )


@dash.callback(
    Output(ids.STATUS_CARDS, "children"),
    Output(ids.STATUS_UPDATED, "children"),
    Input(ids.STATUS_REFRESH, "n_intervals"),
)
def refresh(_n: int | None) -> tuple[Any, str]:
    services = current_app.extensions["tickstream"]
    health, _code = services.health()
    now = services.feed.clock()  # the feed's clock: replay time under --feed replay
    ages: dict[str, tuple[float | None, str, bool]] = {}
    for symbol in services.feed.symbols:
        quote = services.feed.latest_quote(symbol)
        ages[symbol] = (None, "no quote yet", False) if quote is None else (
            now - quote.timestamp, quote.source, quote.stale)
    cards = status_cards(health, services.live_metrics(), services.signals.ws_status(), ages)
    return cards, f"updated {time.strftime('%H:%M:%S')} · every {REFRESH_SECONDS} s"
