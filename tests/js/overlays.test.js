// assets/chart_overlays.js: what the overlay traces hold for a given window of candles, worked out by hand.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const overlays = require("../../assets/chart_overlays.js");
const format = require("../../assets/chart_format.js");
const ind = require("../../assets/chart_indicators.js");

// Ten one-minute candles opening at 600, 660, ..., 1140 s.
const TIMES = Array.from({ length: 10 }, (_, i) => 600 + i * 60);
const CANDLES = {
    times: TIMES,
    highs: TIMES.map((_, i) => 10 + i),
    lows: TIMES.map((_, i) => 9 + i),
    seconds: 60,
};
// Plot x = the Unix time itself, so the expectations read as times.
const OPTS = { toX: (t) => t, format: (v) => format.price(v, 2) };
// Candles 1..6 (660 to 960): a window that does not hold the latest candle.
const MIDDLE = { start: 1, end: 7 };
// Candles 5..9 (900 to 1140): the latest window, reaching one and a half candles past the last (1230).
const LATEST = { start: 5, end: 10 };

function zone(time, direction, bottom, top, mitigatedTime) {
    const mitigated = mitigatedTime !== undefined;
    return { time: time, index: 0, direction: direction, top: top, bottom: bottom, confirmed_index: 1,
             mitigated: mitigated, mitigated_index: mitigated ? 2 : null,
             mitigated_time: mitigated ? mitigatedTime : null };
}

function level(start, base) {
    return { period_start: start, S3: base - 3, S2: base - 2, S1: base - 1, P: base, R1: base + 1, R2: base + 2,
             R3: base + 3 };
}

const STATE = {
    pivot_points: [
        { time: 540, index: 0, kind: "high", price: 9.5, confirmed_time: 840, confirmed_index: 5 },
        { time: 720, index: 2, kind: "high", price: 12, confirmed_time: 1020, confirmed_index: 7 },
        { time: 840, index: 4, kind: "low", price: 13, confirmed_time: 1140, confirmed_index: 9 },
        { time: 1080, index: 8, kind: "low", price: 17, confirmed_time: 1380, confirmed_index: 13 },
    ],
    fvg_zones: [
        zone(480, "bullish", 9.6, 9.8, 600),     // mitigated before every window
        zone(540, "bullish", 11.2, 11.5),        // open since before the windows
        zone(720, "bearish", 12.2, 12.5, 900),   // mitigated at 900
        zone(1080, "bearish", 17.1, 17.4),       // after MIDDLE
    ],
    break_signals: [
        { time: 600, index: 1, direction: "bearish", kind: "BOS", level: 9.1, swing_index: 0, swing_time: 480 },
        { time: 780, index: 3, direction: "bullish", kind: "BOS", level: 10.5, swing_index: 0, swing_time: 600 },
        { time: 1080, index: 8, direction: "bearish", kind: "CHOCH", level: 13.5, swing_index: 5, swing_time: 900 },
    ],
    // Five-minute "periods" starting at 0, 720 and 1020: from half a candle before their first candle to half a
    // candle before the next period's.
    pivot_levels: [level(1020, 86370.625), level(0, 10), level(720, 20)],
};
const SIGNALS = [
    { id: "T-1m-720", side: "BUY", price: 10.5, timeframe: "1m", confidence: 0.72, time: 720 },
    { id: "T-1m-900", side: "SELL", price: 14.5, timeframe: "1m", confidence: 0.6, time: 900 },
    { id: "T-1m-1080", side: "BUY", price: 17, timeframe: "1m", confidence: 0.9, time: 1080 },
    { id: "T-1m-9960", side: "BUY", price: 20, timeframe: "1m", confidence: 0.9, time: 9960 },
];

