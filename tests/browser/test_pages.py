"""The dashboard pages in real Chromium: each loads without console errors and shows its content, the watchlist
streams, /status refreshes, unknown pages answer 404, the theme switch sticks, hidden tabs pause redraws, and the
embed watchlist is framed by an allowed origin and refused to another."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import AppServer
from playwright.sync_api import Browser, Page
from tests_support import free_port, wait_for

from components.watchlist import sparkline_path

pytestmark = pytest.mark.browser

SYMBOLS = "AAPL,MSFT,GC=F"


class FramingSite:
    """A page on another loopback origin (its own port) that puts an embed of the app in an iframe."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.target = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = (f'<!doctype html><title>portal</title><h1>Portal</h1>'
                        f'<iframe id="embed" src="{site.target}" width="360" height="200"></iframe>').encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="framing-site", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[FramingSite, FramingSite]]:
    allowed, other = FramingSite(free_port()), FramingSite(free_port())
    yield allowed, other
    allowed.stop()
    other.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sites: tuple[FramingSite, FramingSite]) -> Iterator[AppServer]:
    allowed, _ = sites
    app = AppServer(free_port(), tmp_path_factory.mktemp("pages"), ("--interval", "0.05", "--symbols", SYMBOLS),
                    {"TICKSTREAM_EMBED_ORIGINS": allowed.url.rstrip("/")})
    app.start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def new_page(browser: Browser, width: int = 1440, theme: str | None = None) -> tuple[Page, list[tuple[str, str]]]:
    context = browser.new_context(viewport={"width": width, "height": 900})
    if theme:
        context.add_init_script(f"window.localStorage.setItem('tickstream-theme', '{theme}')")
    page = context.new_page()
    log: list[tuple[str, str]] = []
    page.on("console", lambda message: log.append((message.type, message.text)))
    page.on("pageerror", lambda error: log.append(("pageerror", str(error))))
    return page, log


def errors(log: list[tuple[str, str]], ignore: tuple[str, ...] = ()) -> list[str]:
    return [text for kind, text in log if kind in ("error", "pageerror") and not any(i in text for i in ignore)]


def price_text(page: Page, symbol: str) -> str:
    return page.locator(f'tr[data-symbol="{symbol}"] .watch-price').inner_text()


# -- every page ---------------------------------------------------------------------------------------------------

PAGES: list[tuple[str, str, str]] = [
    ("/", "Overview · Tickstream", "#watchlist tr[data-symbol='GC=F'] .watch-price"),
    ("/signals", "Signals · Tickstream", "#signals-grid .ag-row"),
    ("/options/AAPL", "AAPL", "#options-calls-grid .ag-row"),
    ("/status", "Status · Tickstream", "[data-card='trackers']"),
    ("/portfolio", "Portfolio · Tickstream", "#portfolio-positions-grid .ag-header"),
    ("/alerts", "Alerts · Tickstream", "#alerts-rules-grid .ag-header"),
    ("/embed/watchlist?symbols=MSFT,AAPL", "Watchlist · Tickstream", "tr[data-symbol='MSFT'] .watch-price"),
]


@pytest.mark.parametrize(("path", "title", "content"), PAGES)
def test_page_loads_with_its_content_and_no_console_errors(browser: Browser, server: AppServer, path: str,
                                                           title: str, content: str) -> None:
    page, log = new_page(browser)
    try:
        response = page.goto(server.base_url + path)
        assert response is not None and response.status == 200
        page.locator(content).first.wait_for(timeout=20000)
        wait_for(lambda: title in page.title(), 10, 0.1, f"title {title!r}")
        nav = [a.inner_text() for a in page.locator("#shell-nav a").all()]
        if path.startswith("/embed/"):
            assert not page.locator(".topbar").is_visible()
        else:
            assert nav == ["Overview", "Signals", "Options", "Portfolio", "Alerts", "Status"]
        assert errors(log) == []
    finally:
        page.context.close()


