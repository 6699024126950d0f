"""kill -9 while orders stream: everything announced is in the database after the restart, nothing else is."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from typing import Any

import pytest
import requests
import websocket
from tests_support import wait_for

SYMBOLS = "AAPL,MSFT"


def collect(url: str, messages: list[dict[str, Any]], ready: threading.Event) -> None:
    """Read every order_update until the connection dies, stamping each with its arrival (wall clock)."""
    ws = websocket.create_connection(url, timeout=30)
    ws.send(json.dumps({"type": "subscribe", "data": {"channel": "orders"}}))
    try:
        while True:
            frame = json.loads(ws.recv())
            for message in frame["data"] if frame.get("type") == "batch" else [frame]:
                if message["type"] == "subscribed":
                    ready.set()
                if message["type"] == "order_update":
                    messages.append({**message["data"], "_received": time.time()})
    except (websocket.WebSocketException, OSError, ValueError):
        return


def place_orders(base: str, stop: threading.Event, placed: list[str]) -> None:
    i = 0
    while not stop.is_set():
        symbol = SYMBOLS.split(",")[i % 2]
        if i % 3 == 2:
            # Far below the market: works until canceled, never fills.
            body = {"symbol": symbol, "side": "buy", "quantity": 1, "type": "limit", "limit_price": 1.0,
                    "time_in_force": "gtc"}
        else:
            body = {"symbol": symbol, "side": "buy", "quantity": 5, "type": "market"}
        try:
            response = requests.post(base + "/api/v1/orders", json={**body, "client_order_id": f"c{i}"}, timeout=5)
            if response.status_code in (200, 201):
                placed.append(response.json()["order_id"])
        except requests.RequestException:
            return
        i += 1


def read_store(path: Any) -> tuple[dict[str, sqlite3.Row], dict[str, int]]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    orders = {r["order_id"]: r for r in db.execute("SELECT * FROM orders")}
    fills = {r[0]: r[1] for r in db.execute("SELECT order_id, COUNT(*) FROM fills GROUP BY order_id")}
    db.close()
    return orders, fills


@pytest.mark.slow
def test_sigkill_while_orders_stream_loses_nothing_announced(make_server: Any) -> None:
    # A small volume share spreads each market order over several quotes, so fills stream all the time.
    env = {"TICKSTREAM_PAPER_MAX_VOLUME_SHARE": "0.05"}
    server = make_server("--interval", "0.05", "--symbols", SYMBOLS, env=env)
    messages: list[dict[str, Any]] = []
    ready = threading.Event()
    reader = threading.Thread(target=collect, args=(server.ws_url + "/ws", messages, ready), daemon=True)
    reader.start()
    assert ready.wait(10)
    stop = threading.Event()
    placed: list[str] = []
    placers = [threading.Thread(target=place_orders, args=(server.base_url, stop, placed), daemon=True)
               for _ in range(2)]
    for placer in placers:
        placer.start()
    wait_for(lambda: sum(1 for m in messages if m["last_fill_quantity"]) >= 30, 30, message="fills streaming")
    killed_at = time.time()
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    stop.set()
    reader.join(10)
    for placer in placers:
        placer.join(10)

    orders, fills = read_store(server.data_dir / "trading.sqlite3")
    announced: dict[str, dict[str, Any]] = {}
    fill_messages: dict[str, int] = {}
    for message in messages:
        announced[message["order_id"]] = message  # the latest state each order was announced in
        if message["last_fill_quantity"] and message["status"] in ("partially_filled", "filled"):
            fill_messages[message["order_id"]] = fill_messages.get(message["order_id"], 0) + 1
    assert len(announced) >= 10 and sum(fill_messages.values()) >= 30
    for order_id, message in announced.items():
        row = orders.get(order_id)
        assert row is not None, f"announced order {order_id} is not in the store"
        assert row["filled_quantity"] >= message["filled_quantity"] - 1e-9, order_id
        assert fills.get(order_id, 0) >= fill_messages.get(order_id, 0), order_id
        if message["status"] in ("filled", "canceled", "expired", "rejected"):
            assert row["status"] == message["status"], order_id
    # Stored ahead of what the client saw: only what was still on its way when the process died (its last
    # moments), never an older state that was not announced.
    last_received = max(m["_received"] for m in messages)
    for order_id, row in orders.items():
        seen = announced.get(order_id)
        if seen is None or row["filled_quantity"] > seen["filled_quantity"] + 1e-9:
            assert row["updated_at"] >= last_received - 1.0, (order_id, row["updated_at"], last_received)
    assert killed_at >= last_received

    # Restart on the same data directory: the same orders; working ones resume, none assumed filled meanwhile.
    restarted = make_server("--interval", "0.05", "--symbols", SYMBOLS, env=env)
    base = restarted.base_url
    working = [oid for oid, row in orders.items() if row["status"] in ("accepted", "new") and row["limit_price"] == 1.0]
    assert working, "the test placed far limit orders that were still working"
    for order_id in working:
        body = requests.get(f"{base}/api/v1/orders/{order_id}", timeout=10).json()
        assert body["status"] == "accepted" and body["filled_quantity"] == 0
    for order_id, message in announced.items():
        body = requests.get(f"{base}/api/v1/orders/{order_id}", timeout=10).json()
        assert body["filled_quantity"] >= message["filled_quantity"] - 1e-9
    open_ids = {o["order_id"] for o in requests.get(f"{base}/api/v1/orders?limit=1000", timeout=10).json()["orders"]}
    assert set(working) <= open_ids
