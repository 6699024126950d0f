"""Signal overlays of the chart page in real Chromium: what is drawn matches REST /levels and /signals, follows the
live stream (full_update, signal), survives older history and a timeframe switch, and the legend hides kinds."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from playwright.sync_api import Page
from tests_support import wait_for

from components.figures import candle_x

pytestmark = pytest.mark.browser

LEVEL_NAMES = ("R3", "R2", "R1", "P", "S1", "S2", "S3")
SECONDS = {"1m": 60, "5m": 300}

# Everything the test compares, read in one evaluation so that it is one consistent state of the page.
DRAWING_JS = """() => {
    const gd = document.querySelector('#chart-graph .js-plotly-plot');
    const ts = window.tickstream;
    if (!gd || !gd.data || !gd.data[0].x || !gd.data[0].x.length || !ts || !ts.overlayState) { return null; }
    const price = gd.data[0];
    const traces = {};
    gd.data.slice(2).forEach(function (t) {
        traces[t.uid] = {x: t.x, y: t.y, text: t.text || null, visible: t.visible !== false};
    });
    const state = ts.overlayState();
    return {
        x: price.x, high: price.high, low: price.low,
        shapes: (gd.layout.shapes || []).map(function (s) { return [s.name, s.x0, s.x1, s.y0, s.y1]; }),
        annotations: (gd.layout.annotations || []).map(function (a) { return [a.name, a.y, a.text]; }),
        traces: traces, state: state,
        stats: {applied: ts.stats.applied, builds: ts.stats.overlayBuilds, updates: ts.stats.overlayUpdates,
                signals: ts.stats.signals, lastCandleTime: ts.stats.lastCandleTime},
    };
}"""


def unix(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def drawing(page: Page) -> dict[str, Any] | None:
    result: dict[str, Any] | None = page.evaluate(DRAWING_JS)
    return result


def expected_drawing(overlays: dict[str, Any], signals: list[dict[str, Any]], page: dict[str, Any],
                     seconds: int) -> dict[str, Any]:
    """What the chart should draw for ``overlays`` (docs/signals.md shapes) and normalized ``signals`` over the page's
    candles: objects wholly before the first candle are left out, those reaching into the window start at its first
    candle, open gaps and floor pivots reach one candle past the last."""
    times = [unix(x) for x in page["x"]]
    first, last = times[0], times[-1]
    right = last + seconds
    shapes: list[tuple[Any, ...]] = []
    highs: list[tuple[str, float]] = []
    lows: list[tuple[str, float]] = []
    labels: list[tuple[str, float]] = []
    annotations: list[tuple[str, float]] = []
    for p in overlays["pivot_points"]:
        if first <= p["time"] <= last:
            (highs if p["kind"] == "high" else lows).append((candle_x(p["time"]), p["price"]))
    for g in overlays["fvg_zones"]:
        end = g["mitigated_time"] if g["mitigated"] else right
        if end >= first and g["time"] <= last:
            name = f"fvg-{g['direction']}" + ("-mitigated" if g["mitigated"] else "")
            shapes.append((name, candle_x(max(g["time"], first)), candle_x(end), g["bottom"], g["top"]))
    for b in overlays["break_signals"]:
        if first <= b["time"] <= last:
            shapes.append((f"break-{b['kind']}-{b['direction']}", candle_x(max(b["swing_time"], first)),
                           candle_x(b["time"]), b["level"], b["level"]))
            labels.append((b["kind"], b["level"]))
    if overlays["pivot_levels"]:
        latest = max(overlays["pivot_levels"], key=lambda p: p["period_start"])
        if latest["period_start"] <= last:
            for name in LEVEL_NAMES:
                shapes.append((f"level-{name}", candle_x(max(latest["period_start"], first)), candle_x(right),
                               latest[name], latest[name]))
                annotations.append((f"level-{name}", latest[name]))
    index = {t: i for i, t in enumerate(times)}
    buys = [(candle_x(s["time"]), page["low"][index[s["time"]]])
            for s in signals if s["side"] == "BUY" and s["time"] in index]
    sells = [(candle_x(s["time"]), page["high"][index[s["time"]]])
             for s in signals if s["side"] == "SELL" and s["time"] in index]
    return {"shapes": sorted(shapes), "highs": sorted(highs), "lows": sorted(lows), "labels": sorted(labels),
            "annotations": sorted(annotations), "buys": sorted(buys), "sells": sorted(sells)}


def drawn(page: dict[str, Any]) -> dict[str, Any]:
    traces = page["traces"]

    def points(uid: str) -> list[tuple[str, float]]:
        return sorted(zip(traces[uid]["x"], traces[uid]["y"], strict=True))

    label = traces["overlay-break-label"]
    return {
        "shapes": sorted(tuple(s) for s in page["shapes"]),
        "highs": points("overlay-swing-high"),
        "lows": points("overlay-swing-low"),
        "labels": sorted(zip(label["text"], label["y"], strict=True)),
        "annotations": sorted((a[0], a[1]) for a in page["annotations"]),
        "buys": points("overlay-buy"),
        "sells": points("overlay-sell"),
    }


def rest_signals(base_url: str, symbol: str, timeframe: str) -> list[dict[str, Any]]:
    """BUY/SELL signals of REST, each on the candle it closed (``timestamp`` is that candle's close time)."""
    body = requests.get(f"{base_url}/api/v1/signals/symbol/{symbol}", params={"timeframe": timeframe},
                        timeout=15).json()
    return [{"side": s["action"], "time": unix(s["timestamp"]) - SECONDS[timeframe]} for s in body["signals"]
            if s["action"] in ("BUY", "SELL")]


def rest_levels(base_url: str, symbol: str, timeframe: str) -> dict[str, Any]:
    body = requests.get(f"{base_url}/api/v1/signals/symbol/{symbol}/levels", params={"timeframe": timeframe},
                        timeout=15).json()
    assert body["timeframe"] == timeframe
    overlays: dict[str, Any] = body["signals"]
    return overlays


def matches_rest(page: Page, base_url: str, symbol: str, timeframe: str) -> dict[str, Any] | None:
    """The drawing when it equals what REST says for the page's candles (None while they differ: a candle may
    close between the two reads, so callers poll)."""
    overlays = rest_levels(base_url, symbol, timeframe)
    signals = rest_signals(base_url, symbol, timeframe)
    now = drawing(page)
    if not now or now["state"]["dirty"] or len(now["x"]) < 2:
        return None
    if unix(now["x"][1]) - unix(now["x"][0]) != SECONDS[timeframe]:
        return None
    return now if drawn(now) == expected_drawing(overlays, signals, now, SECONDS[timeframe]) else None


def test_overlays_match_rest_levels_and_signals(make_server, page) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.05", "--symbols", "AAPL")
    browser_page.goto(server.base_url + "/chart/AAPL?tf=1m")

    now = wait_for(lambda: matches_rest(browser_page, server.base_url, "AAPL", "1m"), 40, 0.3,
                   "the drawn overlays to match REST /levels and /signals")
    counts = now["state"]["counts"]
    # The simulated market over 500 one-minute candles has every kind of overlay.
    assert counts["fvg"] > 0 and counts["pivotHighs"] > 0 and counts["pivotLows"] > 0 and counts["breaks"] > 0
    assert counts["levels"] == 7 and counts["buy"] + counts["sell"] > 0
    assert {s[0].split("-")[0] for s in now["shapes"]} == {"fvg", "break", "level"}
    assert sorted(a[2].split()[0] for a in now["annotations"]) == sorted(LEVEL_NAMES)
    # The overlays come from REST first and the subscribe snapshot's full_update after (equal, so no rebuild).
    wait_for(lambda: drawing(browser_page)["state"]["fromSocket"], 15, 0.1, "the full_update snapshot")
    assert console.errors() == []


def test_overlays_stay_right_with_older_history_and_other_timeframe(make_server, page) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.05", "--symbols", "AAPL")
    browser_page.goto(server.base_url + "/chart/AAPL?tf=1m")
    before = wait_for(lambda: matches_rest(browser_page, server.base_url, "AAPL", "1m"), 40, 0.3,
                      "overlays of the first window")

    # Pan left past the first candle: older candles are prepended and the overlays redrawn for the longer window
    # (gaps and breaks that started before the old first candle now start where they really do).
    first = unix(before["x"][0])
    browser_page.evaluate("""(range) => {
        const gd = document.querySelector('#chart-graph .js-plotly-plot');
        return window.Plotly.relayout(gd, {'xaxis.range': range});
    }""", [candle_x(first - 120 * 60), before["x"][-1]])
    wait_for(lambda: len(drawing(browser_page)["x"]) > len(before["x"]), 20, 0.1, "older candles")
    after = wait_for(lambda: matches_rest(browser_page, server.base_url, "AAPL", "1m"), 30, 0.3,
                     "overlays of the longer window")
    assert unix(after["x"][0]) < first
    assert any(unix(s[1]) < first for s in after["shapes"] if s[0].startswith(("fvg", "break")))

    browser_page.get_by_role("radio", name="5m", exact=True).check()
    wait_for(lambda: matches_rest(browser_page, server.base_url, "AAPL", "5m"), 40, 0.3, "overlays of 5m")
    assert console.errors() == []


def write_replay_file(directory: Path, symbol: str = "TEST") -> None:
    """Three days of one-minute candles with drifting regimes and small jumps, so that swings, gaps, breaks and
    BUY/SELL consensus signals keep coming when replayed fast (the replay starts in the middle, day 2)."""
    rng = np.random.default_rng(7)
    start = 1_704_067_200  # 2024-01-01 00:00 UTC
    price, drift = 100.0, 0.0
    rows = ["time,open,high,low,close,volume"]
    for i in range(3 * 1440):
        if i % 40 == 0:
            drift = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.01, 0.05))
        o = price
        c = o + drift + float(rng.normal(0, 0.08))
        h = max(o, c) + abs(float(rng.normal(0, 0.04)))
        low = min(o, c) - abs(float(rng.normal(0, 0.04)))
        rows.append(f"{start + 60 * i},{o:.2f},{h:.2f},{low:.2f},{c:.2f},{int(rng.integers(100, 1000))}")
        price = c + (float(rng.normal(0, 0.15)) if i % 7 == 0 else 0.0)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{symbol}.csv").write_text("\n".join(rows) + "\n")


