"""The fields of the ``signal`` message (protocol 2) on a real socket: the action, side, strength and confidence."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from tests_support import WsClient, wait_for

LABELS = {"strong", "moderate", "weak"}


def check_signal(data: dict[str, Any]) -> None:
    assert data["signal_type"] in ("BUY", "SELL", "HOLD")
    assert data["side"] == data["signal_type"].lower()
    assert 0 <= data["confidence"] <= 1
    assert data["strength_label"] in LABELS
    # strength = |B − S| / T over the votes the message carries (docs/signals.md).
    votes = data["agents_consensus"]["votes"]
    scores = {action: sum(v["confidence"] for v in votes if v["action"] == action) for action in ("BUY", "SELL",
                                                                                                   "HOLD")}
    total = sum(scores.values())
    assert isinstance(data["strength"], float) and 0 <= data["strength"] <= 1
    assert data["strength"] == pytest.approx(abs(scores["BUY"] - scores["SELL"]) / total)
    if data["signal_type"] != "HOLD":
        leader = scores[data["signal_type"]]
        assert leader == max(scores["BUY"], scores["SELL"]) and data["confidence"] == pytest.approx(leader / total)


def test_signal_messages_carry_protocol_2_fields(live_server) -> None:  # type: ignore[no-untyped-def]
    wait_for(lambda: requests.get(live_server.base_url + "/ws/status", timeout=5).json()["active_trackers"] >= 35,
             60, 0.2, "every tracker seeded (5 symbols × 7 timeframes)")
    client = WsClient(live_server.ws_url + "/ws")
    try:
        welcome = client.recv()
        assert welcome["type"] == "welcome" and welcome["data"]["protocol_version"] == 2
        client.send({"type": "subscribe", "data": {"channel": "signals"}})
        # The snapshot (the latest signal of every tracker of the 5 symbols) is queued before the pong.
        client.send({"type": "ping"})
        messages = []
        while not messages or messages[-1]["type"] != "pong":
            messages.append(client.recv())
    finally:
        client.close()
    signals = [m["data"] for m in messages if m["type"] == "signal"]
    assert len({d["symbol"] for d in signals}) >= 3, messages
    for data in signals:
        check_signal(data)
    assert {d["side"] for d in signals} & {"buy", "sell"}


def test_flat_dialect_keeps_the_upper_case_action(live_server) -> None:  # type: ignore[no-untyped-def]
    import json

    import websocket

    ws = websocket.create_connection(live_server.ws_url + "/ws/market-data", timeout=15)
    try:
        ws.send(json.dumps({"type": "subscribe", "symbol": "MSFT"}))
        for _ in range(500):
            message = json.loads(ws.recv())
            if message["type"] == "signal":
                break
        else:
            raise AssertionError("no signal on /ws/market-data")
    finally:
        ws.close()
    assert message["symbol"] == "MSFT" and message["action"] in ("BUY", "SELL", "HOLD")
    assert 0 <= message["confidence"] <= 1
