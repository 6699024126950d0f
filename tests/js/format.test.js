// assets/chart_format.js: prices, percentages, volumes, Plotly formats and zone-shifted times, on hand-worked cases.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const format = require("../../assets/chart_format.js");

// 2026-03-08 is the day New York moves to daylight time: 02:00 EST (07:00 UTC) becomes 03:00 EDT.
const NY_SPRING = Date.UTC(2026, 2, 8, 7, 0, 0) / 1000;
// 2026-11-01: 02:00 EDT (06:00 UTC) goes back to 01:00 EST.
const NY_FALL = Date.UTC(2026, 10, 1, 6, 0, 0) / 1000;

test("price: fixed decimals with en-US thousands separators", () => {
    assert.equal(format.price(2981.3, 2), "2,981.30");
    assert.equal(format.price(86370.625, 2), "86,370.63");
    assert.equal(format.price(1234567.891, 0), "1,234,568");
    assert.equal(format.price(1.035137, 5), "1.03514");
    assert.equal(format.price(0.00001234, 8), "0.00001234");
    assert.equal(format.price(-1234.5, 1), "-1,234.5");
    assert.equal(format.price(-0.0001, 2), "0.00");
    assert.equal(format.price(190, undefined), "190.00");
    assert.equal(format.price(null, 2), "\u2014");
    assert.equal(format.price(NaN, 2), "\u2014");
});

test("percent: signed, two decimals by default", () => {
    assert.equal(format.percent(0.2134), "+0.21%");
    assert.equal(format.percent(-1.5), "-1.50%");
    assert.equal(format.percent(0), "0.00%");
    assert.equal(format.percent(12.3456, 1), "+12.3%");
    assert.equal(format.percent(1234.5), "+1,234.50%");
    assert.equal(format.percent(undefined), "\u2014");
});

test("volume: integers with separators, or compact", () => {
    assert.equal(format.volume(1234567), "1,234,567");
    assert.equal(format.volume(85.4), "85");
    assert.equal(format.volume(85210, { compact: true }), "85.2K");
    assert.equal(format.volume(1250000, { compact: true }), "1.3M");
    assert.equal(format.volume(950, { compact: true }), "950");
});

test("d3Format and precisionOf", () => {
    assert.equal(format.d3Format(2), ",.2f");
    assert.equal(format.d3Format(5), ",.5f");
    assert.equal(format.d3Format(0), ",.0f");
    assert.equal(format.precisionOf(0.01), 2);
    assert.equal(format.precisionOf(0.25), 2);
    assert.equal(format.precisionOf(1), 0);
    assert.equal(format.precisionOf(0.00001), 5);
    assert.equal(format.precisionOf(5e-8), 8);
    assert.equal(format.precisionOf(0), 2);
    assert.equal(format.precisionOf(null), 2);
});

test("zoneOffsetMinutes follows DST in New York and Berlin; UTC is 0", () => {
    assert.equal(format.zoneOffsetMinutes(NY_SPRING - 1, "America/New_York"), -300);
    assert.equal(format.zoneOffsetMinutes(NY_SPRING, "America/New_York"), -240);
    assert.equal(format.zoneOffsetMinutes(NY_FALL - 1, "America/New_York"), -240);
    assert.equal(format.zoneOffsetMinutes(NY_FALL, "America/New_York"), -300);
    assert.equal(format.zoneOffsetMinutes(Date.UTC(2026, 6, 1) / 1000, "Europe/Berlin"), 120);
    assert.equal(format.zoneOffsetMinutes(Date.UTC(2026, 0, 1) / 1000, "Europe/Berlin"), 60);
    assert.equal(format.zoneOffsetMinutes(Date.UTC(2026, 0, 1) / 1000, "Asia/Kolkata"), 330);
    assert.equal(format.zoneOffsetMinutes(NY_SPRING, "UTC"), 0);
    assert.throws(() => format.zoneOffsetMinutes(0, "Mars/Olympus"), RangeError);
    assert.equal(format.validZone("Mars/Olympus"), false);
    assert.equal(format.validZone("Europe/Berlin"), true);
});

test("plotX is exact in UTC and shifts the wall clock across a DST change", () => {
    assert.equal(format.plotX(0, "UTC"), "1970-01-01 00:00:00");
    assert.equal(format.plotX(1763700037, "UTC"), "2025-11-21 04:40:37");
    assert.equal(format.plotX(1763700037.25, "UTC"), "2025-11-21 04:40:37.250");
    assert.equal(format.plotX(NY_SPRING - 60, "America/New_York"), "2026-03-08 01:59:00");
    assert.equal(format.plotX(NY_SPRING, "America/New_York"), "2026-03-08 03:00:00");
    assert.equal(format.plotX(NY_FALL - 60, "America/New_York"), "2026-11-01 01:59:00");
    assert.equal(format.plotX(NY_FALL, "America/New_York"), "2026-11-01 01:00:00");
    assert.equal(format.plotX(Date.UTC(2026, 6, 1, 12) / 1000, "Europe/Berlin"), "2026-07-01 14:00:00");
});

