"""Seed dialects and every /ws channel, on real sockets, written the way clients of each seed document would be."""

from __future__ import annotations

import json
import time

import pytest
import websocket
from tests_support import WsClient, wait_for

from api import protocol as p


def test_flat_market_data_dialect_example(live_server) -> None:  # type: ignore[no-untyped-def]
    """Seed example: subscribe with {"type":"subscribe","symbol":"AAPL"} and read price messages."""
    ws = websocket.create_connection(live_server.ws_url + "/ws/market-data", timeout=10)
    try:
        ws.send(json.dumps({"type": "subscribe", "symbol": "AAPL"}))
        prices = []
        while len(prices) < 5:
            message = json.loads(ws.recv())
            assert "seq" not in message and "data" not in message
            if message["type"] == "price":
                prices.append(message)
        for message in prices:
            assert message["symbol"] == "AAPL"
            assert isinstance(message["price"], float) and isinstance(message["volume"], int)  # a count: whole
            assert message["timestamp"].endswith("Z")
        ws.send(json.dumps({"type": "subscribe", "symbol": "??"}))
        error = next(m for m in iter(lambda: json.loads(ws.recv()), None) if m["type"] == "error")
        assert error["code"] == "invalid_symbol"
    finally:
        ws.close()


def test_flat_market_data_carries_signals(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server()
    ws = websocket.create_connection(server.ws_url + "/ws/market-data", timeout=10)
    try:
        ws.send(json.dumps({"type": "subscribe", "symbol": "AAPL"}))
        wait_for(lambda: json.loads(ws.recv())["type"] == "price", 5, 0, "a price")
        server.services.bus.publish("signals.AAPL", p.ChannelEvent(
            p.Channel.SIGNALS, p.MessageType.SIGNAL, "AAPL",
            {"signal_id": "s1", "symbol": "AAPL", "side": "BUY", "confidence": 0.72}, time.time()))
        # The subscribe snapshot may bring the trackers' latest signal first; wait for the one published here.
        signal = wait_for(lambda: (m := json.loads(ws.recv()))["type"] == "signal" and m["confidence"] == 0.72 and m,
                          5, 0, "the published signal")
        assert signal == {"type": "signal", "symbol": "AAPL", "action": "BUY", "confidence": 0.72,
                          "timestamp": signal["timestamp"]}
    finally:
        ws.close()


def test_market_symbol_dialect_is_presubscribed(live_server) -> None:  # type: ignore[no-untyped-def]
    client = WsClient(live_server.ws_url + "/ws/market/GC=F")
    try:
        assert client.recv()["type"] == "welcome"
        ack = client.recv()
        assert ack["type"] == "subscribed" and ack["data"]["symbol"] == "GC=F"
        updates = [client.recv_until(lambda m: m["type"] == "market_data") for _ in range(3)]
        assert all(u["data"]["symbol"] == "GC=F" for u in updates)
    finally:
        client.close()


def test_market_symbol_dialect_rejects_a_bad_symbol(live_server) -> None:  # type: ignore[no-untyped-def]
    ws = websocket.create_connection(live_server.ws_url + "/ws/market/B$D", timeout=10)
    opcode, payload = ws.recv_data()
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(payload[:2], "big") == 1008
    assert b"invalid symbol" in payload
    ws.close()


def test_candle_dialect_example(live_server) -> None:  # type: ignore[no-untyped-def]
    """Seed example: full_update first (with signals), then candle_update per tick, full_update per close."""
    ws = websocket.create_connection(live_server.ws_url + "/ws/market/BTC-USD/1m", timeout=10)
    try:
        first = json.loads(ws.recv())
        assert first["type"] == "full_update"
        assert first["symbol"] == "BTC-USD" and first["timeframe"] == "1m"
        assert set(first["signals"]) >= {"pivot_points", "fvg_zones", "break_signals"}
        assert set(first["candle"]) == {"time", "open", "high", "low", "close", "volume"}
        assert first["timestamp"].endswith("Z")
        updates = [json.loads(ws.recv()) for _ in range(5)]
        for update in updates:
            assert update["type"] in ("candle_update", "full_update")
            if update["type"] == "candle_update":
                assert "signals" not in update
        assert "seq" not in updates[0]
    finally:
        ws.close()


def test_candle_dialect_for_a_new_symbol_starts_with_full_update(live_server) -> None:  # type: ignore[no-untyped-def]
    ws = websocket.create_connection(live_server.ws_url + "/ws/market/NFLX/5m", timeout=10)
    try:
        assert json.loads(ws.recv())["type"] == "full_update"
    finally:
        ws.close()


def test_signals_dialect_is_presubscribed_to_all_symbols(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False)  # no trackers: only the signals published here
    client = WsClient(server.ws_url + "/ws/signals")
    try:
        assert client.recv()["type"] == "welcome"
        assert client.recv()["data"] == {"channel": "signals", "symbol": None, "timeframe": None}
        for symbol in ("AAPL", "MSFT"):
            server.services.bus.publish(f"signals.{symbol}", p.ChannelEvent(
                p.Channel.SIGNALS, p.MessageType.SIGNAL, symbol, {"symbol": symbol, "side": "SELL"}, time.time()))
        got = [client.recv_until(lambda m: m["type"] == "signal") for _ in range(2)]
        assert [m["data"]["symbol"] for m in got] == ["AAPL", "MSFT"]
        assert all(m["channel"] == "signals" for m in got)
    finally:
        client.close()


@pytest.mark.parametrize("channel", [c.value for c in p.Channel if c not in p.SYMBOL_CHANNELS])
def test_every_channel_subscribes_and_delivers(inproc_server, channel: str) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False)
    client = WsClient(server.ws_url + "/ws")
    try:
        client.recv()
        client.send({"type": "subscribe", "data": {"channel": channel}})
        assert client.recv()["data"] == {"channel": channel, "symbol": None, "timeframe": None}
        kind = {"signals": "signal", "ideas": "idea", "payloads": "prepared_payload", "orders": "order_update",
                "trades": "trade", "positions": "position", "performance": "performance",
                "dashboard": "dashboard_update", "alerts": "alert"}[channel]
        event = p.ChannelEvent(p.Channel(channel), p.MessageType(kind), "AAPL", {"symbol": "AAPL", "n": 1},
                               time.time())
        server.services.bus.publish(f"{channel}.AAPL", event)
        message = client.recv()
        while message["data"].get("snapshot"):  # channels with state send it first (docs/protocol.md "Snapshots")
            message = client.recv()
        assert message["type"] == kind and message["channel"] == channel and message["data"]["n"] == 1
    finally:
        client.close()