def test_overview_streams_prices_and_keeps_the_edited_watchlist(browser: Browser, server: AppServer) -> None:
    page, log = new_page(browser)
    try:
        page.goto(server.base_url + "/")
        wait_for(lambda: price_text(page, "AAPL") not in ("", "—"), 20, 0.1, "a first AAPL price")
        first = {s: price_text(page, s) for s in ("AAPL", "MSFT")}
        wait_for(lambda: any(price_text(page, s) != first[s] for s in first), 15, 0.1, "a live price change")
        # Each instrument's own precision: gold futures in tenths, equities in cents.
        wait_for(lambda: price_text(page, "GC=F") not in ("", "—"), 20, 0.1, "a gold price")
        assert len(price_text(page, "GC=F").split(".")[1]) == 1 and len(price_text(page, "AAPL").split(".")[1]) == 2
        stats = page.evaluate("() => window.tickstream.watchlist.stats")
        assert stats["messages"] > 0 and 0 < stats["paintedRows"]
        wait_for(lambda: page.locator("tr[data-symbol='AAPL'] .sparkline path").get_attribute("d"), 15, 0.1,
                 "the AAPL sparkline")
        # The paper broker's dashboard snapshot fills the summary cards (before it: "no paper account yet").
        total = page.locator("[data-metric='total_value'] .metric-value")
        wait_for(lambda: total.inner_text().startswith("$"), 15, 0.1, "the account's total value")
        wait_for(lambda: page.locator("#overview-signals .feed-item").count() > 0, 20, 0.2, "latest signals")

        # Add a symbol, remove one: the list survives a reload (kept per browser).
        page.fill("#watchlist-add-input", "btc-usd")
        page.click("#watchlist-add")
        page.click("button[data-remove='MSFT']")
        wait_for(lambda: price_text(page, "BTC-USD") not in ("", "—"), 20, 0.1, "the added symbol streaming")
        page.reload()
        page.locator("tr[data-symbol='BTC-USD']").wait_for(timeout=20000)
        wait_for(lambda: price_text(page, "BTC-USD") not in ("", "—"), 20, 0.1, "the added symbol after reload")
        assert len(price_text(page, "BTC-USD").split(".")[1]) == 2
        rows = page.eval_on_selector_all("#watchlist tr[data-symbol]", "rows => rows.map(r => r.dataset.symbol)")
        assert rows == ["AAPL", "GC=F", "BTC-USD"]
        assert errors(log) == []
    finally:
        page.context.close()


def test_sparkline_rule_is_the_same_in_python_and_javascript(browser: Browser, server: AppServer) -> None:
    page, _ = new_page(browser)
    try:
        page.goto(server.base_url + "/status")
        page.wait_for_function("() => window.tickstream && window.tickstream.sparklinePath")
        cases = [[1, 2, 3], [10, 20, 15, 30], [5, 5], [3.14159, 2.71828, 1.41421, 1.73205], list(range(150)),
                 [100.25, 100.5, 99.75, 101.125, 100.0]]
        for values in cases:
            js = page.evaluate("v => window.tickstream.sparklinePath(v, 100, 24, 96)", values)
            assert js == sparkline_path(values, 100, 24, 96), values
    finally:
        page.context.close()


def test_hidden_tab_pauses_redraws_and_catches_up(browser: Browser, server: AppServer) -> None:
    page, log = new_page(browser)
    try:
        page.goto(server.base_url + "/")
        wait_for(lambda: price_text(page, "AAPL") not in ("", "—"), 20, 0.1, "a first price")
        page.evaluate("""() => {
            Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
            document.dispatchEvent(new Event('visibilitychange'));
        }""")
        page.wait_for_timeout(400)  # a paint already scheduled may still run
        before = page.evaluate("() => [window.tickstream.pages.stats.paints, "
                               "window.tickstream.watchlist.stats.messages]")
        wait_for(lambda: page.evaluate("() => window.tickstream.watchlist.stats.messages") > before[1] + 20, 10, 0.1,
                 "messages while hidden")
        assert page.evaluate("() => window.tickstream.pages.stats.paints") == before[0]
        assert page.evaluate("() => window.tickstream.pages.stats.skippedHidden") >= 0
        page.evaluate("""() => {
            Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
            document.dispatchEvent(new Event('visibilitychange'));
        }""")
        wait_for(lambda: page.evaluate("() => window.tickstream.pages.stats.paints") > before[0], 5, 0.05,
                 "a catch-up paint once shown")
        assert errors(log) == []
    finally:
        page.context.close()