test("gaps: closed polygons cut to the window, one trace per direction and state", () => {
    const { traces, counts } = overlays.build(STATE, SIGNALS, CANDLES, MIDDLE, OPTS);
    // The open bullish gap from 540, cut at the window's first candle (660) and its last (960).
    assert.deepEqual(traces["fvg-bull-open"].x, [660, 960, 960, 660, 660, null]);
    assert.deepEqual(traces["fvg-bull-open"].y, [11.2, 11.2, 11.5, 11.5, 11.2, null]);
    assert.equal(traces["fvg-bull-open"].text[0], "bullish gap 11.20 – 11.50");
    // The bearish gap from 720 ends where it was mitigated (900).
    assert.deepEqual(traces["fvg-bear-mitigated"].x, [720, 900, 900, 720, 720, null]);
    assert.deepEqual(traces["fvg-bear-mitigated"].y, [12.2, 12.2, 12.5, 12.5, 12.2, null]);
    // Mitigated before the window, and after the window: absent.
    assert.deepEqual(traces["fvg-bull-mitigated"].x, []);
    assert.deepEqual(traces["fvg-bear-open"].x, []);
    assert.equal(counts.fvg, 2);

    const latest = overlays.build(STATE, SIGNALS, CANDLES, LATEST, OPTS).traces;
    // In the latest window open gaps reach past the forming candle: 1140 + 1.5 candles.
    assert.deepEqual(latest["fvg-bull-open"].x, [900, 1230, 1230, 900, 900, null]);
    assert.deepEqual(latest["fvg-bear-open"].x, [1080, 1230, 1230, 1080, 1080, null]);
    // Mitigated at 900, the window's first candle: a zero-width remainder, still drawn.
    assert.deepEqual(latest["fvg-bear-mitigated"].x, [900, 900, 900, 900, 900, null]);
    const edge = overlays.build(STATE, [], CANDLES, LATEST, Object.assign({ rightEdge: 2000 }, OPTS)).traces;
    assert.deepEqual(edge["fvg-bull-open"].x.slice(0, 2), [900, 2000]);
});

test("structure breaks: one segmented line per kind and a label trace", () => {
    const { traces, counts } = overlays.build(STATE, SIGNALS, CANDLES, MIDDLE, OPTS);
    // The bullish BOS from its swing (600) to the break (780), cut at 660; the CHOCH from 900, cut at 960.
    assert.deepEqual(traces["break-bos"].x, [660, 780, null]);
    assert.deepEqual(traces["break-bos"].y, [10.5, 10.5, null]);
    assert.deepEqual(traces["break-choch"].x, [900, 960, null]);
    assert.deepEqual(traces["break-choch"].y, [13.5, 13.5, null]);
    const labels = traces["break-label"];
    assert.deepEqual(labels.x, [720, 930]);
    assert.deepEqual(labels.y, [10.5, 13.5]);
    assert.deepEqual(labels.text, ["BOS", "CHOCH"]);
    assert.deepEqual(labels.textposition, ["top center", "bottom center"]);
    assert.deepEqual(labels.customdata, ["BOS bullish 10.50", "CHOCH bearish 13.50"]);
    assert.deepEqual(labels.textfont.color, [overlays.PALETTES.dark.bullish, overlays.PALETTES.dark.bearish]);
    assert.equal(counts.breaks, 2);
    // The bearish BOS (480 to 600) ends before the window: absent.
    assert.ok(!traces["break-bos"].y.includes(9.1));
});

test("floor pivots only over their own period, labelled at the right end of its lines", () => {
    const { traces, counts } = overlays.build(STATE, SIGNALS, CANDLES, MIDDLE, OPTS);
    const lines = traces["levels-line"];
    // Period 0 runs to 690 (half a candle before 720), cut at 660; period 720 from 690, cut at 960; period 1020
    // starts at 990, after the window.
    assert.equal(lines.x.length, 2 * 7 * 3);
    assert.deepEqual(lines.x.slice(0, 3), [660, 690, null]);
    assert.deepEqual(lines.y.slice(0, 3), [13, 13, null]);
    assert.deepEqual(lines.x.slice(21, 24), [690, 960, null]);
    assert.deepEqual(lines.y.slice(21, 24), [23, 23, null]);
    const labels = traces["levels-label"];
    assert.deepEqual(labels.text.slice(0, 7), ["R3 13.00", "R2 12.00", "R1 11.00", "P 10.00", "S1 9.00", "S2 8.00",
                                               "S3 7.00"]);
    assert.deepEqual(labels.x, [690, 690, 690, 690, 690, 690, 690, 960, 960, 960, 960, 960, 960, 960]);
    assert.ok(labels.textposition.every((p) => p === "middle left"));
    assert.deepEqual(traces["levels-label-current"].x, []);
    assert.deepEqual([counts.levels, counts.levelLines], [2, 14]);
    assert.ok(!lines.y.includes(86370.625));
});

