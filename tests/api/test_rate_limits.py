"""Rate limits over real HTTP: a low configured limit answers 429 JSON with Retry-After and the X-RateLimit headers,
per route group and per client address (a trusted proxy's X-Forwarded-For), and the defaults stay out of the way."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from api.rate_limits import DEFAULT_LIMITS, parse_rate_limits, route_group
from settings import load_settings


@pytest.mark.parametrize(("rule", "group"), [
    ("/api/v1/market-data/<symbol>", "market_data"), ("/api/v1/market-data/<symbol>/history", "market_data"),
    ("/api/v1/symbols", "market_data"), ("/api/v1/signals/symbol/<symbol>/levels", "signals"),
    ("/api/v1/orders", "trading"), ("/api/v1/account/reset", "trading"), ("/api/v1/alerts/<rule_id>", "trading"),
    ("/api/v1/auto-trading", "trading"), ("/health", None), ("/metrics", None), ("/api/v1/openapi.json", None),
    ("/ws", None), ("/_dash-update-component", None), ("/chart/<symbol>", None),
])
def test_route_group(rule: str, group: str | None) -> None:
    assert route_group(rule) == group


def test_parse_rate_limits() -> None:
    assert parse_rate_limits("") == DEFAULT_LIMITS
    assert parse_rate_limits("OFF") == {"market_data": None, "signals": None, "trading": None}
    assert parse_rate_limits("market-data=10/minute, trading=off") == {**DEFAULT_LIMITS, "market_data": "10/minute",
                                                                        "trading": None}
    for bad in ("trading", "orders=5/second", "trading=lots", "trading=", "off trading=5/second"):
        with pytest.raises(ValueError, match="TICKSTREAM_RATE_LIMITS"):
            parse_rate_limits(bad)


def test_setting_reaches_the_app(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert load_settings({"TICKSTREAM_RATE_LIMITS": "trading=5/second"}).rate_limits == "trading=5/second"
    from app import create_app

    with pytest.raises(ValueError, match="TICKSTREAM_RATE_LIMITS"):
        create_app(load_settings({}, data_dir=str(tmp_path), rate_limits="trading=often"), start_feed=False)


def _limited(response: requests.Response, group: str) -> None:
    assert response.status_code == 429, response.text[:200]
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "too_many_requests" and group in error["message"]
    assert 0 < int(response.headers["Retry-After"]) <= 61  # the end of the one-minute window, rounded up
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Limit"]) > 0 and int(response.headers["X-RateLimit-Reset"]) > 0


@pytest.fixture
def server(inproc_server) -> Any:  # type: ignore[no-untyped-def]
    return inproc_server(start_feed=False, rate_limits="market_data=3/minute signals=2/minute trading=2/minute")


def test_a_group_shares_one_budget_and_answers_429(server) -> None:  # type: ignore[no-untyped-def]
    base = server.base_url
    answers = [requests.get(base + path, timeout=10) for path in
               ("/api/v1/symbols?q=A", "/api/v1/market-data/AAPL/history?period=1d&interval=5m", "/api/v1/symbols?q=M")]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    # Retry-After only when there is something to wait for (a route's own, such as a 503's, is left as it is).
    assert all("Retry-After" not in a.headers for a in answers)
    _limited(requests.get(base + "/api/v1/symbols", timeout=10), "market data")
    _limited(requests.get(base + "/api/v1/market-data/AAPL/options", timeout=10), "market data")
    # Other groups have their own budgets; routes outside the groups have none.
    assert requests.get(base + "/api/v1/signals/symbol/AAPL?limit=1", timeout=10).status_code != 429
    for _ in range(5):
        assert requests.get(base + "/api/v1/openapi.json", timeout=10).status_code == 200
        assert requests.get(base + "/health", timeout=10).status_code != 429


def test_trading_is_limited_for_writes_too(server) -> None:  # type: ignore[no-untyped-def]
    url = server.base_url + "/api/v1/orders"
    assert requests.get(url, timeout=10).status_code == 200
    assert requests.post(url, json={}, timeout=10).status_code == 400  # an invalid order still costs one request
    _limited(requests.post(url, json={}, timeout=10), "trading")
    _limited(requests.get(server.base_url + "/api/v1/positions", timeout=10), "trading")


def test_budgets_are_per_client_address_behind_a_trusted_proxy(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False, rate_limits="market_data=1/minute", trusted_proxies="127.0.0.1")
    url = server.base_url + "/api/v1/symbols?q=A"

    def get(client: str) -> int:
        return requests.get(url, headers={"X-Forwarded-For": client}, timeout=10).status_code

    assert get("198.51.100.7") == 200
    assert get("198.51.100.7") == 429
    assert get("198.51.100.8") == 200
    # Without a trusted proxy the header is ignored: every request is the test's own address.
    plain = inproc_server(start_feed=False, rate_limits="market_data=1/minute")
    assert requests.get(plain.base_url + "/api/v1/symbols?q=A", headers={"X-Forwarded-For": "198.51.100.9"},
                        timeout=10).status_code == 200
    assert requests.get(plain.base_url + "/api/v1/symbols?q=A", headers={"X-Forwarded-For": "198.51.100.10"},
                        timeout=10).status_code == 429


def test_off_and_defaults(inproc_server) -> None:  # type: ignore[no-untyped-def]
    off = inproc_server(start_feed=False, rate_limits="off")
    response = requests.get(off.base_url + "/api/v1/symbols?q=A", timeout=10)
    assert response.status_code == 200 and "X-RateLimit-Limit" not in response.headers
    default = inproc_server(start_feed=False)
    answers = [requests.get(default.base_url + "/api/v1/symbols?q=A", timeout=10) for _ in range(50)]
    assert {a.status_code for a in answers} == {200}
    assert answers[-1].headers["X-RateLimit-Limit"] == "300"
