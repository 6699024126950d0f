"""Empty query parameters are mistakes answered with 400, not requests for the default."""

from __future__ import annotations

import pytest
import requests


@pytest.mark.parametrize("path", [
    "/api/v1/market-data/AAPL/history?period=",
    "/api/v1/market-data/AAPL/history?interval=",
    "/api/v1/market-data/AAPL/history?period=5d&interval=%20",
    "/api/v1/market-data/AAPL/options?expiration=",
    "/api/v1/signals/symbol/AAPL?timeframe=",
])
def test_empty_parameter_is_400_with_its_name(inproc_server, path: str) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(start_feed=False)
    response = requests.get(server.base_url + path, timeout=10)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter"
    name = path.split("?")[1].split("&")[-1].split("=")[0]
    assert error["message"].startswith(f"{name}: must not be empty")


def test_unknown_empty_parameters_are_still_ignored(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server()
    response = requests.get(server.base_url + "/api/v1/market-data/AAPL/history?period=1d&cachebuster=", timeout=10)
    assert response.status_code == 200
