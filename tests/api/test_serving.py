"""Serving: gevent under ``python app.py`` (bounded threads, quiet log), connection caps before the upgrade, trusted
proxies, frames announcing too much, a clean shutdown with 1001, and CPU work off the event loop."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import websocket
from tests_support import free_port, wait_for

from api.client_address import TrustedProxyFix, parse_networks, trusted_hops
from api.frame_guard import InboundFrameScanner

ROOT = Path(__file__).resolve().parent.parent.parent


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no thread count")


def _close_frame(ws: websocket.WebSocket, limit: int = 2000) -> tuple[int, str]:
    """Read until the server's close frame; its code and reason."""
    for _ in range(limit):
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big"), data[2:].decode()
    raise AssertionError("no close frame")


# -- python app.py is served by gevent ----------------------------------------------------------------------------


def test_app_py_serves_thousands_of_connections_on_few_threads_with_a_quiet_log(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--interval", "0.1", "--symbols", "AAPL")
    assert server.proc is not None
    clients = [websocket.create_connection(server.ws_url + "/ws", timeout=10) for _ in range(300)]
    try:
        for client in clients[:: 50]:
            assert json.loads(client.recv())["type"] == "welcome"
        # Werkzeug's threaded server held three OS threads per connection (906 for 300); greenlets hold none.
        assert _threads(server.proc.pid) <= 20
        for _ in range(20):
            assert requests.get(server.base_url + "/api/v1/market-data/AAPL", timeout=5).status_code == 200
    finally:
        for client in clients:
            client.close()
    log = server.log_tail(400)
    assert "development server" not in log and "WARNING: This is a development" not in log
    assert "gevent" in log
    # No access line per request.
    assert "GET /api/v1/market-data/AAPL" not in log and '"GET /ws' not in log


def test_sigterm_closes_every_websocket_with_1001_and_lets_requests_finish(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--interval", "0.1", "--symbols", "AAPL")
    assert server.proc is not None
    envelope = websocket.create_connection(server.ws_url + "/ws?subscribe=market_data:AAPL", timeout=10)
    flat = websocket.create_connection(server.ws_url + "/ws/market/AAPL/1m", timeout=10)
    envelope.recv()
    flat.recv()
    server.proc.send_signal(signal.SIGTERM)
    assert _close_frame(envelope) == (1001, "server shutting down")
    assert _close_frame(flat)[0] == 1001
    assert server.proc.wait(15) == 0
    assert "shutting down (SIGTERM)" in server.log_tail()


def test_dev_flag_keeps_flasks_reloader(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "dev.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKSTREAM_")}
    with open(log_path, "wb") as log:
        # Its own session: the reloader runs the server in a child process, stopped with the group below.
        proc = subprocess.Popen([sys.executable, "app.py", "--dev", "--port", str(port), "--data-dir", str(tmp_path)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # The reloader's watcher builds the app, then runs it again in a child process that it restarts on changes.
        wait_for(lambda: log_path.read_text(errors="replace").count("development server") >= 2, 60, 0.2,
                 "the reloader's server process")
        assert "Debug mode: on" in log_path.read_text(errors="replace")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


# -- connection caps, refused before the upgrade ------------------------------------------------------------------


def test_connection_caps_refuse_with_503_and_a_json_reason(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(max_connections="3", max_connections_per_address="2")
    first = websocket.create_connection(server.ws_url + "/ws", timeout=5)
    second = websocket.create_connection(server.ws_url + "/ws/market-data", timeout=5)
    try:
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(server.ws_url + "/ws", timeout=5)
        assert refused.value.status_code == 503
        body = json.loads(refused.value.resp_body)
        assert body["error"]["code"] == "too_many_connections"
        assert "per client address" in body["error"]["message"]
        assert refused.value.resp_headers.get("retry-after") == "5"
        # A plain request to the same address is not a WebSocket and is served.
        assert requests.get(server.base_url + "/health", timeout=5).status_code == 200
    finally:
        first.close()
    # The freed place is usable again once the session has ended.
    third = wait_for(lambda: _try_connect(server.ws_url + "/ws"), 10, 0.05, "the freed connection place")
    third.close()
    second.close()


def _try_connect(url: str) -> websocket.WebSocket | None:
    try:
        return websocket.create_connection(url, timeout=5)
    except websocket.WebSocketBadStatusException:
        return None


def test_total_cap_counts_every_address(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(max_connections="1", trusted_proxies="127.0.0.1")
    held = websocket.create_connection(server.ws_url + "/ws", timeout=5, header=["X-Forwarded-For: 10.0.0.1"])
    try:
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(server.ws_url + "/ws", timeout=5, header=["X-Forwarded-For: 10.0.0.2"])
        assert "maximum of 1 WebSocket connections" in json.loads(refused.value.resp_body)["error"]["message"]
    finally:
        held.close()


def test_forwarded_address_is_believed_only_from_trusted_proxies(inproc_server) -> None:  # type: ignore[no-untyped-def]
    trusting = inproc_server(max_connections_per_address="1", trusted_proxies="127.0.0.0/8")
    a = websocket.create_connection(trusting.ws_url + "/ws", timeout=5, header=["X-Forwarded-For: 10.0.0.1"])
    # Another client behind the same proxy is another address.
    b = websocket.create_connection(trusting.ws_url + "/ws", timeout=5, header=["X-Forwarded-For: 10.0.0.2"])
    with pytest.raises(websocket.WebSocketBadStatusException):
        websocket.create_connection(trusting.ws_url + "/ws", timeout=5, header=["X-Forwarded-For: 10.0.0.1"])
    for ws in (a, b):
        ws.close()

    untrusting = inproc_server(max_connections_per_address="1")
    c = websocket.create_connection(untrusting.ws_url + "/ws", timeout=5, header=["X-Forwarded-For: 10.0.0.1"])
    try:
        # The header of an untrusted peer is ignored: both requests come from 127.0.0.1.
        with pytest.raises(websocket.WebSocketBadStatusException):
            websocket.create_connection(untrusting.ws_url + "/ws", timeout=5, header=["X-Forwarded-For: 10.0.0.2"])
    finally:
        c.close()


@pytest.mark.parametrize(("remote", "forwarded", "hops"), [
    ("127.0.0.1", "10.0.0.1", 1),
    ("127.0.0.1", "10.0.0.1, 192.168.1.5", 2),  # both proxies trusted: the client is 10.0.0.1
    ("127.0.0.1", "10.0.0.1, 8.8.8.8", 1),  # 8.8.8.8 is not a trusted proxy: it is the client
    ("8.8.4.4", "10.0.0.1", 0),  # an untrusted peer's header is ignored
    ("127.0.0.1", "", 0),
    ("127.0.0.1", None, 0),
])
def test_trusted_hops(remote: str, forwarded: str | None, hops: int) -> None:
    assert trusted_hops(remote, forwarded, parse_networks(["127.0.0.1", "192.168.0.0/16"])) == hops


def test_proxy_fix_middleware_sets_the_client_address() -> None:
    seen: list[str] = []

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        seen.append(environ["REMOTE_ADDR"])
        return []

    fixed = TrustedProxyFix(app, ["127.0.0.1"])
    fixed({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}, None)
    fixed({"REMOTE_ADDR": "198.51.100.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}, None)
    assert seen == ["203.0.113.9", "198.51.100.1"]


def test_bad_trusted_proxy_setting_is_refused() -> None:
    from settings import load_settings

    with pytest.raises(ValueError, match="not an IP address"):
        load_settings({"TICKSTREAM_TRUSTED_PROXIES": "proxy.example"})


# -- a frame announcing more than the limit ------------------------------------------------------------------------


def _masked_header(length: int) -> bytes:
    if length < 126:
        head = bytes([0x81, 0x80 | length])
    elif length < 1 << 16:
        head = bytes([0x81, 0x80 | 126]) + struct.pack(">H", length)
    else:
        head = bytes([0x81, 0x80 | 127]) + struct.pack(">Q", length)
    return head + b"\x01\x02\x03\x04"


def test_frame_header_announcing_too_much_closes_with_1009_at_once(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(ws_max_message_bytes="1024")
    ws = websocket.create_connection(server.ws_url + "/ws", timeout=10)
    ws.recv()
    # Only the header: the 2^62 bytes never come, so nothing but the header can close the connection now (the
    # heartbeat would take 90 s; the 10 s socket timeout fails the test first).
    ws.sock.sendall(_masked_header(1 << 62))
    code, reason = _close_frame(ws)
    assert code == 1009 and "over the limit of 1024 bytes" in reason


def test_frame_scanner_follows_frames_across_any_split() -> None:
    stream = b"".join(_masked_header(n) + b"x" * n for n in (0, 5, 125, 126, 300, 65_535, 65_536))
    scanner = InboundFrameScanner(65_536)
    for i in range(0, len(stream), 7):
        assert scanner.feed(stream[i:i + 7]) is None
    too_big = _masked_header(65_537)
    assert [scanner.feed(too_big[i:i + 1]) for i in range(len(too_big))][-1] == 65_537
    assert scanner.feed(_masked_header(1 << 40)) is None  # tripped once: the connection is closing


# -- CPU work off the event loop ------------------------------------------------------------------------------------


def test_cpu_work_runs_on_a_native_thread_while_the_gevent_loop_keeps_going() -> None:
    code = """
from gevent import monkey
monkey.patch_all()
import threading, gevent
from feeds import cpu_pool
ticks = []
def ticker():
    while True:
        ticks.append(1)
        gevent.sleep(0.001)
def cpu():
    n = 0
    for i in range(6_000_000):
        n += i
    return threading.get_native_id()
gevent.spawn(ticker)
gevent.sleep(0.01)
before = len(ticks)
worker = cpu_pool.run(cpu)
print(worker != threading.get_native_id(), len(ticks) - before)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    other_thread, ticks = out.stdout.split()
    assert other_thread == "True"
    # Run on the loop, the computation (hundreds of milliseconds) would have let the ticker run not once.
    assert int(ticks) >= 5


def test_no_frame_of_a_refused_upgrade_reaches_the_socket(inproc_server) -> None:  # type: ignore[no-untyped-def]
    """A refused upgrade is a whole HTTP answer; the connection is not switched to WebSocket."""
    server = inproc_server(max_connections="0")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        deadline = time.monotonic() + 5
        answer = b""
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            answer += raw.recv(4096)
    assert answer.startswith(b"HTTP/1.1 503")


def test_open_file_limit_is_raised_for_the_connection_cap() -> None:
    code = """
import resource
from api.serving import raise_open_file_limit
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
print(raise_open_file_limit(2000), resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    limit, soft, hard = (int(x) for x in out.stdout.split())
    assert limit == soft == min(2000 + 1024, hard)


def test_a_request_in_flight_at_sigterm_is_answered(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--interval", "0.1", "--symbols", "AAPL")
    assert server.proc is not None
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        # A first request on the connection: the server has it in hand (keep-alive) before the signal.
        connection.request("GET", "/api/v1/market-data/AAPL")
        first = connection.getresponse()
        assert first.status == 200 and first.read()
        # The second request is half sent when shutdown begins, and completed after it has.
        raw = connection.sock
        raw.sendall(b"GET /api/v1/market-data/AAPL/history?period=1d&interval=5m HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        server.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: "shutting down (SIGTERM)" in server.log_tail(), 10, 0.05, "shutdown to begin")
        raw.sendall(b"Connection: close\r\n\r\n")
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    finally:
        connection.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert b'"interval":"5m"' in answer
    assert server.proc.wait(15) == 0
