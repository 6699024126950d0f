"""The chart page in real Chromium: renders, updates live over the WebSocket, reconnects after a restart."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page
from tests_support import wait_for

pytestmark = pytest.mark.browser


def stats(page: Page) -> dict[str, Any]:
    return page.evaluate("() => Object.assign({}, window.tickstream && window.tickstream.stats, "
                         "{latencies: undefined})")


def figure(page: Page) -> dict[str, Any]:
    return page.evaluate("""() => {
        const gd = document.querySelector('#chart-graph .js-plotly-plot');
        if (!gd || !gd.data || !gd.data[0].x) { return null; }
        const p = gd.data[0];
        const n = p.x.length;
        return {n: n, type: p.type, lastX: p.x[n - 1], lastClose: p.close[n - 1], lastHigh: p.high[n - 1],
                lastLow: p.low[n - 1], volumeN: gd.data[1].y.length, secondLastX: p.x[n - 2]};
    }""")


def text(page: Page, selector: str) -> str:
    return page.locator(selector).inner_text()


def test_chart_renders_and_updates_live(make_server, page) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.05", "--symbols", "AAPL,MSFT")
    browser_page.goto(server.base_url + "/chart/MSFT")

    first = wait_for(lambda: (f := figure(browser_page)) and f["n"] > 100 and f, 30, 0.1, "history in the chart")
    assert first["type"] == "candlestick" and first["volumeN"] == first["n"]
    wait_for(lambda: text(browser_page, "#chart-status") == "connected", 15, 0.1, "connected status")

    # The last candle changes in place (or a new one appends) within a few seconds, through the WebSocket.
    def changed() -> bool:
        now = figure(browser_page)
        return bool(now) and (now["lastX"] != first["lastX"] or now["lastClose"] != first["lastClose"]
                              or now["lastHigh"] != first["lastHigh"] or now["lastLow"] != first["lastLow"])

    wait_for(changed, 10, 0.1, "the last candle to change")
    wait_for(lambda: stats(browser_page)["applied"] >= 20, 10, 0.1, "twenty applied updates")
    s = stats(browser_page)
    assert s["duplicates"] == 0
    assert figure(browser_page)["n"] in (first["n"], first["n"] + 1, first["n"] + 2)
    assert "live-on" in (browser_page.locator("#chart-live").get_attribute("class") or "")
    assert text(browser_page, "#chart-price") not in ("", "—")
    assert text(browser_page, "h2.chart-symbol") == "MSFT"
    assert console.errors() == []


def test_timeframe_switch_reloads_and_streams(make_server, page) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.05", "--symbols", "AAPL")
    browser_page.goto(server.base_url + "/")
    wait_for(lambda: (f := figure(browser_page)) and f["n"] > 100, 30, 0.1, "history in the chart")
    browser_page.get_by_role("radio", name="5m", exact=True).check()

    def five_minute_spacing() -> bool:
        f = figure(browser_page)
        if not f or not f["secondLastX"]:
            return False
        from datetime import datetime
        gap = datetime.fromisoformat(f["lastX"].replace("Z", "+00:00")) - datetime.fromisoformat(
            f["secondLastX"].replace("Z", "+00:00"))
        return gap.total_seconds() == 300

    wait_for(five_minute_spacing, 15, 0.1, "5-minute candles")
    applied = stats(browser_page)["applied"]
    wait_for(lambda: stats(browser_page)["applied"] > applied + 5, 10, 0.1, "live 5m updates")
    assert console.errors() == []


def test_page_reconnects_after_server_restart(make_server, page) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.05", "--symbols", "AAPL")
    browser_page.goto(server.base_url + "/chart/AAPL")
    wait_for(lambda: stats(browser_page).get("applied", 0) > 5, 30, 0.1, "live updates before the restart")

    server.stop()
    wait_for(lambda: text(browser_page, "#chart-status") in ("reconnecting", "offline"), 15, 0.1,
             "the page to notice the server is gone")
    applied_while_down = stats(browser_page)["applied"]

    server.start()  # same port: the page must find it again by itself
    wait_for(lambda: text(browser_page, "#chart-status") == "connected", 40, 0.2, "reconnection")
    wait_for(lambda: stats(browser_page)["applied"] > applied_while_down + 10, 15, 0.1, "updates after reconnect")
    s = stats(browser_page)
    assert s["reconnects"] >= 1
    assert s["resyncs"] >= 1  # missed candles are fetched over REST after reconnecting
    # The only errors allowed are the browser's own reports of connections refused, reset or left unanswered
    # while the server was going down and coming back.
    assert console.errors(ignore=("WebSocket connection to", "ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET",
                                  "ERR_EMPTY_RESPONSE")) == []
