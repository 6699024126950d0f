"""Benchmark: the live chart in headless Chromium at 20 ticks/s, against the usual Dash way on the same data.

Usage: python bench/chart_latency.py [--seconds 15] [--sizes 500,5000] [--interval 0.05] [--symbol AAPL]
                                     [--overlays signals,fvg,breaks,rsi,macd] [--no-peer]

The app runs as a subprocess (``--interval 0.05``: 20 ticks/s, with TICKSTREAM_BENCH_PEER_ROUTE=1 for the peer
page). For the chart (``/chart/<symbol>?overlays=…``, the default overlays plus RSI and MACD) and then the peer
(``/bench/chart-peer/<symbol>``, bench/chart_peer.py: a dcc.Interval of 50 ms returning a server-built figure with
the same panes):

- cold load: the bytes of every HTTP response the page asked for before its first candle showed (CDP Network
  ``encodedDataLength``, browser cache disabled);
- first candle (warm): a second navigation with the cache, ms from navigation start to the first paint with candles;
- for a chart holding each of ``--sizes`` candles (the chart pages older history in with
  ``window.tickstream.chart.ensureCandles(n)``; the peer is given that many), over ``--seconds``: tick-to-paint p50
  and p99, redraws per second, the main thread's busy share (CDP ``Performance.getMetrics`` TaskDuration over wall
  time), and lost (``seq`` gaps; for the peer, ticks no figure showed) and duplicated updates.

The chart's figures come from ``window.tickstream.stats`` (latencies, redraws, applied, duplicates, gaps,
firstCandleMs, plotted, loaded); the peer's from the same fields of ``window.tickstreamPeer``. Where the chart does
not have a field, a probe the bench adds stands in (a ``plotly_afterplot`` counter for redraws, an animation-frame
poll for the first candle) and the result names it; what cannot be measured is null.

Figures: ``p50_ms`` and ``p99_ms`` (the worse of the sizes), ``lost``, ``duplicated`` (summed over the sizes),
``main_thread_busy_pct`` (the worse), ``redraws_per_s`` (the lower), ``first_candle_ms``, ``cold_bytes``, per size
under ``sizes``, and the same for the peer under ``peer``. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from typing import Any

import requests

# Run as a script (python bench/chart_latency.py), this folder is sys.path[0]: the shared helpers import by name.
from _support import clean_env, free_port, start_app, stop
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}
DEFAULT_OVERLAYS = "signals,fvg,breaks,rsi,macd"
LOAD_TIMEOUT_MS = 60_000
# The peer at 20 ticks/s may never paint: Dash drops a callback's answer when a newer call of it is under way, and
# every answer here takes longer than the 50 ms between calls.
PEER_FIRST_CANDLE_TIMEOUT_MS = 20_000

# Added to every document before its own scripts: when the page's stats lack a figure, this stands in.
PROBE_JS = """
(() => {
    const probe = window.__benchProbe = { firstCandleMs: null, afterplots: 0, plotted: null };
    function poll() {
        const gd = document.querySelector(".js-plotly-plot");
        const x = gd && gd.data && gd.data[0] && gd.data[0].x;
        if (x && x.length > 0 && gd._fullLayout) {
            probe.firstCandleMs = performance.now();
            if (typeof gd.on === "function") {
                gd.on("plotly_afterplot", () => {
                    probe.afterplots += 1;
                    const now = gd.data && gd.data[0] && gd.data[0].x;
                    probe.plotted = now ? now.length : 0;
                });
            }
            probe.plotted = x.length;
            return;
        }
        requestAnimationFrame(poll);
    }
    requestAnimationFrame(poll);
})();
"""

# The counters of a page's stats object (``window.tickstream.stats`` or ``window.tickstreamPeer``), null where
# the object lacks one.
SNAPSHOT_JS = """
(expr) => {
    const stats = eval(expr);
    const probe = window.__benchProbe || {};
    const field = (name) => (stats && typeof stats[name] === "number") ? stats[name] : null;
    return {
        redraws: field("redraws"), applied: field("applied"), duplicates: field("duplicates"), gaps: field("gaps"),
        firstCandleMs: field("firstCandleMs"), plotted: field("plotted"), loaded: field("loaded"),
        latencies: stats && Array.isArray(stats.latencies) ? stats.latencies.length : null,
        probeAfterplots: probe.afterplots === undefined ? null : probe.afterplots,
        probeFirstCandleMs: probe.firstCandleMs === undefined ? null : probe.firstCandleMs,
        probePlotted: probe.plotted === undefined ? null : probe.plotted,
    };
}
"""

OURS_STATS = "window.tickstream && window.tickstream.stats"
PEER_STATS = "window.tickstreamPeer"


def percentile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 1)


def _delta(after: Any, before: Any) -> Any:
    return None if after is None or before is None else after - before


class Page:
    """One browser context and page with a CDP session: the HTTP bytes each response took, and the main thread's
    task time."""

    def __init__(self, browser: Any, stats_expr: str) -> None:
        self.context = browser.new_context(viewport=VIEWPORT)
        self.context.add_init_script(PROBE_JS)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.cdp = self.context.new_cdp_session(self.page)
        self.stats_expr = stats_expr
        self.started: list[str] = []
        self.urls: dict[str, str] = {}
        self.bytes: dict[str, float] = {}
        self.cdp.on("Network.requestWillBeSent", self._request)
        self.cdp.on("Network.loadingFinished", lambda e: self.bytes.__setitem__(e["requestId"],
                                                                                 e["encodedDataLength"]))
        self.cdp.send("Network.enable")
        self.cdp.send("Performance.enable")

    def _request(self, event: dict[str, Any]) -> None:
        self.started.append(event["requestId"])
        self.urls[event["requestId"]] = event["request"]["url"]

    def close(self) -> None:
        self.context.close()

    def page_load_bytes(self) -> int:
        """The bytes of everything asked for so far but Dash callbacks, plus the first callback answer: what a
        page that never painted a candle loaded to get there."""
        callbacks = [r for r in self.started if "/_dash-update-component" in self.urls.get(r, "") and r in self.bytes]
        others = [r for r in self.started if r not in callbacks]
        return int(sum(self.bytes.get(r, 0) for r in others) + (self.bytes[callbacks[0]] if callbacks else 0))

    def snapshot(self) -> dict[str, Any]:
        result: dict[str, Any] = self.page.evaluate(SNAPSHOT_JS, self.stats_expr)
        return result

    def first_candle_ms(self) -> tuple[float | None, str | None]:
        snap = self.snapshot()
        if snap["firstCandleMs"] is not None:
            return round(snap["firstCandleMs"], 1), "stats.firstCandleMs"
        if snap["probeFirstCandleMs"] is not None:
            return round(snap["probeFirstCandleMs"], 1), "bench probe (animation-frame poll)"
        return None, None

    def wait_first_candle(self, timeout_ms: float = LOAD_TIMEOUT_MS) -> None:
        self.page.wait_for_function(
            f"(() => {{ const s = {self.stats_expr}; return (s && typeof s.firstCandleMs === 'number') || "
            "(window.__benchProbe && window.__benchProbe.firstCandleMs !== null); })()", timeout=timeout_ms)

    def task_seconds(self) -> float:
        metrics = self.cdp.send("Performance.getMetrics")["metrics"]
        return float(next(m["value"] for m in metrics if m["name"] == "TaskDuration"))


def cold_and_warm(browser: Any, url: str, stats_expr: str,
                  first_candle_timeout_ms: float = LOAD_TIMEOUT_MS) -> dict[str, Any]:
    """Bytes of a cold load up to the first candle, then the first candle of a warm (cached) second navigation.
    A page that shows no candle within ``first_candle_timeout_ms`` gets nulls."""
    page = Page(browser, stats_expr)
    try:
        page.cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        page.page.goto(url)
        try:
            page.wait_first_candle(first_candle_timeout_ms)
        except PlaywrightTimeout:
            print(f"  no candle painted within {first_candle_timeout_ms / 1000:g} s: {url}")
            return {"cold_bytes": page.page_load_bytes(), "cold_requests": None, "cold_first_candle_ms": None,
                    "first_candle_ms": None, "first_candle_from": None, "page_errors": page.errors[:5],
                    "cold_bytes_from": "no candle painted: the page's files and its first callback answer"}
        asked = list(page.started)
        cold_ms, _ = page.first_candle_ms()
        # Let what was asked for before the first candle finish arriving.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(r in page.bytes for r in asked):
            page.page.wait_for_timeout(100)
        cold_bytes = int(sum(page.bytes.get(r, 0) for r in asked))
        page.cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
        page.page.goto("about:blank")
        page.page.goto(url)
        page.wait_first_candle()
        warm_ms, method = page.first_candle_ms()
        return {"cold_bytes": cold_bytes, "cold_requests": len(asked), "cold_first_candle_ms": cold_ms,
                "first_candle_ms": warm_ms, "first_candle_from": method, "page_errors": page.errors[:5]}
    finally:
        page.close()


def measure_window(page: Page, seconds: float, tick_interval: float | None = None) -> dict[str, Any]:
    """Tick-to-paint, redraws, busy share, lost and duplicated updates over ``seconds`` of live updates.

    Lost: the chart's ``seq`` gaps (messages that never reached it; every message that did is drawn). With
    ``tick_interval`` (the peer, which shows only the newest tick of each figure): the ticks the feed produced in the
    window (wall time / interval) less the distinct ticks painted."""
    page.page.evaluate(f"(() => {{ const s = {page.stats_expr}; if (s && s.latencies) s.latencies.length = 0; }})()")
    before = page.snapshot()
    busy_before, started = page.task_seconds(), time.monotonic()
    page.page.wait_for_timeout(seconds * 1000)
    busy_after, wall = page.task_seconds(), time.monotonic() - started
    after = page.snapshot()
    latencies: list[float] = page.page.evaluate(
        f"(() => {{ const s = {page.stats_expr}; return s && s.latencies ? s.latencies.slice() : []; }})()")
    redraws = _delta(after["redraws"], before["redraws"])
    redraws_from = "stats.redraws"
    if redraws is None:
        redraws = _delta(after["probeAfterplots"], before["probeAfterplots"])
        redraws_from = "bench probe (plotly_afterplot)"
    applied = _delta(after["applied"], before["applied"])
    lost = _delta(after["gaps"], before["gaps"])
    if tick_interval is not None and applied is not None:
        lost = max(0, round(wall / tick_interval) - applied)
    return {
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "samples": len(latencies),
        "redraws_per_s": None if redraws is None else round(redraws / wall, 2),
        "redraws_from": redraws_from if redraws is not None else None,
        "main_thread_busy_pct": round(100 * (busy_after - busy_before) / wall, 1),
        "lost": lost,
        "duplicated": _delta(after["duplicates"], before["duplicates"]),
        "applied": applied,
        "plotted": after["plotted"] if after["plotted"] is not None else after["probePlotted"],
        "loaded": after["loaded"],
        "seconds": round(wall, 1),
    }


def ours_size(browser: Any, url: str, size: int, seconds: float) -> dict[str, Any] | None:
    page = Page(browser, OURS_STATS)
    try:
        page.page.goto(url)
        page.page.wait_for_function(f"(() => {{ const s = {OURS_STATS}; return s && s.applied > 0; }})()",
                                    timeout=LOAD_TIMEOUT_MS)
        has_ensure = page.page.evaluate(
            "!!(window.tickstream.chart && typeof window.tickstream.chart.ensureCandles === 'function')")
        if has_ensure:
            page.page.evaluate("(n) => window.tickstream.chart.ensureCandles(n)", size)
        else:
            held = page.snapshot()
            count = held["loaded"] if held["loaded"] is not None else held["probePlotted"]
            if count is None or count < size * 0.95:
                print(f"  chart: window.tickstream.chart.ensureCandles is missing and the chart holds {count} "
                      f"candles, not {size}: no figures for this size")
                return None
        page.page.wait_for_timeout(3000)  # let the paging, its overlays and the first loads settle
        result = measure_window(page, seconds)
        result["page_errors"] = page.errors[:5]
        return result
    finally:
        page.close()


def peer_size(browser: Any, url: str, seconds: float, tick_interval: float) -> dict[str, Any]:
    page = Page(browser, PEER_STATS)
    try:
        page.page.goto(url)
        # Its probe is in place once the graph is; whether any figure ever paints is what is measured.
        page.page.wait_for_function(f"(() => {{ const s = {PEER_STATS}; return s && s.redraws > 0; }})()",
                                    timeout=LOAD_TIMEOUT_MS)
        page.page.wait_for_timeout(2000)
        result = measure_window(page, seconds, tick_interval)
        result["page_errors"] = page.errors[:5]
        return result
    finally:
        page.close()


def wait_server_calm(base: str, timeout: float = 60) -> None:
    """After the peer, the server may still be working off queued callbacks: wait until it answers promptly."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            requests.get(base + "/health", timeout=5)
        except requests.RequestException:
            pass
        if time.monotonic() - started < 0.1:
            return
        time.sleep(0.5)


