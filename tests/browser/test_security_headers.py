"""The Content-Security-Policy in real Chromium: every page works under it, with no violation reported."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import AppServer
from playwright.sync_api import Browser
from tests_support import free_port, wait_for

pytestmark = pytest.mark.browser

# Records what the browser refused under the policy (each refusal also logs a console error).
RECORD_VIOLATIONS = """window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
    window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
});"""

# (path, what shows when the page has run its scripts)
PAGES = [
    ("/", "#watchlist tr[data-symbol='AAPL'] .watch-price"),
    ("/chart/AAPL", "#chart-price"),
    ("/signals", "#signals-grid .ag-row"),
    ("/portfolio", "#portfolio-positions-grid .ag-header"),
    ("/alerts", "#alerts-rules-grid .ag-header"),
    ("/status", "[data-card='trackers']"),
    ("/embed/watchlist?symbols=AAPL", "tr[data-symbol='AAPL'] .watch-price"),
    ("/api/docs", ".swagger-ui .opblock"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    app = AppServer(free_port(), tmp_path_factory.mktemp("csp"), ("--interval", "0.05", "--symbols", "AAPL,MSFT"))
    app.start()
    yield app
    app.stop()


@pytest.mark.parametrize(("path", "content"), PAGES)
def test_pages_run_under_the_policy(browser: Browser, server: AppServer, path: str, content: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    log: list[tuple[str, str]] = []
    page.on("console", lambda message: log.append((message.type, message.text)))
    page.on("pageerror", lambda error: log.append(("pageerror", str(error))))
    try:
        response = page.goto(server.base_url + path)
        assert response is not None and response.status == 200
        assert "script-src 'self' 'sha256-" in response.headers["content-security-policy"]
        page.locator(content).first.wait_for(timeout=20000)
        if path == "/chart/AAPL":
            # The chart's header fills in once its scripts have loaded the history and opened the socket.
            wait_for(lambda: any(c.isdigit() for c in page.locator("#chart-price").inner_text()), 20, 0.1,
                     "the chart's price")
        page.wait_for_timeout(500)  # late scripts (lazy Plotly bundle, socket) report their refusals too
        assert page.evaluate("window.__cspViolations") == []
        assert [text for kind, text in log if kind in ("error", "pageerror")] == []
    finally:
        context.close()
