"""Hub routing on real sockets: one delivery per connection, snapshots for symbols the feed is only starting,
symbols released when no subscription uses them, and the seed dialects' refusals."""

from __future__ import annotations

import json
import time
from typing import Any

import requests
import websocket
from tests_support import WsClient, wait_for

from api import protocol as p

START_SYMBOLS = "AAPL,MSFT,GC=F,BTC-USD,^GSPC"


def signal(symbol: str, n: int) -> p.ChannelEvent:
    return p.ChannelEvent(p.Channel.SIGNALS, p.MessageType.SIGNAL, symbol, {"symbol": symbol, "n": n}, time.time())


# -- one delivery per connection (item: duplicates) -------------------------------------------------------------


def test_overlapping_subscriptions_deliver_each_event_once(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False)
    client = WsClient(server.ws_url + "/ws")
    other = WsClient(server.ws_url + "/ws")
    try:
        client.recv()
        other.recv()
        client.send({"type": "subscribe", "data": {"channel": "signals"}})
        client.send({"type": "subscribe", "data": {"channel": "signals", "symbol": "AAPL"}})
        assert [client.recv()["type"] for _ in range(2)] == ["subscribed", "subscribed"]
        other.send({"type": "subscribe", "data": {"channel": "signals", "symbol": "AAPL"}})
        other.recv()
        for n in range(3):
            server.services.bus.publish("signals.AAPL", signal("AAPL", n))
        server.services.bus.publish("signals.MSFT", signal("MSFT", 3))
        client.send({"type": "ping"})
        got = []
        while (message := client.recv())["type"] != "pong":  # recv() checks that seq grows by one
            got.append(message)
        assert [(m["type"], m["data"]["n"]) for m in got] == [("signal", 0), ("signal", 1), ("signal", 2),
                                                              ("signal", 3)]
        # A neighbour with only the symbol filter gets the AAPL signals, once each.
        assert [other.recv()["data"]["n"] for _ in range(3)] == [0, 1, 2]
        other.send({"type": "ping"})
        assert other.recv()["type"] == "pong"
    finally:
        client.close()
        other.close()


# -- a snapshot first, also for a symbol the feed does not track yet ---------------------------------------------


