"""The OpenAPI document: valid OpenAPI 3.1, covering every REST route, matching real answers, fuzzed by schemathesis."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import hypothesis
import jsonschema
import pytest
import schemathesis
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from api.openapi import openapi_document
from app import create_app
from settings import load_settings

# Routes docs/protocol.md lists that other modules serve (signals, WebSocket trackers); documented here all the same.
DOCUMENTED_ELSEWHERE = {"/api/v1/signals/symbol/{symbol}", "/api/v1/signals/symbol/{symbol}/levels", "/ws/status"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = load_settings({}, data_dir=str(tmp_path_factory.mktemp("openapi")), symbols="AAPL")
    return create_app(settings, start_feed=False)


@pytest.fixture(scope="module")
def client(app: Any) -> Iterator[FlaskClient]:
    yield app.server.test_client()


@pytest.fixture(scope="module")
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


def test_document_is_valid_openapi(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert document == openapi_document()


def _flask_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_every_rest_route_is_documented(app: Any, document: dict[str, Any]) -> None:
    served = {
        _flask_path(rule.rule)
        for rule in app.server.url_map.iter_rules()
        if rule.methods & {"GET", "POST", "DELETE"}
        and rule.rule.startswith(("/api/", "/health", "/metrics", "/ws/status"))
        and "<path:" not in rule.rule  # the JSON 404 catch-all
    }
    assert served - set(document["paths"]) == set()
    documented_here = set(document["paths"]) - DOCUMENTED_ELSEWHERE
    assert documented_here <= served
    for path, item in document["paths"].items():
        # Read-only routes document GET; the paper trading routes also POST and DELETE.
        operation = item.get("get") or next(iter(item.values()))
        assert operation["operationId"] and (operation["responses"].get("200") or operation["responses"]["201"]), path
        if "{symbol}" in path:
            assert any(p["name"] == "symbol" and p["in"] == "path" for p in operation["parameters"])
        if path.startswith("/api/v1/market-data/"):
            assert {"400", "404", "503"} <= set(operation["responses"]), path


def test_every_route_that_asks_a_source_declares_503(document: dict[str, Any]) -> None:
    # The signals routes ask the source for a quote (404 for an unknown symbol) before tracking a new symbol, so
    # they answer 503 like the market-data routes when no source can answer and nothing is cached.
    for path, item in document["paths"].items():
        if path.startswith("/api/v1/") and "{symbol}" in path:
            response = item["get"]["responses"].get("503")
            assert response is not None, path
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}


def test_history_parameters_come_from_the_query_model(document: dict[str, Any]) -> None:
    params = {p["name"]: p for p in document["paths"]["/api/v1/market-data/{symbol}/history"]["get"]["parameters"]}
    assert set(params) == {"symbol", "period", "interval", "end", "limit", "format"}
    assert params["format"]["schema"]["enum"] == ["rows", "columns"]
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 50_000}
    assert params["end"]["schema"]["exclusiveMinimum"] == 0
    assert "1m" in params["interval"]["schema"]["enum"]
    options = document["paths"]["/api/v1/market-data/{symbol}/options"]["get"]["parameters"]
    assert [p["name"] for p in options] == ["symbol", "expiration"]


def test_symbol_search_parameters_come_from_the_query_model(document: dict[str, Any]) -> None:
    params = {p["name"]: p for p in document["paths"]["/api/v1/symbols"]["get"]["parameters"]}
    assert params["q"]["required"] is True and params["q"]["schema"]["maxLength"] == 50
    assert params["limit"]["schema"]["maximum"] == 50 and params["limit"]["required"] is False


def _validator(document: dict[str, Any], path: str, status: str) -> jsonschema.Draft202012Validator:
    schema = document["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"]
    # Local $refs resolve against the root, so the components ride along with the schema.
    return jsonschema.Draft202012Validator({**schema, "components": document["components"]})


@pytest.mark.parametrize(
    ("url", "path", "status"),
    [
        ("/api/v1/market-data/AAPL", "/api/v1/market-data/{symbol}", "200"),
        ("/api/v1/market-data/AAPL/history?period=5d&interval=1h", "/api/v1/market-data/{symbol}/history", "200"),
        ("/api/v1/market-data/AAPL/historical?period=1D", "/api/v1/market-data/{symbol}/historical", "200"),
        ("/api/v1/market-data/AAPL/history?interval=1m&format=columns", "/api/v1/market-data/{symbol}/history",
         "200"),
        ("/api/v1/signals/symbol/AAPL/levels?timeframe=1m&limit=500", "/api/v1/signals/symbol/{symbol}/levels",
         "200"),
        ("/api/v1/signals/symbol/AAPL/levels?timeframe=1m&limit=5001", "/api/v1/signals/symbol/{symbol}/levels",
         "400"),
        ("/api/v1/market-data/AAPL/options", "/api/v1/market-data/{symbol}/options", "200"),
        ("/api/v1/market-data/A$PL", "/api/v1/market-data/{symbol}", "400"),
        ("/api/v1/market-data/AAPL/options?expiration=x", "/api/v1/market-data/{symbol}/options", "400"),
        ("/api/v1/symbols?q=gold&limit=5", "/api/v1/symbols", "200"),
        ("/api/v1/symbols?q=", "/api/v1/symbols", "400"),
        ("/health", "/health", "503"),
        ("/metrics/live-data", "/metrics/live-data", "200"),
    ],
)
def test_answers_match_their_schemas(client: FlaskClient, document: dict[str, Any], url: str, path: str,
                                     status: str) -> None:
    response = client.get(url)
    assert str(response.status_code) == status
    errors = [e.message for e in _validator(document, path, status).iter_errors(response.get_json())]
    assert errors == []


def test_schemas_reject_wrong_shapes(document: dict[str, Any]) -> None:
    quote = _validator(document, "/api/v1/market-data/{symbol}", "200")
    assert not quote.is_valid({"symbol": "AAPL", "price": "high"})
    chain = _validator(document, "/api/v1/market-data/{symbol}/options", "200")
    assert not chain.is_valid({"symbol": "AAPL", "underlying_price": 1.0, "expiration": "2024-01-19",
                               "expirations": [], "calls": [{"strike": 1.0}], "puts": []})


# -- schemathesis over the live test server ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def live_schema(live_server: Any) -> Any:
    schema = schemathesis.openapi.from_url(f"{live_server.base_url}/api/v1/openapi.json")
    return schema.include(method="GET")


schema = schemathesis.pytest.from_fixture("live_schema")


@schema.parametrize()
@hypothesis.settings(max_examples=25, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_no_server_errors(case: schemathesis.Case, live_server: Any) -> None:
    case.call_and_validate(base_url=live_server.base_url, checks=[schemathesis.checks.not_a_server_error],
                           timeout=30)
