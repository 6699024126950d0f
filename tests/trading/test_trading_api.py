"""The paper broker over real sockets: REST orders and their errors, WebSocket streams and snapshots."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from tests_support import WsClient, wait_for

from api import protocol as p


@pytest.fixture
def server(inproc_server):  # type: ignore[no-untyped-def]
    return inproc_server(symbols="AAPL,BTC-USD")


def subscribe(client: WsClient, channel: str) -> list[dict[str, Any]]:
    """Subscribe and return the ack; the snapshot messages follow."""
    client.send({"type": "subscribe", "data": {"channel": channel}})
    ack = client.recv_until(lambda m: m["type"] == "subscribed")
    assert ack["data"]["channel"] == channel
    return [ack]


def wait_quote(server: Any, symbol: str = "AAPL") -> None:
    wait_for(lambda: server.services.feed.latest_quote(symbol) is not None, 20, message="a first quote")


def test_orders_stream_their_transitions_fills_trades_and_positions(server: Any) -> None:
    wait_quote(server)
    client = WsClient(server.ws_url + "/ws")
    client.recv()
    for channel in ("orders", "trades", "positions"):
        subscribe(client, channel)
    response = requests.post(server.base_url + "/api/v1/orders", json={"symbol": "aapl", "side": "buy", "qty": 1},
                             timeout=10)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "accepted" and order["symbol"] == "AAPL" and order["quantity"] == 1
    seen: dict[str, list[dict[str, Any]]] = {}

    def until_filled(message: dict[str, Any]) -> bool:
        seen.setdefault(message["type"], []).append(message)
        return message["type"] == "order_update" and message["data"]["status"] == "filled"

    client.recv_until(until_filled)
    client.recv_until(lambda m: m["type"] == "position")
    updates = [m["data"] for m in seen["order_update"] if m["data"]["order_id"] == order["order_id"]]
    assert [u["status"] for u in updates][0] == "accepted" and updates[-1]["status"] == "filled"
    filled = updates[-1]
    assert set(filled) >= {"order_id", "symbol", "side", "status", "volume", "price", "filled_quantity",
                           "last_fill_quantity", "last_fill_price"}
    assert filled["volume"] == 1 and filled["filled_quantity"] == 1 and filled["price"] == filled["last_fill_price"]
    assert seen["order_update"][-1]["channel"] == "orders"
    quote = server.services.feed.latest_quote("AAPL")
    assert abs(filled["last_fill_price"] / quote.price - 1) < 0.01
    # The store has it, and the REST views agree.
    got = requests.get(f"{server.base_url}/api/v1/orders/{order['order_id']}", timeout=10).json()
    assert got["status"] == "filled" and got["fills"][0]["price"] == filled["last_fill_price"]
    positions = requests.get(server.base_url + "/api/v1/positions", timeout=10).json()["positions"]
    assert positions[0]["symbol"] == "AAPL" and positions[0]["quantity"] == 1
    trades = requests.get(server.base_url + "/api/v1/trades", timeout=10).json()["trades"]
    assert trades[0]["status"] == "open" and trades[0]["side"] == "long"
    client.close()


def test_a_subscribe_gets_a_snapshot_first(server: Any) -> None:
    wait_quote(server)
    working = requests.post(server.base_url + "/api/v1/orders", json={
        "symbol": "AAPL", "side": "buy", "quantity": 2, "type": "limit", "limit_price": 1.0,
        "time_in_force": "gtc"}, timeout=10).json()
    client = WsClient(server.ws_url + "/ws")
    client.recv()
    subscribe(client, "orders")
    snapshot = client.recv()
    assert snapshot["type"] == "order_update" and snapshot["data"]["snapshot"] is True
    assert snapshot["data"]["order_id"] == working["order_id"] and snapshot["data"]["price"] == 1.0
    subscribe(client, "dashboard")
    cards = client.recv()
    assert cards["type"] == "dashboard_update" and cards["channel"] == "dashboard"
    assert cards["data"]["total_value"] == "$100,000.00" and cards["data"]["win_rate"] == "—"
    assert cards["data"]["values"]["total_value"] == 100_000 and cards["data"]["open_positions"] == 0
    subscribe(client, "performance")
    performance = client.recv()
    assert performance["type"] == "performance" and performance["data"]["cash"] == 100_000
    # Canceling streams the transition.
    canceled = requests.delete(f"{server.base_url}/api/v1/orders/{working['order_id']}", timeout=10).json()
    assert canceled["status"] == "canceled"
    update = client.recv_until(lambda m: m["type"] == "order_update")
    assert update["data"]["status"] == "canceled" and "snapshot" not in update["data"]
    client.close()


def test_dashboard_update_is_sent_only_when_a_shown_value_changes(server: Any) -> None:
    wait_quote(server)
    client = WsClient(server.ws_url + "/ws")
    client.recv()
    subscribe(client, "dashboard")
    client.recv()  # the snapshot
    service = server.services.trading
    # Nothing changed: no message however often the service checks.
    for _ in range(3):
        service.periodic()
    requests.post(server.base_url + "/api/v1/account/reset", json={"cash": 50_000}, timeout=10)
    update = client.recv_until(lambda m: m["type"] == "dashboard_update")
    assert update["data"]["total_value"] == "$50,000.00" and "snapshot" not in update["data"]
    client.close()


@pytest.mark.parametrize(("body", "status", "code"), [
    ("not json", 400, "invalid_json"),
    ([1, 2], 400, "invalid_body"),
    ({"symbol": "AAPL", "quantity": 1}, 400, "invalid_body"),
    ({"symbol": "AAPL", "side": "hold", "quantity": 1}, 400, "invalid_body"),
    ({"symbol": "AAPL", "side": "buy", "quantity": -1}, 400, "invalid_body"),
    ({"symbol": "AAPL", "side": "buy", "quantity": 1, "colour": "red"}, 400, "invalid_body"),
    ({"symbol": "AAPL", "side": "buy", "quantity": 1, "client_order_id": "x" * 65}, 400, "invalid_body"),
    ({"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "trailing"}, 400, "invalid_body"),
    ({"symbol": "A$PL", "side": "buy", "quantity": 1}, 400, "invalid_symbol"),
    ({"symbol": "ZZZZQQ", "side": "buy", "quantity": 1}, 404, "unknown_symbol"),
    ({"symbol": "AAPL", "side": "sell", "quantity": 1}, 400, "order_rejected"),
    ({"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "limit", "limit_price": 100.001}, 400,
     "order_rejected"),
    ({"symbol": "AAPL", "side": "buy", "quantity": 1e8}, 400, "order_rejected"),
])
def test_rest_validation_errors_are_json_4xx(server: Any, body: Any, status: int, code: str) -> None:
    wait_quote(server)
    if isinstance(body, str):
        response = requests.post(server.base_url + "/api/v1/orders", data=body,
                                 headers={"Content-Type": "application/json"}, timeout=10)
    else:
        response = requests.post(server.base_url + "/api/v1/orders", json=body, timeout=10)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == code
    if code == "order_rejected":
        assert response.json()["order"]["status"] == "rejected"


def test_other_rest_errors(server: Any) -> None:
    base = server.base_url
    big = requests.post(base + "/api/v1/orders", data="{" + " " * 5000 + "}", timeout=10)
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"
    assert requests.get(base + "/api/v1/orders/nope", timeout=10).status_code == 404
    assert requests.delete(base + "/api/v1/orders/nope", timeout=10).json()["error"]["code"] == "unknown_order"
    assert requests.get(base + "/api/v1/orders?status=maybe", timeout=10).status_code == 400
    assert requests.get(base + "/api/v1/orders?limit=0", timeout=10).status_code == 400
    idea = requests.post(base + "/api/v1/orders/from-payload/none-such", timeout=10)
    assert idea.status_code == 404 and idea.json()["error"]["code"] == "unknown_idea"
    assert requests.post(base + "/api/v1/account/reset", json={"cash": -5}, timeout=10).status_code == 400
    assert requests.post(base + "/api/v1/auto-trading", json={"symbol": "AAPL", "timeframe": "2m",
                                                              "notional": 100}, timeout=10).status_code == 400


def test_a_repeated_client_order_id_answers_the_existing_order(server: Any) -> None:
    wait_quote(server)
    body = {"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "limit", "limit_price": 1.0,
            "client_order_id": "my-1"}
    first = requests.post(server.base_url + "/api/v1/orders", json=body, timeout=10)
    again = requests.post(server.base_url + "/api/v1/orders", json={**body, "quantity": 5}, timeout=10)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["order_id"] == first.json()["order_id"] and again.json()["quantity"] == 1


def test_a_prepared_payload_becomes_a_bracket_order_in_one_call(server: Any) -> None:
    wait_quote(server)
    price = server.services.feed.latest_quote("AAPL").price
    payload = {"symbol": "AAPL", "side": "buy", "order_type": "limit", "quantity": 3,
               "limit_price": round(price * 0.9, 2), "stop_loss": price * 0.8 + 0.001234,
               "take_profit": price * 1.1 + 0.004321, "time_in_force": "gtc", "idea_id": "idea-test-1"}
    server.services.bus.publish("payloads.AAPL", p.ChannelEvent(p.Channel.PAYLOADS, p.MessageType.PREPARED_PAYLOAD,
                                                                "AAPL", payload, 0.0))
    response = requests.post(server.base_url + "/api/v1/orders/from-payload/idea-test-1", timeout=10)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["idea_id"] == "idea-test-1" and order["type"] == "limit" and order["quantity"] == 3
    assert order["take_profit"] == round(price * 1.1 + 0.004321, 2)  # put on the price grid
    assert order["client_order_id"] == "idea:idea-test-1"
    again = requests.post(server.base_url + "/api/v1/orders/from-payload/idea-test-1", json={"quantity": 9},
                          timeout=10)
    assert again.status_code == 200 and again.json()["order_id"] == order["order_id"]
    legs = requests.get(server.base_url + "/api/v1/orders", timeout=10).json()["orders"]
    assert {o["leg"] for o in legs if o["parent_id"] == order["order_id"]} == {"take_profit", "stop_loss"}


def test_account_performance_and_reset(server: Any) -> None:
    base = server.base_url
    account = requests.get(base + "/api/v1/account", timeout=10).json()
    assert account["cash"] == 100_000 and account["buying_power"] == 100_000
    performance = requests.get(base + "/api/v1/performance", timeout=10).json()
    assert set(performance) >= {"total_value", "cash", "daily_pnl", "open_positions", "win_rate", "profit_factor",
                                "max_drawdown", "sharpe", "equity_curve"}
    reset = requests.post(base + "/api/v1/account/reset", json={"cash": 25_000}, timeout=10).json()
    assert reset["cash"] == 25_000 and reset["starting_cash"] == 25_000


def test_auto_trading_places_a_market_order_on_a_consensus_signal(server: Any) -> None:
    wait_quote(server)
    rule = requests.post(server.base_url + "/api/v1/auto-trading",
                         json={"symbol": "AAPL", "timeframe": "1m", "notional": 1000}, timeout=10)
    assert rule.status_code == 200 and rule.json()["enabled"] is True
    assert requests.get(server.base_url + "/api/v1/auto-trading", timeout=10).json()["rules"] == [rule.json()]
    price = server.services.feed.latest_quote("AAPL").price
    signal = {"signal_id": "sig-1", "signal_type": "BUY", "timeframe": "1m", "price": price}
    server.services.bus.publish("signals.AAPL", p.ChannelEvent(p.Channel.SIGNALS, p.MessageType.SIGNAL, "AAPL",
                                                               signal, 0.0))

    def placed() -> Any:
        orders = requests.get(server.base_url + "/api/v1/orders?status=all", timeout=10).json()["orders"]
        return next((o for o in orders if o["client_order_id"] == "auto:sig-1"), None)

    order = wait_for(placed, 10, message="the auto-trading order")
    assert order["side"] == "buy" and order["type"] == "market" and order["quantity"] == int(1000 // price)


def test_answers_match_the_openapi_schemas(server: Any) -> None:
    import jsonschema

    from api.openapi import openapi_document

    document = openapi_document()
    wait_quote(server)

    def check(method: str, path: str, status: str, body: Any) -> None:
        schema = document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
        validator = jsonschema.Draft202012Validator({**schema, "components": document["components"]})
        assert [e.message for e in validator.iter_errors(body)] == [], (method, path)

    base = server.base_url
    placed = requests.post(base + "/api/v1/orders", json={"symbol": "AAPL", "side": "buy", "quantity": 1,
                                                          "type": "limit", "limit_price": 1.0}, timeout=10)
    check("post", "/api/v1/orders", "201", placed.json())
    rejected = requests.post(base + "/api/v1/orders", json={"symbol": "AAPL", "side": "sell", "quantity": 1},
                             timeout=10)
    check("post", "/api/v1/orders", "400", rejected.json())
    order_id = placed.json()["order_id"]
    check("get", "/api/v1/orders/{order_id}", "200", requests.get(f"{base}/api/v1/orders/{order_id}",
                                                                  timeout=10).json())
    check("get", "/api/v1/orders", "200", requests.get(base + "/api/v1/orders?status=all", timeout=10).json())
    check("delete", "/api/v1/orders/{order_id}", "200", requests.delete(f"{base}/api/v1/orders/{order_id}",
                                                                        timeout=10).json())
    for path, model in (("/api/v1/positions", "200"), ("/api/v1/trades", "200"), ("/api/v1/performance", "200"),
                        ("/api/v1/account", "200"), ("/api/v1/auto-trading", "200")):
        check("get", path, model, requests.get(base + path, timeout=10).json())
    check("post", "/api/v1/account/reset", "200", requests.post(base + "/api/v1/account/reset", timeout=10).json())


def test_state_changing_routes_refuse_foreign_origins(server: Any) -> None:
    body = {"symbol": "AAPL", "side": "buy", "quantity": 1}
    foreign = requests.post(server.base_url + "/api/v1/orders", json=body,
                            headers={"Origin": "http://evil.example"}, timeout=10)
    assert foreign.status_code == 403 and foreign.json()["error"]["code"]
    reset = requests.post(server.base_url + "/api/v1/account/reset", headers={"Origin": "http://evil.example"},
                          timeout=10)
    assert reset.status_code == 403
    # Reading stays open to any origin.
    assert requests.get(server.base_url + "/api/v1/positions", headers={"Origin": "http://evil.example"},
                        timeout=10).status_code == 200


def test_other_methods_get_405_with_allow(server: Any) -> None:
    put = requests.put(server.base_url + "/api/v1/orders", json={}, timeout=10)
    assert put.status_code == 405 and put.headers["Allow"] == "GET, POST, OPTIONS"
    assert put.json()["error"]["code"] == "method_not_allowed"
    assert requests.get(server.base_url + "/api/v1/account/reset", timeout=10).status_code == 405
    options = requests.options(server.base_url + "/api/v1/orders/abc", timeout=10)
    assert options.status_code == 204 and options.headers["Allow"] == "GET, DELETE, OPTIONS"
