"""A plain HTTP GET on a WebSocket route answers 426 with a JSON hint, not the Dash page; upgrades still work."""

from __future__ import annotations

import pytest
import requests
from tests_support import WsClient


@pytest.mark.parametrize("path", ["/ws", "/ws?batch=1", "/ws/market-data", "/ws/signals", "/ws/market/AAPL",
                                  "/ws/market/AAPL/1m"])
def test_plain_get_is_426_with_a_json_hint(live_server, path: str) -> None:  # type: ignore[no-untyped-def]
    response = requests.get(live_server.base_url + path, timeout=10)
    assert response.status_code == 426
    assert response.headers["Upgrade"] == "websocket"
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "upgrade_required"
    assert "WebSocket" in error["message"] and "docs/protocol.md" in error["message"]
    assert f"ws://127.0.0.1:{live_server.port}{path}" in error["message"]


def test_rest_and_websocket_on_the_same_prefix_are_unchanged(live_server) -> None:  # type: ignore[no-untyped-def]
    status = requests.get(live_server.base_url + "/ws/status", timeout=10)
    assert status.status_code == 200 and "active_trackers" in status.json()
    client = WsClient(live_server.ws_url + "/ws")
    try:
        assert client.recv()["type"] == "welcome"
    finally:
        client.close()
