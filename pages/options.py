"""Options (/options/<symbol>): expiration picker, calls and puts around the money with Greeks, unusual contracts and
why, the implied-volatility smile and open interest by strike; refreshed every 60 s while the page is visible."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

import dash
from dash import Input, Output, State, html, no_update
from flask import current_app

from components import ids
from components.live_page import connection_badge, live_page
from components.options_view import REFRESH_SECONDS, OptionsContent, options_content, options_view
from components.watchlist import precisions
from feeds.models import InvalidInput, parse_symbol
from feeds.universe import shipped


def _title(symbol: str | None = None, **_: Any) -> str:
    return f"{unquote(symbol or '')} options · Tickstream"


dash.register_page(__name__, path_template="/options/<symbol>", title=_title, name="Options", nav_order=3,
                   nav_label="Options", nav_href="/options/{symbol}",
                   bundles=("dash_ag_grid", "dash_mantine_components"))


def _chain_content(symbol: str, expiration: str | None) -> tuple[OptionsContent | None, str]:
    """The chain's content and a note for the header; (None, why) when the source cannot answer now."""
    try:
        chain = current_app.extensions["tickstream"].market.options_chain(symbol, expiration)
    except Exception as exc:  # a source failure is shown on the page; the next refresh tries again
        current_app.logger.warning("options chain of %s failed: %s", symbol, exc)
        return None, f"options unavailable: {exc}"
    return options_content(chain), f"updated {time.strftime('%H:%M:%S')} · every {REFRESH_SECONDS} s"


def layout(symbol: str | None = None, **_: Any) -> Any:
    try:
        parsed = parse_symbol(unquote(symbol or ""))
    except InvalidInput as exc:
        return html.Div(exc.message, className="page-error")
    # The first chain comes with the page (no callback round trip before the first numbers); the interval and
    # the expiration picker refresh it.
    content, note = _chain_content(parsed, None)
    return live_page("options", [*options_view(parsed, content, note), connection_badge("options-conn")],
                     {"symbol": parsed, "refreshSeconds": REFRESH_SECONDS,
                      "precision": precisions([parsed], shipped().resolve)})


@dash.callback(
    Output(ids.OPTIONS_CALLS_GRID, "rowData"),
    Output(ids.OPTIONS_PUTS_GRID, "rowData"),
    Output(ids.OPTIONS_SMILE, "figure"),
    Output(ids.OPTIONS_OI, "figure"),
    Output(ids.OPTIONS_UNUSUAL, "children"),
    Output(ids.OPTIONS_EXPIRATION, "data"),
    Output(ids.OPTIONS_EXPIRATION, "value"),
    Output(ids.OPTIONS_HEADER, "children"),
    Input(ids.OPTIONS_REFRESH, "n_intervals"),
    Input(ids.OPTIONS_EXPIRATION, "value"),
    State(ids.PAGE_CONFIG, "data"),
    prevent_initial_call=True,
)
def refresh(_n: int | None, expiration: str | None, config: dict[str, Any]) -> tuple[Any, ...]:
    content, note = _chain_content(config["symbol"], expiration)
    if content is None:
        return (no_update,) * 7 + (note,)
    return (content.calls, content.puts, content.smile, content.open_interest, content.unusual, content.expirations,
            content.expiration, note)
