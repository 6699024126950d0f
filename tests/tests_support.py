"""Test helpers importable from any test module (``from tests_support import wait_for``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

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