def summary(load: dict[str, Any], sizes: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    measured = [s for s in sizes.values() if s is not None]

    def worst(name: str, pick: Any) -> Any:
        values = [s[name] for s in measured if s[name] is not None]
        return pick(values) if values else None

    return {
        "p50_ms": worst("p50_ms", max),
        "p99_ms": worst("p99_ms", max),
        "lost": worst("lost", sum),
        "duplicated": worst("duplicated", sum),
        "main_thread_busy_pct": worst("main_thread_busy_pct", max),
        "redraws_per_s": worst("redraws_per_s", min),
        "first_candle_ms": load["first_candle_ms"],
        "cold_bytes": load["cold_bytes"],
        "load": load,
        "sizes": sizes,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        app = start_app(port, "--interval", str(args.interval), "--symbols", args.symbol, "--data-dir", data_dir,
                        env=clean_env(TICKSTREAM_BENCH_PEER_ROUTE="1"))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=CHROMIUM_ARGS)
                chart_url = f"{base}/chart/{args.symbol}?overlays={args.overlays}"
                load = cold_and_warm(browser, chart_url, OURS_STATS)
                print(f"chart: cold load {load['cold_bytes']:,} bytes in {load['cold_requests']} requests, "
                      f"first candle warm {load['first_candle_ms']} ms ({load['first_candle_from']})")
                ours: dict[str, dict[str, Any] | None] = {}
                for size in sizes:
                    ours[str(size)] = ours_size(browser, chart_url, size, args.seconds)
                    _print_size("chart", size, ours[str(size)])
                result = summary(load, ours)
                if not args.no_peer:
                    peer_url = f"{base}/bench/chart-peer/{args.symbol}"
                    peer_query = f"interval_ms={args.peer_interval_ms}"
                    peer_load = cold_and_warm(browser, f"{peer_url}?candles={sizes[0]}&{peer_query}", PEER_STATS,
                                              first_candle_timeout_ms=PEER_FIRST_CANDLE_TIMEOUT_MS)
                    print(f"peer: cold load {peer_load['cold_bytes']} bytes in {peer_load['cold_requests']} "
                          f"requests, first candle warm {peer_load['first_candle_ms']} ms")
                    wait_server_calm(base)
                    peer: dict[str, dict[str, Any] | None] = {}
                    for size in sizes:
                        peer[str(size)] = peer_size(browser, f"{peer_url}?candles={size}&{peer_query}",
                                                    args.seconds, args.interval)
                        _print_size("peer", size, peer[str(size)])
                        wait_server_calm(base)
                    result["peer"] = summary(peer_load, peer)
                browser.close()
        finally:
            stop(app)
    result.update({"peer_interval_ms": None if args.no_peer else args.peer_interval_ms,
                   "interval_s": args.interval, "seconds": args.seconds, "overlays": args.overlays,
                   "symbol": args.symbol})
    return result


def _print_size(name: str, size: int, figures: dict[str, Any] | None) -> None:
    if figures is None:
        return
    print(f"{name} @ {size} candles: tick-to-paint p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms "
          f"({figures['samples']} samples), {figures['redraws_per_s']} redraws/s, main thread busy "
          f"{figures['main_thread_busy_pct']} %, lost {figures['lost']}, duplicated {figures['duplicated']}, "
          f"plotted {figures['plotted']}, loaded {figures['loaded']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15, help="measuring window per size (default 15)")
    parser.add_argument("--sizes", default="500,5000", help="candles the chart holds, comma-separated")
    parser.add_argument("--interval", type=float, default=0.05, help="feed interval in seconds (default 0.05)")
    parser.add_argument("--symbol", default="AAPL")
    parser.add_argument("--overlays", default=DEFAULT_OVERLAYS, help="the chart's ?overlays= value")
    parser.add_argument("--no-peer", action="store_true", help="measure the chart only")
    parser.add_argument("--peer-interval-ms", type=int, default=50,
                        help="the peer's dcc.Interval in ms (default 50: one call per tick at 20 ticks/s)")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
