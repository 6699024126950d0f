"""The /ws envelope dialect on a real port: welcome, acks, snapshots, seq, errors that keep the connection."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import websocket
from tests_support import WsClient as Client
from tests_support import wait_for


@pytest.fixture
def client(live_server) -> Iterator[Client]:  # type: ignore[no-untyped-def]
    c = Client(live_server.ws_url + "/ws")
    yield c
    c.close()


def test_welcome(client: Client) -> None:
    welcome = client.recv()
    assert welcome["type"] == "welcome" and welcome["seq"] == 1
    data = welcome["data"]
    assert data["protocol_version"] == 2
    assert "candles" in data["channels"] and "market_data" in data["channels"]
    assert data["heartbeat_interval"] > 0
    assert welcome["timestamp"].endswith("Z")


def test_subscribe_gets_ack_snapshot_then_updates(client: Client) -> None:
    client.recv()
    client.send({"type": "subscribe", "data": {"channel": "market_data", "symbol": "aapl"}})
    ack = client.recv()
    assert ack["type"] == "subscribed"
    assert ack["data"] == {"channel": "market_data", "symbol": "AAPL", "timeframe": None}
    snapshot = client.recv()
    assert snapshot["type"] == "market_data" and snapshot["data"]["symbol"] == "AAPL"
    assert snapshot["channel"] == "market_data"
    updates = [client.recv() for _ in range(10)]  # recv() asserts that seq grows by one
    assert all(u["type"] == "market_data" for u in updates)
    stamps = [u["timestamp"] for u in updates]
    assert stamps == sorted(stamps)


def test_flat_subscribe_form(client: Client) -> None:
    client.recv()
    client.send({"type": "subscribe", "symbol": "GC=F"})
    assert client.recv()["data"] == {"channel": "market_data", "symbol": "GC=F", "timeframe": None}
    assert client.recv_until(lambda m: m["type"] == "market_data")["data"]["symbol"] == "GC=F"


def test_candle_stream(client: Client) -> None:
    client.recv()
    client.send({"type": "subscribe", "data": {"channel": "candles", "symbol": "BTC-USD", "timeframe": "1m"}})
    assert client.recv()["data"] == {"channel": "candles", "symbol": "BTC-USD", "timeframe": "1m"}
    snapshot = client.recv()
    assert snapshot["type"] == "full_update" and snapshot["data"]["snapshot"] is True
    assert set(snapshot["data"]["signals"]) >= {"pivot_points", "fvg_zones", "break_signals"}
    update = client.recv()
    assert update["type"] == "candle_update"
    candle = update["data"]["candle"]
    assert set(candle) == {"time", "open", "high", "low", "close", "volume"}
    assert candle["time"] % 60 == 0
    assert candle["low"] <= candle["close"] <= candle["high"]


def test_unsubscribe_stops_the_stream(client: Client) -> None:
    client.recv()
    client.send({"type": "subscribe", "symbol": "MSFT"})
    client.recv_until(lambda m: m["type"] == "market_data")
    client.send({"type": "unsubscribe", "symbol": "MSFT"})
    client.recv_until(lambda m: m["type"] == "unsubscribed")
    client.send({"type": "ping"})
    # After the ack nothing but the pong may arrive for MSFT.
    assert client.recv_until(lambda m: m["type"] != "market_data")["type"] == "pong"
    client.ws.settimeout(0.5)
    with pytest.raises(websocket.WebSocketTimeoutException):
        client.recv()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("this is not json", "invalid_json"),
        ('{"type":"launch_rockets"}', "unknown_type"),
        ('{"type":"subscribe","data":{"channel":"gossip","symbol":"AAPL"}}', "unknown_channel"),
        ('{"type":"subscribe","symbol":"NOT A SYMBOL"}', "invalid_symbol"),
        ('{"type":"subscribe","data":{"channel":"candles","symbol":"AAPL","timeframe":"3m"}}', "invalid_timeframe"),
        ("[]", "invalid_json"),
        ('{"data":{}}', "unknown_type"),
        ('{"type":"subscribe","data":"AAPL"}', "unknown_channel"),
        ('{"type":"request","data":{"action":"launch"}}', "unknown_type"),
    ],
)
def test_errors_keep_the_connection_streaming(client: Client, frame: str, code: str) -> None:
    client.recv()
    client.send({"type": "subscribe", "symbol": "AAPL"})
    client.recv_until(lambda m: m["type"] == "market_data")
    client.send(frame)
    error = client.recv_until(lambda m: m["type"] == "error")
    assert error["data"]["code"] == code and error["data"]["message"]
    # The same connection keeps streaming with consecutive seq, and still answers.
    for _ in range(5):
        assert client.recv()["type"] == "market_data"
    client.send({"type": "ping"})
    assert client.recv_until(lambda m: m["type"] == "pong")


def test_a_bad_neighbour_does_not_disturb_others(live_server) -> None:  # type: ignore[no-untyped-def]
    good = Client(live_server.ws_url + "/ws")
    bad = Client(live_server.ws_url + "/ws")
    try:
        good.recv()
        good.send({"type": "subscribe", "symbol": "AAPL"})
        good.recv_until(lambda m: m["type"] == "market_data")
        for i in range(20):
            bad.send("{" * (i + 1))
        bad.send({"type": "ping"})
        bad.recv_until(lambda m: m["type"] == "pong")
        for _ in range(10):
            assert good.recv()["type"] == "market_data"
    finally:
        good.close()
        bad.close()


def test_batch_mode_and_subscribe_in_the_query(live_server) -> None:  # type: ignore[no-untyped-def]
    url = live_server.ws_url + "/ws?batch=1&subscribe=candles:AAPL:1m&subscribe=market_data:AAPL"
    raw = websocket.create_connection(url, timeout=10)
    try:
        frames = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(frames) < 5:
            frames.append(json.loads(raw.recv()))
        batches = [f for f in frames if f["type"] == "batch"]
        assert batches, "at 20 ticks/s a batching connection must receive batch frames"
        seqs = [m["seq"] for f in frames for m in (f["data"] if f["type"] == "batch" else [f])]
        assert seqs == list(range(1, len(seqs) + 1))
        types = {m["type"] for f in batches for m in f["data"]}
        assert {"candle_update", "market_data"} <= types
    finally:
        raw.close()


def test_connections_are_released_after_disconnect(live_server) -> None:  # type: ignore[no-untyped-def]
    import requests

    clients = [Client(live_server.ws_url + "/ws?subscribe=market_data:AAPL") for _ in range(10)]
    for c in clients:
        c.recv_until(lambda m: m["type"] == "market_data")
    for c in clients:
        c.close()

    def released() -> bool:
        stats = requests.get(live_server.base_url + "/metrics/live-data", timeout=5).json()["websocket"]
        return stats["active_connections"] == 0 and stats["subscriptions"] == 0

    wait_for(released, 10, 0.1, "connections and subscriptions to return to zero")