def test_options_page_shows_the_smile_and_the_chain(browser: Browser, server: AppServer) -> None:
    page, log = new_page(browser)
    try:
        page.goto(server.base_url + "/options/AAPL")
        page.wait_for_function("""() => {
            const gd = document.querySelector('#options-smile .js-plotly-plot');
            return gd && gd.data && gd.data.length === 2 && gd.data[0].x.length > 5;
        }""", timeout=20000)
        smile = page.evaluate("""() => {
            const gd = document.querySelector('#options-smile .js-plotly-plot');
            return {names: gd.data.map(t => t.name), n: gd.data[0].x.length, y: gd.data[0].y[0]};
        }""")
        assert smile["names"] == ["Calls", "Puts"] and smile["y"] > 1  # IV in percent
        assert page.locator("#options-oi .js-plotly-plot .bars").count() >= 1
        assert page.locator("#options-calls-grid .ag-row").count() >= 10
        assert page.locator("#options-puts-grid .ag-row").count() >= 10
        wait_for(lambda: page.title().startswith("AAPL ") and "%" in page.title(), 15, 0.1, "a live title")
        assert page.title().endswith(" · Tickstream")
        first_expiration = page.locator("#options-expiration").input_value()
        assert len(first_expiration) == 10  # YYYY-MM-DD

        # Another expiration: the chain, the grids and the plots follow.
        def first_contract() -> str:
            return page.evaluate("() => window.dash_ag_grid.getApiAsync('options-calls-grid')"
                                 ".then(api => api.getDisplayedRowAtIndex(0).data.contract_symbol)")

        before = first_contract()
        page.locator("#options-expiration").click()
        options = page.get_by_role("option")
        options.nth(1).click()
        wait_for(lambda: page.locator("#options-expiration").input_value() != first_expiration, 10, 0.1,
                 "the picked expiration")
        wait_for(lambda: first_contract() != before, 15, 0.2, "the other expiration's contracts")
        assert page.locator("#options-expiration").input_value() in page.locator("#options-smile").inner_text()
        assert errors(log) == []
    finally:
        page.context.close()


def test_status_numbers_change(browser: Browser, server: AppServer) -> None:
    page, log = new_page(browser)
    try:
        page.goto(server.base_url + "/status")
        ticks = page.locator("[data-value='ticks']")
        ticks.wait_for(timeout=20000)
        first = ticks.inner_text()
        wait_for(lambda: ticks.inner_text() != first, 15, 0.2, "the tick count to refresh")
        assert page.locator("[data-card='sources']").inner_text().count("ok") >= 1
        assert "AAPL" in page.locator("[data-card='ages']").inner_text()
        assert errors(log) == []
    finally:
        page.context.close()


def test_unknown_page_answers_404_with_the_apps_page(browser: Browser, server: AppServer) -> None:
    page, log = new_page(browser)
    try:
        response = page.goto(server.base_url + "/no/such/page")
        assert response is not None and response.status == 404
        page.get_by_text("There is no page at this address.").wait_for(timeout=15000)
        page.get_by_role("link", name="← Back to the overview").click()
        page.wait_for_url(server.base_url + "/")
        page.locator("#watchlist").wait_for()
        # The browser reports the document's own 404 status; nothing else fails.
        assert errors(log, ignore=("status of 404",)) == []
    finally:
        page.context.close()


