"""The app's own not-found page (Dash pages shows it for any path no page claims; api/page_routes.py makes the
HTTP status 404)."""

from __future__ import annotations

from typing import Any

import dash
from dash import html

dash.register_page(__name__, path="/404", title="Not found · Tickstream")


def layout(**_: Any) -> Any:
    return html.Div(
        className="not-found",
        children=[
            html.H1("404"),
            html.P("There is no page at this address.", className="muted"),
            html.P([html.A("← Back to the overview", href="/", className="feed-link"), " · ",
                    html.A("Signals", href="/signals", className="feed-link"), " · ",
                    html.A("Status", href="/status", className="feed-link")]),
        ],
    )
