"""GET /api/v1/signals/symbol/{symbol} answers the newest ``limit`` signals (default 50), on a real port."""

from __future__ import annotations

import pytest
import requests
from tests_support import wait_for


def get(server, path: str) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.get(server.base_url + path, timeout=15)


def test_default_is_the_newest_50_across_timeframes(live_server) -> None:  # type: ignore[no-untyped-def]
    # Every tracker seeded: without a limit the answer would hold all of AAPL's 7 trackers' signals (~350).
    every = wait_for(lambda: len(s := get(live_server, "/api/v1/signals/symbol/AAPL?limit=500").json()["signals"])
                     > 100 and s, 60, 0.2, "AAPL's trackers seeded with their signal history")
    response = get(live_server, "/api/v1/signals/symbol/AAPL")
    assert response.status_code == 200
    signals = response.json()["signals"]
    assert len(signals) == 50
    stamps = [s["timestamp"] for s in signals]
    assert stamps == sorted(stamps, reverse=True)
    # The newest across timeframes: nothing left out is newer than what is in.
    assert min(stamps) >= max(s["timestamp"] for s in every[50:])
    assert len(response.content) < 100_000


def test_limit_with_a_timeframe(live_server) -> None:  # type: ignore[no-untyped-def]
    signals = wait_for(lambda: (s := get(live_server, "/api/v1/signals/symbol/msft?timeframe=15m&limit=3")
                                .json()["signals"]) and s, 60, 0.2, "MSFT's 15m tracker seeded")
    assert len(signals) == 3 and {s["timeframe"] for s in signals} == {"15m"}
    assert len(get(live_server, "/api/v1/signals/symbol/MSFT?limit=1").json()["signals"]) == 1


@pytest.mark.parametrize("limit", ["0", "-1", "501", "abc", "2.5"])
def test_bad_limits_are_400(live_server, limit: str) -> None:  # type: ignore[no-untyped-def]
    response = get(live_server, f"/api/v1/signals/symbol/AAPL?limit={limit}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter" and "limit" in response.json()["error"]["message"]