test("the current period's floor pivots reach the right edge, labels in the right margin", () => {
    const { traces, counts } = overlays.build(STATE, SIGNALS, CANDLES, LATEST, OPTS);
    const lines = traces["levels-line"];
    // Period 0 ended before the window; period 720 from 900 (cut) to 990; the current one from 990 to 1230.
    assert.deepEqual(lines.x.slice(0, 3), [900, 990, null]);
    assert.deepEqual(lines.x.slice(21, 24), [990, 1230, null]);
    assert.deepEqual(lines.y.slice(21, 24), [86373.625, 86373.625, null]);
    const current = traces["levels-label-current"];
    assert.deepEqual(current.text, ["R3 86,373.63", "R2 86,372.63", "R1 86,371.63", "P 86,370.63", "S1 86,369.63",
                                    "S2 86,368.63", "S3 86,367.63"]);
    assert.ok(current.x.every((x) => x === 1230));
    assert.ok(current.textposition.every((p) => p === "middle right"));
    const dark = overlays.PALETTES.dark;
    assert.deepEqual(current.textfont.color, [dark.levelR, dark.levelR, dark.levelR, dark.levelP, dark.levelS,
                                              dark.levelS, dark.levelS]);
    assert.deepEqual(traces["levels-label"].x, new Array(7).fill(990));
    assert.deepEqual([counts.levels, counts.levelLines], [2, 14]);
    // The chart can put the labels at its axis' right end.
    const moved = overlays.build(STATE, [], CANDLES, LATEST, Object.assign({ labelAt: 1500 }, OPTS)).traces;
    assert.ok(moved["levels-label-current"].x.every((x) => x === 1500));
    assert.deepEqual(moved["levels-line"].x.slice(21, 23), [990, 1230]);
    // Their template keeps them outside the plot area.
    const template = overlays.traceTemplates("dark").find((t) => t.uid === "levels-label-current");
    assert.equal(template.cliponaxis, false);
    assert.equal(template.textposition, "middle right");
});

test("swings and signals on the window's candles only", () => {
    const { traces, counts } = overlays.build(STATE, SIGNALS, CANDLES, MIDDLE, OPTS);
    assert.deepEqual([traces["swing-high"].x, traces["swing-high"].y], [[720], [12]]);
    assert.deepEqual([traces["swing-low"].x, traces["swing-low"].y], [[840], [13]]);
    // BUY under the low of its candle (index 2), SELL over the high of its candle (index 5).
    assert.deepEqual([traces["signal-buy"].x, traces["signal-buy"].y], [[720], [11]]);
    assert.deepEqual(traces["signal-buy"].customdata, ["BUY 72% at 10.50"]);
    assert.deepEqual([traces["signal-sell"].x, traces["signal-sell"].y], [[900], [15]]);
    assert.deepEqual(counts, { swingHighs: 1, swingLows: 1, fvg: 2, breaks: 2, levels: 2, levelLines: 14, buy: 1,
                               sell: 1 });
    const latest = overlays.build(STATE, SIGNALS, CANDLES, LATEST, OPTS);
    assert.deepEqual(latest.traces["signal-buy"].x, [1080]);
    assert.deepEqual(latest.traces["swing-low"].x, [1080]);
    assert.deepEqual(latest.traces["swing-high"].x, []);
});

test("every overlay trace is present, empty without candles or state", () => {
    const empty = overlays.build(null, null, { times: [], highs: [], lows: [], seconds: 60 }, { start: 0, end: 0 });
    assert.deepEqual(Object.keys(empty.traces).sort(), overlays.OVERLAY_UIDS.slice().sort());
    Object.values(empty.traces).forEach((trace) => assert.deepEqual(trace.x, []));
    const none = overlays.build({}, [], CANDLES, MIDDLE, OPTS);
    assert.equal(Object.values(none.counts).reduce((a, b) => a + b, 0), 0);
    // Without toX the x values are UTC plot dates.
    const utc = overlays.build(STATE, [], CANDLES, MIDDLE);
    assert.deepEqual(utc.traces["swing-high"].x, ["1970-01-01 00:12:00"]);
});

