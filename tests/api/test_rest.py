"""REST routes: shapes from docs/protocol.md and JSON errors, through the app factory and on a real port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from flask.testing import FlaskClient
from tests_support import wait_for

from app import create_app
from settings import load_settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    settings = load_settings({}, data_dir=str(tmp_path_factory.mktemp("rest")), symbols="AAPL,GC=F")
    app = create_app(settings, start_feed=False)
    yield app.server.test_client()


def test_quote_shape(client: FlaskClient) -> None:
    response = client.get("/api/v1/market-data/aapl")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) >= {"symbol", "price", "change", "change_percent", "volume", "bid", "ask", "timestamp",
                         "source"}
    assert body["symbol"] == "AAPL"
    assert body["source"] == "sim"
    assert body["bid"] <= body["price"] <= body["ask"]
    assert body["timestamp"].endswith("Z") and len(body["timestamp"]) == 24


@pytest.mark.parametrize("symbol", ["GC=F", "%5EGSPC", "BTC-USD", "EURUSD=X", "BRK-B", "EURUSD"])
def test_quote_for_special_symbols(client: FlaskClient, symbol: str) -> None:
    response = client.get(f"/api/v1/market-data/{symbol}")
    assert response.status_code == 200, response.get_json()


def test_history_shape(client: FlaskClient) -> None:
    response = client.get("/api/v1/market-data/AAPL/history?period=30d&interval=1d")
    assert response.status_code == 200
    body = response.get_json()
    assert body["symbol"] == "AAPL" and body["period"] == "30d" and body["interval"] == "1d"
    data = body["data"]
    assert 30 <= len(data) <= 31
    assert set(data[0]) == {"time", "open", "high", "low", "close", "volume"}
    times = [c["time"] for c in data]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert all(isinstance(t, int) for t in times)


def test_history_paging_with_end_and_limit(client: FlaskClient) -> None:
    latest = client.get("/api/v1/market-data/AAPL/history?period=1d&interval=1m&limit=20").get_json()["data"]
    assert len(latest) == 20
    end = latest[5]["time"]
    older = client.get(f"/api/v1/market-data/AAPL/history?period=1d&interval=1m&end={end}&limit=5").get_json()
    assert [c["time"] for c in older["data"]] == [end - 60 * k for k in range(5, 0, -1)]


def test_historical_alias_defaults_interval_from_period(client: FlaskClient) -> None:
    body = client.get("/api/v1/market-data/AAPL/historical?period=1D").get_json()
    assert body["period"] == "1d" and body["interval"] == "5m"
    body = client.get("/api/v1/market-data/AAPL/historical?period=1y").get_json()
    assert body["interval"] == "1d"


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/api/v1/market-data/A$PL", 400, "invalid_symbol"),
        ("/api/v1/market-data/A$PL/history", 400, "invalid_symbol"),
        ("/api/v1/market-data/AAPL/history?period=7w", 400, "invalid_period"),
        ("/api/v1/market-data/AAPL/history?interval=2m", 400, "invalid_interval"),
        ("/api/v1/market-data/AAPL/history?limit=0", 400, "invalid_parameter"),
        ("/api/v1/market-data/AAPL/history?limit=abc", 400, "invalid_parameter"),
        ("/api/v1/market-data/AAPL/history?end=-5", 400, "invalid_parameter"),
        ("/api/v1/market-data/AAPL/history?period=1y&interval=1m", 400, "unsupported_request"),
        ("/api/v1/nothing-here", 404, "not_found"),
    ],
)
def test_errors_are_json(client: FlaskClient, url: str, status: int, code: str) -> None:
    response = client.get(url)
    assert response.status_code == status
    body = response.get_json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]


# Every GET route (the signals routes need trackers, so their path is asked for a symbol the feed tracks).
GET_ROUTES = [
    "/api/v1/market-data/AAPL",
    "/api/v1/market-data/AAPL/history",
    "/api/v1/market-data/AAPL/historical",
    "/api/v1/market-data/AAPL/options",
    "/api/v1/signals/symbol/AAPL",
    "/api/v1/signals/symbol/AAPL/levels",
    "/api/v1/openapi.json",
    "/ws/status",
    "/health",
    "/metrics/live-data",
    "/metrics",
]


@pytest.mark.parametrize("url", GET_ROUTES)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_on_a_get_route_are_405_with_allow(client: FlaskClient, url: str, method: str) -> None:
    response = client.open(url, method=method, json={"x": 1})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert response.headers["Content-Type"] == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == "method_not_allowed" and method in error["message"]


@pytest.mark.parametrize("url", GET_ROUTES)
def test_options_lists_the_allowed_methods(client: FlaskClient, url: str) -> None:
    response = client.options(url)
    assert response.status_code == 204 and response.data == b""
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert "text/html" not in response.headers.get("Content-Type", "")


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "OPTIONS"])
def test_unknown_api_routes_stay_404_for_every_method(client: FlaskClient, method: str) -> None:
    response = client.open("/api/v1/nothing-here", method=method)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_head_on_a_get_route_is_answered(client: FlaskClient) -> None:
    response = client.head("/api/v1/market-data/AAPL")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"


def test_health_reports_a_stopped_feed_as_unhealthy(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unhealthy"


def test_rest_on_a_real_port(live_server) -> None:  # type: ignore[no-untyped-def]
    base = live_server.base_url
    health = requests.get(base + "/health", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    wait_for(lambda: requests.get(base + "/health", timeout=5).json()["live_data"]["quotes_fetched"] > 0, 10,
             message="quotes counted in /health")
    quote = requests.get(base + "/api/v1/market-data/MSFT", timeout=5).json()
    history = requests.get(base + "/api/v1/market-data/MSFT/history?period=1d&interval=1m", timeout=5).json()
    # The stream and REST agree: the last candle's close is (close to) the current quote.
    assert abs(history["data"][-1]["close"] - quote["price"]) / quote["price"] < 0.01
    bad = requests.get(base + "/api/v1/market-data/%24%24/history", timeout=5)
    assert bad.status_code == 400 and bad.headers["Content-Type"].startswith("application/json")


def test_chart_page_layouts(client: FlaskClient) -> None:
    """The chart page's layout builds the live chart for a symbol, and a clear message for a bad one."""
    import dash

    layouts = {page["path_template"] or page["path"]: page["layout"] for page in dash.page_registry.values()}
    with client.application.test_request_context("/"):
        chart = layouts["/chart/<symbol>"](symbol="gc%3DF", tf="5m")
        by_name = layouts["/chart/<symbol>"](symbol="AAPL", timeframe="1h")
        bad = layouts["/chart/<symbol>"](symbol="A$PL")
        bad_tf = layouts["/chart/<symbol>"](symbol="AAPL", tf="7m")
        unknown = layouts["/chart/<symbol>"](symbol="ZZZZQQ")
    config = next(c for c in chart._traverse() if getattr(c, "id", None) == "chart-config")
    assert config.data["symbol"] == "GC=F" and config.data["timeframe"] == "5m"
    assert next(c for c in by_name._traverse() if getattr(c, "id", None) == "chart-config").data["timeframe"] == "1h"
    assert "invalid symbol" in str(bad.children)
    assert "timeframe" in str(bad_tf.children)
    assert "unknown symbol: ZZZZQQ" in str(unknown.children)
    assert client.get("/chart/AAPL").status_code == 200


def test_a_method_no_route_knows_keeps_flasks_allow_header(client: FlaskClient) -> None:
    response = client.open("/api/v1/market-data/AAPL", method="TRACE")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert response.get_json()["error"]["code"] == "method_not_allowed"
