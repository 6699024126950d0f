"""2,000 random and malformed frames on one /ws connection: only errors or documented closes, neighbours unharmed."""

from __future__ import annotations

import json
from typing import Any

import websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests_support import WsClient

from api import protocol as p

KNOWN_TYPES = {t.value for t in p.MessageType}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
field_values = st.one_of(json_values, st.sampled_from(
    ["AAPL", "aapl", "GC=F", "^GSPC", "", "A$", "1m", "60m", "7m", "candles", "market_data", "ticks", "signals",
     "alerts", "nope", "agent_status"]))
messages = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(["subscribe", "unsubscribe", "ping", "request", "auth", "bogus"]),
                       json_values)},
    optional={"data": st.dictionaries(st.sampled_from(["channel", "symbol", "timeframe", "action", "token", "x"]),
                                      field_values, max_size=4) | json_values,
              "symbol": field_values, "channel": field_values, "timeframe": field_values},
)
frames = st.one_of(
    messages.map(json.dumps),
    st.text(max_size=200),
    st.binary(max_size=200),
    json_values.map(json.dumps),
)

FUZZ_STATE: dict[str, Any] = {}


def fuzz_connection(server: Any) -> tuple[websocket.WebSocket, WsClient]:
    if FUZZ_STATE.get("server") is not server:
        target = websocket.create_connection(server.ws_url + "/ws", timeout=10)
        target.recv()
        neighbour = WsClient(server.ws_url + "/ws?subscribe=market_data:AAPL")
        FUZZ_STATE.update(server=server, target=target, neighbour=neighbour, sent=0)
    return FUZZ_STATE["target"], FUZZ_STATE["neighbour"]


def test_random_frames_get_errors_and_never_hurt_the_connection(inproc_server) -> None:  # type: ignore[no-untyped-def]
    # Random frames subscribe made-up tickers ("NOPE", "CANDLES"): the simulated market prices them all, as before.
    server = inproc_server(ws_max_messages_per_second="100000", ws_max_subscriptions="1000", sim_any_symbol="1")

    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.lists(frames, min_size=100, max_size=100))
    def run(batch: list[str | bytes]) -> None:
        target, neighbour = fuzz_connection(server)
        for frame in batch:
            if isinstance(frame, bytes):
                target.send_binary(frame)
            else:
                target.send(frame)
        FUZZ_STATE["sent"] += len(batch)
        # A ping after the batch: every reply before its pong must be a known message type.
        target.send('{"type":"ping","data":{"marker":true}}')
        while True:
            reply = json.loads(target.recv())
            for message in reply["data"] if reply["type"] == "batch" else [reply]:
                assert message["type"] in KNOWN_TYPES, message
                if message["type"] == "error":
                    assert message["data"]["code"] in {c.value for c in p.ErrorCode}
            if reply["type"] == "pong":
                break
        # The neighbour keeps streaming with consecutive seq.
        assert neighbour.recv()["type"] in ("welcome", "subscribed", "market_data", "status")

    try:
        run()
        assert FUZZ_STATE["sent"] == 2000
        assert server.services.feed.is_running
        # Oversized is the documented way to be closed: 1009, and the neighbour still streams.
        target, neighbour = fuzz_connection(server)
        target.send("x" * (server.services.settings.ws_max_message_bytes + 1))
        opcode, payload = target.recv_data()
        while opcode != websocket.ABNF.OPCODE_CLOSE:
            opcode, payload = target.recv_data()
        assert int.from_bytes(payload[:2], "big") == 1009
        # (A ``status`` may come between prices when a loaded machine makes the feed late: clients may ignore it.)
        prices = [m for m in (neighbour.recv() for _ in range(8)) if m["type"] != "status"]
        assert [m["type"] for m in prices[:5]] == ["market_data"] * 5
    finally:
        for key in ("target", "neighbour"):
            if key in FUZZ_STATE:
                FUZZ_STATE[key].close()
        FUZZ_STATE.clear()
