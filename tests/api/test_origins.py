"""Browser origins over real HTTP and real WebSocket handshakes: CORS headers per route kind, refusals with 403."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import websocket
from flask import jsonify

from api.origins import origin_allowed

EVIL = "https://evil.example"
DEV = "http://localhost:5173"
PORTAL = "https://portal.example"


@pytest.mark.parametrize(("origin", "host", "allowed", "expected"), [
    ("http://localhost:5173", "127.0.0.1:8000", (), True),
    ("http://127.0.0.1:3000", "127.0.0.1:8000", (), True),
    ("http://[::1]:5173", "127.0.0.1:8000", (), True),
    ("HTTP://LOCALHOST:5173", "127.0.0.1:8000", (), True),
    ("https://evil.example", "127.0.0.1:8000", (), False),
    ("http://localhost.evil.example", "127.0.0.1:8000", (), False),
    ("http://127.0.0.2:5173", "127.0.0.1:8000", (), False),
    ("null", "127.0.0.1:8000", (), False),
    ("not a url", "127.0.0.1:8000", (), False),
    # Same origin: the page came from this server, as reached by the browser (default ports implied).
    ("http://tickstream.internal:8000", "tickstream.internal:8000", (), True),
    ("http://tickstream.internal", "tickstream.internal:80", (), True),
    ("https://tickstream.internal", "tickstream.internal", (), True),
    ("http://tickstream.internal:8001", "tickstream.internal:8000", (), False),
    ("https://portal.example", "tickstream.internal", ("https://portal.example",), True),
    ("https://portal.example", "tickstream.internal", ("https://PORTAL.example/",), True),
    ("https://other.example", "tickstream.internal", ("https://portal.example",), False),
    ("https://anyone.example", "tickstream.internal", ("*",), True),
])
def test_origin_allowed(origin: str, host: str, allowed: tuple[str, ...], expected: bool) -> None:
    assert origin_allowed(origin, host, allowed) is expected


def _with_post_route(server: Any) -> Any:
    """Register a state-changing route (as orders and alerts will be) before the server's first request."""
    def echo() -> Any:
        return jsonify({"ok": True}), 201

    server.app.server.add_url_rule("/api/v1/test-echo", "test_echo", echo, methods=["POST"])
    return server


def _forbidden(response: requests.Response) -> None:
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert "TICKSTREAM_CORS_ORIGINS" in response.json()["error"]["message"]


@pytest.fixture
def server(inproc_server) -> Any:  # type: ignore[no-untyped-def]
    return _with_post_route(inproc_server())


@pytest.mark.parametrize("path", ["/health", "/api/v1/market-data/AAPL", "/api/v1/market-data/AAPL/history",
                                  "/api/v1/signals/symbol/AAPL", "/metrics", "/metrics/live-data",
                                  "/api/v1/openapi.json", "/ws/status"])
def test_read_only_routes_answer_any_origin(server, path: str) -> None:  # type: ignore[no-untyped-def]
    for method in ("GET", "HEAD"):
        response = requests.request(method, server.base_url + path, headers={"Origin": EVIL}, timeout=10)
        assert response.headers.get("Access-Control-Allow-Origin") == EVIL, (method, path, response.status_code)
        assert "Origin" in response.headers.get("Vary", "")


