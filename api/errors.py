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
