"""Bad asset paths are a plain 404 with a small JSON body, never a 500 with a traceback in the body or the log."""

from __future__ import annotations

from typing import Any

import pytest
import requests

BAD_PATHS = [
    "/_dash-component-suites/dash/nope.js",
    "/_dash-component-suites/nopkg/x.js",
    "/_dash-component-suites/plotly/x.js",
    "/_dash-component-suites/dash/dcc/async-graph.v9.js",
    "/_dash-component-suites/dash/dash-renderer/build/x",
    "/_dash-component-suites/dash/..%2F..%2Fetc/passwd",
]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_a_bad_asset_path_is_404(live_server: Any, path: str) -> None:
    response = requests.get(live_server.base_url + path, timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"
    assert len(response.content) < 300 and b"Traceback" not in response.content


def test_bad_asset_paths_leave_no_traceback_in_the_log(live_server: Any) -> None:
    for path in BAD_PATHS:
        requests.get(live_server.base_url + path, timeout=10)
    log = live_server.log_tail(400)
    assert "DependencyException" not in log and "Exception on /_dash-component-suites" not in log


def test_a_real_asset_is_still_served(live_server: Any) -> None:
    page = requests.get(live_server.base_url + "/", timeout=10).text
    start = page.index("/_dash-component-suites/dash/dash-renderer/")
    path = page[start:page.index('"', start)]
    response = requests.get(live_server.base_url + path, timeout=10)
    assert response.status_code == 200 and len(response.content) > 10_000