def test_symbol_filter_on_optional_channels(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False)
    client = WsClient(server.ws_url + "/ws")
    try:
        client.recv()
        client.send({"type": "subscribe", "data": {"channel": "ideas", "symbol": "MSFT"}})
        client.recv()
        for symbol in ("AAPL", "MSFT"):
            server.services.bus.publish(f"ideas.{symbol}", p.ChannelEvent(
                p.Channel.IDEAS, p.MessageType.IDEA, symbol, {"symbol": symbol}, time.time()))
        assert client.recv()["data"]["symbol"] == "MSFT"
        client.send({"type": "ping"})
        assert client.recv()["type"] == "pong"  # the AAPL idea never arrived
    finally:
        client.close()


def test_agent_status_request(live_server) -> None:  # type: ignore[no-untyped-def]
    client = WsClient(live_server.ws_url + "/ws")
    try:
        client.recv()
        client.send({"type": "request", "data": {"action": "agent_status"}})
        status = client.recv()
        assert status["type"] == "agent_status" and isinstance(status["data"]["agents"], list)
        client.send({"type": "request", "data": {"action": "launch"}})
        assert client.recv()["type"] == "error"
    finally:
        client.close()


def test_ticks_channel(live_server) -> None:  # type: ignore[no-untyped-def]
    client = WsClient(live_server.ws_url + "/ws")
    try:
        client.recv()
        client.send({"type": "subscribe", "data": {"channel": "ticks", "symbol": "AAPL"}})
        client.recv()
        tick = client.recv_until(lambda m: m["type"] == "tick")
        assert set(tick["data"]) >= {"symbol", "bid", "ask", "spread"}
        assert tick["data"]["bid"] <= tick["data"]["ask"]
    finally:
        client.close()


@pytest.mark.parametrize("timeframe", ["1m", "1d"])
def test_flat_market_data_snapshot_is_one_signal_after_subscribed(inproc_server, timeframe: str) -> None:  # type: ignore[no-untyped-def]
    """``subscribed`` first, then the latest signal of the default timeframe only, stamped with the signal's own
    time and naming its timeframe, then the latest price. Before: a signal per timeframe ahead of ``subscribed``,
    stamped with the trackers' update time (a week-old daily signal looked current)."""
    from feeds.models import Timeframe

    server = inproc_server(default_timeframe=timeframe)
    engine = server.services.signals
    tracker = wait_for(lambda: len(engine.trackers("AAPL")) == 7 and engine.tracker("AAPL", Timeframe.parse(timeframe)),
                       60, 0.05, "every AAPL tracker")
    before = tracker.snapshot.signals[0].timestamp
    ws = websocket.create_connection(server.ws_url + "/ws/market-data", timeout=10)
    try:
        ws.send(json.dumps({"type": "subscribe", "symbol": "AAPL"}))
        first, second, third = (json.loads(ws.recv()) for _ in range(3))
    finally:
        ws.close()
    assert first["type"] == "subscribed" and first["symbol"] == "AAPL"
    assert second["type"] == "signal" and second["symbol"] == "AAPL"
    assert second["timeframe"] == timeframe
    # The signal's own time: the close of the candle it was made on (a new one may have closed meanwhile).
    assert second["timestamp"] in (before, tracker.snapshot.signals[0].timestamp)
    assert second["confidence"] == next(s.confidence for s in tracker.snapshot.signals
                                        if s.timestamp == second["timestamp"])
    assert third["type"] == "price"
