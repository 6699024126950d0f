"""Slow and stalled clients on real sockets: closed within the stall limit, with nothing but whole frames on the wire.

A client that stops reading is closed with 1008 when its close frame can still be written, or cut at the TCP level
when even that cannot happen in time; in neither case may anything but complete WebSocket frames reach it (under
Werkzeug the server writes an HTTP response after the handler returns, which once landed inside a half-sent
frame). Each stalled client here has a tiny receive buffer, reads nothing until the end, and then parses every
byte it got as frames, strictly.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket
from tests_support import WsClient, free_port, serving_process, wait_for

from api import protocol as p

ROOT = Path(__file__).resolve().parent.parent.parent


# -- a raw client and a strict frame parser ------------------------------------------------------------------------


class RawClient:
    """A WebSocket client on a plain socket with a tiny receive buffer; it reads only when told to."""

    def __init__(self, port: int, path: str = "/ws", rcvbuf: int = 4096) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: sets the window
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            assert chunk, "the server closed during the handshake"
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head
        self.data = b""

    def send_text(self, message: Any) -> None:
        self.sock.sendall(websocket.ABNF.create_frame(json.dumps(message), websocket.ABNF.OPCODE_TEXT).format())

    def read_to_end(self, timeout: float = 20.0) -> str:
        """Read everything until the server ends the stream, answering its close frame; returns how it ended:
        "eof" or "reset"."""
        self.sock.settimeout(timeout)
        replied = False
        while True:
            try:
                chunk = self.sock.recv(65_536)
            except ConnectionResetError:
                return "reset"
            if not chunk:
                return "eof"
            self.data += chunk
            if not replied and any(op == 8 for op, _ in parse_frames(self.data)[0]):
                # Answer the close, as a client does: the server then ends the connection at once.
                self.sock.sendall(websocket.ABNF.create_frame(b"\x03\xe8", websocket.ABNF.OPCODE_CLOSE).format())
                replied = True

    def close(self) -> None:
        self.sock.close()


def parse_frames(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """Every complete frame in ``data`` (opcode, payload), strictly as a server may send them (RFC 6455 §5), and
    the incomplete rest. Raises AssertionError on any byte that cannot be a server frame."""
    frames: list[tuple[int, bytes]] = []
    i = 0
    while i < len(data):
        check_frame_start(data[i:i + 2])
        if len(data) - i < 2:
            break
        length = data[i + 1] & 0x7F
        j = i + 2
        if length == 126:
            if len(data) < j + 2:
                break
            length = int.from_bytes(data[j:j + 2], "big")
            assert length >= 126, "a 16-bit length must be at least 126"
            j += 2
        elif length == 127:
            if len(data) < j + 8:
                break
            length = int.from_bytes(data[j:j + 8], "big")
            assert 65_536 <= length < 2**63, "a 64-bit length must be at least 65536"
            j += 8
        opcode = data[i] & 0x0F
        if opcode >= 8:
            assert length <= 125, "control frames carry at most 125 bytes"
        if len(data) < j + length:
            break
        payload = data[j:j + length]
        if opcode == 1:
            json.loads(payload.decode("utf-8"))  # every text frame is one whole JSON message
        if opcode == 8:
            assert length == 0 or length >= 2, "a close payload starts with its code"
        frames.append((opcode, payload))
        i = j + length
    return frames, data[i:]


def check_frame_start(head: bytes) -> None:
    if not head:
        return
    assert head[0] & 0x80, f"not a final frame (server frames are never fragmented): {head!r}"
    assert not head[0] & 0x70, f"reserved bits set: {head!r}"
    assert head[0] & 0x0F in (1, 8, 9, 10), f"not a text, close, ping or pong frame: {head!r}"
    if len(head) > 1:
        assert not head[1] & 0x80, f"a masked frame from the server: {head!r}"


def check_stream(data: bytes, ended: str) -> tuple[list[tuple[int, bytes]], int | None]:
    """The whole stream a client received: whole frames only; after a close frame nothing; an incomplete last
    frame only when the server cut the connection (no close frame). Returns the frames and the close code."""
    assert b"HTTP/1.1" not in data, "an HTTP response was written into the WebSocket stream"
    frames, tail = parse_frames(data)
    closes = [n for n, (op, _) in enumerate(frames) if op == 8]
    if closes:
        assert closes == [len(frames) - 1], "the close frame must be the last frame"
        assert not tail, f"bytes after the close frame: {tail[:40]!r}"
        payload = frames[-1][1]
        return frames, int.from_bytes(payload[:2], "big") if payload else None
    # No close frame: the connection was cut. Its last frame may have been cut short, never anything else.
    assert ended in ("eof", "reset")
    return frames, None


def alert(n: int, size: int = 2000) -> p.ChannelEvent:
    return p.ChannelEvent(p.Channel.ALERTS, p.MessageType.ALERT, None,
                          {"alert_id": n, "level": "info", "symbol": None, "message": "x" * size}, time.time())


def order(n: int) -> p.ChannelEvent:
    return p.ChannelEvent(p.Channel.ORDERS, p.MessageType.ORDER_UPDATE, None, {"n": n, "sent": time.time()},
                          time.time())


def test_parse_frames_is_strict() -> None:
    good = p.text_frame(b'{"a":1}') + p.text_frame(b"[" + b"1," * 100 + b"1]")
    frames, tail = parse_frames(good)
    assert [op for op, _ in frames] == [1, 1] and tail == b""
    frames, tail = parse_frames(good[:-3])
    assert len(frames) == 1 and tail
    with pytest.raises(AssertionError):
        parse_frames(good[:9] + b"HTTP/1.1 200 OK\r\nServer: Werkzeug\r\n\r\n")
    with pytest.raises(AssertionError):
        check_stream(good[:-3] + b"HTTP/1.1 200 OK\r\n", "eof")
    close = bytes((0x88, 4)) + (1008).to_bytes(2, "big") + b"no"
    assert check_stream(good + close, "eof")[1] == 1008
    with pytest.raises(AssertionError):
        check_stream(good + close + b"\x81", "eof")


# -- in-process server: the publisher is the test ---------------------------------------------------------------


class Publisher:
    """Publishes large alerts (for the stalled client) and small orders (for the reading one) until stopped,
    recording how long each publish took: the feed thread's role, which must never wait on a client."""

    def __init__(self, bus: Any, period: float = 0.005) -> None:
        self.bus = bus
        self.period = period
        self.stop = threading.Event()
        self.publish_times: list[float] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            started = time.perf_counter()
            self.bus.publish("alerts", alert(n))
            if n % 4 == 0:
                self.bus.publish("orders", order(n))
            self.publish_times.append(time.perf_counter() - started)
            time.sleep(self.period)

    def __enter__(self) -> Publisher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


