// Helper of tests/components/test_chart_js.py (not a test file itself): reads {symbol: closes} from the JSON file
// named on the command line and prints, per symbol, the chart's indicator series computed two ways with
// assets/chart_indicators.js: `whole` (the whole-series functions) and `book` (an IndicatorBook fed a prefix with
// setAll, then candle by candle with append and forming-candle ticks with updateLast, as the chart is).
"use strict";

const fs = require("node:fs");
const ind = require("../../assets/chart_indicators.js");

function whole(closes) {
    const m = ind.macd(closes);
    const b = ind.bollinger(closes);
    return {
        emaFast: ind.ema(closes, 20), emaSlow: ind.ema(closes, 50), bbUpper: b.upper, bbMiddle: b.middle,
        bbLower: b.lower, rsi: ind.rsi(closes, 14), macdLine: m.line, macdSignal: m.signal, macdHist: m.hist,
        sma: ind.sma(closes, 20),
    };
}

function incremental(closes) {
    const book = new ind.IndicatorBook();
    const prefix = Math.floor(closes.length / 3);
    book.setAll(closes.slice(0, prefix));
    for (let i = prefix; i < closes.length; i += 1) {
        // The forming candle opens somewhere else, ticks, and closes at its close.
        book.append(closes[i] * 1.001);
        book.updateLast(closes[i] * 0.999);
        book.updateLast(closes[i]);
    }
    return book.series();
}

const input = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = {};
Object.keys(input).forEach((symbol) => {
    out[symbol] = { whole: whole(input[symbol]), book: incremental(input[symbol]) };
});
process.stdout.write(JSON.stringify(out));