test("fromPlotX inverts plotX, also for what a relayout gives", () => {
    for (const zone of ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata"]) {
        for (let t = NY_SPRING - 7200; t <= NY_SPRING + 7200; t += 900) {
            assert.equal(format.fromPlotX(format.plotX(t, zone), zone), t, zone + " " + t);
        }
        for (let t = NY_FALL - 7200; t <= NY_FALL + 7200; t += 900) {
            const back = format.fromPlotX(format.plotX(t, zone), zone);
            // The hour repeated when New York's DST ends reads as its first occurrence.
            const repeated = zone === "America/New_York" && t >= NY_FALL && t < NY_FALL + 3600;
            assert.equal(back, repeated ? t - 3600 : t, zone + " " + t);
        }
    }
    assert.equal(format.fromPlotX("2026-03-08 01:30:00.5", "UTC"), Date.UTC(2026, 2, 8, 1, 30) / 1000 + 0.5);
    assert.equal(format.fromPlotX("2026-03-08 01:30", "UTC"), Date.UTC(2026, 2, 8, 1, 30) / 1000);
    assert.equal(format.fromPlotX("2026-03-08", "UTC"), Date.UTC(2026, 2, 8) / 1000);
    assert.equal(format.fromPlotX("2026-03-08T01:30:00.000Z", "UTC"), Date.UTC(2026, 2, 8, 1, 30) / 1000);
    assert.equal(format.fromPlotX(Date.UTC(2026, 2, 8, 1, 30), "UTC"), Date.UTC(2026, 2, 8, 1, 30) / 1000);
    // 02:30 does not exist in New York that day: read as 03:30 EDT.
    assert.equal(format.fromPlotX("2026-03-08 02:30:00", "America/New_York"), NY_SPRING + 1800);
    assert.equal(format.fromPlotX("yesterday", "UTC"), null);
    assert.equal(format.fromPlotX(null, "UTC"), null);
});

test("time: date only on daily candles, else date and time, in the zone", () => {
    const t = Date.UTC(2026, 6, 1, 22, 5) / 1000;
    assert.equal(format.time(t, { timeZone: "UTC", timeframe: "1m" }), "2026-07-01 22:05");
    assert.equal(format.time(t, { timeZone: "Europe/Berlin", timeframe: "1h" }), "2026-07-02 00:05");
    assert.equal(format.time(t, { timeZone: "UTC", timeframe: "1d" }), "2026-07-01");
    // A daily candle is its UTC day in every zone.
    const day = Date.UTC(2026, 6, 1) / 1000;
    assert.equal(format.time(day, { timeZone: "America/New_York", timeframe: "1d" }), "2026-07-01");
    assert.equal(format.time(day, { timeZone: "America/New_York", timeframe: "1h" }), "2026-06-30 20:00");
    assert.equal(format.time(t + 7, {}), "2026-07-01 22:05:07");
    assert.equal(format.time(null, {}), "\u2014");
});

test("zoneLabel: short names, with the offset where a zone has no abbreviation", () => {
    const winter = Date.UTC(2026, 0, 15) / 1000;
    const summer = Date.UTC(2026, 6, 15) / 1000;
    assert.equal(format.zoneLabel("UTC", winter), "UTC");
    assert.equal(format.zoneLabel("America/New_York", winter), "EST");
    assert.equal(format.zoneLabel("America/New_York", summer), "EDT");
    assert.equal(format.zoneLabel("Europe/Berlin", winter), "CET");
    assert.equal(format.zoneLabel("Europe/Berlin", summer), "CEST");
    assert.equal(format.zoneLabel("Europe/London", summer), "BST");
    assert.equal(format.zoneLabel("Asia/Tokyo", summer), "GMT+9");
    assert.equal(format.zoneLabel("Asia/Kolkata", summer), "GMT+5:30");
    assert.equal(typeof format.zoneLabel("Europe/Berlin"), "string");
});

test("countdown", () => {
    assert.equal(format.countdown(42), "0:42");
    assert.equal(format.countdown(42.9), "0:42");
    assert.equal(format.countdown(725), "12:05");
    assert.equal(format.countdown(3723), "1:02:03");
    assert.equal(format.countdown(86399), "23:59:59");
    assert.equal(format.countdown(0), "0:00");
    assert.equal(format.countdown(-5), "0:00");
    assert.equal(format.countdown(NaN), "0:00");
});

test("plotX is cheap per candle (cached offsets and no Intl construction per call)", () => {
    const began = process.hrtime.bigint();
    let last = "";
    for (let i = 0; i < 50000; i += 1) {
        last = format.plotX(NY_SPRING + i * 60, "America/New_York");
    }
    const ms = Number(process.hrtime.bigint() - began) / 1e6;
    assert.equal(last, format.plotX(NY_SPRING + 49999 * 60, "America/New_York"));
    // About 0.3 µs per call here; the bound leaves room for a busy machine.
    assert.ok(ms < 1500, "50,000 plotX calls took " + ms + " ms");
});
