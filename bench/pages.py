"""Dashboard pages in real Chromium: cold and warm load time to the first live number, bytes transferred, and the
main thread's busy share of the overview with 30 watchlist symbols at 20 ticks/s each.

Pages: ``/`` (first watchlist price), ``/signals`` (first grid row), ``/options/AAPL`` (first row of the chain),
``/status`` (first status number). Cold = a fresh browser context (empty cache); warm = the median of ``--warm``
navigations back to the page from ``about:blank`` in that context (cached bundles). Bytes = bytes on the wire
(``request.sizes()``: compressed as the server sends them), until the network is idle.

Busy share: the overview with 30 symbols in the watchlist, the feed at 20 ticks/s (``--interval 0.05``), the
Chrome DevTools ``Performance.getMetrics`` TaskDuration (main-thread task time) over ``--seconds``, divided by the
wall time.

Peer, measured in the same run on the same server: the app's not-found page (same Dash frame and renderer, no
live data, no table or layout library), cold and warm to its content.

    python bench/pages.py [--seconds 5] [--warm 3]

The last line printed is one JSON object: ``warm_first_number_ms`` (the worst page), ``cold_bytes`` (the heaviest
page, on the wire), ``busy_pct`` and ``peer``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import clean_env, free_port, start_app, stop  # noqa: E402

from feeds.universe import first_symbols  # noqa: E402

PAGES: dict[str, str] = {
    "/": "() => { const c = document.querySelector('#watchlist .watch-price');"
         " return c && c.textContent && c.textContent !== '—'; }",
    "/signals": "() => !!document.querySelector('#signals-grid .ag-row')",
    "/options/AAPL": "() => !!document.querySelector('#options-calls-grid .ag-row')",
    "/status": "() => !!document.querySelector(\"[data-value='ticks']\")",
}
PEER_PATH = "/no-such-page"
PEER_READY = "() => !!document.querySelector('.not-found')"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Transfer:
    """Bytes of every finished request of a page, as sent (compressed when the server compresses)."""

    def __init__(self, page: Any) -> None:
        self.wire = 0
        page.on("requestfinished", self._finished)

    def _finished(self, request: Any) -> None:
        try:
            sizes = request.sizes()
        except Exception:  # a request of a page being torn down
            return
        self.wire += int(sizes.get("responseBodySize", 0)) + int(sizes.get("responseHeadersSize", 0))


def first_number_ms(page: Any, url: str, ready: str) -> float:
    """From the start of a navigation (as a click on a navigation link: a full page load) to ``ready``."""
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(ready, timeout=60000, polling=10)
    return (time.perf_counter() - start) * 1000


def measure(browser: Any, base: str, path: str, ready: str, warm_runs: int) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    transfer = Transfer(page)
    cold = first_number_ms(page, base + path, ready)
    # Late requests (async chunks such as Plotly, REST history) count in the cold bytes.
    try:
        page.wait_for_load_state("networkidle", timeout=20000)
    except Exception:  # a page that never goes quiet: count what came so far
        pass
    cold_wire = transfer.wire
    warm = []
    for _ in range(warm_runs):
        page.goto("about:blank")  # leave the page (its socket closes), then come back with the cache warm
        warm.append(first_number_ms(page, base + path, ready))
    context.close()
    return {"cold_ms": round(cold, 1), "warm_ms": round(statistics.median(warm), 1), "cold_bytes": cold_wire}


def busy_share(browser: Any, base: str, symbols: list[str], seconds: float) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(f"window.localStorage.setItem('tickstream-watchlist', {json.dumps(json.dumps(symbols))})")
    page = context.new_page()
    page.goto(base + "/")
    page.wait_for_function(f"() => document.querySelectorAll('#watchlist tr[data-symbol]').length === {len(symbols)}"
                           " && Array.from(document.querySelectorAll('#watchlist .watch-price'))"
                           ".every(c => c.textContent !== '—')", timeout=60000)
    page.wait_for_timeout(2000)  # the sparkline histories and first paints are done
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")

    def task_seconds() -> float:
        return float(next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]
                          if m["name"] == "TaskDuration"))

    stats_before = page.evaluate("() => Object.assign({}, window.tickstream.watchlist.stats)")
    t0, busy0 = time.perf_counter(), task_seconds()
    page.wait_for_timeout(seconds * 1000)
    t1, busy1 = time.perf_counter(), task_seconds()
    stats_after = page.evaluate("() => Object.assign({}, window.tickstream.watchlist.stats)")
    context.close()
    wall = t1 - t0
    return {
        "busy_pct": round((busy1 - busy0) / wall * 100, 1),
        "messages_per_s": round((stats_after["messages"] - stats_before["messages"]) / wall, 1),
        "row_paints_per_s": round((stats_after["paintedRows"] - stats_before["paintedRows"]) / wall, 1),
    }


def library_bytes() -> dict[str, dict[str, int]]:
    """Size of the table and layout libraries' bundles (raw and gzip), what they add to a page that loads them."""
    import dash_ag_grid
    import dash_mantine_components

    out: dict[str, dict[str, int]] = {}
    for module, files in ((dash_ag_grid, ("dash_ag_grid.min.js", "async-community.js")),
                          (dash_mantine_components, ("dash_mantine_components.js",))):
        folder = Path(module.__file__).parent
        for name in files:
            data = (folder / name).read_bytes()
            out[name] = {"raw": len(data), "gzip": len(gzip.compress(data, 6))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="busy-share window")
    parser.add_argument("--warm", type=int, default=3, help="warm reloads per page")
    parser.add_argument("--symbols", type=int, default=30)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    symbols = list(first_symbols(args.symbols))
    port = free_port()
    proc = start_app(port, "--interval", "0.05", "--symbols", ",".join(symbols), env=clean_env())
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                                 args=CHROMIUM_ARGS)
            pages = {path: measure(browser, base, path, ready, args.warm) for path, ready in PAGES.items()}
            peer = measure(browser, base, PEER_PATH, PEER_READY, args.warm)
            busy = busy_share(browser, base, symbols, args.seconds)
            browser.close()
    finally:
        stop(proc)

    for path, m in pages.items():
        print(f"{path:<16} cold {m['cold_ms']:>7.0f} ms  warm {m['warm_ms']:>6.0f} ms  "
              f"{m['cold_bytes'] / 1e6:5.2f} MB on the wire")
    print(f"{'peer ' + PEER_PATH:<16} cold {peer['cold_ms']:>7.0f} ms  warm {peer['warm_ms']:>6.0f} ms  "
          f"{peer['cold_bytes'] / 1e6:5.2f} MB   (not-found page: same frame, no live data)")
    print(f"overview, {len(symbols)} symbols at 20 ticks/s: main thread busy {busy['busy_pct']} % "
          f"({busy['messages_per_s']} messages/s, {busy['row_paints_per_s']} row repaints/s)")
    libraries = library_bytes()
    for name, size in libraries.items():
        print(f"{name:<28} {size['raw'] / 1e3:7.0f} kB raw  {size['gzip'] / 1e3:6.0f} kB gzip")
    print(json.dumps({
        "warm_first_number_ms": max(m["warm_ms"] for m in pages.values()),
        "cold_first_number_ms": max(m["cold_ms"] for m in pages.values()),
        "cold_bytes": max(m["cold_bytes"] for m in pages.values()),
        "busy_pct": busy["busy_pct"],
        "pages": pages,
        "busy": busy,
        "libraries": libraries,
        "symbols": len(symbols),
        "peer": {"path": PEER_PATH, **peer,
                 "what": "the app's not-found page: the same Dash frame and renderer, no live data"},
    }))


if __name__ == "__main__":
    main()
