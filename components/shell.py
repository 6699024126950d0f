"""The page frame: top bar with the brand, tracked symbols and a symbol box, then the page container."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

import dash
from dash import Dash, dcc, html

from components import ids
from components.symbol_search import symbol_search


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
                        children=[dcc.Link(s, href=chart_href(s), className="watch-link") for s in symbols],
                    ),
                    symbol_search(),
                ],
            ),
            html.Main(dash.page_container, className="page"),
        ],
    )


def register_shell_callbacks(app: Dash) -> None:
    """The shell's behaviour is clientside (assets/symbol_search.js); nothing to register yet."""