def test_theme_switch_changes_pages_and_tables_and_survives_a_reload(browser: Browser, server: AppServer) -> None:
    page, log = new_page(browser)
    try:
        page.goto(server.base_url + "/signals")
        page.locator("#signals-grid .ag-header").wait_for(timeout=20000)

        def colours() -> dict[str, str]:
            return page.evaluate("""() => ({
                theme: document.documentElement.dataset.theme,
                body: getComputedStyle(document.body).backgroundColor,
                grid: getComputedStyle(document.querySelector('#signals-grid .ag-header')).backgroundColor,
                mantine: document.documentElement.getAttribute('data-mantine-color-scheme'),
            })""")

        dark = colours()
        assert dark["theme"] == "dark" and dark["mantine"] == "dark"
        events = page.evaluate("""() => { window.__themeEvents = [];
            window.addEventListener('tickstream:theme', e => window.__themeEvents.push(e.detail.theme)); }""")
        assert events is None
        page.click("#shell-theme-toggle")
        light = colours()
        assert light["theme"] == "light" and light["mantine"] == "light"
        assert light["body"] != dark["body"] and light["grid"] != dark["grid"]
        assert page.evaluate("() => window.__themeEvents") == ["light"]
        assert page.evaluate("() => localStorage.getItem('tickstream-theme')") == "light"
        page.reload()
        page.locator("#signals-grid .ag-header").wait_for(timeout=20000)
        assert colours() == light
        assert errors(log) == []
    finally:
        page.context.close()


def test_embed_watchlist_framed_by_an_allowed_origin_and_refused_to_another(
        browser: Browser, server: AppServer, sites: tuple[FramingSite, FramingSite]) -> None:
    allowed, other = sites
    for site in sites:
        site.target = server.base_url + "/embed/watchlist?symbols=AAPL,MSFT&theme=light"

    page, log = new_page(browser)
    try:
        page.goto(allowed.url)
        frame = page.frame_locator("#embed")
        frame.locator("tr[data-symbol='AAPL'] .watch-price").wait_for(timeout=20000)
        wait_for(lambda: frame.locator("tr[data-symbol='AAPL'] .watch-price").inner_text() not in ("", "—"), 20, 0.1,
                 "a live price inside the iframe")
        assert frame.locator("html").get_attribute("data-theme") == "light"
        assert errors(log) == []
    finally:
        page.context.close()

    page, log = new_page(browser)
    try:
        page.goto(other.url)
        wait_for(lambda: any("frame-ancestors" in text for _, text in log), 15, 0.1, "the CSP refusal")
        embedded = [f for f in page.frames if f != page.main_frame]
        assert embedded and all("/embed/watchlist" not in (f.url or "") or not f.query_selector("#watchlist")
                                for f in embedded)
    finally:
        page.context.close()


def test_embed_chart_framed_by_an_allowed_origin_with_its_parameters(
        browser: Browser, server: AppServer, sites: tuple[FramingSite, FramingSite]) -> None:
    allowed, other = sites
    for site in sites:
        site.target = server.base_url + "/embed/chart/MSFT?tf=5m&overlays=rsi&theme=light&height=200"

    page, log = new_page(browser)
    try:
        page.goto(allowed.url)
        frame = page.frame_locator("#embed")
        frame.locator("#chart-live-layer .live-body").wait_for(timeout=30000)
        state = page.frames[1].evaluate("() => window.tickstream.chart.state()")
        assert (state["symbol"], state["timeframe"], state["shown"]) == ("MSFT", "5m", ["rsi"])
        assert frame.locator("html").get_attribute("data-theme") == "light"
        assert frame.locator("#chart-source").inner_text() == "SIMULATED"
        assert not frame.locator(".topbar").is_visible() and frame.locator("#chart-timeframes").count() == 0
        assert errors(log) == []
    finally:
        page.context.close()

    page, log = new_page(browser)
    try:
        page.goto(other.url)
        wait_for(lambda: any("frame-ancestors" in text for _, text in log), 15, 0.1, "the CSP refusal")
    finally:
        page.context.close()


# -- screenshots ----------------------------------------------------------------------------------------------------

