// Technical indicators for the chart's panes (window.tickstream.indicators), with exactly the definitions and seeding
// of signals/indicators.py (TA-Lib conventions, docs/signals.md "Indicators"), so the chart shows the numbers the
// engine votes on; null where the engine has NaN (an indicator's warm-up). IndicatorBook keeps the series of every
// loaded candle and updates them per tick without recomputing history.
(function () {
    "use strict";

    const PERIODS = {
        emaFast: 20, emaSlow: 50, bb: 20, bbWidth: 2, rsi: 14, macdFast: 12, macdSlow: 26, macdSignal: 9,
    };

    function nulls(count) {
        const out = new Array(count);
        for (let i = 0; i < count; i += 1) {
            out[i] = null;
        }
        return out;
    }

    // Mean of values[from..to] (inclusive), summed left to right; null when one of them is missing.
    function mean(values, from, to) {
        let sum = 0;
        for (let i = from; i <= to; i += 1) {
            const v = values[i];
            if (v === null || v === undefined || !isFinite(v)) {
                return null;
            }
            sum += v;
        }
        return sum / (to - from + 1);
    }

    // Population standard deviation of values[from..to] around m (numpy's std, ddof = 0), two-pass for accuracy.
    function deviation(values, from, to, m) {
        let sum = 0;
        for (let i = from; i <= to; i += 1) {
            const d = values[i] - m;
            sum += d * d;
        }
        return Math.sqrt(sum / (to - from + 1));
    }

    // One EMA step (TA-Lib: k = 2/(n+1), y = (1-k)·y[t-1] + k·x[t]), or its seed: the mean of the period's first
    // values at start+n-1. `out` holds the earlier values.
    function emaAt(values, out, period, start, i) {
        const seedEnd = start + period - 1;
        if (i < seedEnd) {
            return null;
        }
        if (i === seedEnd) {
            return mean(values, start, seedEnd);
        }
        const previous = out[i - 1];
        const x = values[i];
        if (previous === null || x === null || x === undefined) {
            return null;
        }
        const k = 2 / (period + 1);
        return (1 - k) * previous + k * x;
    }

    function sma(values, period) {
        const out = nulls(values.length);
        for (let i = period - 1; i < values.length; i += 1) {
            out[i] = mean(values, i - period + 1, i);
        }
        return out;
    }

    // TA-Lib EMA of values[start..]: seeded with the mean of its first `period` values, first value at
    // start+period-1.
    function ema(values, period, start) {
        const from = start || 0;
        const out = nulls(values.length);
        for (let i = from + period - 1; i < values.length; i += 1) {
            out[i] = emaAt(values, out, period, from, i);
        }
        return out;
    }

    function gainAt(close, i) {
        const change = close[i] - close[i - 1];
        return change > 0 ? change : 0;
    }

    function lossAt(close, i) {
        const change = close[i] - close[i - 1];
        return change < 0 ? -change : 0;
    }

    // Wilder's average (1/n weight) of the gains or losses at bar i, seeded with the plain mean of bars 1..n.
    function wilderAt(close, out, period, i, pick) {
        if (i < period) {
            return null;
        }
        if (i === period) {
            let sum = 0;
            for (let j = 1; j <= period; j += 1) {
                sum += pick(close, j);
            }
            return sum / period;
        }
        return ((period - 1) / period) * out[i - 1] + (1 / period) * pick(close, i);
    }

    function rsiOf(gain, loss) {
        if (gain === null || loss === null) {
            return null;
        }
        const total = gain + loss;
        return total !== 0 ? 100 * gain / total : 0;
    }

    // Wilder's RSI with TA-Lib's seeding: first value at index `period`; 0 when there was neither gain nor loss.
    function rsi(close, period) {
        const n = period || PERIODS.rsi;
        const gains = nulls(close.length);
        const losses = nulls(close.length);
        const out = nulls(close.length);
        for (let i = n; i < close.length; i += 1) {
            gains[i] = wilderAt(close, gains, n, i, gainAt);
            losses[i] = wilderAt(close, losses, n, i, lossAt);
            out[i] = rsiOf(gains[i], losses[i]);
        }
        return out;
    }

    function difference(a, b) {
        return a === null || b === null ? null : a - b;
    }

    // MACD line, signal and histogram as TA-Lib aligns them: the fast EMA starts with the slow one (seeded over
    // closes slow-fast..slow-1), the signal EMA over the line from slow-1, and all three begin at
    // slow-1 + signal-1 (33 for 12, 26, 9).
    function macd(close, fast, slow, signal) {
        const f = fast || PERIODS.macdFast;
        const s = slow || PERIODS.macdSlow;
        const g = signal || PERIODS.macdSignal;
        const count = close.length;
        const slowLine = ema(close, s, 0);
        const fastLine = ema(close, f, s - f);
        const raw = nulls(count);
        for (let i = 0; i < count; i += 1) {
            raw[i] = difference(fastLine[i], slowLine[i]);
        }
        const signalRaw = ema(raw, g, s - 1);
        const first = s - 1 + g - 1;
        const line = nulls(count);
        const sig = nulls(count);
        const hist = nulls(count);
        for (let i = first; i < count; i += 1) {
            line[i] = raw[i];
            sig[i] = signalRaw[i];
            hist[i] = difference(line[i], sig[i]);
        }
        return { line: line, signal: sig, hist: hist };
    }

    // SMA(period) ± width population standard deviations.
    function bollinger(close, period, width) {
        const n = period || PERIODS.bb;
        const w = width === undefined ? PERIODS.bbWidth : width;
        const count = close.length;
        const upper = nulls(count);
        const middle = nulls(count);
        const lower = nulls(count);
        for (let i = n - 1; i < count; i += 1) {
            const m = mean(close, i - n + 1, i);
            if (m === null) {
                continue;
            }
            const d = deviation(close, i - n + 1, i, m);
            middle[i] = m;
            upper[i] = m + w * d;
            lower[i] = m - w * d;
        }
        return { upper: upper, middle: middle, lower: lower };
    }

    // The chart's indicator series over every loaded candle, kept up to date as candles change. The forming
    // candle changes many times a second: updateLast recomputes only the last index from the state at the one
    // before (O(1) for the EMAs, RSI and MACD, O(period) for Bollinger); append adds an index the same way;
    // prepend (older history arrived) recomputes everything. Every path gives the same numbers as the whole-series
    // functions above, bit for bit, because it runs the same arithmetic.
    class IndicatorBook {
        constructor(periods) {
            this.p = Object.assign({}, PERIODS, periods || {});
            this.setAll([]);
        }

        get length() {
            return this.close.length;
        }

        // Replace everything with these closes (oldest first).
        setAll(closes) {
            this.close = [];
            this.s = {
                emaFast: [], emaSlow: [], bbUpper: [], bbMiddle: [], bbLower: [], rsi: [], macdLine: [],
                macdSignal: [], macdHist: [],
            };
            // State the public series do not show: Wilder averages, MACD's own EMAs, its untrimmed line/signal.
            this.avgGain = [];
            this.avgLoss = [];
            this.macdFast = [];
            this.macdSlow = [];
            this.macdRaw = [];
            this.signalRaw = [];
            for (let i = 0; i < closes.length; i += 1) {
                this.append(closes[i]);
            }
            return this;
        }

        // A new candle's close.
        append(close) {
            this.close.push(close);
            this.computeAt(this.close.length - 1);
            return this;
        }

        // The last (forming) candle's close changed; appends when the book is empty.
        updateLast(close) {
            if (!this.close.length) {
                return this.append(close);
            }
            const i = this.close.length - 1;
            this.close[i] = close;
            this.computeAt(i);
            return this;
        }

        // Candles from `index` on were re-read (a resync after lost messages): replace their closes with
        // `closes` and recompute from there, O(closes) when they are the last few.
        replaceFrom(index, closes) {
            const from = Math.max(0, Math.min(this.close.length, index));
            const arrays = [this.close, this.avgGain, this.avgLoss, this.macdFast, this.macdSlow, this.macdRaw,
                            this.signalRaw];
            Object.keys(this.s).forEach((name) => arrays.push(this.s[name]));
            arrays.forEach((array) => { array.length = from; });
            for (let i = 0; i < closes.length; i += 1) {
                this.append(closes[i]);
            }
            return this;
        }

        // Older candles' closes (oldest first), loaded when the user scrolled back: recompute all.
        prepend(olderCloses) {
            return this.setAll(olderCloses.concat(this.close));
        }

        // Closes as the book holds them (read-only).
        closes() {
            return this.close;
        }

        // The series by name, each as long as the closes, null in warm-ups. The arrays are the book's own (no
        // copy, so reading is free): read them, never change them; after setAll/prepend call series() again.
        series() {
            return this.s;
        }

        computeAt(i) {
            const p = this.p;
            const c = this.close;
            const s = this.s;
            s.emaFast[i] = emaAt(c, s.emaFast, p.emaFast, 0, i);
            s.emaSlow[i] = emaAt(c, s.emaSlow, p.emaSlow, 0, i);

            let m = null;
            let d = null;
            if (i >= p.bb - 1) {
                m = mean(c, i - p.bb + 1, i);
                d = m === null ? null : deviation(c, i - p.bb + 1, i, m);
            }
            s.bbMiddle[i] = m;
            s.bbUpper[i] = m === null ? null : m + p.bbWidth * d;
            s.bbLower[i] = m === null ? null : m - p.bbWidth * d;

            this.avgGain[i] = i >= p.rsi ? wilderAt(c, this.avgGain, p.rsi, i, gainAt) : null;
            this.avgLoss[i] = i >= p.rsi ? wilderAt(c, this.avgLoss, p.rsi, i, lossAt) : null;
            s.rsi[i] = rsiOf(this.avgGain[i], this.avgLoss[i]);

            this.macdSlow[i] = emaAt(c, this.macdSlow, p.macdSlow, 0, i);
            this.macdFast[i] = emaAt(c, this.macdFast, p.macdFast, p.macdSlow - p.macdFast, i);
            this.macdRaw[i] = difference(this.macdFast[i], this.macdSlow[i]);
            this.signalRaw[i] = emaAt(this.macdRaw, this.signalRaw, p.macdSignal, p.macdSlow - 1, i);
            const shown = i >= p.macdSlow - 1 + p.macdSignal - 1;
            s.macdLine[i] = shown ? this.macdRaw[i] : null;
            s.macdSignal[i] = shown ? this.signalRaw[i] : null;
            s.macdHist[i] = shown ? difference(this.macdRaw[i], this.signalRaw[i]) : null;
        }
    }

    const api = {
        PERIODS: PERIODS,
        sma: sma,
        ema: ema,
        rsi: rsi,
        macd: macd,
        bollinger: bollinger,
        IndicatorBook: IndicatorBook,
    };
    if (typeof window !== "undefined") {
        window.tickstream = Object.assign(window.tickstream || {}, { indicators: api });
    }
    if (typeof module !== "undefined" && module.exports) {
        module.exports = api;
    }
})();
