"""Chart page: /chart/<symbol> streams one symbol live (``?tf=5m`` picks the starting timeframe)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import dash
from dash import html
from flask import current_app

from components.live_chart import live_chart
from feeds.models import InvalidInput, Timeframe, parse_symbol

dash.register_page(__name__, path_template="/chart/<symbol>", title="Tickstream chart")


def chart_page(symbol: str, tf: str | None = None) -> Any:
    settings = current_app.extensions["tickstream"].settings
    try:
        parsed = parse_symbol(unquote(symbol))
        timeframe = Timeframe.parse(tf) if tf else settings.default_timeframe
    except InvalidInput as exc:
        return html.Div(exc.message, className="page-error")
    return live_chart(parsed, timeframe)


def layout(symbol: str | None = None, tf: str | None = None, **_: Any) -> Any:
    settings = current_app.extensions["tickstream"].settings
    return chart_page(symbol or settings.default_symbol, tf)
