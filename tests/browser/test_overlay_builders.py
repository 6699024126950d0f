"""The pure overlay builders of assets/chart_overlays.js, run in real Chromium on cases worked out by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from components.figures import candle_x

pytestmark = pytest.mark.browser

ASSET = Path(__file__).resolve().parents[2] / "assets" / "chart_overlays.js"

# Four one-minute candles opening at 600, 660, 720 and 780 s.
CANDLES = {"times": [600, 660, 720, 780], "highs": [10, 11, 12, 13], "lows": [9, 10, 11, 12], "seconds": 60}
OVERLAYS = {
    "pivot_points": [
        {"time": 540, "index": 0, "kind": "high", "price": 9.5, "confirmed_time": 840, "confirmed_index": 5},
        {"time": 660, "index": 2, "kind": "high", "price": 11, "confirmed_time": 960, "confirmed_index": 7},
        {"time": 720, "index": 3, "kind": "low", "price": 11, "confirmed_time": 1020, "confirmed_index": 8},
    ],
    "fvg_zones": [
        # Mitigated before the first candle: nothing left to draw.
        {"time": 480, "index": 0, "direction": "bullish", "top": 9.8, "bottom": 9.6, "confirmed_index": 1,
         "mitigated": True, "mitigated_index": 2, "mitigated_time": 540},
        # Open since before the first candle: from the first candle to one candle past the last.
        {"time": 540, "index": 1, "direction": "bearish", "top": 12.5, "bottom": 12.2, "confirmed_index": 2,
         "mitigated": False, "mitigated_index": None, "mitigated_time": None},
        {"time": 660, "index": 3, "direction": "bullish", "top": 11.5, "bottom": 11.2, "confirmed_index": 4,
         "mitigated": True, "mitigated_index": 5, "mitigated_time": 780},
    ],
    "break_signals": [
        {"time": 540, "index": 1, "direction": "bearish", "kind": "BOS", "level": 9.1, "swing_index": 0,
         "swing_time": 480},
        {"time": 720, "index": 4, "direction": "bullish", "kind": "CHOCH", "level": 10.8, "swing_index": 1,
         "swing_time": 540},
    ],
    "pivot_levels": [
        {"period_start": 0, "S3": 1, "S2": 2, "S1": 3, "P": 4, "R1": 5, "R2": 6, "R3": 7},
        {"period_start": 300, "S3": 8, "S2": 9, "S1": 10, "P": 11, "R1": 12, "R2": 13, "R3": 14},
    ],
}
SIGNALS = [
    {"id": "T-1m-660", "side": "BUY", "price": 10.5, "timeframe": "1m", "confidence": 0.72, "time": 660},
    {"id": "T-1m-780", "side": "SELL", "price": 12.5, "timeframe": "1m", "confidence": 0.6, "time": 780},
    {"id": "T-1m-9960", "side": "BUY", "price": 20, "timeframe": "1m", "confidence": 0.9, "time": 9960},
]


@pytest.fixture
def kit(page) -> Page:  # type: ignore[no-untyped-def]
    browser_page, _ = page
    browser_page.set_content("<html><body></body></html>")
    browser_page.add_script_tag(path=str(ASSET))
    return browser_page


def run(page: Page, body: str, *args: Any) -> Any:
    return page.evaluate(f"(args) => {{ const kit = window.tickstream.overlays; {body} }}", list(args))


def test_build_cuts_objects_to_the_candle_window(kit: Page) -> None:
    built = run(kit, "return kit.build(args[0], args[1], args[2]);", OVERLAYS, SIGNALS, CANDLES)
    fvg = [(s["name"], s["x0"], s["x1"], s["y0"], s["y1"]) for s in built["shapes"]["fvg"]]
    assert fvg == [("fvg-bearish", candle_x(600), candle_x(840), 12.2, 12.5),
                   ("fvg-bullish-mitigated", candle_x(660), candle_x(780), 11.2, 11.5)]
    assert built["shapes"]["fvg"][0]["fillcolor"] != built["shapes"]["fvg"][1]["fillcolor"]
    assert built["shapes"]["fvg"][0]["layer"] == "below"

    breaks = [(s["name"], s["x0"], s["x1"], s["y0"], s["y1"]) for s in built["shapes"]["breaks"]]
    assert breaks == [("break-CHOCH-bullish", candle_x(600), candle_x(720), 10.8, 10.8)]
    labels = built["traces"]["overlay-break-label"]
    assert labels["x"] == [candle_x(660)] and labels["text"] == ["CHOCH"]
    assert labels["textposition"] == ["top center"]

    # The latest period's floor pivots, from its start (here before the window) to one candle past the last.
    levels = {s["name"]: (s["x0"], s["x1"], s["y0"]) for s in built["shapes"]["levels"]}
    assert levels == {f"level-{n}": (candle_x(600), candle_x(840), v)
                      for n, v in {"S3": 8, "S2": 9, "S1": 10, "P": 11, "R1": 12, "R2": 13, "R3": 14}.items()}
    assert [a["text"] for a in built["annotations"]["levels"]] == [
        "R3 14", "R2 13", "R1 12", "P 11", "S1 10", "S2 9", "S3 8"]
    assert all(a["xref"] == "paper" and a["x"] == 1 for a in built["annotations"]["levels"])

    traces = built["traces"]
    assert (traces["overlay-swing-high"]["x"], traces["overlay-swing-high"]["y"]) == ([candle_x(660)], [11])
    assert (traces["overlay-swing-low"]["x"], traces["overlay-swing-low"]["y"]) == ([candle_x(720)], [11])
    # BUY under its candle's low, SELL over its candle's high; a signal on a candle not loaded waits.
    assert (traces["overlay-buy"]["x"], traces["overlay-buy"]["y"]) == ([candle_x(660)], [10])
    assert (traces["overlay-sell"]["x"], traces["overlay-sell"]["y"]) == ([candle_x(780)], [13])
    assert built["counts"] == {"pivotHighs": 1, "pivotLows": 1, "fvg": 2, "breaks": 1, "levels": 7, "buy": 1,
                               "sell": 1}


def test_build_without_candles_or_overlays_draws_nothing(kit: Page) -> None:
    empty = run(kit, "return kit.build(args[0], [], args[1]);", OVERLAYS, {**CANDLES, "times": []})
    assert empty["counts"] == dict.fromkeys(("pivotHighs", "pivotLows", "fvg", "breaks", "levels", "buy",
                                             "sell"), 0)
    none = run(kit, "return kit.build(null, [], args[0]);", CANDLES)
    assert sum(none["counts"].values()) == 0


def test_layout_parts_keep_only_the_kinds_shown(kit: Page) -> None:
    parts = run(kit, "return kit.layoutParts(kit.build(args[0], [], args[1]), new Set(['fvg']));",
                OVERLAYS, CANDLES)
    assert [s["name"] for s in parts["shapes"]] == ["fvg-bearish", "fvg-bullish-mitigated"]
    assert parts["annotations"] == []
    everything = run(kit, "return kit.layoutParts(kit.build(args[0], [], args[1]), new Set(kit.KINDS));",
                     OVERLAYS, CANDLES)
    assert len(everything["shapes"]) == 2 + 1 + 7 and len(everything["annotations"]) == 7
    assert run(kit, "return kit.TRACE_UIDS.map(kit.kindOfTrace);") == [
        "pivots", "pivots", "breaks", "signals", "signals"]


def test_signals_sit_on_the_candle_they_closed(kit: Page) -> None:
    # REST: timestamp is the close time of the signal's candle.
    rest = run(kit, "return kit.signalFromRest(args[0], 60);",
               {"id": "AAPL-1m-660", "action": "BUY", "price": 10.5, "timestamp": "1970-01-01T00:12:00.000Z",
                "timeframe": "1m", "confidence": 0.7})
    assert rest == {"id": "AAPL-1m-660", "side": "BUY", "price": 10.5, "timeframe": "1m", "confidence": 0.7,
                    "time": 660}
    # Socket: `time` when the message has it, else the open time closing the id (symbols may contain "-").
    # The socket's side is lower case (protocol 2); the chart keeps it as REST's action, upper case.
    data = {"signal_id": "BTC-USD-5m-900", "side": "sell", "signal_type": "SELL", "price": 1, "timeframe": "5m",
            "confidence": 0.6}
    assert run(kit, "return kit.signalFromSocket(args[0], 300);", data) == {
        "id": "BTC-USD-5m-900", "side": "SELL", "price": 1, "timeframe": "5m", "confidence": 0.6, "time": 900}
    assert run(kit, "return kit.signalFromSocket(args[0], 300);", {**data, "time": 1200})["time"] == 1200
    assert run(kit, "return kit.signalFromSocket(args[0], 300);",
               {**data, "timestamp": "1970-01-01T00:25:00.000Z"})["time"] == 1200
    # HOLD draws nothing, so it is not kept.
    hold = {**data, "side": "hold", "signal_type": "HOLD"}
    assert run(kit, "return kit.signalFromSocket(args[0], 300);", hold) is None
