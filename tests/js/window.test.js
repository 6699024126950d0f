// assets/chart_window.js: which candles a view gives Plotly, the cap, when to reslice, and the coarser timeframe.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const win = require("../../assets/chart_window.js");

// `count` one-minute candles from t = 60_000.
function minutes(count) {
    return Array.from({ length: count }, (_, i) => 60000 + i * 60);
}

test("binary searches", () => {
    const times = [10, 20, 30, 40];
    assert.equal(win.indexAtOrAfter(times, 5), 0);
    assert.equal(win.indexAtOrAfter(times, 20), 1);
    assert.equal(win.indexAtOrAfter(times, 21), 2);
    assert.equal(win.indexAtOrAfter(times, 41), 4);
    assert.equal(win.indexAtOrBefore(times, 5), -1);
    assert.equal(win.indexAtOrBefore(times, 20), 1);
    assert.equal(win.indexAtOrBefore(times, 29), 1);
    assert.equal(win.indexAtOrBefore(times, 99), 3);
    assert.equal(win.indexOf(times, 30), 2);
    assert.equal(win.indexOf(times, 31), -1);
    assert.equal(win.indexAtOrAfter([], 1), 0);
});

test("no view: the latest `initial` candles plus half of them to the left", () => {
    const times = minutes(5000);
    assert.deepEqual(win.slice(times, null), { start: 4550, end: 5000, first: 4700, last: 5000, visible: 300,
                                                tooMany: false });
    assert.deepEqual(win.slice(times, null, { initial: 100 }),
                     { start: 4850, end: 5000, first: 4900, last: 5000, visible: 100, tooMany: false });
    assert.deepEqual(win.slice(minutes(120), null),
                     { start: 0, end: 120, first: 0, last: 120, visible: 120, tooMany: false });
    assert.deepEqual(win.slice([], null), { start: 0, end: 0, first: 0, last: 0, visible: 0, tooMany: false });
});

test("a view: its candles plus half its span on each side", () => {
    const times = minutes(5000);
    // Candles 1000..1199 visible (200 candles): 100 more on each side.
    const view = { from: times[1000], to: times[1199] };
    assert.deepEqual(win.slice(times, view), { start: 900, end: 1300, first: 1000, last: 1200, visible: 200,
                                               tooMany: false });
    // A view between candle times counts the candles inside it.
    assert.deepEqual(win.slice(times, { from: times[1000] - 30, to: times[1009] + 30 }),
                     { start: 995, end: 1015, first: 1000, last: 1010, visible: 10, tooMany: false });
    // Near the data's start the margin stops at the first candle.
    assert.deepEqual(win.slice(times, { from: times[10], to: times[109] }),
                     { start: 0, end: 160, first: 10, last: 110, visible: 100, tooMany: false });
    // A view reaching past the last candle (room for the forming candle) ends at the last.
    const tail = win.slice(times, { from: times[4900], to: times[4999] + 600 });
    assert.equal(tail.end, 5000);
    assert.equal(tail.visible, 100);
});

test("a view left of the loaded candles still gets the candles of its margin", () => {
    const times = minutes(1000);
    const span = 100 * 60;
    const got = win.slice(times, { from: times[0] - span + 600, to: times[0] + 600 });
    assert.equal(got.start, 0);
    assert.equal(got.visible, 11);
    assert.ok(got.end > got.last && got.end <= 61, JSON.stringify(got));
});

test("a weekend gap does not leave the margin empty", () => {
    // 100 candles, a two-day gap, 100 candles.
    const times = minutes(100).concat(minutes(100).map((t) => t + 2 * 86400 + 6000));
    const got = win.slice(times, { from: times[60], to: times[99] });
    assert.equal(got.visible, 40);
    assert.equal(got.end, 120);
});

test("never more than max candles", () => {
    const times = minutes(5000);
    // 1,200 visible: the margins share the 300 left.
    const wide = win.slice(times, { from: times[2000], to: times[3199] });
    assert.equal(wide.end - wide.start, 1500);
    assert.deepEqual([wide.start, wide.end, wide.visible, wide.tooMany], [1850, 3350, 1200, false]);
    // Close to the start: the left side lacks candles and gives its share to the right.
    const early = win.slice(times, { from: times[50], to: times[1249] });
    assert.deepEqual([early.start, early.end], [0, 1500]);
    // The view alone holds more than max: the max candles nearest its right end.
    const tooWide = win.slice(times, { from: times[100], to: times[3099] });
    assert.deepEqual(tooWide, { start: 1600, end: 3100, first: 100, last: 3100, visible: 3000, tooMany: true });
    const capped = win.slice(times, { from: times[0], to: times[4999] }, { max: 800 });
    assert.deepEqual([capped.start, capped.end, capped.visible, capped.tooMany], [4200, 5000, 5000, true]);
});