def test_candles_of_a_new_symbol_start_with_the_snapshot(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(symbols="AAPL")
    client = WsClient(server.ws_url + "/ws")
    try:
        client.recv()
        assert server.services.feed.latest_candle("NFLX", p.Timeframe.M5) is None  # type: ignore[attr-defined]
        client.send({"type": "subscribe", "data": {"channel": "candles", "symbol": "NFLX", "timeframe": "5m"}})
        client.send({"type": "subscribe", "data": {"channel": "market_data", "symbol": "NFLX"}})
        assert client.recv()["type"] == "subscribed"
        messages = [client.recv() for _ in range(12)]
        candles = [m for m in messages if m.get("channel") == "candles"]
        assert candles, "candle messages for the new symbol"
        first = candles[0]
        assert first["type"] == "full_update" and first["data"]["snapshot"] is True
        assert first["data"]["symbol"] == "NFLX" and first["data"]["timeframe"] == "5m"
        assert set(first["data"]["signals"]) >= {"pivot_points", "fvg_zones", "break_signals"}
        assert [m["type"] for m in candles[1:]] == ["candle_update"] * (len(candles) - 1)
        assert candles[1]["data"]["candle"]["time"] == first["data"]["candle"]["time"]
        market = [m for m in messages if m.get("channel") == "market_data"]
        assert market and market[0]["type"] == "market_data" and market[0]["data"]["symbol"] == "NFLX"
        assert not server.services.hub._awaiting, "no snapshot left owed"
    finally:
        client.close()


def test_flat_candle_dialect_for_a_new_symbol_starts_with_full_update(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(symbols="AAPL")
    ws = websocket.create_connection(server.ws_url + "/ws/market/AMD/1m", timeout=10)
    try:
        first = json.loads(ws.recv())
        assert first["type"] == "full_update" and first["symbol"] == "AMD" and "signals" in first
        assert "snapshot" not in first  # the flat dialect's shape is the seed document's
        assert all(json.loads(ws.recv())["type"] in ("candle_update", "full_update") for _ in range(3))
    finally:
        ws.close()


# -- symbols no subscription uses are released ----------------------------------------------------------------------


def live_symbols(server) -> list[str]:  # type: ignore[no-untyped-def]
    symbols: list[str] = requests.get(server.base_url + "/metrics/live-data", timeout=5).json()["symbols"]
    return symbols


def test_symbols_are_released_after_their_last_subscription(inproc_server) -> None:  # type: ignore[no-untyped-def]
    """At the server's symbol limit a new client is refused; once the client holding the extra symbols has gone
    (and a short grace period passed) they are released, trackers included, and the new client gets in. The
    start-up symbols are never released."""
    server = inproc_server(symbols=START_SYMBOLS, max_tracked_symbols="8")
    hub, feed, engine = server.services.hub, server.services.feed, server.services.signals
    hub.release_grace_seconds = 0.5
    holder = WsClient(server.ws_url + "/ws?subscribe=market_data:ORCL&subscribe=candles:INTC:1m"
                      "&subscribe=ticks:CSCO&subscribe=market_data:AAPL")
    newcomer = WsClient(server.ws_url + "/ws")
    try:
        wait_for(lambda: len(live_symbols(server)) == 8, 10, 0.05, "8 symbols tracked")
        wait_for(lambda: engine.trackers("ORCL"), 20, 0.05, "ORCL's trackers")
        newcomer.recv()
        newcomer.send({"type": "subscribe", "symbol": "IBM"})
        refusal = newcomer.recv()
        assert refusal["type"] == "error" and refusal["data"]["code"] == "too_many_subscriptions"
        assert "8 symbols" in refusal["data"]["message"]
        holder.close()
        wait_for(lambda: live_symbols(server) == START_SYMBOLS.split(","), 10, 0.05, "ORCL, INTC and CSCO released")
        # The feed thread lets go of their state at its next iteration.
        wait_for(lambda: not engine.trackers("ORCL") and not engine.trackers("INTC"), 5, 0.05, "trackers dropped")
        wait_for(lambda: feed.latest_quote("ORCL") is None, 5, 0.05, "ORCL's quote dropped")
        assert hub.snapshot_stats()["symbols_released"] == 3
        newcomer.send({"type": "subscribe", "symbol": "IBM"})
        assert newcomer.recv()["type"] == "subscribed"
        assert newcomer.recv_until(lambda m: m["type"] == "market_data")["data"]["symbol"] == "IBM"
        assert "AAPL" in live_symbols(server)
    finally:
        holder.close()
        newcomer.close()


def test_a_quick_resubscribe_keeps_the_symbol(inproc_server) -> None:  # type: ignore[no-untyped-def]
    """Within the grace period a reconnecting client finds its symbol still streaming: no churn in the feed."""
    server = inproc_server(symbols="AAPL")
    hub = server.services.hub
    hub.release_grace_seconds = 2.0
    first = WsClient(server.ws_url + "/ws?subscribe=market_data:KO")
    first.recv_until(lambda m: m["type"] == "market_data")
    first.close()
    wait_for(lambda: hub.snapshot_stats()["symbols_awaiting_release"] == 1, 5, message="release scheduled")
    second = WsClient(server.ws_url + "/ws?subscribe=market_data:KO")
    try:
        snapshot = second.recv_until(lambda m: m["type"] == "market_data")
        assert snapshot["data"]["symbol"] == "KO"
        assert hub.snapshot_stats()["symbols_awaiting_release"] == 0
        time.sleep(2.5)  # past the grace period of the first client's release
        assert "KO" in live_symbols(server)
        assert hub.snapshot_stats()["symbols_released"] == 0
        second.recv_until(lambda m: m["type"] == "market_data")
    finally:
        second.close()


def test_unsubscribe_releases_too_and_signals_filters_do_not_hold_symbols(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(symbols="AAPL")
    hub = server.services.hub
    hub.release_grace_seconds = 0.2
    client = WsClient(server.ws_url + "/ws")
    try:
        client.recv()
        client.send({"type": "subscribe", "data": {"channel": "candles", "symbol": "GE", "timeframe": "1m"}})
        client.send({"type": "subscribe", "data": {"channel": "signals", "symbol": "GE"}})
        client.recv_until(lambda m: m["type"] == "candle_update")
        assert "GE" in live_symbols(server)
        client.send({"type": "unsubscribe", "data": {"channel": "candles", "symbol": "GE", "timeframe": "1m"}})
        wait_for(lambda: "GE" not in live_symbols(server), 10, 0.05, "GE released")
        client.send({"type": "ping"})
        client.recv_until(lambda m: m["type"] == "pong")
    finally:
        client.close()


# -- seed dialects: refusals close with 1008, batch flags -----------------------------------------------------------


def test_market_symbol_dialect_at_the_symbol_limit_closes_1008(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(symbols="AAPL,MSFT", max_tracked_symbols="2")
    wait_for(lambda: server.services.feed.latest_quote("MSFT"), 10, message="the start-up symbols tracked")
    ws = websocket.create_connection(server.ws_url + "/ws/market/NKE", timeout=10)
    try:
        assert json.loads(ws.recv())["type"] == "welcome"
        opcode, payload = ws.recv_data()
        assert opcode == websocket.ABNF.OPCODE_CLOSE, payload
        assert int.from_bytes(payload[:2], "big") == 1008
        assert b"at most 2 symbols" in payload
    finally:
        ws.close()
    candles = websocket.create_connection(server.ws_url + "/ws/market/NKE/1m", timeout=10)
    try:
        opcode, payload = candles.recv_data()
        assert opcode == websocket.ABNF.OPCODE_CLOSE and int.from_bytes(payload[:2], "big") == 1008
    finally:
        candles.close()
    hub = server.services.hub
    wait_for(lambda: hub.snapshot_stats()["active_connections"] == 0, 5, message="refused connections released")
    assert server.services.feed.symbols == ("AAPL", "MSFT")


def read_unwrapped(ws: websocket.WebSocket, seen: list[dict[str, Any]]) -> bool:
    """Read one frame into ``seen`` (unwrapping a batch); True if it was a batch."""
    frame = json.loads(ws.recv())
    is_batch: bool = frame["type"] == "batch"
    seen.extend(frame["data"] if is_batch else [frame])
    return is_batch


def test_every_route_reads_the_batch_flag_the_same_way(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False)
    for path in ("/ws/signals?batch=true", "/ws/signals?batch=yes", "/ws?batch=true&subscribe=signals"):
        ws = websocket.create_connection(server.ws_url + path, timeout=10)
        try:
            seen: list[dict[str, Any]] = []
            batches = 0
            while not any(m["type"] == "subscribed" for m in seen):
                batches += read_unwrapped(ws, seen)
            for n in range(5):
                server.services.bus.publish("signals.AAPL", signal("AAPL", n))
            while sum(m["type"] == "signal" for m in seen) < 5:
                batches += read_unwrapped(ws, seen)
            assert batches, path
            assert [m["seq"] for m in seen] == list(range(1, len(seen) + 1))
        finally:
            ws.close()


def test_welcome_heartbeat_interval_is_an_integer_when_whole(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False, ws_heartbeat_interval="30")
    ws = websocket.create_connection(server.ws_url + "/ws", timeout=10)
    try:
        raw = ws.recv()
        assert '"heartbeat_interval":30,' in raw or '"heartbeat_interval":30}' in raw
    finally:
        ws.close()


def test_rest_keeps_a_tracked_symbol_a_while_and_never_starts_one(inproc_server) -> None:  # type: ignore[no-untyped-def]
    """REST never brings a symbol into the feed (an untracked one is answered from its history); asked about a
    symbol a subscription brought in, it leases it, so a poller finds it still tracked after the subscriber left."""
    server = inproc_server(symbols=START_SYMBOLS)
    hub, engine = server.services.hub, server.services.signals
    response = requests.get(server.base_url + "/api/v1/signals/symbol/NFLX", timeout=30)
    assert response.status_code == 200
    assert "NFLX" not in live_symbols(server)
    assert hub.snapshot_stats()["symbols_awaiting_release"] == 0 and hub.snapshot_stats()["leases"] == 0
    client = WsClient(server.ws_url + "/ws?subscribe=market_data:NFLX")
    try:
        client.recv_until(lambda m: m["type"] == "subscribed")
        wait_for(lambda: engine.trackers("NFLX"), 20, 0.05, "NFLX's trackers")
        requests.get(server.base_url + "/api/v1/signals/symbol/NFLX", timeout=30)
        assert hub.snapshot_stats()["symbols_awaiting_release"] == 0, "the subscription holds it"
        assert hub.snapshot_stats()["leases"] == 1
    finally:
        client.close()
    wait_for(lambda: hub.snapshot_stats()["symbols_awaiting_release"] == 1, 5, message="release after the client")
    requests.get(server.base_url + "/api/v1/signals/symbol/NFLX", timeout=30)
    assert hub.release_unused_symbols(time.monotonic() + 60) == [], "still within its lease"
    requests.get(server.base_url + "/api/v1/signals/symbol/AAPL", timeout=30)  # a start-up symbol: never leased
    assert hub.snapshot_stats()["leases"] == 1
    assert hub.release_unused_symbols(time.monotonic() + 3_600) == ["NFLX"]
    assert hub.snapshot_stats()["leases"] == 0
    wait_for(lambda: "NFLX" not in live_symbols(server), 5, 0.05, "NFLX released")