def test_new_overlays_and_signals_appear_live(make_server, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    write_replay_file(tmp_path / "replay")
    # Two one-minute candles a second: overlays change at every few closes.
    server = make_server("--feed", "replay", "--replay-dir", str(tmp_path / "replay"), "--speed", "120",
                         "--symbols", "TEST")
    browser_page.goto(server.base_url + "/chart/TEST?tf=1m")
    start = wait_for(lambda: (d := drawing(browser_page)) and d["state"]["fromSocket"] and d["state"]["counts"]
                     and d["state"]["counts"]["fvg"] > 0 and d, 40, 0.1, "overlays from the stream")
    loaded_until = unix(start["x"][-1])
    signal_ids = {s["id"] for s in start["state"]["signals"]}

    def consistent() -> dict[str, Any] | None:
        now = drawing(browser_page)
        if not now or now["state"]["dirty"]:
            return None
        expected = expected_drawing(now["state"]["overlays"], now["state"]["signals"], now, 60)
        return now if drawn(now) == expected else None

    def new_overlays() -> dict[str, Any] | None:
        now = consistent()
        if not now:
            return None
        points = drawn(now)
        fresh = [x for x, _ in points["highs"] + points["lows"] if unix(x) > loaded_until]
        gaps = [s for s in now["shapes"] if s[0].startswith("fvg") and unix(s[1]) > loaded_until]
        breaks = [s for s in now["shapes"] if s[0].startswith("break") and unix(s[2]) > loaded_until]
        return now if fresh and gaps and breaks else None

    now = wait_for(new_overlays, 90, 0.2, "a swing, a gap and a break made after the page loaded, drawn")
    # Overlays are rebuilt when a candle closes, not on every tick of the forming one.
    closes = (unix(now["x"][-1]) - loaded_until) // 60
    builds = now["stats"]["builds"] - start["stats"]["builds"]
    assert closes > 5 and builds <= 2 * closes + 3, (builds, closes)
    assert now["stats"]["applied"] - start["stats"]["applied"] > 2 * builds

    def new_signal_marker() -> dict[str, Any] | None:
        now = consistent()
        if not now or now["stats"]["signals"] <= start["stats"]["signals"]:
            return None
        fresh = {candle_x(s["time"]) for s in now["state"]["signals"] if s["id"] not in signal_ids}
        points = drawn(now)
        return now if fresh and fresh <= {x for x, _ in points["buys"] + points["sells"]} else None

    wait_for(new_signal_marker, 60, 0.2, "a BUY/SELL signal from the socket, drawn on its candle")

    # Every candle is in place: one lost with a dropped frame is re-read over REST and inserted.
    def no_holes() -> bool:
        now = drawing(browser_page)
        times = [unix(x) for x in now["x"]] if now else []
        return bool(times) and all(b - a == 60 for a, b in zip(times, times[1:], strict=False))

    wait_for(no_holes, 15, 0.2, "every candle in place")
    assert console.errors() == []


def test_legend_hides_and_shows_each_kind_and_remembers(make_server, page) -> None:  # type: ignore[no-untyped-def]
    browser_page, console = page
    server = make_server("--interval", "0.05", "--symbols", "AAPL")
    browser_page.goto(server.base_url + "/chart/AAPL?tf=1m")
    wait_for(lambda: (d := drawing(browser_page)) and d["state"]["counts"] and d["state"]["counts"]["fvg"] > 0,
             40, 0.1, "overlays drawn")

    def kinds_drawn() -> set[str]:
        now = drawing(browser_page)
        assert now is not None
        kinds = {s[0].split("-")[0] for s in now["shapes"]} | {a[0].split("-")[0] for a in now["annotations"]}
        kinds |= {uid for uid, t in now["traces"].items() if t["visible"] and t["x"]}
        return kinds

    everything = {"fvg", "break", "level", "overlay-swing-high", "overlay-swing-low", "overlay-break-label",
                  "overlay-buy", "overlay-sell"}
    wait_for(lambda: kinds_drawn() >= everything, 20, 0.1, "every kind drawn")
    hidden_by = {
        "FVG": {"fvg"},
        "Swings": {"overlay-swing-high", "overlay-swing-low"},
        "BOS/CHOCH": {"break", "overlay-break-label"},
        "Floor pivots": {"level"},
        "BUY/SELL": {"overlay-buy", "overlay-sell"},
    }
    for label, kinds in hidden_by.items():
        box = browser_page.get_by_role("checkbox", name=label, exact=True)
        box.uncheck()
        wait_for(lambda kinds=kinds: not kinds_drawn() & kinds and kinds_drawn() >= everything - kinds, 10, 0.1,
                 f"{label} hidden alone")
        box.check()
        wait_for(lambda: kinds_drawn() >= everything, 10, 0.1, f"{label} shown again")

    # The choice is remembered by the browser: a reload opens with FVG still hidden.
    browser_page.get_by_role("checkbox", name="FVG", exact=True).uncheck()
    wait_for(lambda: "fvg" not in kinds_drawn(), 10, 0.1, "FVG hidden")
    browser_page.reload()
    wait_for(lambda: (d := drawing(browser_page)) and d["state"]["counts"] and d["state"]["counts"]["levels"] > 0,
             40, 0.1, "overlays after the reload")
    assert not browser_page.get_by_role("checkbox", name="FVG", exact=True).is_checked()
    assert "fvg" not in kinds_drawn() and "level" in kinds_drawn()
    browser_page.get_by_role("checkbox", name="FVG", exact=True).check()
    wait_for(lambda: "fvg" in kinds_drawn(), 10, 0.1, "FVG shown after the reload")
    assert console.errors() == []
