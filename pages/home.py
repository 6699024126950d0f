"""Home page: the live chart of the default symbol."""

from __future__ import annotations

from typing import Any

import dash
from flask import current_app

from pages.chart import chart_page

dash.register_page(__name__, path="/", title="Tickstream")


def layout(tf: str | None = None, **_: Any) -> Any:
    return chart_page(current_app.extensions["tickstream"].settings.default_symbol, tf)
