"""Alerts end to end against a real server process: a rule made over REST fires on the simulated feed, the alert
reaches a WebSocket subscriber of ``alerts`` and a local webhook, a new subscriber gets it in its snapshot, and a
SIGKILL and a restart keep the rule's state and the history."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from tests_support import WsClient, wait_for


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/tickstream", received
    httpd.shutdown()
    httpd.server_close()


def _subscribe_alerts(ws_url: str) -> WsClient:
    client = WsClient(f"{ws_url}/ws")
    assert client.recv()["type"] == "welcome"
    client.send({"type": "subscribe", "data": {"channel": "alerts"}})
    ack = client.recv()
    assert ack["type"] == "subscribed" and ack["data"]["channel"] == "alerts"
    return client


def test_an_alert_reaches_websocket_clients_and_a_webhook(make_server: Callable[..., Any],
                                                          webhook: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = webhook
    server = make_server("--interval", "0.05", "--symbols", "AAPL")
    live = _subscribe_alerts(server.ws_url)
    # A move of at least 0 % over one second is true as soon as the server has a second of AAPL prices: a condition
    # sure to hold on any price path, so the test does not depend on where the simulated market goes.
    created = requests.post(f"{server.base_url}/api/v1/alerts", json={
        "symbol": "AAPL", "condition": "percent_move", "value": 0, "window": 1, "frequency": "once",
        "level": "warning", "message": "test rule", "webhook_url": url}, timeout=10)
    assert created.status_code == 201, created.text
    rule = created.json()

    message = live.recv_until(lambda m: m["type"] == "alert", limit=50)
    data = message["data"]
    assert message["channel"] == "alerts"
    assert {k: data[k] for k in ("rule_id", "level", "symbol", "condition")} == \
        {"rule_id": rule["rule_id"], "level": "warning", "symbol": "AAPL", "condition": "percent_move"}
    assert data["message"].startswith("test rule: AAPL moved ") and data["time"].endswith("Z")
    assert "snapshot" not in data
    live.close()

    # The history holds it, with the webhook's delivery, and the webhook got the same alert.
    def delivered() -> list[dict[str, Any]] | None:
        history = requests.get(f"{server.base_url}/api/v1/alerts/history", timeout=10).json()["history"]
        return history if history and history[0]["webhook"]["status"] == "delivered" else None

    history = wait_for(delivered, 15, 0.1, "the webhook delivered")
    assert history is not None
    (entry,) = history
    assert entry["alert_id"] == data["alert_id"] and entry["message"] == data["message"]
    assert [hook["alert_id"] for hook in received] == [data["alert_id"]]
    assert received[0]["details"]["price"] == entry["details"]["price"]

    # A once rule is off after its firing; a new subscriber gets the alert as its snapshot.
    (stored,) = requests.get(f"{server.base_url}/api/v1/alerts", timeout=10).json()["rules"]
    assert stored["enabled"] is False and stored["fired_count"] == 1
    late = _subscribe_alerts(server.ws_url)
    snapshot = late.recv()
    assert snapshot["type"] == "alert" and snapshot["data"]["snapshot"] is True
    assert snapshot["data"]["alert_id"] == data["alert_id"]
    late.close()

    # Killed without warning (SIGKILL), then started on the same data directory: the rule (still off) and the
    # announced alert are there.
    server.proc.kill()
    server.proc.wait(10)
    again = make_server("--interval", "0.05", "--symbols", "AAPL")
    (kept,) = requests.get(f"{again.base_url}/api/v1/alerts", timeout=10).json()["rules"]
    assert kept == stored
    history = requests.get(f"{again.base_url}/api/v1/alerts/history", timeout=10).json()["history"]
    assert [h["alert_id"] for h in history] == [data["alert_id"]]
