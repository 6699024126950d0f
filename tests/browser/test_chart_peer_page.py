"""The chart benchmark's peer page in real Chromium: its probe records what bench/chart_latency.py reads."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page
from tests_support import wait_for

pytestmark = pytest.mark.browser


def peer_stats(page: Page) -> dict[str, Any] | None:
    stats: dict[str, Any] | None = page.evaluate("() => window.tickstreamPeer ? Object.assign({}, "
                                                 "window.tickstreamPeer, {latencies: window.tickstreamPeer"
                                                 ".latencies.slice()}) : null")
    return stats


def test_peer_page_records_tick_to_paint_and_skipped_ticks(make_server, page) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.05", "--symbols", "AAPL", env={"TICKSTREAM_BENCH_PEER_ROUTE": "1"})
    # A slow interval, so that each answer arrives before the next call (at 50 ms Dash drops overtaken answers).
    browser_page.goto(server.base_url + "/bench/chart-peer/AAPL?candles=200&interval_ms=700")
    stats = wait_for(lambda: (s := peer_stats(browser_page)) and s["applied"] >= 3 and s, 40, 0.2,
                     "three figures painted")
    assert stats["plotted"] == 200
    assert isinstance(stats["firstCandleMs"], float | int) and stats["firstCandleMs"] > 0
    assert stats["redraws"] >= stats["applied"]
    assert stats["duplicates"] == 0
    assert len(stats["latencies"]) >= 3
    # Milliseconds from the tick to its paint (a unit slip would give seconds or a timestamp); a loaded machine
    # may take seconds.
    assert all(0 <= latency < 60_000 for latency in stats["latencies"]), stats["latencies"]
    # One figure per 0.7 s at 20 ticks/s: about 13 ticks between two painted ones are never shown.
    assert stats["gaps"] >= 5 * (stats["applied"] - 1)
    traces = browser_page.evaluate("() => document.querySelector('#bench-peer-graph .js-plotly-plot').data"
                                   ".map(t => t.type)")
    assert traces == ["candlestick", "bar", "scatter", "scatter", "scatter", "bar"]
    assert console.errors() == []


def test_peer_page_is_absent_without_the_setting(make_server, page) -> None:  # type: ignore[no-untyped-def]
    browser_page, _console = page
    server = make_server("--interval", "0.05", "--symbols", "AAPL")
    browser_page.goto(server.base_url + "/bench/chart-peer/AAPL")
    browser_page.wait_for_timeout(2000)
    assert browser_page.evaluate("() => !document.querySelector('#bench-peer-graph') && !window.tickstreamPeer")
