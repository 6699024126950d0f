"""Backpressure, limits and hygiene of /ws on real sockets: slow clients, frame size, rate, heartbeat, storms."""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time

import websocket
from tests_support import WsClient, wait_for

from api import protocol as p


def alert(n: int, size: int = 0) -> p.ChannelEvent:
    return p.ChannelEvent(p.Channel.ALERTS, p.MessageType.ALERT, None,
                          {"alert_id": n, "level": "info", "symbol": None, "message": "x" * size}, time.time())


def raw_upgrade(port: int, path: str = "/ws") -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads nor answers pings."""
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    assert b"101" in sock.recv(1024)
    return sock


def subscribe_alerts(client: WsClient) -> None:
    client.recv()
    client.send({"type": "subscribe", "data": {"channel": "alerts"}})
    client.recv()


def test_slow_consumer_never_delays_a_fast_one_or_the_publisher(inproc_server) -> None:  # type: ignore[no-untyped-def]
    """A client that never reads gets large alerts until its socket and queue are full; a reading client on
    another channel keeps its latency, the publisher (the feed thread's role) never waits, and the stalled
    client is finally closed."""
    server = inproc_server(start_feed=False, ws_send_queue_size="100", slow_client_seconds=1.0)
    hub = server.services.hub
    stalled = raw_upgrade(server.port)
    stalled.sendall(websocket.ABNF.create_frame(json.dumps(
        {"type": "subscribe", "data": {"channel": "alerts"}}), websocket.ABNF.OPCODE_TEXT).format())
    fast = WsClient(server.ws_url + "/ws")
    fast.recv()
    fast.send({"type": "subscribe", "data": {"channel": "orders"}})
    fast.recv()
    wait_for(lambda: hub.snapshot_stats()["subscriptions"] == 2, 5, message="both subscribed")

    latencies: list[float] = []
    publish_times: list[float] = []

    def read_fast() -> None:
        while len(latencies) < 300:
            message = fast.recv()  # also checks that its seq never jumps
            latencies.append(time.time() - message["data"]["sent"])

    reader = threading.Thread(target=read_fast, daemon=True)
    reader.start()
    for n in range(300):
        for _ in range(3):
            started = time.perf_counter()
            server.services.bus.publish("alerts", alert(n, size=60_000))
            publish_times.append(time.perf_counter() - started)
        order = p.ChannelEvent(p.Channel.ORDERS, p.MessageType.ORDER_UPDATE, None, {"sent": time.time()},
                               time.time())
        server.services.bus.publish("orders", order)
        time.sleep(0.01)
    reader.join(20)
    assert len(latencies) == 300, "the reading client must get every message"
    latencies.sort()
    # Generous bounds: they catch a slow client blocking the others, they are not a speed target.
    assert latencies[len(latencies) // 2] < 0.2
    assert max(publish_times) < 0.2
    assert hub.snapshot_stats()["messages_dropped"] > 0
    wait_for(lambda: hub.snapshot_stats()["slow_closes"] >= 1, 10, message="the stalled client to be closed")
    wait_for(lambda: hub.snapshot_stats()["active_connections"] == 1, 10, message="only the reading client left")
    fast.close()
    stalled.close()


def test_a_slow_reader_sees_a_seq_gap_and_can_resubscribe(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False, ws_send_queue_size="50", slow_client_seconds=30.0)
    client = WsClient(server.ws_url + "/ws")
    client.check_seq = False
    subscribe_alerts(client)
    # Hold the sender back: fill the socket buffers with large messages while the client does not read.
    for n in range(400):
        server.services.bus.publish("alerts", alert(n, size=60_000))
    seqs = []
    while len(seqs) < 400:
        message = client.recv()
        seqs.append(message["seq"])
        if message["data"].get("alert_id") == 399:
            break
    gaps = [b - a for a, b in zip(seqs, seqs[1:], strict=False) if b - a > 1]
    assert gaps, "dropped messages must show as a jump in seq"
    client.send({"type": "ping"})
    assert client.recv_until(lambda m: m["type"] == "pong")
    client.close()


def test_oversized_frame_closes_with_1009(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False, ws_max_message_bytes="1024")
    ws = websocket.create_connection(server.ws_url + "/ws", timeout=10)
    ws.recv()
    ws.send(json.dumps({"type": "ping", "pad": "x" * 2000}))
    opcode, payload = ws.recv_data()
    assert opcode == websocket.ABNF.OPCODE_CLOSE and int.from_bytes(payload[:2], "big") == 1009
    other = WsClient(server.ws_url + "/ws")
    other.recv()
    other.send({"type": "ping"})
    assert other.recv()["type"] == "pong"
    other.close()


def test_subscription_limit(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False, ws_max_subscriptions="3")
    client = WsClient(server.ws_url + "/ws")
    client.recv()
    for channel in ("alerts", "orders", "trades", "positions"):
        client.send({"type": "subscribe", "data": {"channel": channel}})
    replies = [client.recv() for _ in range(4)]
    assert [r["type"] for r in replies] == ["subscribed", "subscribed", "subscribed", "error"]
    assert replies[-1]["data"]["code"] == "too_many_subscriptions"
    client.send({"type": "subscribe", "data": {"channel": "alerts"}})  # already held: not a new one
    assert client.recv()["type"] == "subscribed"
    client.close()


def test_rate_limit_errors_then_closes_on_abuse(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False, ws_max_messages_per_second="5")
    client = WsClient(server.ws_url + "/ws")
    client.recv()
    for _ in range(20):
        client.send({"type": "ping"})
    replies = [client.recv() for _ in range(20)]
    assert {r["type"] for r in replies} == {"pong", "error"}
    assert all(r["data"]["code"] == "rate_limited" for r in replies if r["type"] == "error")
    closed = False
    try:
        for _ in range(300):
            client.send({"type": "ping"})
        for _ in range(400):
            client.recv()
    except (websocket.WebSocketConnectionClosedException, ConnectionError, json.JSONDecodeError):
        closed = True
    except websocket.WebSocketTimeoutException:
        closed = False
    assert closed, "a client that keeps flooding is closed"
    client.ws.close()


def test_heartbeat_closes_silent_clients_only(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False, ws_heartbeat_interval="0.2")
    hub = server.services.hub
    silent = raw_upgrade(server.port)
    lively = websocket.create_connection(server.ws_url + "/ws", timeout=None)

    def keep_reading() -> None:  # websocket-client answers pings while it reads
        try:
            while True:
                lively.recv()
        except (websocket.WebSocketException, OSError):
            return

    reader = threading.Thread(target=keep_reading, daemon=True)
    reader.start()
    wait_for(lambda: hub.snapshot_stats()["heartbeat_closes"] >= 1, 5, message="the silent client to be closed")
    # Five more intervals: a client that answers pings must still be there.
    time.sleep(1.0)
    assert hub.snapshot_stats()["heartbeat_closes"] == 1
    assert hub.snapshot_stats()["active_connections"] == 1
    lively.close()
    reader.join(5)
    silent.close()


def test_disconnect_storm_leaves_nothing_behind(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server()
    hub = server.services.hub
    wait_for(lambda: hub.feed.latest_quote("AAPL"), 5, message="the feed")
    threads_before = threading.active_count()
    for _ in range(3):
        clients = [WsClient(server.ws_url + "/ws?subscribe=market_data:AAPL&subscribe=candles:AAPL:1m")
                   for _ in range(30)]
        for client in clients:
            client.recv_until(lambda m: m["type"] == "market_data")
        for i, client in enumerate(clients):
            if i % 2:
                client.close()
            else:
                client.ws.sock.shutdown(socket.SHUT_RDWR)  # vanish without a close frame
                client.ws.sock.close()

    def released() -> bool:
        stats = hub.snapshot_stats()
        return stats["active_connections"] == 0 and stats["subscriptions"] == 0 and stats["routes"] == 0

    wait_for(released, 15, 0.1, "connections, subscriptions and routes back to zero")
    wait_for(lambda: threading.active_count() <= threads_before + 2, 15, 0.1, "threads to finish")