test("build touches only the objects near the window, not all of them", () => {
    // 20,000 candles and one of each object every candle; a window of 100 candles.
    const count = 20000;
    const times = Array.from({ length: count }, (_, i) => i * 60);
    const candles = { times: times, highs: times.map(() => 2), lows: times.map(() => 1), seconds: 60 };
    let reads = 0;
    const counted = (o) => new Proxy(o, { get: (target, key) => { reads += 1; return target[key]; } });
    const state = {
        pivot_points: times.map((t) => counted({ time: t, kind: "high", price: 2 })),
        fvg_zones: times.map((t) => counted(zone(t, "bullish", 1, 2, t + 300))),
        break_signals: times.map((t) => counted({ time: t + 240, direction: "bullish", kind: "BOS", level: 1.5,
                                                   swing_time: t })),
        pivot_levels: times.filter((t) => t % 86400 === 0).map((t) => level(t, 1.5)),
    };
    const signals = times.map((t) => ({ id: "s" + t, side: "BUY", price: 1, confidence: 0.5, time: t }));
    overlays.build(state, signals, candles, { start: 0, end: 100 }, {}); // indexes the state once
    reads = 0;
    const built = overlays.build(state, signals, candles, { start: 10000, end: 10100 }, { toX: (t) => t });
    assert.equal(built.counts.swingHighs, 100);
    assert.equal(built.counts.fvg, 105);
    assert.equal(built.counts.breaks, 104);
    assert.equal(built.counts.buy, 100);
    assert.ok(reads < 5000, "read " + reads + " fields of " + 3 * count + " objects");
    // Index entries looked at: those near the window (plus the open gaps, none here), not the 80,000 held.
    assert.ok(built.examined < 600, "examined " + built.examined);
});

test("templates: a fixed set of traces per kind, on the right panes, themed", () => {
    const dark = overlays.traceTemplates("dark");
    const light = overlays.traceTemplates("light");
    const uids = dark.map((t) => t.uid);
    assert.equal(new Set(uids).size, uids.length);
    assert.deepEqual(uids, overlays.TRACE_UIDS);
    assert.deepEqual(overlays.KIND_NAMES, ["swings", "fvg", "breaks", "levels", "signals", "ema", "bollinger", "rsi",
                                           "macd"]);
    assert.deepEqual(overlays.DEFAULT_KINDS, ["fvg", "breaks", "signals"]);
    overlays.KINDS.forEach((k) => {
        assert.ok(overlays.uidsOf(k.name).length > 0, k.name);
        assert.equal(typeof k.label, "string");
    });
    dark.forEach((t) => {
        assert.ok(overlays.KIND_NAMES.includes(t.meta.overlay), t.uid);
        assert.equal(overlays.kindOfTrace(t.uid), t.meta.overlay);
        assert.equal(t.xaxis, "x");
        const pane = t.meta.overlay === "rsi" ? "y3" : t.meta.overlay === "macd" ? "y4" : "y";
        assert.equal(t.yaxis, pane, t.uid);
        assert.deepEqual([t.x, t.y], [[], []]);
    });
    assert.equal(dark.find((t) => t.uid === "fvg-bull-open").fill, "toself");
    assert.equal(dark.find((t) => t.uid === "macd-hist").type, "bar");
    // bb-lower fills to the trace right before it, bb-upper.
    assert.equal(uids.indexOf("bb-lower"), uids.indexOf("bb-upper") + 1);
    assert.equal(dark.find((t) => t.uid === "bb-lower").fill, "tonexty");
    assert.notDeepEqual(dark.find((t) => t.uid === "signal-buy").marker.color,
                        light.find((t) => t.uid === "signal-buy").marker.color);
    const shown = overlays.traceTemplates("light", ["rsi"]);
    assert.deepEqual(shown.filter((t) => t.visible).map((t) => t.uid), ["rsi-guides", "rsi-line"]);
});

test("the overlays URL parameter", () => {
    assert.deepEqual(overlays.parseKinds(null), ["fvg", "breaks", "signals"]);
    assert.deepEqual(overlays.parseKinds(undefined), ["fvg", "breaks", "signals"]);
    assert.deepEqual(overlays.parseKinds(""), []);
    assert.deepEqual(overlays.parseKinds("rsi, bogus,EMA,rsi"), ["ema", "rsi"]);
    assert.equal(overlays.kindsParam(["macd", "fvg", "nope"]), "fvg,macd");
});