def reading_client(url: str) -> tuple[WsClient, list[float], threading.Thread]:
    """A client on ``orders`` that reads everything (checking seq) and records each order's latency."""
    fast = WsClient(url)
    fast.recv()
    fast.send({"type": "subscribe", "data": {"channel": "orders"}})
    fast.recv()
    latencies: list[float] = []

    def read() -> None:
        try:
            while True:
                message = fast.recv()
                if message["type"] == "order_update":
                    latencies.append(time.time() - message["data"]["sent"])
        except (websocket.WebSocketException, OSError, ValueError):  # ValueError: '' once closed
            return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return fast, latencies, reader


def test_a_client_that_never_reads_is_cut_with_whole_frames_only(inproc_server) -> None:  # type: ignore[no-untyped-def]
    """Never reading, the client's close frame can never be written: the server cuts the TCP connection about
    the stall limit after the client stopped taking bytes, and what the client finally reads is whole frames
    (the last one possibly cut short by the abort), no HTTP response; a reading neighbour and the publisher are
    never held up, and the statistics return to zero."""
    stall = 1.0
    server = inproc_server(start_feed=False, ws_send_queue_size="50", ws_heartbeat_interval="60",
                           slow_client_seconds=stall)
    hub = server.services.hub
    stalled = RawClient(server.port)
    stalled.send_text({"type": "subscribe", "data": {"channel": "alerts"}})
    fast, latencies, reader = reading_client(server.ws_url + "/ws")
    wait_for(lambda: hub.snapshot_stats()["subscriptions"] == 2, 5, message="both subscribed")
    with Publisher(server.services.bus) as publisher:
        started = time.monotonic()
        wait_for(lambda: hub.snapshot_stats()["slow_closes"] >= 1, 15, message="the stalled client closed")
        wait_for(lambda: hub.snapshot_stats()["active_connections"] == 1, 10, message="only the reader left")
        elapsed = time.monotonic() - started
        before = len(latencies)
        wait_for(lambda: len(latencies) > before + 20, 5, message="the reading client to keep receiving")
    # The stall limit, plus the time the kernel buffers take to fill and the receiving loop's 1 s poll.
    assert elapsed < stall + 3.0, elapsed
    latencies.sort()
    assert latencies[len(latencies) // 2] < 0.2
    assert max(publisher.publish_times) < 0.2
    wait_for(lambda: hub.snapshot_stats().get("aborted_connections", 0) >= 1,
             hub.close_timeout_seconds + 5, message="the connection cut once the close frame's deadline passed")

    ended = stalled.read_to_end()
    frames, code = check_stream(stalled.data, ended)
    assert code is None, "the close frame could not have been written to a client that never read"
    assert frames and frames[0][0] == 1 and json.loads(frames[0][1])["type"] == "welcome"
    stalled.close()
    fast.close()
    reader.join(5)
    wait_for(lambda: hub.snapshot_stats()["active_connections"] == 0 and hub.snapshot_stats()["routes"] == 0,
             10, message="connections and routes back to zero")


def test_a_stalled_client_that_reads_again_gets_close_1008(inproc_server) -> None:  # type: ignore[no-untyped-def]
    """Once the server has decided to close a stalled client, the client's reading again lets the server finish
    the frame under way and send close 1008 with its reason, after whole frames only."""
    server = inproc_server(start_feed=False, ws_send_queue_size="50", ws_heartbeat_interval="60",
                           slow_client_seconds=1.0)
    hub = server.services.hub
    hub.close_timeout_seconds = 10.0  # room for this test to start reading after the decision
    stalled = RawClient(server.port)
    stalled.send_text({"type": "subscribe", "data": {"channel": "alerts"}})
    wait_for(lambda: hub.snapshot_stats()["subscriptions"] == 1, 5, message="subscribed")
    with Publisher(server.services.bus):
        wait_for(lambda: hub.snapshot_stats()["slow_closes"] >= 1, 15, message="the server to decide to close")
    ended = stalled.read_to_end()
    frames, code = check_stream(stalled.data, ended)
    assert code == 1008
    assert b"too slow" in frames[-1][1]
    assert hub.snapshot_stats()["aborted_connections"] == 0
    stalled.close()
    wait_for(lambda: hub.snapshot_stats()["active_connections"] == 0, 10, message="the connection released")


# -- the reported case, on the real servers (python app.py, gunicorn -k gevent) ---------------------------------


@pytest.fixture(params=["werkzeug", "gevent"])
def repro_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A server as in the report: a queue of 50, heartbeat 60 s, 20 ticks/s; stopped by its pid."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKSTREAM_")}
    env.update(TICKSTREAM_DATA_DIR=str(tmp_path), TICKSTREAM_UPDATE_INTERVAL="0.05", TICKSTREAM_WS_SEND_QUEUE_SIZE="50",
               WS_HEARTBEAT_INTERVAL="60", PYTHONUNBUFFERED="1")
    if request.param == "gevent":
        cmd = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--worker-connections", "100",
               "-b", f"127.0.0.1:{port}", "app:server"]
    else:
        cmd = [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port)]

    def ready() -> bool:
        response = requests.get(f"http://127.0.0.1:{port}/health", timeout=2)
        return response.status_code == 200 and response.json()["live_data"]["quotes_fetched"] > 0

    with serving_process(cmd, ROOT, env, tmp_path / "server.log", ready):
        yield f"127.0.0.1:{port}"


