"""The chart page in real Chromium: live updates, windowing, navigation without reloads, panes, loading and error
states, time zones, keyboard, reconnection. Screenshots of each state go to test-output/screenshots."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, Route
from tests_support import wait_for

from components.figures import pane_domains

pytestmark = pytest.mark.browser

STATE_JS = "() => window.tickstream && window.tickstream.chart ? window.tickstream.chart.state() : null"
STATS_JS = """() => { const s = window.tickstream && window.tickstream.stats; if (!s) { return null; }
    return {applied: s.applied, redraws: s.redraws, mainRedraws: s.mainRedraws || 0, plotted: s.plotted,
            loaded: s.loaded, duplicates: s.duplicates, gaps: s.gaps, reconnects: s.reconnects, resyncs: s.resyncs,
            lastClose: s.lastClose, lastCandleTime: s.lastCandleTime, firstCandleMs: s.firstCandleMs,
            latencies: s.latencies.length}; }"""
FIGURE_JS = """() => { const gd = document.querySelector('#chart-graph .js-plotly-plot');
    if (!gd || !gd.data) { return null; }
    const byUid = {}; gd.data.forEach(t => { byUid[t.uid] = {n: (t.x || []).length, visible: t.visible,
        yaxis: t.yaxis, x0: t.x && t.x[0], x1: t.x && t.x[t.x.length - 1]}; });
    const axis = n => gd._fullLayout[n] ? {visible: gd._fullLayout[n].visible, domain: gd._fullLayout[n].domain,
        type: gd._fullLayout[n].type, range: gd._fullLayout[n].range} : null;
    return {traces: byUid, shapes: (gd.layout.shapes || []).length, annotations: (gd.layout.annotations || []).length,
            xaxis: axis('xaxis'), yaxis: axis('yaxis'), yaxis3: axis('yaxis3'), yaxis4: axis('yaxis4'),
            bg: gd._fullLayout.paper_bgcolor,
            ticks: Array.from(gd.querySelectorAll('.xtick text')).map(t => t.textContent)}; }"""


# Show [from, from + seconds] as a user's pan or zoom would (a relayout of the x range).
PAN_JS = """([t, seconds]) => { const gd = document.querySelector('#chart-graph .js-plotly-plot');
    const f = window.tickstream.format; const z = window.tickstream.chart.state().timeZone;
    return Plotly.relayout(gd, {'xaxis.range[0]': f.plotX(t, z), 'xaxis.range[1]': f.plotX(t + seconds, z)}); }"""


def state(page: Page) -> dict[str, Any]:
    return page.evaluate(STATE_JS) or {}


def stats(page: Page) -> dict[str, Any]:
    return page.evaluate(STATS_JS) or {}


def figure(page: Page) -> dict[str, Any]:
    return page.evaluate(FIGURE_JS) or {}


def text(page: Page, selector: str) -> str:
    return page.locator(selector).inner_text()


def ready(page: Page, timeout: float = 40) -> dict[str, Any]:
    return wait_for(lambda: (s := state(page)).get("ready") and stats(page).get("redraws", 0) > 0 and s, timeout,
                    0.1, "the chart to draw its history")


def test_chart_renders_and_updates_live(make_server, page, screenshot) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.05", "--symbols", "AAPL,MSFT")
    browser_page.goto(server.base_url + "/chart/MSFT")
    first = ready(browser_page)
    assert first["symbol"] == "MSFT" and first["timeframe"] == "1m" and first["loaded"] > 100
    wait_for(lambda: text(browser_page, "#chart-status") == "live", 15, 0.1, "live status")
    before = stats(browser_page)

    # The forming candle changes in place (or a new one appends) through the WebSocket.
    wait_for(lambda: stats(browser_page)["applied"] >= before["applied"] + 20, 15, 0.1, "twenty applied updates")
    after = stats(browser_page)
    assert (after["lastClose"], after["lastCandleTime"]) != (before["lastClose"], before["lastCandleTime"]) or \
        after["applied"] > before["applied"]
    assert after["duplicates"] == 0 and after["gaps"] == 0
    # Ticks redraw only the live layer: the figure itself redraws when a candle closes or the view changes.
    assert after["mainRedraws"] < after["redraws"]
    drawn = figure(browser_page)
    assert drawn["shapes"] == 0, "overlays are traces, never layout shapes"
    window = state(browser_page)["slice"]
    assert drawn["traces"]["price"]["n"] == window["end"] - window["start"] - 1  # the forming candle is live
    live_candle = browser_page.locator("#chart-live-layer .live-body")
    assert live_candle.count() == 1 and live_candle.get_attribute("fill")

    # Header: the last close at the instrument's precision, the source, a countdown, the readout.
    price = text(browser_page, "#chart-price")
    assert price.replace(",", "").replace(".", "", 1).isdigit() and len(price.split(".")[1]) == 2
    assert text(browser_page, "#chart-source") == "SIMULATED"
    assert text(browser_page, "#chart-countdown").startswith("closes in ")
    assert text(browser_page, "#chart-readout .readout-close .readout-value") not in ("", "—")
    assert text(browser_page, "h2.chart-symbol") == "MSFT"
    assert browser_page.title().startswith("MSFT ") and browser_page.title().endswith("· Tickstream")
    assert browser_page.evaluate("document.documentElement.lang") == "en"
    screenshot(browser_page, "chart-live")
    assert console.errors() == []


def test_windowing_keeps_the_plotted_candles_bounded(make_server, page, screenshot) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.1", "--symbols", "AAPL")
    browser_page.goto(server.base_url + "/chart/AAPL")
    ready(browser_page)
    loaded = browser_page.evaluate("() => window.tickstream.chart.ensureCandles(5000)", )
    assert loaded >= 5000
    wait_for(lambda: stats(browser_page)["loaded"] >= 5000, 10, 0.1, "5,000 candles held")
    time.sleep(0.5)
    s = state(browser_page)
    plotted = figure(browser_page)["traces"]["price"]["n"]
    assert plotted <= 400, f"{plotted} candles given to Plotly while following the latest"

    # Pan to the oldest candles: the window moves there, still bounded, and its overlays come with it.
    first = s["firstTime"]
    browser_page.evaluate(PAN_JS, [first + 600, 150 * 60])
    wait_for(lambda: (st := state(browser_page))["slice"]["start"] < 200 and not st["view"]["follow"], 10, 0.1,
             "the window at the oldest candles")
    drawn = figure(browser_page)
    assert drawn["traces"]["price"]["n"] <= 1500
    assert drawn["traces"]["price"]["x0"] <= drawn["xaxis"]["range"][0]

    # Zoomed out past 1,500 candles: still at most 1,500 plotted, and the next coarser timeframe is offered.
    browser_page.evaluate(PAN_JS, [first, 3000 * 60])
    wait_for(lambda: browser_page.locator("#chart-coarser").is_visible(), 10, 0.1, "the coarser timeframe offer")
    assert figure(browser_page)["traces"]["price"]["n"] <= 1500
    assert "switch to 5m" in text(browser_page, "#chart-coarser")
    screenshot(browser_page, "chart-zoomed-out")
    browser_page.click("#chart-coarser")
    wait_for(lambda: state(browser_page)["timeframe"] == "5m" and state(browser_page)["ready"], 20, 0.1, "5m")
    assert console.errors() == []


def test_timeframe_and_symbol_change_without_reload(make_server, page) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.05", "--symbols", "AAPL")
    browser_page.goto(server.base_url + "/chart/AAPL")
    ready(browser_page)
    browser_page.evaluate("() => { window.__sameDocument = true; }")
    reconnects = stats(browser_page)["reconnects"]

    browser_page.click("#chart-timeframes [data-tf='5m']")
    wait_for(lambda: (s := state(browser_page))["timeframe"] == "5m" and s["ready"], 20, 0.1, "5m candles")
    assert browser_page.url.endswith("/chart/AAPL?tf=5m")
    assert (state(browser_page)["lastTime"] - state(browser_page)["firstTime"]) % 300 == 0
    assert browser_page.get_attribute("#chart-timeframes [data-tf='5m']", "aria-pressed") == "true"
    applied = stats(browser_page)["applied"]
    wait_for(lambda: stats(browser_page)["applied"] > applied + 3, 15, 0.1, "live 5m updates")

    # The symbol box: an unknown symbol is refused before navigating; a known one switches on the same socket.
    browser_page.fill("#symbol-input", "ZZZZQQ")
    browser_page.press("#symbol-input", "Enter")
    wait_for(lambda: "Unknown symbol" in text(browser_page, "#symbol-error"), 10, 0.1, "the refusal")
    assert browser_page.url.endswith("/chart/AAPL?tf=5m")
    browser_page.fill("#symbol-input", "msft")
    browser_page.press("#symbol-input", "Enter")
    wait_for(lambda: (s := state(browser_page))["symbol"] == "MSFT" and s["ready"], 20, 0.1, "MSFT")
    assert browser_page.url.endswith("/chart/MSFT?tf=5m")
    assert text(browser_page, "h2.chart-symbol") == "MSFT"
    wait_for(lambda: text(browser_page, "#chart-name").startswith("Microsoft"), 5, 0.1, "the instrument's name")
    applied = stats(browser_page)["applied"]
    wait_for(lambda: stats(browser_page)["applied"] > applied + 3, 15, 0.1, "live MSFT updates")

    # Back and forward move between the charts without loading the page.
    browser_page.go_back()
    wait_for(lambda: state(browser_page)["symbol"] == "AAPL" and state(browser_page)["timeframe"] == "5m", 15, 0.1,
             "back to AAPL 5m")
    browser_page.go_back()
    wait_for(lambda: state(browser_page)["timeframe"] == "1m", 15, 0.1, "back to AAPL 1m")
    browser_page.go_forward()
    wait_for(lambda: state(browser_page)["timeframe"] == "5m", 15, 0.1, "forward to 5m")
    assert browser_page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    assert stats(browser_page)["reconnects"] == reconnects, "the socket was replaced"

    # Keys: 3 picks the third timeframe, / focuses the symbol box.
    browser_page.locator("body").click(position={"x": 5, "y": 5})
    browser_page.keyboard.press("3")
    wait_for(lambda: state(browser_page)["timeframe"] == "15m", 15, 0.1, "15m by key")
    browser_page.keyboard.press("/")
    assert browser_page.evaluate("() => document.activeElement.id") == "symbol-input"

    # A reload restores symbol and timeframe from the URL.
    browser_page.reload()
    restored = ready(browser_page)
    assert (restored["symbol"], restored["timeframe"]) == ("AAPL", "15m")
    assert console.errors() == []


def test_indicator_panes_toggle_and_are_remembered(make_server, page, screenshot) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.1", "--symbols", "AAPL")
    browser_page.goto(server.base_url + "/chart/AAPL")
    ready(browser_page)
    drawn = figure(browser_page)
    # Hidden panes: no trace on their axes is given to Plotly, so their axes are not drawn.
    assert not (drawn["yaxis3"] or {}).get("visible") and not (drawn["yaxis4"] or {}).get("visible")
    assert "rsi-line" not in drawn["traces"] and "macd-hist" not in drawn["traces"]
    assert sorted(state(browser_page)["shown"]) == ["breaks", "fvg", "signals"]

    browser_page.click("#chart-overlays [data-overlay='rsi']")
    browser_page.click("#chart-overlays [data-overlay='macd']")
    wait_for(lambda: (figure(browser_page)["yaxis4"] or {}).get("visible") is True, 10, 0.1, "the MACD pane")
    drawn = figure(browser_page)
    domains = pane_domains({"rsi", "macd"})
    for axis in ("yaxis", "yaxis3", "yaxis4"):
        assert drawn[axis]["domain"] == pytest.approx(domains[axis]), axis
    assert drawn["traces"]["rsi-line"]["n"] > 50 and drawn["traces"]["rsi-line"]["visible"] is True
    assert drawn["traces"]["macd-hist"]["n"] > 50
    screenshot(browser_page, "chart-rsi-macd")

    # Remembered in the browser; the URL's overlays override it for that view.
    browser_page.reload()
    ready(browser_page)
    assert {"rsi", "macd"} <= set(state(browser_page)["shown"])
    browser_page.goto(server.base_url + "/chart/AAPL?overlays=ema,bollinger")
    ready(browser_page)
    assert sorted(state(browser_page)["shown"]) == ["bollinger", "ema"]
    wait_for(lambda: figure(browser_page)["traces"]["ema-fast"]["n"] > 50, 10, 0.1, "EMA lines")
    assert not (figure(browser_page)["yaxis3"] or {}).get("visible")

    # The log scale switch.
    browser_page.click("[data-action='log']")
    wait_for(lambda: figure(browser_page)["yaxis"]["type"] == "log", 10, 0.1, "a log price axis")
    assert console.errors() == []


def test_loading_skeleton_then_error_state_with_retry(make_server, page, screenshot) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.1", "--symbols", "AAPL")
    failures = {"left": 2}

    def slow_or_failing(route: Route) -> None:
        if "/history" in route.request.url and "end=" not in route.request.url:
            if failures["left"] > 0:
                failures["left"] -= 1
                time.sleep(1.5)
                route.fulfill(status=503, content_type="application/json",
                              body=json.dumps({"error": {"code": "source_unavailable", "message": "down"}}))
                return
        route.continue_()

    browser_page.route("**/api/v1/market-data/**", slow_or_failing)
    browser_page.goto(server.base_url + "/chart/AAPL")
    wait_for(lambda: "chart-loading" in (browser_page.get_attribute("#chart-stage", "class") or ""), 15, 0.05,
             "the loading skeleton")
    assert browser_page.locator(".chart-skeleton").is_visible()
    screenshot(browser_page, "chart-loading")
    wait_for(lambda: browser_page.locator("#chart-notice").is_visible(), 15, 0.05, "the error notice")
    notice = text(browser_page, "#chart-notice")
    assert "source unavailable — retrying in" in notice and "Retry now" in notice
    screenshot(browser_page, "chart-error")
    # The year-2000 frame of an empty figure is never shown.
    assert not browser_page.locator("#chart-graph").is_visible() or state(browser_page)["loaded"] > 0
    browser_page.click("#chart-retry")
    ready(browser_page)
    wait_for(lambda: not browser_page.locator("#chart-notice").is_visible(), 10, 0.1, "the notice to go")
    assert console.errors(ignore=("503", "Failed to load resource")) == []


def test_time_zone_switch_moves_the_labels(make_server, browser, screenshot) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--interval", "0.1", "--symbols", "AAPL")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="Asia/Tokyo")
    try:
        page = context.new_page()
        page.goto(server.base_url + "/chart/AAPL")
        ready(page)
        assert state(page)["timeZone"] == "Asia/Tokyo"
        assert page.inner_text("[data-action='utc']") == "GMT+9"
        local_time = page.inner_text("#chart-readout .readout-time .readout-value")
        local_range = figure(page)["xaxis"]["range"]
        page.click("[data-action='utc']")
        wait_for(lambda: state(page)["timeZone"] == "UTC" and figure(page)["xaxis"]["range"] != local_range, 10, 0.1,
                 "UTC labels")
        utc_time = page.inner_text("#chart-readout .readout-time .readout-value")
        assert page.inner_text("[data-action='utc']") == "UTC"
        hours = (int(local_time[11:13]) - int(utc_time[11:13])) % 24
        assert hours == 9, (local_time, utc_time)
        screenshot(page, "chart-utc")
        page.reload()
        ready(page)
        assert state(page)["timeZone"] == "UTC"
    finally:
        context.close()


def test_opens_centred_on_the_time_in_the_url(make_server, page) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.1", "--symbols", "AAPL")
    browser_page.goto(server.base_url + "/chart/AAPL")
    last = ready(browser_page)["lastTime"]
    at = last - 900 * 60  # older than the first page of history: the chart loads back to it
    browser_page.goto(f"{server.base_url}/chart/AAPL?tf=1m&at={at}")
    wait_for(lambda: (s := state(browser_page)).get("ready") and not s["view"]["follow"], 30, 0.1, "the centred view")
    view = state(browser_page)["view"]
    assert view["from"] < at < view["to"]
    assert state(browser_page)["firstTime"] <= at
    assert console.errors() == []


def test_phone_width_has_no_horizontal_scroll_and_a_wide_screen_scales(make_server, browser, screenshot) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--interval", "0.1", "--symbols", "AAPL")
    for width, height, name in ((390, 844, "chart-390"), (3840, 2160, "chart-3840")):
        context = browser.new_context(viewport={"width": width, "height": height})
        try:
            page = context.new_page()
            page.goto(server.base_url + "/chart/AAPL")
            ready(page)
            assert page.evaluate("() => document.documentElement.scrollWidth") <= width
            size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.chart-price')).fontSize)")
            assert (size >= 28) if width > 3000 else (size <= 22)
            screenshot(page, name)
        finally:
            context.close()


def test_theme_switch_recolours_the_figure(make_server, page, screenshot) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.1", "--symbols", "AAPL")
    browser_page.goto(server.base_url + "/chart/AAPL")
    ready(browser_page)
    dark = figure(browser_page)["bg"]
    browser_page.evaluate("""() => { document.documentElement.setAttribute('data-theme', 'light');
        localStorage.setItem('tickstream-theme', 'light');
        window.dispatchEvent(new CustomEvent('tickstream:theme', {detail: {theme: 'light'}})); }""")
    wait_for(lambda: figure(browser_page)["bg"] not in (dark, None), 10, 0.1, "a light figure")
    assert figure(browser_page)["bg"] in ("#ffffff", "rgb(255, 255, 255)")
    screenshot(browser_page, "chart-light")
    browser_page.reload()
    ready(browser_page)
    assert state(browser_page)["theme"] == "light"
    assert console.errors() == []


def test_stalled_feed_and_lost_connection_dim_the_chart(make_server, page, screenshot) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.05", "--symbols", "AAPL")
    sockets: list[Any] = []

    def forward(ws: Any) -> None:
        upstream = ws.connect_to_server()
        sockets.append(ws)
        ws.on_message(lambda message: upstream.send(message))
        upstream.on_message(lambda message: ws.send(message))

    browser_page.route_web_socket("**/ws?*", forward)
    browser_page.goto(server.base_url + "/chart/AAPL")
    ready(browser_page)
    wait_for(lambda: sockets, 10, 0.1, "the page's socket")
    height = browser_page.evaluate("() => document.querySelector('.chart-header').getBoundingClientRect().height")
    sockets[0].send(json.dumps({"type": "status", "data": {"state": "stalled", "symbol": "AAPL",
                                                           "since": "2026-01-01T00:00:00Z",
                                                           "reason": "no quote for 30 s"}}))
    wait_for(lambda: "chart-dimmed" in (browser_page.get_attribute("#chart-stage", "class") or ""), 10, 0.05,
             "the dimmed chart")
    assert "Feed stalled since" in text(browser_page, "#chart-notice")
    assert "no quote for 30 s" in text(browser_page, "#chart-notice")
    screenshot(browser_page, "chart-stalled")
    sockets[0].send(json.dumps({"type": "status", "data": {"state": "live", "symbol": "AAPL"}}))
    wait_for(lambda: not browser_page.locator("#chart-notice").is_visible(), 10, 0.05, "live again")

    server.stop()
    wait_for(lambda: text(browser_page, "#chart-status") in ("reconnecting", "offline"), 15, 0.1, "the lost socket")
    wait_for(lambda: "Connection lost" in text(browser_page, "#chart-notice"), 10, 0.1, "the lost-connection notice")
    assert "chart-dimmed" in (browser_page.get_attribute("#chart-stage", "class") or "")
    screenshot(browser_page, "chart-offline")
    # The layout never jumps when the status text changes.
    assert browser_page.evaluate(
        "() => document.querySelector('.chart-header').getBoundingClientRect().height") == height
    applied = stats(browser_page)["applied"]
    server.start()
    # "Retry now" reconnects at once instead of waiting out the backoff (the socket may beat it to it).
    browser_page.evaluate("() => document.getElementById('chart-retry').click()")
    wait_for(lambda: text(browser_page, "#chart-status") == "live", 40, 0.2, "reconnection")
    wait_for(lambda: stats(browser_page)["applied"] > applied + 10, 15, 0.1, "updates after reconnect")
    s = stats(browser_page)
    assert s["reconnects"] >= 1 and s["resyncs"] >= 1
    assert console.errors(ignore=("WebSocket connection to", "ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET",
                                  "ERR_EMPTY_RESPONSE")) == []


def test_order_ticket_places_paper_orders_and_a_click_prefills_a_limit(make_server, page, screenshot) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.1", "--symbols", "AAPL", env={"TICKSTREAM_PAPER_CASH": "1000000"})
    browser_page.goto(server.base_url + "/chart/AAPL")
    ready(browser_page)
    assert not browser_page.locator("#order-ticket").is_visible()
    browser_page.click("#order-ticket-toggle")
    assert browser_page.locator("#order-ticket").is_visible()

    # A market buy fills at once against the simulated quote.
    browser_page.fill("#ticket-quantity", "5")
    browser_page.click("#order-ticket .ticket-submit")
    wait_for(lambda: "filled" in text(browser_page, "#order-ticket-result"), 30, 0.1, "the market order's fill")
    orders = requests.get(server.base_url + "/api/v1/orders?status=all", timeout=10).json()["orders"]
    assert [(o["symbol"], o["side"], o["status"], o["quantity"]) for o in orders] == [("AAPL", "buy", "filled", 5)]

    # A click on a price well under the market makes a limit buy at that price, on the instrument's tick.
    box = browser_page.locator("#chart-graph .js-plotly-plot").bounding_box()
    assert box is not None
    lower = browser_page.evaluate("() => { const ya = document.querySelector('#chart-graph .js-plotly-plot')"
                                  "._fullLayout.yaxis; return ya._offset + ya._length * 0.9; }")
    browser_page.mouse.click(box["x"] + 200, box["y"] + lower)
    wait_for(lambda: "Limit buy at" in text(browser_page, "#order-ticket-result"), 20, 0.1, "the prefilled limit")
    assert browser_page.input_value("#ticket-type") == "limit"
    limit = float(browser_page.input_value("#ticket-limit"))
    assert limit < stats(browser_page)["lastClose"] and round(limit, 2) == limit
    screenshot(browser_page, "chart-order-ticket")
    browser_page.click("#order-ticket .ticket-submit")
    wait_for(lambda: "accepted" in text(browser_page, "#order-ticket-result"), 30, 0.1, "the working limit order")
    working = [o for o in requests.get(server.base_url + "/api/v1/orders", timeout=10).json()["orders"]
               if o["status"] in ("accepted", "new")]
    assert [(o["type"], o["limit_price"]) for o in working] == [("limit", limit)]

    # A refusal says why.
    browser_page.fill("#ticket-quantity", "0")
    browser_page.click("#order-ticket .ticket-submit")
    wait_for(lambda: "Quantity must be more than 0" in text(browser_page, "#order-ticket-result"), 5, 0.1, "refusal")

    # The position bought from the ticket is on the portfolio page, with the working limit order.
    browser_page.click("a[href='/portfolio']")
    browser_page.locator("#portfolio-positions-grid .ag-row[row-id='AAPL']").first.wait_for(timeout=20000)
    position = browser_page.locator("#portfolio-positions-grid .ag-row[row-id='AAPL']").first
    assert position.locator(".ag-cell[col-id='quantity']").inner_text() == "5"
    working_id = working[0]["order_id"]
    browser_page.locator(f"#portfolio-orders-grid .ag-row[row-id='{working_id}']").first.wait_for(timeout=20000)
    assert console.errors() == []
