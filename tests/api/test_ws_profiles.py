"""/ws default channels and profiles on real sockets: clients that never subscribe get their types; a subscribe ends
the defaults; the aria profile's confidence in percent stays on its own connection."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import websocket
from tests_support import WsClient

from api import protocol as p
from api.profiles import ConfidenceInPercent, check_settings, connection_defaults, parse_channels
from settings import load_settings


def _publish(server: Any, channel: p.Channel, kind: p.MessageType, data: dict[str, Any],
             symbol: str | None = None) -> None:
    server.services.bus.publish(f"{channel.value}.{symbol or ''}", p.ChannelEvent(channel, kind, symbol, data,
                                                                                  time.time()))


def _signal(confidence: float, signal_id: str = "AAPL-1m-test") -> dict[str, Any]:
    return {"signal_id": signal_id, "symbol": "AAPL", "side": "buy", "confidence": confidence, "timeframe": "1m"}


def _welcome(client: WsClient) -> dict[str, Any]:
    message = client.recv()
    assert message["type"] == "welcome"
    return message


def _nothing_queued(client: WsClient) -> None:
    """Everything routed to the client before this call has been queued already (the bus is synchronous): the
    ``pong`` that answers a ping sent now comes after it, so anything else first was routed to the client."""
    client.send({"type": "ping"})
    message = client.recv()
    assert message["type"] == "pong", message


def test_no_defaults_unless_asked(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server()
    client = WsClient(server.ws_url + "/ws")
    try:
        _welcome(client)
        _publish(server, p.Channel.ALERTS, p.MessageType.ALERT, {"alert_id": "a1"})
        _publish(server, p.Channel.SIGNALS, p.MessageType.SIGNAL, _signal(0.5), "AAPL")
        _nothing_queued(client)
    finally:
        client.close()


def test_aria_profile_delivers_its_types_to_a_listener(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(symbols="AAPL,GC=F")
    aria = WsClient(server.ws_url + "/ws?profile=aria")
    plain = WsClient(server.ws_url + "/ws?subscribe=signals:AAPL")
    try:
        _welcome(aria)
        _welcome(plain)
        # Ticks of every streamed symbol, with no subscribe.
        seen: set[str] = set()
        aria.recv_until(lambda m: m["type"] == "tick" and (seen.add(m["data"]["symbol"]) or seen == {"AAPL", "GC=F"}))
        plain.recv_until(lambda m: m["type"] == "subscribed")
        _publish(server, p.Channel.SIGNALS, p.MessageType.SIGNAL, _signal(0.875), "AAPL")
        _publish(server, p.Channel.ORDERS, p.MessageType.ORDER_UPDATE,
                 {"order_id": "o1", "symbol": "AAPL", "side": "buy", "status": "filled"})
        _publish(server, p.Channel.IDEAS, p.MessageType.IDEA, {"idea_id": "i1", "symbol": "AAPL"}, "AAPL")
        _publish(server, p.Channel.PAYLOADS, p.MessageType.PREPARED_PAYLOAD, {"idea_id": "i1", "side": "buy"}, "AAPL")
        signal = aria.recv_until(lambda m: m["type"] == "signal" and m["data"]["signal_id"] == "AAPL-1m-test")
        assert signal["data"]["confidence"] == 87.5
        assert aria.recv_until(lambda m: m["type"] == "order_update")["data"]["order_id"] == "o1"
        assert aria.recv_until(lambda m: m["type"] == "idea")["data"]["idea_id"] == "i1"
        assert aria.recv_until(lambda m: m["type"] == "prepared_payload")["data"]["idea_id"] == "i1"
        # The same signal, on a connection without the profile: confidence stays in [0, 1].
        other = plain.recv_until(lambda m: m["type"] == "signal" and m["data"]["signal_id"] == "AAPL-1m-test")
        assert other["data"]["confidence"] == 0.875
    finally:
        aria.close()
        plain.close()


def test_aria_ticks_follow_symbols_added_later(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(symbols="AAPL")
    aria = WsClient(server.ws_url + "/ws?profile=aria")
    other = WsClient(server.ws_url + "/ws?subscribe=market_data:MSFT")
    try:
        _welcome(aria)
        aria.recv_until(lambda m: m["type"] == "tick" and m["data"]["symbol"] == "MSFT", limit=2000)
    finally:
        aria.close()
        other.close()


def test_server_profile_and_a_subscribe_ending_the_defaults(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(ws_profile="aria")
    client = WsClient(server.ws_url + "/ws")
    try:
        _welcome(client)
        client.recv_until(lambda m: m["type"] == "tick")
        client.send({"type": "subscribe", "data": {"channel": "market_data", "symbol": "AAPL"}})
        ack = client.recv_until(lambda m: m["type"] == "subscribed")
        assert ack["data"]["channel"] == "market_data"
        # From the ack on: only what was asked for. Ticks came with every quote before; none now.
        after = [client.recv() for _ in range(20)]
        assert "tick" not in [m["type"] for m in after]
        _publish(server, p.Channel.ORDERS, p.MessageType.ORDER_UPDATE, {"order_id": "o2"})
        _publish(server, p.Channel.SIGNALS, p.MessageType.SIGNAL, _signal(0.9), "AAPL")
        client.send({"type": "ping"})
        assert client.recv_until(lambda m: m["type"] != "market_data")["type"] == "pong"
        # The profile's shapes outlive its channels.
        client.send({"type": "subscribe", "data": {"channel": "signals", "symbol": "AAPL"}})
        client.recv_until(lambda m: m["type"] == "subscribed" and m["data"]["channel"] == "signals")
        _publish(server, p.Channel.SIGNALS, p.MessageType.SIGNAL, _signal(0.9, "AAPL-1m-later"), "AAPL")
        later = client.recv_until(lambda m: m["type"] == "signal" and m["data"]["signal_id"] == "AAPL-1m-later")
        assert later["data"]["confidence"] == 90.0
    finally:
        client.close()


DASHBOARD_CHANNELS = {
    p.Channel.DASHBOARD: p.MessageType.DASHBOARD_UPDATE,
    p.Channel.TRADES: p.MessageType.TRADE,
    p.Channel.POSITIONS: p.MessageType.POSITION,
    p.Channel.PERFORMANCE: p.MessageType.PERFORMANCE,
    p.Channel.ALERTS: p.MessageType.ALERT,
}


@pytest.mark.parametrize("how", ["query", "setting"])
def test_default_channels_until_the_first_subscribe(inproc_server, how: str) -> None:  # type: ignore[no-untyped-def]
    names = ",".join(c.value for c in DASHBOARD_CHANNELS)
    if how == "query":
        server = inproc_server()
        client = WsClient(server.ws_url + f"/ws?channels={names}")
    else:
        server = inproc_server(ws_default_channels=names)
        client = WsClient(server.ws_url + "/ws")
    try:
        _welcome(client)
        # The pong comes once the connection's setup (its default routes) is done: events published before that
        # are not the client's to miss. The paper broker's channels send their snapshots first.
        client.send({"type": "ping"})
        first = client.recv_until(lambda m: m["type"] == "pong" or not m["data"].get("snapshot"))
        assert first["type"] == "pong", first
        for channel, kind in DASHBOARD_CHANNELS.items():
            _publish(server, channel, kind, {"n": channel.value})
        got = [client.recv() for _ in DASHBOARD_CHANNELS]
        assert [(m["type"], m["channel"], m["data"]) for m in got] == \
            [(kind.value, channel.value, {"n": channel.value}) for channel, kind in DASHBOARD_CHANNELS.items()]
        client.send({"type": "subscribe", "data": {"channel": "alerts"}})
        assert client.recv()["type"] == "subscribed"
        for channel, kind in DASHBOARD_CHANNELS.items():
            _publish(server, channel, kind, {"n": channel.value})
        # The subscribed channel stays; the other defaults are gone.
        assert client.recv()["type"] == "alert"
        _nothing_queued(client)
    finally:
        client.close()


def test_bad_query_values(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server()
    client = WsClient(server.ws_url + "/ws?channels=alerts,bogus,candles")
    try:
        _welcome(client)
        errors = [client.recv(), client.recv()]
        assert [(e["type"], e["data"]["code"]) for e in errors] == [("error", "unknown_channel"),
                                                                    ("error", "invalid_symbol")]
        assert "bogus" in errors[0]["data"]["message"] and "subscribe" in errors[1]["data"]["message"]
        _nothing_queued(client)
        _publish(server, p.Channel.ALERTS, p.MessageType.ALERT, {"alert_id": "a2"})
        assert client.recv()["type"] == "alert"
    finally:
        client.close()
    ws = websocket.create_connection(server.ws_url + "/ws?profile=bogus", timeout=10)
    try:
        opcode, payload = ws.recv_data()
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(payload[:2], "big") == 1008
        assert b"unknown profile 'bogus'" in payload and b"aria" in payload
    finally:
        ws.close()


def test_profile_choice_order() -> None:
    plain = load_settings({})
    aria = load_settings({"TICKSTREAM_WS_PROFILE": "aria"})
    dashboard = load_settings({"TICKSTREAM_WS_DEFAULT_CHANNELS": "dashboard,alerts"})
    both = load_settings({"TICKSTREAM_WS_PROFILE": "aria", "TICKSTREAM_WS_DEFAULT_CHANNELS": "alerts"})

    def channels(defaults: Any) -> list[str | None]:
        return [s.channel.value for s in defaults.subscriptions]

    aria_channels = ["ticks", "signals", "orders", "ideas", "payloads"]
    assert channels(connection_defaults(None, None, plain)) == []
    assert channels(connection_defaults(None, "aria", plain)) == aria_channels
    assert channels(connection_defaults(None, None, aria)) == aria_channels
    assert connection_defaults(None, None, aria).adapt is not None  # type: ignore[union-attr]
    assert channels(connection_defaults(None, "tickstream", aria)) == []
    assert connection_defaults(None, "tickstream", aria).adapt is None  # type: ignore[union-attr]
    assert channels(connection_defaults(None, None, dashboard)) == ["dashboard", "alerts"]
    assert channels(connection_defaults(None, "aria", dashboard)) == aria_channels
    assert channels(connection_defaults("trades", "aria", dashboard)) == ["trades"]
    assert channels(connection_defaults("", None, dashboard)) == []
    assert channels(connection_defaults(None, None, both)) == ["alerts"]
    assert connection_defaults(None, "nope", plain) == "unknown profile 'nope'; profiles: tickstream, aria"


def test_channel_names_are_bounded_and_checked() -> None:
    subscriptions, errors = parse_channels(["alerts"] * 100)
    assert subscriptions == (p.Subscription(p.Channel.ALERTS),)
    assert len(errors) == 1 and "at most" in errors[0].message
    with pytest.raises(ValueError, match="TICKSTREAM_WS_DEFAULT_CHANNELS: unknown channel 'nope'"):
        check_settings(load_settings({"TICKSTREAM_WS_DEFAULT_CHANNELS": "alerts,nope"}))


def test_confidence_in_percent_rewrites_signals_only() -> None:
    adapt = ConfidenceInPercent()
    signal = p.encode_envelope(p.MessageType.SIGNAL, {"confidence": 0.575, "side": "buy"}, p.Channel.SIGNALS)
    rewritten = adapt(signal)
    assert json.loads(rewritten)["data"] == {"confidence": 57.5, "side": "buy"}
    assert adapt(signal) is rewritten  # the same encoding, shared by connections, is rewritten once
    vote = p.encode_envelope(p.MessageType.AGENT_STATUS, {"confidence": 0.5})
    assert adapt(vote) is vote
