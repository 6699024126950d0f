// assets/chart_indicators.js: TA-Lib seeding on hand-worked series, and the incremental book equal to a whole
// recompute after any sequence of ticks, new candles and older history. (tests/components/test_chart_js.py checks
// the values against signals/indicators.py on the simulated market.)
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const ind = require("../../assets/chart_indicators.js");

function close(a, b, message) {
    if (a === null || b === null) {
        assert.equal(a, b, message);
        return;
    }
    assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(a), Math.abs(b)), message + ": " + a + " vs " + b);
}

function closeAll(a, b, message) {
    assert.equal(a.length, b.length, message + " length");
    a.forEach((v, i) => close(v, b[i], message + "[" + i + "]"));
}

// A deterministic wiggly series (no randomness: the test must not change between runs).
function series(count, base) {
    return Array.from({ length: count }, (_, i) => base + 5 * Math.sin(i / 7) + 2 * Math.cos(i / 3.3) + i * 0.01);
}

test("sma and ema seeds, by hand", () => {
    assert.deepEqual(ind.sma([1, 2, 3, 4, 5], 3), [null, null, 2, 3, 4]);
    // EMA(3): k = 0.5, seed mean(1,2,3) = 2 at index 2, then 0.5·2 + 0.5·4 = 3, 0.5·3 + 0.5·5 = 4.
    assert.deepEqual(ind.ema([1, 2, 3, 4, 5], 3), [null, null, 2, 3, 4]);
    assert.deepEqual(ind.ema([1, 2, 3, 10, 5], 3), [null, null, 2, 6, 5.5]);
    // With a start: seeded over values[1..3].
    assert.deepEqual(ind.ema([100, 2, 3, 4, 6], 3, 1), [null, null, null, 3, 4.5]);
    assert.deepEqual(ind.ema([1, 2], 3), [null, null]);
});

test("rsi: first value at index n, Wilder smoothing, 0 on a flat series", () => {
    // n = 2: changes +1, -1 → avg gain 0.5, avg loss 0.5 → 50 at index 2; then +2: gain (0.5 + 2)/2 = 1.25,
    // loss 0.25 → 100·1.25/1.5.
    const got = ind.rsi([1, 2, 1, 3], 2);
    assert.deepEqual(got.slice(0, 3), [null, null, 50]);
    close(got[3], 100 * 1.25 / 1.5, "rsi[3]");
    assert.deepEqual(ind.rsi([5, 5, 5, 5], 2), [null, null, 0, 0]);
    assert.deepEqual(ind.rsi([1, 2, 3, 4, 5], 2).slice(2), [100, 100, 100]);
    assert.equal(ind.rsi(series(30, 100)).findIndex((v) => v !== null), 14);
});

test("macd: outputs begin at 33 for (12, 26, 9); the fast EMA is aligned on the slow one", () => {
    const c = series(80, 100);
    const m = ind.macd(c);
    assert.equal(m.line.findIndex((v) => v !== null), 33);
    assert.equal(m.signal.findIndex((v) => v !== null), 33);
    assert.equal(m.hist.findIndex((v) => v !== null), 33);
    const slow = ind.ema(c, 26);
    const fast = ind.ema(c, 12, 14);
    close(m.line[40], fast[40] - slow[40], "line");
    // Signal seed: the mean of the (untrimmed) line at 25..33.
    let sum = 0;
    for (let i = 25; i <= 33; i += 1) {
        sum += fast[i] - slow[i];
    }
    close(m.signal[33], sum / 9, "signal seed");
    close(m.hist[50], m.line[50] - m.signal[50], "hist");
    assert.deepEqual(ind.macd(series(33, 1)).line, new Array(33).fill(null));
});