test("needsReslice: near or past an edge with more candles that way", () => {
    const times = minutes(5000);
    const view = { from: times[1000], to: times[1199] };
    const current = win.slice(times, view); // 900..1300, span 199 minutes, guard 24.9 minutes
    assert.equal(win.needsReslice(current, view, times), false);
    // Panned 50 candles left: 50 from the slice's left edge, more than the guard.
    assert.equal(win.needsReslice(current, { from: times[950], to: times[1149] }, times), false);
    // 80 left: 20 candles from the edge, within the guard.
    assert.equal(win.needsReslice(current, { from: times[920], to: times[1119] }, times), true);
    // Right side likewise.
    assert.equal(win.needsReslice(current, { from: times[1080], to: times[1279] }, times), true);
    // Zoomed out so that the view reaches the edges.
    assert.equal(win.needsReslice(current, { from: times[850], to: times[1350] }, times), true);
    // At the first loaded candle there is nothing more to the left.
    const start = win.slice(times, { from: times[0], to: times[99] });
    assert.equal(start.start, 0);
    assert.equal(win.needsReslice(start, { from: times[0] - 3000, to: times[80] }, times), false);
    // Following the latest: new candles after the slice.
    const live = win.slice(times, null);
    assert.equal(win.needsReslice(live, null, times), false);
    assert.equal(win.needsReslice(live, null, minutes(5001)), true);
    // A slice that no longer fits the candles, or none yet.
    assert.equal(win.needsReslice({ start: 0, end: 6000 }, null, times), true);
    assert.equal(win.needsReslice(null, null, times), true);
    assert.equal(win.needsReslice(null, null, []), false);
});

test("reslicing after a pan gives a slice that serves the view again", () => {
    const times = minutes(5000);
    let view = { from: times[1000], to: times[1199] };
    let current = win.slice(times, view);
    for (let step = 0; step < 40; step += 1) {
        view = { from: view.from - 20 * 60, to: view.to - 20 * 60 };
        if (win.needsReslice(current, view, times)) {
            current = win.slice(times, view);
        }
        assert.ok(times[current.start] <= view.from || current.start === 0);
        assert.ok(current.end - current.start <= 1500);
        assert.equal(win.needsReslice(current, view, times), false);
    }
});

test("coarser: the next timeframe whose candles fit", () => {
    assert.equal(win.coarser("1m", 3000, 1500), "5m");
    assert.equal(win.coarser("1m", 1500, 1500), "5m");
    assert.equal(win.coarser("1m", 30000, 1500), "30m");
    assert.equal(win.coarser("5m", 100000, 1500), "1d");
    assert.equal(win.coarser("1h", 5000, 1500), "4h");
    assert.equal(win.coarser("1d", 5000, 1500), null);
    assert.equal(win.coarser("1m", 10000000, 1500), null);
    assert.equal(win.coarser("2m", 3000, 1500), null);
    assert.equal(win.coarser("1m", 3000), "5m");
});

test("viewFromRelayout reads what Plotly's relayout events say about the x axis", () => {
    const format = require("../../assets/chart_format.js");
    const parse = (x) => format.fromPlotX(x, "UTC");
    assert.deepEqual(win.viewFromRelayout({ "xaxis.range[0]": "1970-01-01 00:10:00",
                                            "xaxis.range[1]": "1970-01-01 00:20:00.5" }, parse),
                     { from: 600, to: 1200.5 });
    assert.deepEqual(win.viewFromRelayout({ "xaxis.range": ["1970-01-01 00:20", "1970-01-01 00:10"] }, parse),
                     { from: 600, to: 1200 });
    assert.equal(win.viewFromRelayout({ "xaxis.autorange": true }, parse), null);
    assert.equal(win.viewFromRelayout({ "yaxis.range[0]": 1, "yaxis.range[1]": 2 }, parse), undefined);
    assert.equal(win.viewFromRelayout({ "xaxis.range": ["soon", "later"] }, parse), undefined);
    assert.equal(win.viewFromRelayout(null, parse), undefined);
    // A view that is not a number follows the latest.
    assert.deepEqual(win.slice(minutes(1000), { from: NaN, to: 5 }), win.slice(minutes(1000), null));
});
