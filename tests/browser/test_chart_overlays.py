"""Signal overlays of the chart in real Chromium: what is drawn is what REST says (live tracker and older history),
and the legend hides kinds and remembers them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from playwright.sync_api import Page
from tests_support import wait_for

from tests.browser.test_chart_page import PAN_JS, ready, state

pytestmark = pytest.mark.browser

TRACES_JS = """() => { const gd = document.querySelector('#chart-graph .js-plotly-plot');
    const out = {}; gd.data.forEach(t => { out[t.uid] = {x: t.x || [], y: t.y || [], visible: t.visible}; });
    return out; }"""


def unix(plot_x: str) -> int:
    # The page runs in UTC (headless Chromium's zone here): plot x values are UTC wall-clock times.
    return int(datetime.strptime(plot_x[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp())


def traces(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(TRACES_JS)
    return result


def points(trace: dict[str, Any]) -> set[tuple[int, float]]:
    return {(unix(x), round(y, 6)) for x, y in zip(trace["x"], trace["y"], strict=True) if x is not None}


def window(page: Page) -> tuple[int, int]:
    price = traces(page)["price"]["x"]
    return unix(price[0]), state(page)["lastTime"]


def test_overlays_are_the_trackers_and_signals_of_rest(make_server, page) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.1", "--symbols", "AAPL")
    browser_page.goto(server.base_url + "/chart/AAPL?overlays=signals,swings,fvg,breaks")
    ready(browser_page)

    def agrees() -> bool:
        levels = requests.get(f"{server.base_url}/api/v1/signals/symbol/AAPL/levels", params={"timeframe": "1m"},
                              timeout=15).json()["signals"]
        signals = requests.get(f"{server.base_url}/api/v1/signals/symbol/AAPL",
                               params={"timeframe": "1m", "limit": 200}, timeout=15).json()["signals"]
        drawn = traces(browser_page)
        first, last = window(browser_page)
        highs = {(p["time"], round(p["price"], 6)) for p in levels["pivot_points"]
                 if p["kind"] == "high" and first <= p["time"] <= last}
        if not highs <= points(drawn["swing-high"]):
            return False
        # Swings drawn that the live tracker does not hold are older than its oldest (they come from the history).
        oldest_live = min((p["time"] for p in levels["pivot_points"]), default=last)
        if any(t >= oldest_live and (t, y) not in highs for t, y in points(drawn["swing-high"])):
            return False
        buys = {int(datetime.fromisoformat(s["timestamp"].replace("Z", "+00:00")).timestamp()) - 60
                for s in signals if s["action"] == "BUY"}
        drawn_buys = {t for t, _ in points(drawn["signal-buy"])}
        return {t for t in buys if first <= t < last} <= drawn_buys
    wait_for(agrees, 30, 0.5, "the drawn overlays to agree with REST")
    assert state(browser_page)["counts"]["fvg"] > 0
    assert console.errors() == []


def test_older_history_brings_its_overlays(make_server, page) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.1", "--symbols", "AAPL")
    browser_page.goto(server.base_url + "/chart/AAPL?overlays=swings,breaks")
    ready(browser_page)
    browser_page.evaluate("() => window.tickstream.chart.ensureCandles(2000)")
    first = state(browser_page)["firstTime"]
    browser_page.evaluate(PAN_JS, [first + 60 * 60, 150 * 60])

    def on_oldest() -> bool:
        st = state(browser_page)
        return not st["view"]["follow"] and window(browser_page)[0] <= st["view"]["from"]
    wait_for(on_oldest, 15, 0.1, "the view on the oldest candles")

    def older_swings() -> set[tuple[int, float]]:
        start, _ = window(browser_page)
        end = start + 200 * 60
        return {(t, y) for t, y in points(traces(browser_page)["swing-high"]) if start <= t <= end}
    drawn = wait_for(older_swings, 20, 0.2, "swings on the oldest candles")
    # They are the swings of a history scan over the candles the chart holds (the same definitions).
    held = state(browser_page)
    answer = requests.get(f"{server.base_url}/api/v1/signals/symbol/AAPL/levels",
                          params={"timeframe": "1m", "end": held["lastTime"], "limit": held["loaded"] - 1},
                          timeout=30).json()["signals"]
    scanned = {(p["time"], round(p["price"], 6)) for p in answer["pivot_points"] if p["kind"] == "high"}
    assert drawn <= scanned
    assert console.errors() == []


def test_legend_hides_a_kind_and_remembers_it(make_server, page) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.1", "--symbols", "AAPL")
    browser_page.goto(server.base_url + "/chart/AAPL")
    ready(browser_page)
    fvg = ("fvg-bull-open", "fvg-bear-open", "fvg-bull-mitigated", "fvg-bear-mitigated")
    assert all(traces(browser_page)[uid]["visible"] is True for uid in fvg)
    browser_page.click("#chart-overlays [data-overlay='fvg']")
    # A hidden kind's traces are not given to Plotly at all.
    wait_for(lambda: not any(uid in traces(browser_page) for uid in fvg), 10, 0.1, "FVG hidden")
    assert browser_page.get_attribute("#chart-overlays [data-overlay='fvg']", "aria-pressed") == "false"
    browser_page.reload()
    ready(browser_page)
    assert "fvg" not in state(browser_page)["shown"]
    assert not any(uid in traces(browser_page) for uid in fvg)
    assert console.errors() == []
