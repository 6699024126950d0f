"""The frame of a live dashboard page: Mantine's provider (theme), the page's config store that mounts its browser
code (assets/pages_common.js ``tickstream_pages.mount``) and a connection badge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash_mantine_components as dmc
from dash import ClientsideFunction, Dash, Input, Output, dcc, html

from components import ids


def connection_badge(element_id: str) -> html.Span:
    """Whether the page's WebSocket is connected, reconnecting or offline (filled by pages_common.js)."""
    return html.Span("connecting", id=element_id, className="conn-status conn-connecting")


def live_page(page: str, children: Sequence[Any], config: dict[str, Any] | None = None,
              mantine: bool = True) -> Any:
    """A page's layout: ``children`` plus the store whose data ``{"page": page, **config}`` tells the browser which
    live code to start. ``mantine`` wraps it in Mantine's provider (pages using Mantine components need it; the
    colour scheme follows ``<html data-mantine-color-scheme>``, which assets/pages_theme.js sets)."""
    body = html.Div(
        className=f"live-page page-{page}",
        children=[
            *children,
            dcc.Store(id=ids.PAGE_CONFIG, data={"page": page, **(config or {})}),
            dcc.Store(id=ids.PAGE_MOUNTED),
        ],
    )
    if not mantine:
        return body
    return dmc.MantineProvider(body, defaultColorScheme="dark")


def section(title: str, children: Sequence[Any], class_name: str = "") -> html.Section:
    return html.Section(className=f"panel {class_name}".strip(),
                        children=[html.H3(title, className="panel-title"), *children])


def register_page_mount(app: Dash) -> None:
    """One callback for every page: a page's store mounts its live code once the layout is in the document.
    Registered on the app (not with ``dash.clientside_callback`` at import): a process may build several apps
    (tests), and Dash hands import-time callbacks to the first app only."""
    app.clientside_callback(
        ClientsideFunction(namespace="tickstream_pages", function_name="mount"),
        Output(ids.PAGE_MOUNTED, "data"),
        Input(ids.PAGE_CONFIG, "data"),
    )
