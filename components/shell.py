"""The page frame: top bar with the brand, tracked symbols and a symbol box, then the page container."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

import dash
from dash import Dash, Input, Output, State, dcc, html

from components import ids


def chart_href(symbol: str) -> str:
    return f"/chart/{quote(symbol, safe='')}"


def app_shell(symbols: Sequence[str]) -> html.Div:
    return html.Div(
        className="app",
        children=[
            dcc.Location(id=ids.URL),
            html.Nav(
                className="topbar",
                children=[
                    html.A("Tickstream", href="/", className="brand"),
                    html.Div(
                        className="watch-links",
                        children=[html.A(s, href=chart_href(s), className="watch-link") for s in symbols],
                    ),
                    html.Div(
                        className="symbol-box",
                        children=[
                            dcc.Input(id=ids.SYMBOL_INPUT, placeholder="Symbol…", debounce=True, type="text",
                                      className="symbol-input"),
                            html.Button("Go", id=ids.SYMBOL_GO, className="symbol-go"),
                        ],
                    ),
                ],
            ),
            html.Main(dash.page_container, className="page"),
        ],
    )


def register_shell_callbacks(app: Dash) -> None:
    app.clientside_callback(
        """
        function(clicks, submitted, value) {
            const symbol = (value || "").trim().toUpperCase();
            if (!symbol) { return window.dash_clientside.no_update; }
            return "/chart/" + encodeURIComponent(symbol);
        }
        """,
        Output(ids.URL, "href"),
        Input(ids.SYMBOL_GO, "n_clicks"),
        Input(ids.SYMBOL_INPUT, "n_submit"),
        State(ids.SYMBOL_INPUT, "value"),
        prevent_initial_call=True,
    )
