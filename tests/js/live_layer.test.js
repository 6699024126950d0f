// assets/chart_live_layer.js: the forming candle, its volume bar, the newest indicator segments and the last-price
// line, in pixels on the figure's axes.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const live = require("../../assets/chart_live_layer.js");

// Linear axes: x 1 px per second from t = 1000 at pixel 100; price 1 px per 0.1 from 200 at pixel 300 (up is
// smaller pixels); volume pane 0 at pixel 500, 1 px per 10; RSI pane 0..100 over pixels 700..600.
const axes = {
    x: (t) => 100 + (t - 1000),
    y: (p) => 300 - (p - 200) * 10,
    y2: (v) => 500 - v / 10,
    y3: (r) => 700 - r,
    y4: null,
    plot: { left: 100, right: 900 },
    bodyHalf: 12,
    barHalf: 20,
};
const colors = { up: "#0a0", down: "#a00" };

function state(extra) {
    return Object.assign({
        x: 1600, prevX: 1540, open: 201, high: 203, low: 200.5, close: 202, volume: 300, colors: colors,
        series: { rsi: [null, 40, 55], macdHist: [null, 0.1, -0.2] }, index: 2, shown: new Set(), lineStyles: {},
    }, extra || {});
}

test("the forming candle: wick from high to low, body between open and close, coloured by direction", () => {
    const sc = live.scene(state(), axes);
    assert.equal(sc.visible, true);
    assert.deepEqual(sc.candle.wick, { x: 700, y1: 270, y2: 295 });
    assert.deepEqual(sc.candle.body, { x: 688, y: 280, w: 24, h: 10 });
    assert.equal(sc.color, colors.up);
    const falling = live.scene(state({ open: 202, close: 201 }), axes);
    assert.equal(falling.color, colors.down);
    assert.deepEqual(falling.candle.body, { x: 688, y: 280, w: 24, h: 10 });
});

test("a flat candle keeps a one-pixel body", () => {
    assert.equal(live.scene(state({ open: 202, close: 202 }), axes).candle.body.h, 1);
});

test("the volume bar stands on the volume pane's zero", () => {
    assert.deepEqual(live.scene(state(), axes).volume, { x: 680, y: 470, w: 40, h: 30 });
    assert.equal(live.scene(state(), Object.assign({}, axes, { y2: null })).volume, null);
});

test("the last-price line spans the plot at the close, even when the candle is out of view", () => {
    assert.deepEqual(live.scene(state(), axes).last, { y: 280, x1: 100, x2: 900, color: colors.up });
    const away = live.scene(state({ x: 5000 }), axes);
    assert.equal(away.visible, false);
    assert.equal(away.candle, null);
    assert.deepEqual(away.last, { y: 280, x1: 100, x2: 900, color: colors.up });
});

test("indicator segments join the previous value to the forming one, only for the kinds shown", () => {
    const none = live.scene(state(), axes);
    assert.deepEqual(none.segments, []);
    const rsi = live.scene(state({ shown: new Set(["rsi"]), lineStyles: { "rsi-line": { color: "#90f", width: 2 } } }),
                           axes);
    assert.deepEqual(rsi.segments, [{ uid: "rsi-line", x1: 640, y1: 660, x2: 700, y2: 645, color: "#90f", width: 2,
                                      dash: "solid" }]);
    // Not drawn while the indicator is warming up (null), or when its pane's axis is not shown.
    const warming = live.scene(state({ shown: new Set(["rsi"]), series: { rsi: [null, null, 55] } }), axes);
    assert.deepEqual(warming.segments, []);
    const macd = live.scene(state({ shown: new Set(["macd"]) }), axes);
    assert.equal(macd.hist, null);
});

test("the MACD histogram bar of the forming candle, coloured by sign", () => {
    const withMacd = Object.assign({}, axes, { y4: (v) => 800 - v * 100 });
    const sc = live.scene(state({ shown: new Set(["macd"]), series: { macdHist: [null, 0.1, -0.2],
                                                                          macdLine: [], macdSignal: [] },
                                 histColors: { up: "#0f0", down: "#f00" } }), withMacd);
    assert.deepEqual(sc.hist, { x: 680, y: 800, w: 40, h: 20, color: "#f00" });
});
