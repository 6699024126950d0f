"""Test helpers importable from any test module (``from tests_support import wait_for``)."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import requests

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], T], timeout: float, interval: float = 0.02, message: str = "condition") -> T:
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


class WsClient:
    """A small synchronous envelope-dialect client that unwraps batch frames and checks ``seq`` as it reads."""

    def __init__(self, url: str, timeout: float = 10) -> None:
        import websocket

        self.ws = websocket.create_connection(url, timeout=timeout)
        self.last_seq = 0
        self.buffer: list[dict[str, Any]] = []
        self.check_seq = True

    def send(self, message: Any) -> None:
        self.ws.send(message if isinstance(message, str) else json.dumps(message))

    def recv(self) -> dict[str, Any]:
        if not self.buffer:
            frame = json.loads(self.ws.recv())
            self.buffer = frame["data"] if frame.get("type") == "batch" else [frame]
        message = self.buffer.pop(0)
        if self.check_seq:
            assert message["seq"] == self.last_seq + 1, f"seq jumped from {self.last_seq} to {message['seq']}"
        self.last_seq = message["seq"]
        return message

    def recv_until(self, predicate: Callable[[dict[str, Any]], bool], limit: int = 500) -> dict[str, Any]:
        for _ in range(limit):
            message = self.recv()
            if predicate(message):
                return message
        raise AssertionError("expected message did not arrive")

    def close(self) -> None:
        self.ws.close()


# -- feed tests: an injectable clock, and recorded provider answers on a local HTTP server ------------------------


class FakeClock:
    """A clock a test moves by hand: call it for the time, ``advance`` it."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class RecordedServer:
    """Serves files by longest matching path prefix; a list of answers is served in order, the last one repeats."""

    base_url: str = ""
    routes: dict[str, list[tuple[int, str, dict[str, str]]]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = field(default_factory=list)

    def add(self, prefix: str, *answers: tuple[int, str] | tuple[int, str, dict[str, str]]) -> None:
        self.routes[prefix] = [(a[0], a[1], a[2] if len(a) > 2 else {}) for a in answers]  # type: ignore[misc]


@contextmanager
def serve_recorded(data: Path, no_route_body: bytes) -> Iterator[RecordedServer]:
    """A RecordedServer on a free loopback port serving files from ``data``; a path without a route gets HTTP 500
    with ``no_route_body`` (in the provider's own error shape). Shut down on exit."""
    state = RecordedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            state.requests.append((parts.path, parse_qs(parts.query), dict(self.headers)))
            matches = [p for p in state.routes if parts.path.startswith(p)]
            if not matches:
                status, body, headers = 500, no_route_body, {}
            else:
                answers = state.routes[max(matches, key=len)]
                status, name, headers = answers.pop(0) if len(answers) > 1 else answers[0]
                body = (data / name).read_bytes()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def serving_process(cmd: list[str], cwd: Path, env: dict[str, str], log_path: Path,
                    ready: Callable[[], bool], timeout: float = 90.0) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process (output to ``log_path``), wait until ``ready()``, and stop it by its own pid after.

    A process that exits before it is ready fails the wait with its log."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(log_path.read_text())
            try:
                return ready()
            except requests.RequestException:
                return False

        try:
            wait_for(up, timeout, 0.2, f"{cmd[1:3]} to serve")
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
