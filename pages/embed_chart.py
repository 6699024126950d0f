"""Embeddable chart (/embed/chart/<symbol>): only the live chart, filling its iframe. The chart's browser code reads
the query parameters (tf, overlays, at, theme, height); TICKSTREAM_EMBED_ORIGINS says which sites may frame it."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import dash

from pages.chart import chart_page


def _title(symbol: str | None = None, **_: Any) -> str:
    return f"{unquote(symbol or '')} · Tickstream"


dash.register_page(__name__, path_template="/embed/chart/<symbol>", title=_title)


def layout(symbol: str | None = None, tf: str | None = None, **_: Any) -> Any:
    # The chart page's own builder (symbol and timeframe checks, instrument precision), in its embed form.
    return chart_page(symbol or "", tf, embed=True)
