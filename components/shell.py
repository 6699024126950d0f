"""The page frame: top bar with the brand, the navigation built from Dash's page registry, a symbol box and the
theme switch, then the page container."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import quote

import dash
from dash import Dash, dcc, html

from components import ids
from components.live_page import register_page_mount
from components.symbol_search import symbol_search

# Keys a page passes to ``dash.register_page`` to appear in the navigation (Dash keeps unknown keys in the
# registry): ``nav_order`` (int, ascending), ``nav_label`` and, for a page with a path template, ``nav_href``.
NAV_ORDER = "nav_order"
NAV_LABEL = "nav_label"
NAV_HREF = "nav_href"


class NavLink(NamedTuple):
    label: str
    href: str


def chart_href(symbol: str) -> str:
    return f"/chart/{quote(symbol, safe='')}"


def nav_links(pages: Iterable[Mapping[str, Any]], symbol: str = "AAPL") -> list[NavLink]:
    """The navigation entries of the registered pages that asked for one, in ``nav_order``; ``{symbol}`` in a
    ``nav_href`` becomes ``symbol`` (the default symbol, for pages about one symbol).

    >>> nav_links([{"path": "/status", "nav_order": 9, "nav_label": "Status"},
    ...            {"path": "/", "nav_order": 1, "nav_label": "Overview"}, {"path": "/hidden"},
    ...            {"path": "/options/<symbol>", "nav_order": 3, "nav_href": "/options/{symbol}"}], "MSFT")
    [NavLink(label='Overview', href='/'), NavLink(label='/options/<symbol>', href='/options/MSFT'), \
NavLink(label='Status', href='/status')]
    """
    chosen = [page for page in pages if page.get(NAV_ORDER) is not None]
    chosen.sort(key=lambda page: (page[NAV_ORDER], str(page.get("path"))))
    return [NavLink(str(page.get(NAV_LABEL) or page["path"]),
                    str(page.get(NAV_HREF) or page["path"]).replace("{symbol}", quote(symbol, safe="")))
            for page in chosen]


def navigation(links: Sequence[NavLink]) -> html.Nav:
    # Plain links (full page loads): each page loads only the component bundles it needs (api/page_routes.py),
    # and a page's live subscriptions end with the page.
    return html.Nav(
        id=ids.SHELL_NAV,
        className="nav-links",
        children=[html.A(link.label, href=link.href, className="nav-link") for link in links],
        **{"aria-label": "Pages"},
    )


def theme_toggle() -> html.Button:
    """The theme switch; assets/pages_theme.js handles its clicks (the shared theme contract), so it works the
    same on every page, including those that load no component library."""
    return html.Button(
        "◐",
        id=ids.SHELL_THEME_TOGGLE,
        className="theme-toggle",
        title="Switch dark / light theme",
        **{"aria-label": "Switch dark / light theme", "data-theme-toggle": "1"},
    )


def app_shell(symbols: Sequence[str], pages: Iterable[Mapping[str, Any]] | None = None) -> html.Div:
    links = nav_links(dash.page_registry.values() if pages is None else pages, symbols[0] if symbols else "AAPL")
    return html.Div(
        className="app",
        children=[
            dcc.Location(id=ids.URL),
            html.Header(
                className="topbar",
                children=[
                    html.A("Tickstream", href="/", className="brand"),
                    navigation(links),
                    html.Div(
                        className="watch-links",
                        children=[dcc.Link(s, href=chart_href(s), className="watch-link") for s in symbols],
                    ),
                    symbol_search(),
                    theme_toggle(),
                ],
            ),
            html.Main(dash.page_container, className="page"),
        ],
    )


def register_shell_callbacks(app: Dash) -> None:
    """The shell's behaviour is clientside (assets/symbol_search.js, assets/pages_theme.js); the pages' live code
    mounts through one callback of the frame."""
    register_page_mount(app)