test("indicator traces: the book's series over the window", () => {
    const closes = Array.from({ length: 120 }, (_, i) => 100 + 3 * Math.sin(i / 5));
    const book = new ind.IndicatorBook().setAll(closes);
    const times = closes.map((_, i) => i * 60);
    const range = { start: 60, end: 100 };
    const xs = times.slice(60, 100);
    const traces = overlays.indicatorTraces(book, range, xs, "dark");
    assert.deepEqual(Object.keys(traces).sort(), overlays.INDICATOR_UIDS.slice().sort());
    const series = book.series();
    assert.deepEqual(traces["ema-fast"].y, series.emaFast.slice(60, 100));
    assert.deepEqual(traces["ema-slow"].y, series.emaSlow.slice(60, 100));
    assert.deepEqual(traces["bb-upper"].y, series.bbUpper.slice(60, 100));
    assert.deepEqual(traces["rsi-line"].y, series.rsi.slice(60, 100));
    assert.deepEqual(traces["macd-hist"].y, series.macdHist.slice(60, 100));
    assert.deepEqual(traces["macd-line"].x, xs);
    assert.deepEqual(traces["rsi-guides"], { x: [3600, 5940, null, 3600, 5940], y: [30, 30, null, 70, 70] });
    const colors = traces["macd-hist"].marker.color;
    traces["macd-hist"].y.forEach((v, i) => {
        assert.equal(colors[i], v < 0 ? overlays.PALETTES.dark.histDown : overlays.PALETTES.dark.histUp);
    });
    // Warm-up values stay null (gaps in the line).
    const early = overlays.indicatorTraces(book, { start: 0, end: 40 }, times.slice(0, 40));
    assert.equal(early["ema-slow"].y.every((v) => v === null), true);
    assert.deepEqual(overlays.indicatorTraces(new ind.IndicatorBook(), { start: 0, end: 0 }, [])["rsi-line"],
                     { x: [], y: [] });
});

test("mergeHistorical keeps older objects only before the live start, once each", () => {
    const live = {
        pivot_points: [{ time: 2000, kind: "high", price: 5 }],
        fvg_zones: [zone(2100, "bullish", 1, 2)],
        break_signals: [{ time: 2200, direction: "bullish", kind: "BOS", level: 5, swing_time: 2000 }],
        pivot_levels: [level(1800, 5), level(2400, 6)],
    };
    const frozen = JSON.stringify(live);
    const historical = {
        pivot_points: [{ time: 1000, kind: "high", price: 4 }, { time: 1000, kind: "high", price: 4 },
                       { time: 1000, kind: "low", price: 3 }, { time: 1960, kind: "low", price: 3 },
                       { time: 2000, kind: "high", price: 5.5 }],
        fvg_zones: [zone(1200, "bearish", 3, 4, 1300), zone(2100, "bullish", 1, 2, 2150)],
        break_signals: [{ time: 1500, direction: "bearish", kind: "CHOCH", level: 3, swing_time: 1000 },
                        { time: 1990, direction: "bearish", kind: "BOS", level: 3, swing_time: 1960 }],
        pivot_levels: [level(900, 1), level(0, 2), level(1800, 7), level(900, 1)],
    };
    const merged = overlays.mergeHistorical(live, historical, 1950);
    assert.deepEqual(merged.pivot_points.map((p) => [p.time, p.kind, p.price]),
                     [[1000, "high", 4], [1000, "low", 3], [2000, "high", 5]]);
    assert.deepEqual(merged.fvg_zones.map((z) => [z.time, z.mitigated]), [[1200, true], [2100, false]]);
    assert.deepEqual(merged.break_signals.map((b) => b.time), [1500, 2200]);
    // Periods before the live tracker's earliest (1800), the live ones unchanged.
    assert.deepEqual(merged.pivot_levels.map((p) => [p.period_start, p.P]), [[0, 2], [900, 1], [1800, 5],
                                                                             [2400, 6]]);
    assert.equal(JSON.stringify(live), frozen);
    assert.deepEqual(overlays.mergeHistorical(live, null, 1950).pivot_points, live.pivot_points);
});

test("signals from REST and from the socket", () => {
    assert.deepEqual(overlays.signalFromRest({ id: "AAPL-1m-600", action: "BUY", price: 10, timeframe: "1m",
                                               confidence: 0.7, timestamp: "1970-01-01T00:11:00Z" }, 60),
                     { id: "AAPL-1m-600", side: "BUY", price: 10, timeframe: "1m", confidence: 0.7, time: 600 });
    assert.equal(overlays.signalFromRest({ id: "x", action: "HOLD" }, 60), null);
    assert.deepEqual(overlays.signalFromSocket({ signal_id: "AAPL-1m-660", side: "sell", price: 11, timeframe: "1m",
                                                 confidence: 0.5 }, 60),
                     { id: "AAPL-1m-660", side: "SELL", price: 11, timeframe: "1m", confidence: 0.5, time: 660 });
    assert.equal(overlays.signalFromSocket({ signal_id: "no-time", side: "buy" }, 60), null);
});
