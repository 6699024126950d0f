"""Request-level security over real HTTP and WebSocket handshakes: foreign Host names refused on a loopback bind."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import websocket

from api.security import LOOPBACK_NAMES, allowed_hosts, host_allowed, host_name, is_loopback_bind
from settings import load_settings

REBIND = "rebind.evil.example"


@pytest.mark.parametrize(("bind", "expected"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("tickstream.internal", False),
])
def test_is_loopback_bind(bind: str, expected: bool) -> None:
    assert is_loopback_bind(bind) is expected


@pytest.mark.parametrize(("host", "expected"), [
    ("localhost", "localhost"), ("LOCALHOST:8000", "localhost"), ("127.0.0.1:1", "127.0.0.1"), ("[::1]", "::1"),
    ("[::1]:8000", "::1"), ("", None), ("a b", None), ("evil.example/x", None), ("user@localhost", None),
    ("localhost:port", None), ("localhost:99999", None),
])
def test_host_name(host: str, expected: str | None) -> None:
    assert host_name(host) == expected


@pytest.mark.parametrize(("host", "allowed", "expected"), [
    ("localhost:8000", LOOPBACK_NAMES, True),
    ("127.0.0.1", LOOPBACK_NAMES, True),
    ("[::1]:65535", LOOPBACK_NAMES, True),
    ("Localhost", LOOPBACK_NAMES, True),
    (f"{REBIND}:8000", LOOPBACK_NAMES, False),
    ("localhost.evil.example", LOOPBACK_NAMES, False),
    ("127.0.0.2:8000", LOOPBACK_NAMES, False),
    ("0.0.0.0:8000", LOOPBACK_NAMES, False),
    ("", LOOPBACK_NAMES, False),
    ("anything.example:8000", (), True),
    ("bad host", (), False),
    ("tickstream.internal", ("tickstream.internal",), True),
    ("other.internal", ("tickstream.internal",), False),
    ("eu.example.com", (".example.com",), True),
    ("badexample.com", (".example.com",), False),
])
def test_host_allowed(host: str, allowed: tuple[str, ...], expected: bool) -> None:
    assert host_allowed(host, allowed) is expected


def test_allowed_hosts_per_bind() -> None:
    assert allowed_hosts("127.0.0.1", ()) == LOOPBACK_NAMES
    # A local reverse proxy forwarding its public name (X-Forwarded-Host from a trusted proxy) is listed on top.
    assert allowed_hosts("127.0.0.1", ("dash.example",)) == (*LOOPBACK_NAMES, "dash.example")
    assert allowed_hosts("127.0.0.1", ("*",)) == ()
    assert allowed_hosts("0.0.0.0", ()) == ()
    assert allowed_hosts("0.0.0.0", ("tickstream.internal:8000", "bad host")) == ("tickstream.internal",)


def test_allowed_hosts_setting() -> None:
    settings = load_settings({"TICKSTREAM_ALLOWED_HOSTS": "a.example, b.example c.example"})
    assert settings.allowed_hosts == ("a.example", "b.example", "c.example")
    assert load_settings({}).allowed_hosts == ()


def _refused(response: requests.Response, host: str) -> None:
    assert response.status_code == 400, response.text[:200]
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "host_not_allowed"
    assert host in error["message"] and "TICKSTREAM_ALLOWED_HOSTS" in error["message"]


PATHS = ["/health", "/api/v1/market-data/AAPL", "/", "/chart/AAPL", "/_dash-layout", "/assets/does-not-matter.css",
         "/no-such-page"]


@pytest.fixture
def loopback_server(inproc_server) -> Any:  # type: ignore[no-untyped-def]
    return inproc_server(start_feed=False)


@pytest.mark.parametrize("path", PATHS)
def test_loopback_bind_refuses_foreign_hosts(loopback_server, path: str) -> None:  # type: ignore[no-untyped-def]
    url = loopback_server.base_url + path
    _refused(requests.get(url, headers={"Host": f"{REBIND}:{loopback_server.port}"}, timeout=10), REBIND)
    _refused(requests.post(url, headers={"Host": REBIND}, json={}, timeout=10), REBIND)


def test_loopback_bind_answers_loopback_names(loopback_server) -> None:  # type: ignore[no-untyped-def]
    url = loopback_server.base_url + "/api/v1/openapi.json"
    for host in ("localhost", f"localhost:{loopback_server.port}", "127.0.0.1:1234", "[::1]", "[::1]:8000"):
        assert requests.get(url, headers={"Host": host}, timeout=10).status_code == 200, host


def test_loopback_bind_refuses_foreign_host_websockets(loopback_server) -> None:  # type: ignore[no-untyped-def]
    for path in ("/ws", "/ws/market/AAPL/1m", "/ws/market-data"):
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(loopback_server.ws_url + path, timeout=10, host=REBIND, suppress_origin=True)
        assert refused.value.status_code == 400, path
        assert json.loads(refused.value.resp_body or b"{}")["error"]["code"] == "host_not_allowed"
    ws = websocket.create_connection(loopback_server.ws_url + "/ws", timeout=10, host="localhost",
                                     suppress_origin=True)
    try:
        assert json.loads(ws.recv())["type"] == "welcome"
    finally:
        ws.close()


def test_other_binds_follow_allowed_hosts(inproc_server) -> None:  # type: ignore[no-untyped-def]
    # The policy follows the configured bind (a network bind here), whatever address the test server listens on.
    anyone = inproc_server(start_feed=False, host="0.0.0.0")
    assert requests.get(anyone.base_url + "/health", headers={"Host": REBIND}, timeout=10).status_code != 400
    listed = inproc_server(start_feed=False, host="0.0.0.0", allowed_hosts="tickstream.internal")
    url = listed.base_url + "/api/v1/openapi.json"
    assert requests.get(url, headers={"Host": "tickstream.internal:8000"}, timeout=10).status_code == 200
    _refused(requests.get(url, headers={"Host": "localhost"}, timeout=10), "localhost")
    _refused(requests.get(url, headers={"Host": REBIND}, timeout=10), REBIND)
