"""Request-level security over real HTTP and WebSocket handshakes: foreign Host names refused on a loopback bind,
the security headers on every answer, no versions in the Server header."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest
import requests
import websocket
from tests_support import free_port

from api.security import (
    LOOPBACK_NAMES,
    allowed_hosts,
    content_security_policy,
    host_allowed,
    host_name,
    inline_script_hashes,
    is_loopback_bind,
    script_hash,
)
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


HEADER_PATHS = ["/", "/chart/AAPL", "/health", "/api/v1/market-data/AAPL", "/api/v1/openapi.json", "/api/docs",
                "/embed/watchlist", "/_dash-layout", "/no-such-page", "/api/v1/no-such-route"]


def _script_sources(policy: str) -> list[str]:
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    return directives["script-src"]


def test_content_security_policy_text() -> None:
    policy = content_security_policy([script_hash("a()"), script_hash("a()")])
    assert _script_sources(policy) == ["'self'", script_hash("a()")]
    assert "default-src 'self'" in policy and "object-src 'none'" in policy and "unsafe-eval" not in policy
    assert "'unsafe-inline'" not in " ".join(_script_sources(policy))
    html = ('<script>x()</script><script id="_dash-config" type="application/json">{"a": 1}</script>'
            '<script type="text/javascript">y()</script><script src="/z.js"></script>')
    assert inline_script_hashes(html) == [script_hash("x()"), script_hash("y()")]


@pytest.mark.parametrize("path", HEADER_PATHS)
def test_every_answer_carries_the_security_headers(loopback_server, path: str) -> None:  # type: ignore[no-untyped-def]
    response = requests.get(loopback_server.base_url + path, timeout=10)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    policy = response.headers["Content-Security-Policy"]
    assert policy.count("frame-ancestors") == 1 and policy.count("default-src") == 1
    assert policy.startswith("default-src 'self'; script-src 'self' 'sha256-")


def test_the_policy_allows_exactly_the_pages_inline_scripts(loopback_server) -> None:  # type: ignore[no-untyped-def]
    response = requests.get(loopback_server.base_url + "/chart/AAPL", timeout=10)
    page_hashes = inline_script_hashes(response.text)
    assert len(page_hashes) >= 2  # the theme bootstrap and Dash's renderer
    assert set(page_hashes) <= set(_script_sources(response.headers["Content-Security-Policy"]))
    # An embed keeps its own frame-ancestors (api/frame_policy.py) next to the rest of the policy.
    embed = requests.get(loopback_server.base_url + "/embed/watchlist", timeout=10).headers["Content-Security-Policy"]
    assert embed.endswith("frame-ancestors 'self'")


def test_no_versions_in_the_server_header(make_server) -> None:  # type: ignore[no-untyped-def]
    # gevent, as `python app.py` serves.
    server = make_server()
    for path in ("/", "/health", "/api/v1/no-such-route"):
        banner = requests.get(server.base_url + path, timeout=10).headers.get("Server", "")
        assert not re.search(r"\d", banner) and "werkzeug" not in banner.lower(), banner


def test_dev_server_header_names_no_versions() -> None:
    from werkzeug.serving import make_server as werkzeug_server

    from api.serving import QuietRequestHandler

    def hello(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hi"]

    httpd = werkzeug_server("127.0.0.1", free_port(), hello, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        response = requests.get(f"http://127.0.0.1:{httpd.server_port}/", timeout=10)
    finally:
        httpd.shutdown()
        thread.join(5)
    assert response.raw.headers.getlist("Server") == ["Tickstream"]
