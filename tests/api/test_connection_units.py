"""The client socket writer and the connection's inbound limits, on a local socket pair with an injected clock."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from api import protocol as p
from api import socket_writer
from api.connection import RATE_VIOLATIONS_TO_CLOSE, RATE_WINDOW_SECONDS, Connection, WsStats
from api.socket_writer import SerializedSocket
from settings import load_settings


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    for s in (server, client):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    yield server, client
    server.close()
    client.close()


def read_all(sock: socket.socket, timeout: float = 0.5) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65_536)
        except (TimeoutError, ConnectionResetError):
            return data
        if not chunk:
            return data
        data += chunk


def frames_of(data: bytes) -> list[bytes]:
    """Payloads of the unmasked text frames in ``data``; fails on anything else, or a cut frame."""
    out = []
    i = 0
    while i < len(data):
        assert data[i] == 0x81, data[i:i + 10]
        length = data[i + 1]
        j = i + 2
        if length == 126:
            length = int.from_bytes(data[j:j + 2], "big")
            j += 2
        elif length == 127:
            length = int.from_bytes(data[j:j + 8], "big")
            j += 8
        assert j + length <= len(data), "a cut frame"
        out.append(data[j:j + length])
        i = j + length
    return out


def test_a_full_socket_keeps_frames_whole_and_in_order(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    sock = SerializedSocket(server, send_buffer=0)
    payloads = [(b"%05d" % n) * 400 for n in range(200)]  # 2000 bytes each, far more than the buffers hold
    taken = [sock.try_send(p.text_frame(payloads[0]))]
    assert taken[0] is not None
    frames = [p.text_frame(x) for x in payloads[1:]]
    started = time.perf_counter()
    sock.write(b"".join(frames), [len(f) for f in frames])
    assert time.perf_counter() - started < 0.5, "a write never waits for the client"
    assert sock.pending > 0
    assert sock.try_send(p.text_frame(b"late")) is None, "nothing jumps ahead of pending bytes"
    received = b""

    def drain() -> None:
        assert sock.drain(time.monotonic() + 10)

    writer = threading.Thread(target=drain)
    writer.start()
    client.settimeout(10)
    total = sum(len(f) for f in frames) + len(p.text_frame(payloads[0]))
    while len(received) < total:
        received += client.recv(65_536)
    writer.join(10)
    assert frames_of(received) == payloads
    assert sock.pending == 0 and sock.written == total


def test_discard_unstarted_keeps_the_frame_under_way(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    sock = SerializedSocket(server, send_buffer=0)
    frames = [p.text_frame(b"a" * 3000), p.text_frame(b"b" * 3000), p.text_frame(b"c" * 3000)] * 20
    sock.write(b"".join(frames), [len(f) for f in frames])
    assert sock.mid_frame, "the socket took part of a frame"
    assert sock.discard_unstarted() > 0
    close = bytes((0x88, 2)) + (1008).to_bytes(2, "big")
    sock.send(close)
    data = b""
    client.settimeout(2)
    while not data.endswith(close):
        data += client.recv(65_536)
        sock.flush()
    body = data[:-len(close)]
    payloads = frames_of(body)
    assert payloads and all(len(x) == 3000 for x in payloads)


def test_shutdown_stops_every_write_and_ends_the_stream(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    sock = SerializedSocket(server, send_buffer=0)
    sock.send(p.text_frame(b"before"))
    sock.shutdown()
    assert sock.send(b"HTTP/1.1 200 OK\r\n") == len(b"HTTP/1.1 200 OK\r\n")  # swallowed, like flask-sock's close
    sock.write(p.text_frame(b"after"), [len(p.text_frame(b"after"))])
    assert sock.try_send(p.text_frame(b"after")) is None
    assert frames_of(read_all(client)) == [b"before"]


def test_pongs_to_a_client_that_never_reads_are_bounded(pair: tuple[socket.socket, socket.socket],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket_writer, "MAX_PENDING_BYTES", 50_000)
    server, _ = pair
    sock = SerializedSocket(server, send_buffer=0)
    for _ in range(2000):
        sock.send(bytes((0x8A, 125)) + b"x" * 125)
        if sock.shut:
            break
    assert sock.shut and sock.pending == 0


class FakeWs:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.connected = True

    def close(self, reason: Any = None, message: Any = None) -> None:
        self.connected = False


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make_connection(sock: socket.socket, clock: Clock, rate: str = "5") -> Connection:
    settings = load_settings({}, ws_max_messages_per_second=rate)
    return Connection(FakeWs(sock), p.ENVELOPE, settings, WsStats(), clock=clock)


def test_rate_violations_are_counted_over_a_sliding_window(pair: tuple[socket.socket, socket.socket]) -> None:
    clock = Clock()
    connection = make_connection(pair[0], clock)
    # A burst over the limit now and then, for much longer than the window: never closed.
    for _ in range(20):
        for _ in range(60):
            connection.allow_inbound()
        assert not connection.flooding
        clock.t += RATE_WINDOW_SECONDS
    assert connection.rate_violations < RATE_VIOLATIONS_TO_CLOSE
    # A sustained flood within the window: closed.
    for _ in range(RATE_VIOLATIONS_TO_CLOSE + 20):
        connection.allow_inbound()
    assert connection.flooding


def test_the_token_bucket_refills(pair: tuple[socket.socket, socket.socket]) -> None:
    clock = Clock()
    connection = make_connection(pair[0], clock)
    assert sum(connection.allow_inbound() for _ in range(20)) == 10  # burst: twice the rate
    clock.t += 1
    assert sum(connection.allow_inbound() for _ in range(20)) == 5
    assert connection.rate_violations == 25
