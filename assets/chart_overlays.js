// Signal overlays of the live chart: pure builders from the tracker's overlay state (object shapes of docs/signals.md)
// and the consensus signals to Plotly shapes, annotations and marker traces. No state and no drawing here:
// assets/live_chart.js decides when to build (only when the overlays or the candle window change) and draws the
// result in its own coalesced Plotly.react.
(function () {
    "use strict";

    // Overlay kinds the legend toggles; components/live_chart.py OVERLAYS repeats them.
    const KINDS = ["pivots", "fvg", "breaks", "levels", "signals"];
    // Floor pivot levels, top to bottom.
    const LEVELS = ["R3", "R2", "R1", "P", "S1", "S2", "S3"];
    const SIDES = { BUY: "BUY", SELL: "SELL" };
    const COLORS = {
        pivot: "#f0b90b",
        buy: "#00e676",
        sell: "#ff1744",
        bullish: "#26a69a",
        bearish: "#ef5350",
        bullishZone: "rgba(38, 166, 154, 0.22)",
        bearishZone: "rgba(239, 83, 80, 0.22)",
        bullishZoneMitigated: "rgba(38, 166, 154, 0.08)",
        bearishZoneMitigated: "rgba(239, 83, 80, 0.08)",
        levelP: "rgba(240, 185, 11, 0.6)",
        levelR: "rgba(239, 83, 80, 0.45)",
        levelS: "rgba(38, 166, 154, 0.45)",
        outline: "#131722",
    };

    // Marker traces drawn after the price (0) and volume (1) traces, each belonging to one overlay kind. A marker's
    // tip points at its price: "standoff" moves it that many pixels away along its angle (0: below, 180: above).
    const TRACES = [
        { uid: "overlay-swing-high", kind: "pivots", name: "swing high", mode: "markers",
          marker: { symbol: "triangle-up", angle: 180, standoff: 3, size: 7, color: COLORS.pivot },
          hovertemplate: "swing high %{y}<extra></extra>" },
        { uid: "overlay-swing-low", kind: "pivots", name: "swing low", mode: "markers",
          marker: { symbol: "triangle-up", angle: 0, standoff: 3, size: 7, color: COLORS.pivot },
          hovertemplate: "swing low %{y}<extra></extra>" },
        { uid: "overlay-break-label", kind: "breaks", name: "structure break", mode: "text",
          textfont: { size: 9 }, hovertemplate: "%{customdata}<extra></extra>" },
        { uid: "overlay-buy", kind: "signals", name: "BUY", mode: "markers",
          marker: { symbol: "triangle-up", angle: 0, standoff: 12, size: 13, color: COLORS.buy,
                    line: { color: COLORS.outline, width: 1 } },
          hovertemplate: "%{customdata}<extra></extra>" },
        { uid: "overlay-sell", kind: "signals", name: "SELL", mode: "markers",
          marker: { symbol: "triangle-up", angle: 180, standoff: 12, size: 13, color: COLORS.sell,
                    line: { color: COLORS.outline, width: 1 } },
          hovertemplate: "%{customdata}<extra></extra>" },
    ];

    function toX(t) {
        return new Date(t * 1000).toISOString();
    }

    function formatPrice(value) {
        return Math.abs(value) >= 100 ? value.toFixed(2) : String(Number(value.toPrecision(6)));
    }

    function indexOfTime(times, t) {
        let lo = 0, hi = times.length - 1;
        while (lo <= hi) {
            const mid = (lo + hi) >> 1;
            if (times[mid] === t) { return mid; }
            if (times[mid] < t) { lo = mid + 1; } else { hi = mid - 1; }
        }
        return -1;
    }

    // A fresh trace of each overlay kind, with no points (live_chart.js appends them to the figure once).
    function traceTemplates() {
        return TRACES.map(function (def) {
            const trace = JSON.parse(JSON.stringify(def));
            delete trace.kind;
            return Object.assign(trace, { type: "scatter", xaxis: "x", yaxis: "y", x: [], y: [], showlegend: false,
                                          meta: { overlay: def.kind } });
        });
    }

    // A consensus signal as the chart keeps it, or null. The signal belongs to the candle that opened at `time`.
    // REST gives that candle's close time as `timestamp`; the socket's `signal` data has neither field today, so
    // the time is read from the id "SYMBOL-TIMEFRAME-OPEN_TIME" the tracker gives every signal
    // (signals/consensus.py make_signal) unless the message carries `time` or `timestamp`.
    function normalizeSignal(id, side, price, timeframe, confidence, time) {
        if (side !== SIDES.BUY && side !== SIDES.SELL) {
            return null;
        }
        if (typeof time !== "number" || !isFinite(time)) {
            const match = /-(\d+)$/.exec(String(id || ""));
            if (!match) {
                return null;
            }
            time = Number(match[1]);
        }
        return { id: String(id), side: side, price: price, timeframe: timeframe, confidence: confidence || 0,
                 time: time };
    }

    function signalFromRest(item, seconds) {
        const closed = item.timestamp ? Date.parse(item.timestamp) / 1000 - seconds : NaN;
        return normalizeSignal(item.id, item.action, item.price, item.timeframe, item.confidence, closed);
    }

    function signalFromSocket(data, seconds) {
        const time = typeof data.time === "number" ? data.time
            : data.timestamp ? Date.parse(data.timestamp) / 1000 - seconds : NaN;
        // The socket's `side` is lower case ("buy"); the chart keeps the action's name, as REST gives it ("BUY").
        const side = typeof data.side === "string" ? data.side.toUpperCase() : data.side;
        return normalizeSignal(data.signal_id, side, data.price, data.timeframe, data.confidence, time);
    }

    function levelColor(name) {
        return name === "P" ? COLORS.levelP : name.charAt(0) === "R" ? COLORS.levelR : COLORS.levelS;
    }

    function latestLevels(levels) {
        let latest = null;
        (levels || []).forEach(function (p) {
            if (!latest || p.period_start > latest.period_start) { latest = p; }
        });
        return latest;
    }

    // Everything drawn for `overlays` ({pivot_points, fvg_zones, break_signals, pivot_levels}) and `signals`
    // (normalized, this chart's timeframe) over `candles` ({times, highs, lows, seconds}, times ascending). Objects
    // wholly before the first candle are left out and those reaching into the window are cut at its first candle,
    // so the x axis keeps fitting the candles; open zones and floor pivots reach past the last (forming) candle.
    function build(overlays, signals, candles) {
        const built = {
            shapes: { fvg: [], breaks: [], levels: [] },
            annotations: { levels: [] },
            traces: {},
            counts: { pivotHighs: 0, pivotLows: 0, fvg: 0, breaks: 0, levels: 0, buy: 0, sell: 0 },
        };
        TRACES.forEach(function (def) {
            built.traces[def.uid] = { x: [], y: [], text: [], customdata: [], textposition: [], textcolor: [] };
        });
        const times = candles.times;
        if (!times.length) {
            return built;
        }
        const first = times[0];
        const last = times[times.length - 1];
        const right = last + candles.seconds;
        const data = overlays || {};

        (data.pivot_points || []).forEach(function (p) {
            if (p.time < first || p.time > last) { return; }
            const trace = built.traces[p.kind === "high" ? "overlay-swing-high" : "overlay-swing-low"];
            trace.x.push(toX(p.time)); trace.y.push(p.price);
            built.counts[p.kind === "high" ? "pivotHighs" : "pivotLows"] += 1;
        });

        (data.fvg_zones || []).forEach(function (g) {
            const end = g.mitigated && g.mitigated_time !== null && g.mitigated_time !== undefined
                ? g.mitigated_time : right;
            if (end < first || g.time > last) { return; }
            const bullish = g.direction === "bullish";
            const fill = g.mitigated
                ? (bullish ? COLORS.bullishZoneMitigated : COLORS.bearishZoneMitigated)
                : (bullish ? COLORS.bullishZone : COLORS.bearishZone);
            built.shapes.fvg.push({
                type: "rect", name: "fvg-" + g.direction + (g.mitigated ? "-mitigated" : ""), layer: "below",
                xref: "x", yref: "y", x0: toX(Math.max(g.time, first)), x1: toX(end), y0: g.bottom, y1: g.top,
                fillcolor: fill, line: { width: 0 },
            });
            built.counts.fvg += 1;
        });

        const labels = built.traces["overlay-break-label"];
        (data.break_signals || []).forEach(function (b) {
            if (b.time < first || b.time > last) { return; }
            const start = Math.max(b.swing_time, first);
            const bullish = b.direction === "bullish";
            const color = bullish ? COLORS.bullish : COLORS.bearish;
            built.shapes.breaks.push({
                type: "line", name: "break-" + b.kind + "-" + b.direction, xref: "x", yref: "y",
                x0: toX(start), x1: toX(b.time), y0: b.level, y1: b.level,
                line: { color: color, width: 1, dash: b.kind === "CHOCH" ? "dash" : "dot" },
            });
            labels.x.push(toX(start + (b.time - start) / 2)); labels.y.push(b.level); labels.text.push(b.kind);
            labels.customdata.push(b.kind + " " + b.direction + " " + formatPrice(b.level));
            labels.textposition.push(bullish ? "top center" : "bottom center");
            labels.textcolor.push(color);
            built.counts.breaks += 1;
        });

        const levels = latestLevels(data.pivot_levels);
        if (levels && levels.period_start <= last) {
            const start = toX(Math.max(levels.period_start, first));
            LEVELS.forEach(function (name) {
                const value = levels[name];
                if (typeof value !== "number") { return; }
                const color = levelColor(name);
                built.shapes.levels.push({
                    type: "line", name: "level-" + name, xref: "x", yref: "y", x0: start, x1: toX(right),
                    y0: value, y1: value, line: { color: color, width: 1, dash: "dot" },
                });
                built.annotations.levels.push({
                    name: "level-" + name, xref: "paper", x: 1, xanchor: "right", yref: "y", y: value,
                    yanchor: "bottom", text: name + " " + formatPrice(value), showarrow: false,
                    font: { size: 9, color: color },
                });
                built.counts.levels += 1;
            });
        }

        (signals || []).forEach(function (s) {
            const i = indexOfTime(times, s.time);
            if (i < 0) { return; }
            const buy = s.side === SIDES.BUY;
            const trace = built.traces[buy ? "overlay-buy" : "overlay-sell"];
            trace.x.push(toX(s.time)); trace.y.push(buy ? candles.lows[i] : candles.highs[i]);
            trace.customdata.push(s.side + " " + Math.round(s.confidence * 100) + "% at " + formatPrice(s.price));
            built.counts[buy ? "buy" : "sell"] += 1;
        });
        return built;
    }

    // The layout's shapes and annotations for the kinds shown (the chart owns both lists of its layout).
    function layoutParts(built, shown) {
        const shapes = [];
        const annotations = [];
        KINDS.forEach(function (kind) {
            if (!shown.has(kind)) { return; }
            Array.prototype.push.apply(shapes, (built.shapes[kind] || []));
            Array.prototype.push.apply(annotations, (built.annotations[kind] || []));
        });
        return { shapes: shapes, annotations: annotations };
    }

    function kindOfTrace(uid) {
        const def = TRACES.find(function (d) { return d.uid === uid; });
        return def ? def.kind : null;
    }

    window.tickstream = Object.assign(window.tickstream || {}, {
        overlays: {
            KINDS: KINDS,
            LEVELS: LEVELS,
            build: build,
            layoutParts: layoutParts,
            TRACE_UIDS: TRACES.map(function (def) { return def.uid; }),
            traceTemplates: traceTemplates,
            kindOfTrace: kindOfTrace,
            signalFromRest: signalFromRest,
            signalFromSocket: signalFromSocket,
        },
    });
})();
