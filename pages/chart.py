"""Chart page: /chart/<symbol> streams one symbol live (``?tf=5m`` or ``?timeframe=5m``; ``overlays`` and ``at``
are read by the browser code, docs/chart.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import dash
from dash import html
from flask import current_app

from components.live_chart import live_chart
from feeds.models import InvalidInput, Timeframe, parse_symbol
from feeds.universe import shipped

dash.register_page(__name__, path_template="/chart/<symbol>", title="Tickstream chart")


def chart_page(symbol: str, tf: str | None = None, embed: bool = False) -> Any:
    services = current_app.extensions["tickstream"]
    settings = services.settings
    try:
        parsed = parse_symbol(unquote(symbol))
        timeframe = Timeframe.parse(tf) if tf else settings.default_timeframe
    except InvalidInput as exc:
        return html.Div([exc.message, " · ", html.A("back to the overview", href="/")], className="page-error")
    knows = getattr(services.source, "knows", None)
    if knows is not None and not knows(parsed):
        return html.Div([f"unknown symbol: {parsed}", " · ", html.A("back to the overview", href="/")],
                        className="page-error")
    return live_chart(parsed, timeframe, embed=embed, instrument=shipped().resolve(parsed), feed=settings.feed,
                      replay_speed=settings.replay_speed)


def layout(symbol: str | None = None, tf: str | None = None, timeframe: str | None = None, **_: Any) -> Any:
    settings = current_app.extensions["tickstream"].settings
    return chart_page(symbol or settings.default_symbol, tf or timeframe)