def test_preflight_per_method(server) -> None:  # type: ignore[no-untyped-def]
    url = server.base_url + "/api/v1/market-data/AAPL"
    read = requests.options(url, headers={"Origin": EVIL, "Access-Control-Request-Method": "GET"}, timeout=10)
    assert read.status_code == 204 and read.headers["Access-Control-Allow-Origin"] == EVIL
    assert "GET" in read.headers["Access-Control-Allow-Methods"]
    _forbidden(requests.options(server.base_url + "/api/v1/test-echo",
                                headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"}, timeout=10))
    write = requests.options(server.base_url + "/api/v1/test-echo",
                             headers={"Origin": DEV, "Access-Control-Request-Method": "POST",
                                      "Access-Control-Request-Headers": "content-type"}, timeout=10)
    assert write.ok and write.headers["Access-Control-Allow-Origin"] == DEV
    assert "POST" in write.headers["Access-Control-Allow-Methods"]
    assert write.headers["Access-Control-Allow-Headers"].lower() == "content-type"


def test_state_changing_requests_need_an_allowed_origin(server) -> None:  # type: ignore[no-untyped-def]
    url = server.base_url + "/api/v1/test-echo"
    refused = requests.post(url, json={}, headers={"Origin": EVIL}, timeout=10)
    _forbidden(refused)
    # The refusal itself is readable by the page, so it can show why.
    assert refused.headers["Access-Control-Allow-Origin"] == EVIL
    for origin in (DEV, "http://127.0.0.1:5173", "http://[::1]:3000"):
        response = requests.post(url, json={}, headers={"Origin": origin}, timeout=10)
        assert response.status_code == 201, origin
        assert response.headers["Access-Control-Allow-Origin"] == origin
    # The policy goes by method, not by route: an existing GET route answers POST with its own 405 when allowed.
    _forbidden(requests.post(server.base_url + "/api/v1/market-data/AAPL", headers={"Origin": EVIL}, timeout=10))
    assert requests.post(server.base_url + "/api/v1/market-data/AAPL", headers={"Origin": DEV},
                         timeout=10).status_code == 405


def test_clients_without_origin_are_unaffected(server) -> None:  # type: ignore[no-untyped-def]
    response = requests.post(server.base_url + "/api/v1/test-echo", json={}, timeout=10)
    assert response.status_code == 201
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Origin" not in requests.get(server.base_url + "/health", timeout=10).headers
    ws = websocket.create_connection(server.ws_url + "/ws", timeout=10, suppress_origin=True)
    try:
        assert json.loads(ws.recv())["type"] == "welcome"
    finally:
        ws.close()


def _handshake(url: str, origin: str) -> dict[str, Any]:
    ws = websocket.create_connection(url, timeout=10, origin=origin)
    try:
        return json.loads(ws.recv())  # type: ignore[no-any-return]
    finally:
        ws.close()


def _refused_handshake(url: str, origin: str) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(url, timeout=10, origin=origin)
    assert refused.value.status_code == 403
    assert json.loads(refused.value.resp_body or b"{}")["error"]["code"] == "origin_not_allowed"


def test_websocket_origins(server) -> None:  # type: ignore[no-untyped-def]
    _refused_handshake(server.ws_url + "/ws", EVIL)
    _refused_handshake(server.ws_url + "/ws/market/AAPL/1m", EVIL)
    _refused_handshake(server.ws_url + "/ws", PORTAL)
    assert _handshake(server.ws_url + "/ws", DEV)["type"] == "welcome"
    assert _handshake(server.ws_url + "/ws", "http://127.0.0.1:5173")["type"] == "welcome"
    assert _handshake(server.ws_url + "/ws/market/AAPL/1m", "http://[::1]:5173")["type"] == "full_update"


def test_listed_origins(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = _with_post_route(inproc_server(cors_origins=f"{PORTAL} https://other.example"))
    assert _handshake(server.ws_url + "/ws", PORTAL)["type"] == "welcome"
    assert requests.post(server.base_url + "/api/v1/test-echo", headers={"Origin": PORTAL},
                         timeout=10).status_code == 201
    _refused_handshake(server.ws_url + "/ws", EVIL)
    _forbidden(requests.post(server.base_url + "/api/v1/test-echo", headers={"Origin": EVIL}, timeout=10))


def test_any_origin_with_a_star(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = _with_post_route(inproc_server(cors_origins="*"))
    assert _handshake(server.ws_url + "/ws", EVIL)["type"] == "welcome"
    assert requests.post(server.base_url + "/api/v1/test-echo", headers={"Origin": EVIL},
                         timeout=10).status_code == 201
