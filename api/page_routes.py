"""How Dash's index page is answered per path: HTTP 404 for a path no registered page claims (Dash itself answers
200 for every path and shows its not-found page), and only the component bundles the page declares.

Dash puts every imported component library's bundle on every page. The optional libraries (the tables' and the
layout's) are large, so a page lists the ones it uses in ``dash.register_page(..., bundles=(...))``; the index of
any other page (the chart, the embeds, the not-found page) leaves them out. Navigation between pages is by full
page loads (components/shell.py), so a page never needs a bundle its own index did not load.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import dash
from flask import Response, request

# Component packages a page loads only when it declares them in ``bundles``.
OPTIONAL_BUNDLES = ("dash_ag_grid", "dash_mantine_components")
BUNDLES_KEY = "bundles"
NOT_FOUND_MODULE = "not_found_404"


@lru_cache(maxsize=64)
def _template_pattern(template: str) -> re.Pattern[str]:
    """``/options/<symbol>`` → a pattern where each variable is one non-empty path segment."""
    parts = re.split(r"<[^<>/]+>", template.rstrip("/") or "/")
    return re.compile("^" + "[^/]+".join(re.escape(part) for part in parts) + "/?$")


def page_for_path(path: str, pages: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The registered page that serves ``path`` (its ``path`` or ``path_template``), or None; the not-found page
    claims nothing.

    >>> pages = [{"module": "pages.home", "path": "/"}, {"module": "pages.chart", "path": "/chart/<symbol>",
    ...          "path_template": "/chart/<symbol>"}, {"module": "pages.not_found_404", "path": "/not-found-404"}]
    >>> [bool(page_for_path(p, pages)) for p in ("/", "/chart/AAPL", "/chart/AAPL/", "/chart/", "/chart/A/B",
    ...                                          "/nope", "/not-found-404")]
    [True, True, True, False, False, False, False]
    """
    clean = path if path == "/" else path.rstrip("/") or "/"
    for page in pages:
        if str(page.get("module", "")).split(".")[-1] == NOT_FOUND_MODULE:
            continue
        template = page.get("path_template")
        if template:
            if _template_pattern(str(template)).match(clean):
                return page
        elif clean == (str(page.get("path", "")).rstrip("/") or "/"):
            return page
    return None


_SCRIPT = re.compile(r'<script src="[^"]*/_dash-component-suites/([A-Za-z0-9_]+)/[^"]*"></script>\s*')


def strip_bundles(html: str, keep: Iterable[str]) -> str:
    """``html`` without the ``<script>`` tags of the optional bundles not in ``keep``.

    >>> strip_bundles('<script src="/_dash-component-suites/dash_ag_grid/x.js"></script>'
    ...               '<script src="/_dash-component-suites/dash/y.js"></script>', ())
    '<script src="/_dash-component-suites/dash/y.js"></script>'
    """
    drop = set(OPTIONAL_BUNDLES) - set(keep)
    if not drop:
        return html
    return _SCRIPT.sub(lambda m: "" if m.group(1) in drop else m.group(0), html)


def init_page_routes(app: dash.Dash) -> None:
    server = app.server
    prefix = app.config.routes_pathname_prefix
    index_endpoints = {prefix, prefix + "<path:path>"}

    @server.after_request
    def _page_index(response: Response) -> Response:
        if request.method != "GET" or request.endpoint not in index_endpoints or response.status_code != 200:
            return response
        path = request.path
        if prefix != "/" and path.startswith(prefix):
            path = "/" + path[len(prefix):]
        page = page_for_path(path, dash.page_registry.values())
        if page is None:
            response.status_code = 404
        if response.mimetype == "text/html" and not response.direct_passthrough:
            html = response.get_data(as_text=True)
            response.set_data(strip_bundles(html, page.get(BUNDLES_KEY, ()) if page else ()))
        return response
