"""/health's uptime as the design shows it: ``live_data.uptime`` "H:MM:SS" and ``uptime_seconds``."""

from __future__ import annotations

import re

import pytest
import requests

from api.health import format_uptime


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0:00:00"),
        (0.999, "0:00:00"),
        (59.9, "0:00:59"),
        (61, "0:01:01"),
        (3600, "1:00:00"),
        (86_399, "23:59:59"),
        (86_400, "24:00:00"),
        (50 * 3600 + 3 * 60 + 10, "50:03:10"),
        (1000 * 3600, "1000:00:00"),
        (-5, "0:00:00"),
    ],
)
def test_format_uptime(seconds: float, text: str) -> None:
    assert format_uptime(seconds) == text


def test_health_carries_both_forms(live_server) -> None:  # type: ignore[no-untyped-def]
    live = requests.get(live_server.base_url + "/health", timeout=5).json()["live_data"]
    assert re.fullmatch(r"\d+:[0-5]\d:[0-5]\d", live["uptime"]), live
    assert isinstance(live["uptime_seconds"], (int, float)) and live["uptime_seconds"] > 0
    # Both read from one statistics snapshot.
    assert live["uptime"] == format_uptime(live["uptime_seconds"])
