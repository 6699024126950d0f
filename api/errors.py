"""JSON error bodies for REST: ``{"error": {"code", "message"}}`` with the right HTTP status."""

from __future__ import annotations

from typing import Any

from dash.exceptions import DependencyException
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _is_api_path() -> bool:
    path = request.path
    return path.startswith(("/api/", "/ws/", "/health", "/metrics"))


def init_error_handlers(server: Flask) -> None:
    @server.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Any:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @server.errorhandler(DependencyException)
    def _unknown_asset(exc: DependencyException) -> Any:
        # Dash raises this for a /_dash-component-suites/ path it did not register (a typo, a scanner, an old
        # fingerprint): the file is not there, which is a 404, not a server error with a logged traceback.
        return error_response(404, "not_found", f"no such asset: {request.path[:200]}")

    @server.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        # Dash pages keep Flask's HTML errors; API routes always answer JSON.
        if not _is_api_path():
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        # Keep what the exception tells the client to do next (Allow on 405, Retry-After on 429/503).
        kept = {name: value for name, value in exc.get_headers() if name in ("Allow", "Retry-After")}
        return error_response(exc.code or 500, code, exc.description or exc.name or "error", kept)


def init_upgrade_required(server: Flask) -> None:
    """A plain HTTP request to a WebSocket route gets 426 with a JSON hint instead of falling through to the Dash
    page. Call after the WebSocket routes are registered: each gets a plain GET rule on the same path, which
    Werkzeug matches only when the request is not an upgrade."""
    for rule in list(server.url_map.iter_rules()):
        if rule.websocket:
            server.add_url_rule(rule.rule, endpoint=f"{rule.endpoint}__upgrade_required", view_func=_upgrade_required,
                                methods=["GET"])


def _upgrade_required(**_path_values: str) -> Response:
    # RFC 9110 §15.5.22: a 426 names the protocol to switch to in Upgrade.
    return error_response(426, "upgrade_required",
                          f"{request.path} is a WebSocket endpoint: connect with a WebSocket client "
                          f"(ws://{request.host}{request.full_path.rstrip('?')}); the messages are described in "
                          "docs/protocol.md", {"Upgrade": "websocket"})
