"""Which browser origins may read, change state and open WebSockets (CORS headers via flask-cors, refusals here)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Flask, Response, request
from flask_cors import CORS

from api.errors import error_response
from settings import Settings

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# Methods that only read; any other method changes state (orders, alerts …) whatever the route.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Routes that answer browsers on any origin (REST, health, metrics, the OpenAPI document, /ws/status). Dash's own
# routes are meant for its pages, which are same-origin, so they get no CORS headers.
CORS_PATHS = re.compile(r"^/(api/|health|metrics|ws/status)")
# How long a browser may reuse a preflight answer (seconds).
PREFLIGHT_MAX_AGE = 600


def _origin_parts(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an ``Origin`` value, or None when it is not a URL origin (``null``, garbage)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port if port is not None else DEFAULT_PORTS[scheme]


def _host_parts(host: str, scheme: str) -> tuple[str, int] | None:
    """(host, port) of a ``Host`` header; without a port, the default port of ``scheme``."""
    try:
        parts = urlsplit(f"//{host.strip()}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return parts.hostname.lower(), port if port is not None else DEFAULT_PORTS[scheme]


def origin_allowed(origin: str, host: str, allowed: Iterable[str]) -> bool:
    """May a page from ``origin`` change state or open a WebSocket on the server reached as ``host``?

    Yes when ``allowed`` holds ``*`` or the origin itself, when the origin is a loopback one (``http://localhost:*``,
    ``http://127.0.0.1:*``, ``http://[::1]:*``: a local development frontend), or when it is the server's own.

    >>> origin_allowed("http://localhost:5173", "127.0.0.1:8000", ())
    True
    >>> origin_allowed("https://evil.example", "127.0.0.1:8000", ())
    False
    >>> origin_allowed("https://portal.example", "10.0.0.5:8000", ("https://portal.example",))
    True
    >>> origin_allowed("http://tickstream.internal", "tickstream.internal", ())
    True
    """
    listed = {a.strip().rstrip("/").lower() for a in allowed}
    if "*" in listed or origin.strip().rstrip("/").lower() in listed:
        return True
    parts = _origin_parts(origin)
    if parts is None:
        return False
    scheme, hostname, port = parts
    if hostname in LOOPBACK_HOSTS:
        return True
    return _host_parts(host, scheme) == (hostname, port)


def _is_websocket_upgrade() -> bool:
    return request.headers.get("Upgrade", "").strip().lower() == "websocket"


def _changes_state() -> bool:
    """A state-changing request, or the preflight that asks to send one."""
    if request.method == "OPTIONS":
        asked = request.headers.get("Access-Control-Request-Method", "").strip().upper()
        return bool(asked) and asked not in SAFE_METHODS
    return request.method not in SAFE_METHODS


def init_origin_policy(server: Flask, settings: Settings) -> None:
    """CORS headers on the read-only API for any origin; 403 for WebSocket upgrades and state-changing requests from
    origins ``origin_allowed`` refuses. Requests without ``Origin`` (programs, not browsers) pass untouched."""
    # Origins echoed (not "*"), with Vary: Origin, so that credentialed requests can be allowed later as they are.
    # always_send off: a request without Origin (a program) gets no CORS headers at all.
    CORS(server, resources={CORS_PATHS: {}}, origins="*", max_age=PREFLIGHT_MAX_AGE, always_send=False)
    allowed = settings.cors_origins

    @server.before_request
    def _refuse_foreign_origins() -> Response | None:
        origin = request.headers.get("Origin")
        if origin is None:
            return None
        upgrade = _is_websocket_upgrade()
        if not upgrade and not _changes_state():
            return None
        if origin_allowed(origin, request.host, allowed):
            return None
        method = request.headers.get("Access-Control-Request-Method", "").strip().upper() \
            if request.method == "OPTIONS" else request.method
        what = "open a WebSocket" if upgrade else f"send {method[:20]} requests"
        return error_response(403, "origin_not_allowed",
                              f"origin {origin[:100]!r} may not {what} here; allowed: this server's own origin, "
                              "loopback origins (http://localhost:*, http://127.0.0.1:*, http://[::1]:*) and those "
                              "in TICKSTREAM_CORS_ORIGINS")