def test_reported_slow_client_gets_whole_frames_then_1008_or_eof(repro_server: str) -> None:
    """45 subscriptions (5 symbols × market_data, ticks and 7 candle timeframes) on a client with a 4 KiB
    receive buffer that never reads, and a fast client: the slow one is closed about the stall limit (5 s) after
    its buffers filled, the fast one streams on, and the slow one's bytes are whole frames only."""
    port = int(repro_server.rsplit(":", 1)[1])

    def stats() -> dict[str, Any]:
        body: dict[str, Any] = requests.get(f"http://{repro_server}/metrics/live-data", timeout=5).json()
        return body["websocket"]

    stalled = RawClient(port)
    symbols = ("AAPL", "MSFT", "GC=F", "BTC-USD", "^GSPC")
    for symbol in symbols:
        stalled.send_text({"type": "subscribe", "data": {"channel": "market_data", "symbol": symbol}})
        stalled.send_text({"type": "subscribe", "data": {"channel": "ticks", "symbol": symbol}})
        for timeframe in ("1m", "5m", "15m", "30m", "1h", "4h", "1d"):
            stalled.send_text({"type": "subscribe",
                               "data": {"channel": "candles", "symbol": symbol, "timeframe": timeframe}})
    fast = WsClient(f"ws://{repro_server}/ws?subscribe=market_data:AAPL")
    wait_for(lambda: stats()["subscriptions"] == 46, 10, 0.1, "every subscription")
    started = time.monotonic()
    fast_messages = 0
    while stats()["slow_closes"] < 1:
        assert time.monotonic() - started < 20, "the stalled client was not closed"
        fast.recv()  # checks that seq grows by one: the fast client loses nothing
        fast_messages += 1
    closed_after = time.monotonic() - started
    print(f"stalled client closed {closed_after:.1f} s after subscribing")
    assert closed_after < 5.0 + 4.0, closed_after
    assert fast_messages > 20
    wait_for(lambda: stats()["active_connections"] == 1, 10, 0.1, "the stalled connection released")
    for _ in range(20):
        fast.recv()

    ended = stalled.read_to_end()
    frames, code = check_stream(stalled.data, ended)
    assert code in (None, 1008)
    assert len(frames) > 10
    stalled.close()
    fast.close()
    wait_for(lambda: stats()["active_connections"] == 0 and stats()["subscriptions"] == 0, 10, 0.1,
             "connections and subscriptions back to zero")
