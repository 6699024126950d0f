"""The symbol box: suggests known symbols (ticker and name) as you type and refuses unknown ones before navigating
(assets/symbol_search.js; suggestions from ``GET /api/v1/symbols?q=``). The key ``/`` focuses it."""

from __future__ import annotations

from dash import dcc, html

from components import ids

SUGGESTIONS = "symbol-suggestions"
ERROR = "symbol-error"


def symbol_search() -> html.Form:
    return html.Form(
        className="symbol-box",
        id="symbol-form",
        role="search",
        children=[
            html.Label("Symbol", htmlFor=ids.SYMBOL_INPUT, className="visually-hidden"),
            dcc.Input(id=ids.SYMBOL_INPUT, placeholder="Symbol…  /", type="text", list=SUGGESTIONS,
                      autoComplete="off", spellCheck=False, className="symbol-input", debounce=False),
            html.Datalist(id=SUGGESTIONS),
            html.Button("Go", id=ids.SYMBOL_GO, className="symbol-go", type="submit"),
            html.Span("", id=ERROR, className="symbol-error", role="status", **{"aria-live": "polite"}),
        ],
    )
