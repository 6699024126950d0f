"""REST routes of the alerts: CRUD, JSON 4xx on bad input, the rule limit, the history query."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from app import create_app
from settings import load_settings
from trading.alerts import AlertRule, Condition, Firing, Level


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return create_app(load_settings({}, data_dir=str(tmp_path), symbols="AAPL"), start_feed=False)


@pytest.fixture
def client(app: Any) -> Iterator[FlaskClient]:
    yield app.server.test_client()


def _error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    message: str = body["error"]["message"]
    return message


def test_create_list_get_and_delete_a_rule(client: FlaskClient) -> None:
    created = client.post("/api/v1/alerts", json={"symbol": "aapl", "condition": "percent_move", "value": 1.5,
                                                  "window": 300, "direction": "down", "frequency": "every_time",
                                                  "cooldown_seconds": 120, "level": "warning", "message": " dip ",
                                                  "webhook_url": "https://hooks.example.test/x"})
    assert created.status_code == 201
    rule = created.get_json()
    assert created.headers["Location"] == f"/api/v1/alerts/{rule['rule_id']}"
    assert {k: rule[k] for k in ("symbol", "condition", "value", "window", "direction", "frequency",
                                 "cooldown_seconds", "level", "message", "webhook_url", "timeframe", "enabled",
                                 "fired_count", "last_fired_at")} == {
        "symbol": "AAPL", "condition": "percent_move", "value": 1.5, "window": 300.0, "direction": "down",
        "frequency": "every_time", "cooldown_seconds": 120.0, "level": "warning", "message": "dip",
        "webhook_url": "https://hooks.example.test/x", "timeframe": "1m", "enabled": True, "fired_count": 0,
        "last_fired_at": None}
    assert rule["created_at"].endswith("Z")
    assert client.get("/api/v1/alerts").get_json() == {"rules": [rule]}
    assert client.get(f"/api/v1/alerts/{rule['rule_id']}").get_json() == rule
    assert client.delete(f"/api/v1/alerts/{rule['rule_id']}").get_json() == rule
    assert client.get("/api/v1/alerts").get_json() == {"rules": []}
    _error(client.delete(f"/api/v1/alerts/{rule['rule_id']}"), 404, "unknown_rule")
    _error(client.get("/api/v1/alerts/nope"), 404, "unknown_rule")


def test_delete_all_rules(client: FlaskClient) -> None:
    for value in (1, 2, 3):
        assert client.post("/api/v1/alerts", json={"symbol": "AAPL", "condition": "price_below",
                                                   "value": value}).status_code == 201
    assert client.post("/api/v1/alerts", json={"condition": "order_filled"}).get_json()["symbol"] is None
    assert client.delete("/api/v1/alerts").get_json() == {"deleted": 4}
    assert client.get("/api/v1/alerts").get_json() == {"rules": []}


@pytest.mark.parametrize(("body", "code", "words"), [
    ({"symbol": "AAPL"}, "invalid_rule", "condition: Field required"),
    ({"symbol": "AAPL", "condition": "price_sideways", "value": 1}, "invalid_rule", "condition:"),
    ({"symbol": "AAPL", "condition": "price_above"}, "invalid_rule", "value: a price_above rule needs"),
    ({"symbol": "AAPL", "condition": "price_above", "value": "high"}, "invalid_rule", "value:"),
    ({"condition": "price_above", "value": 1}, "invalid_rule", "symbol: a price_above rule needs a symbol"),
    ({"symbol": "A$PL", "condition": "price_above", "value": 1}, "invalid_symbol", ""),
    ({"symbol": "AAPL", "condition": "consensus", "timeframe": "2h"}, "invalid_timeframe", "2h"),
    ({"symbol": "AAPL", "condition": "consensus", "action": "HOLD"}, "invalid_rule", "action:"),
    ({"symbol": "AAPL", "condition": "percent_move", "value": 1}, "invalid_rule", "window:"),
    ({"symbol": "AAPL", "condition": "percent_move", "value": 1, "window": 0.5}, "invalid_rule", "window:"),
    ({"symbol": "AAPL", "condition": "price_above", "value": 1, "frequency": "sometimes"}, "invalid_rule",
     "frequency:"),
    ({"symbol": "AAPL", "condition": "price_above", "value": 1, "frequency": "every_time", "cooldown_seconds": 0},
     "invalid_rule", "cooldown_seconds:"),
    ({"symbol": "AAPL", "condition": "price_above", "value": 1, "webhook_url": "ftp://x/y"}, "invalid_rule",
     "webhook_url:"),
    ({"symbol": "AAPL", "condition": "price_above", "value": 1, "message": "m" * 201}, "invalid_rule", "message:"),
    ({"symbol": "AAPL", "condition": "price_above", "value": 1, "cooldown": 5}, "invalid_rule", "cooldown:"),
    ({"symbol": "AAPL", "condition": "new_fvg", "direction": "up"}, "invalid_rule", "direction:"),
])
def test_bad_bodies_are_400_with_the_reason(client: FlaskClient, body: dict[str, Any], code: str,
                                            words: str) -> None:
    message = _error(client.post("/api/v1/alerts", json=body), 400, code)
    assert words in message
    assert client.get("/api/v1/alerts").get_json() == {"rules": []}


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '"AAPL"', ""])
def test_a_body_that_is_not_a_json_object_is_400(client: FlaskClient, raw: str) -> None:
    _error(client.post("/api/v1/alerts", data=raw, content_type="application/json"), 400, "invalid_json")


def test_a_huge_body_is_413(client: FlaskClient) -> None:
    _error(client.post("/api/v1/alerts", data="x" * 20_000, content_type="application/json"), 413, "body_too_large")


def test_an_unknown_symbol_is_404(client: FlaskClient) -> None:
    _error(client.post("/api/v1/alerts", json={"symbol": "ZZZZQ", "condition": "price_above", "value": 1}),
           404, "unknown_symbol")


def test_the_rule_limit_answers_400_too_many_rules(app: Any, client: FlaskClient) -> None:
    app.server.extensions["tickstream"].alerts.max_rules = 3
    for value in (1, 2, 3):
        assert client.post("/api/v1/alerts", json={"symbol": "AAPL", "condition": "price_above",
                                                   "value": value}).status_code == 201
    message = _error(client.post("/api/v1/alerts", json={"symbol": "AAPL", "condition": "price_above",
                                                         "value": 4}), 400, "too_many_rules")
    assert "at most 3" in message
    assert len(client.get("/api/v1/alerts").get_json()["rules"]) == 3


def test_other_methods_are_405_with_allow(client: FlaskClient) -> None:
    response = client.put("/api/v1/alerts", json={})
    _error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, POST, DELETE, OPTIONS"
    assert client.post("/api/v1/alerts/history").headers["Allow"] == "GET, OPTIONS"
    options = client.options("/api/v1/alerts/x")
    assert options.status_code == 204 and options.headers["Allow"] == "GET, DELETE, OPTIONS"


def test_a_foreign_browser_origin_may_not_create_rules(client: FlaskClient) -> None:
    body = {"symbol": "AAPL", "condition": "price_above", "value": 1}
    _error(client.post("/api/v1/alerts", json=body, headers={"Origin": "https://evil.example"}), 403,
           "origin_not_allowed")
    assert client.post("/api/v1/alerts", json=body, headers={"Origin": "http://localhost:5173"}).status_code == 201


def test_history_newest_first_with_limit_and_rule_filter(app: Any, client: FlaskClient) -> None:
    service = app.server.extensions["tickstream"].alerts
    rules = [AlertRule(f"r{n}", Condition.ORDER_FILLED) for n in (1, 2)]
    for n in range(6):
        rule = rules[n % 2]
        service.dispatch(Firing(f"a{n}", rule.rule_id, Level.INFO, "AAPL", f"m{n}", 1_700_000_000.0 + n,
                                rule.condition, rule, {"n": n}))
    history = client.get("/api/v1/alerts/history").get_json()["history"]
    assert [h["alert_id"] for h in history] == ["a5", "a4", "a3", "a2", "a1", "a0"]
    assert history[0] == {"alert_id": "a5", "rule_id": "r2", "level": "info", "symbol": "AAPL", "message": "m5",
                          "time": "2023-11-14T22:13:25.000Z", "condition": "order_filled", "details": {"n": 5},
                          "webhook": None}
    assert [h["alert_id"] for h in client.get("/api/v1/alerts/history?limit=2").get_json()["history"]] == ["a5", "a4"]
    filtered = client.get("/api/v1/alerts/history?rule_id=r1").get_json()["history"]
    assert [h["alert_id"] for h in filtered] == ["a4", "a2", "a0"]


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "limit=", "rule_id="])
def test_bad_history_queries_are_400(client: FlaskClient, query: str) -> None:
    _error(client.get(f"/api/v1/alerts/history?{query}"), 400, "invalid_parameter")