test("bollinger: SMA ± width population standard deviations", () => {
    const b = ind.bollinger([1, 2, 3, 4], 4, 2);
    // mean 2.5, population variance (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25.
    assert.deepEqual(b.middle, [null, null, null, 2.5]);
    close(b.upper[3], 2.5 + 2 * Math.sqrt(1.25), "upper");
    close(b.lower[3], 2.5 - 2 * Math.sqrt(1.25), "lower");
    const d = ind.bollinger(series(40, 50));
    assert.equal(d.middle.findIndex((v) => v !== null), 19);
    closeAll(d.middle, ind.sma(series(40, 50), 20), "middle = sma");
});

function whole(closes) {
    const m = ind.macd(closes);
    const b = ind.bollinger(closes);
    return {
        emaFast: ind.ema(closes, 20), emaSlow: ind.ema(closes, 50), bbUpper: b.upper, bbMiddle: b.middle,
        bbLower: b.lower, rsi: ind.rsi(closes, 14), macdLine: m.line, macdSignal: m.signal, macdHist: m.hist,
    };
}

function sameAsWhole(book, message) {
    const expected = whole(book.closes());
    const got = book.series();
    Object.keys(expected).forEach((name) => {
        // The same arithmetic in the same order: equal bit for bit.
        assert.deepEqual(got[name], expected[name], message + " " + name);
    });
}

test("IndicatorBook: setAll equals the whole-series functions", () => {
    const book = new ind.IndicatorBook();
    const c = series(300, 190);
    book.setAll(c);
    assert.equal(book.length, 300);
    sameAsWhole(book, "setAll");
    assert.deepEqual(Object.keys(book.series()).sort(),
                     ["bbLower", "bbMiddle", "bbUpper", "emaFast", "emaSlow", "macdHist", "macdLine", "macdSignal",
                      "rsi"]);
});

test("IndicatorBook: ticks, new candles and older history equal a whole recompute", () => {
    const all = series(400, 190);
    const book = new ind.IndicatorBook();
    // Candles arrive one by one from nothing, each forming candle ticking three times, through every warm-up.
    for (let i = 200; i < 300; i += 1) {
        book.append(all[i] - 1);
        book.updateLast(all[i] + 0.5);
        book.updateLast(all[i]);
        if (i % 17 === 0) {
            sameAsWhole(book, "after candle " + i);
        }
    }
    sameAsWhole(book, "after appends");
    // Older history arrives.
    book.prepend(all.slice(0, 200));
    assert.equal(book.length, 300);
    sameAsWhole(book, "after prepend");
    for (let i = 300; i < 400; i += 1) {
        book.append(all[i] + 3);
        book.updateLast(all[i]);
    }
    sameAsWhole(book, "after more");
    assert.deepEqual(book.closes(), all);
    // A resync replaces the last candles (one of them newly inserted) and recomputes from there.
    const fixed = all.slice(0, 390).concat([1, 2, 3], all.slice(391, 395));
    book.replaceFrom(385, fixed.slice(385));
    assert.deepEqual(book.closes(), fixed);
    sameAsWhole(book, "after replaceFrom");
    book.replaceFrom(10000, [7]);
    assert.equal(book.length, fixed.length + 1);
    sameAsWhole(book, "after replaceFrom past the end");
    // updateLast on an empty book appends.
    const fresh = new ind.IndicatorBook();
    fresh.updateLast(5);
    assert.deepEqual(fresh.closes(), [5]);
});

test("IndicatorBook.updateLast costs O(1): far cheaper than a recompute", () => {
    const book = new ind.IndicatorBook().setAll(series(20000, 190));
    const began = process.hrtime.bigint();
    for (let i = 0; i < 2000; i += 1) {
        book.updateLast(190 + (i % 10) / 10);
    }
    const perTickUs = Number(process.hrtime.bigint() - began) / 1e3 / 2000;
    // About 1 µs per tick here (Bollinger's 20-value window dominates); a full recompute of 20,000 candles is
    // thousands of times that.
    assert.ok(perTickUs < 200, "updateLast took " + perTickUs + " µs");
});
