"""Embeddable chart (/embed/chart/<symbol>): only the live chart, filling its iframe. The chart's browser code reads
the query parameters (tf, overlays, at, theme, height); TICKSTREAM_EMBED_ORIGINS says which sites may frame it."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import dash
from dash import html
from flask import current_app

from components.live_chart import live_chart
from feeds.models import InvalidInput, Timeframe, parse_symbol


def _title(symbol: str | None = None, **_: Any) -> str:
    return f"{unquote(symbol or '')} · Tickstream"


dash.register_page(__name__, path_template="/embed/chart/<symbol>", title=_title)


def layout(symbol: str | None = None, tf: str | None = None, **_: Any) -> Any:
    settings = current_app.extensions["tickstream"].settings
    try:
        parsed = parse_symbol(unquote(symbol or ""))
        timeframe = Timeframe.parse(tf) if tf else settings.default_timeframe
    except InvalidInput as exc:
        return html.Div(exc.message, className="page-error")
    return live_chart(parsed, timeframe, embed=True)