SCREENSHOT_PAGES = [("overview", "/", "#watchlist tr[data-symbol='AAPL'] .sparkline path[d]"),
                    ("signals", "/signals", "#signals-grid .ag-row"),
                    ("options", "/options/AAPL", "#options-smile .js-plotly-plot"),
                    ("portfolio", "/portfolio", "#portfolio-equity .main-svg"),
                    ("alerts", "/alerts", "#alerts-history-grid .ag-header"),
                    ("status", "/status", "[data-card='trackers']"),
                    ("not-found", "/nope", ".not-found"),
                    ("embed-watchlist", "/embed/watchlist?symbols=AAPL,MSFT,GC=F", "tr[data-symbol='GC=F']")]


@pytest.mark.slow
@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("width", [1440, 390])
def test_screenshots_and_no_horizontal_scroll(browser: Browser, server: AppServer, shots: Path, theme: str,
                                              width: int) -> None:
    for name, path, ready in SCREENSHOT_PAGES:
        page, log = new_page(browser, width, theme)
        try:
            page.goto(server.base_url + path)
            page.locator(ready).first.wait_for(timeout=20000)
            page.wait_for_timeout(800)
            assert page.evaluate("() => document.documentElement.dataset.theme") == theme
            overflow = page.evaluate("() => document.documentElement.scrollWidth"
                                     " - document.documentElement.clientWidth")
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width}px"
            page.screenshot(path=str(shots / f"{name}-{theme}-{width}.png"), full_page=True)
            assert errors(log, ignore=("status of 404",)) == []
        finally:
            page.context.close()


def test_api_docs_render_offline(browser: Browser, server: AppServer) -> None:
    page, log = new_page(browser)
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
    try:
        page.goto(server.base_url + "/api/docs")
        page.locator(".swagger-ui .opblock").first.wait_for(timeout=20000)
        assert page.locator(".swagger-ui .opblock").count() >= 10
        assert "/api/v1/market-data/{symbol}" in page.locator(".swagger-ui").inner_text()
        assert hosts == {f"127.0.0.1:{server.port}"}
        assert errors(log) == []
    finally:
        page.context.close()


def test_leaving_a_page_without_reload_releases_its_subscriptions(browser: Browser, server: AppServer) -> None:
    page, log = new_page(browser)
    try:
        page.goto(server.base_url + "/")
        wait_for(lambda: price_text(page, "AAPL") not in ("", "—"), 20, 0.1, "a first price")

        def channels() -> list[str]:
            # Channels subscribed for all symbols, and market_data per symbol (the chart takes its own).
            subs = page.evaluate("() => window.tickstream.socket.subscriptions()")
            return sorted({s["channel"] if not s.get("symbol") or s["channel"] == "market_data" else "" for s in subs}
                          - {""} | {f"market_data:{s['symbol']}" for s in subs if s["channel"] == "market_data"})

        assert {"market_data:AAPL", "market_data:GC=F", "signals", "alerts", "dashboard"} <= set(channels())
        # The chart links of the top bar navigate without a reload (dcc.Link).
        page.locator(".watch-links a", has_text="MSFT").click()
        page.wait_for_url(server.base_url + "/chart/MSFT")
        wait_for(lambda: page.evaluate("() => window.tickstream.pages.current()") is None, 10, 0.1,
                 "the overview to be released")
        # (`alerts` stays: the alert toasts of every page hold it for the document's life, assets/alert_toasts.js.)
        assert not {"market_data:AAPL", "market_data:GC=F", "signals", "dashboard"} & set(channels())
        assert page.evaluate("() => window.tickstream.socket.subscriptions()").count({"channel": "alerts"}) == 1
        page.go_back()
        page.wait_for_url(server.base_url + "/")
        page.locator("tr[data-symbol='AAPL']").wait_for(timeout=20000)
        wait_for(lambda: price_text(page, "AAPL") not in ("", "—"), 20, 0.1, "prices again after coming back")
        assert {"signals", "alerts", "dashboard"} <= set(channels())
        assert errors(log) == []
    finally:
        page.context.close()
