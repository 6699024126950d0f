"""Embeddable watchlist (/embed/watchlist?symbols=AAPL,MSFT): a compact live price table for portal sidebars, no
app frame (assets/pages_theme.js hides it on /embed/ routes; ?theme=light|dark picks the theme)."""

from __future__ import annotations

from typing import Any

import dash
from dash import html

from components.live_page import live_page
from components.watchlist import parse_symbol_list, precisions, watchlist, watchlist_config
from feeds.universe import shipped

dash.register_page(__name__, path="/embed/watchlist", title="Watchlist · Tickstream")


def layout(symbols: str | None = None, **_: Any) -> Any:
    chosen = parse_symbol_list(symbols)
    return live_page(
        "embed-watchlist",
        [watchlist(chosen, compact=True, editable=False),
         html.A("Tickstream", href="/", target="_blank", rel="noopener", className="embed-badge")],
        watchlist_config(chosen, compact=True, editable=False, precision=precisions(chosen, shipped().resolve)),
        mantine=False,
    )
