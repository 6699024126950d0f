// Signal overlays and indicator lines of the live chart (window.tickstream.overlays), drawn as a FIXED set of
// traces: no layout shapes or annotations, which Plotly would re-lay on every redraw. Pure builders: the tracker's
// overlay state (object shapes of docs/signals.md), the consensus signals, the loaded candles and the plotted
// window in; per-trace arrays out, holding only what overlaps the window, cut to it. Zones are filled polygons and
// lines are segments of one scatter per kind, separated by nulls. assets/live_chart.js decides when to build and
// draws the result; docs/chart.md describes what is drawn.
(function () {
    "use strict";

    // The legend's overlay kinds (the names of `?overlays=`), in legend order, and which show by default.
    const KINDS = [
        { name: "swings", label: "Swing points", on: false },
        { name: "fvg", label: "Fair value gaps", on: true },
        { name: "breaks", label: "BOS / CHOCH", on: true },
        { name: "levels", label: "Floor pivots", on: false },
        { name: "signals", label: "Signals", on: true },
        { name: "ema", label: "EMA 20 / 50", on: false },
        { name: "bollinger", label: "Bollinger (20, 2)", on: false },
        { name: "rsi", label: "RSI (14)", on: false },
        { name: "macd", label: "MACD (12, 26, 9)", on: false },
    ];
    const KIND_NAMES = KINDS.map(function (k) { return k.name; });
    const DEFAULT_KINDS = KINDS.filter(function (k) { return k.on; }).map(function (k) { return k.name; });
    // Floor pivot levels, top to bottom.
    const LEVELS = ["R3", "R2", "R1", "P", "S1", "S2", "S3"];
    const SIDES = { BUY: "BUY", SELL: "SELL" };
    const RSI_GUIDES = [30, 70];

    const PALETTES = {
        dark: {
            bullish: "#26a69a", bearish: "#ef5350", swing: "#f0b90b", buy: "#00e676", sell: "#ff1744",
            outline: "#131722", text: "#d1d4dc",
            bullishZone: "rgba(38, 166, 154, 0.22)", bearishZone: "rgba(239, 83, 80, 0.22)",
            bullishZoneMitigated: "rgba(38, 166, 154, 0.08)", bearishZoneMitigated: "rgba(239, 83, 80, 0.08)",
            bos: "rgba(209, 212, 220, 0.7)", choch: "rgba(240, 185, 11, 0.85)",
            level: "rgba(240, 185, 11, 0.45)", levelP: "#f0b90b", levelR: "#ef5350", levelS: "#26a69a",
            emaFast: "#42a5f5", emaSlow: "#ab47bc", bb: "rgba(144, 164, 174, 0.8)",
            bbFill: "rgba(144, 164, 174, 0.08)", rsi: "#b39ddb", guide: "rgba(128, 128, 128, 0.5)",
            macdLine: "#2962ff", macdSignal: "#ff9800", histUp: "rgba(38, 166, 154, 0.6)",
            histDown: "rgba(239, 83, 80, 0.6)",
        },
        light: {
            bullish: "#089981", bearish: "#f23645", swing: "#b07800", buy: "#00a152", sell: "#d50000",
            outline: "#ffffff", text: "#131722",
            bullishZone: "rgba(8, 153, 129, 0.18)", bearishZone: "rgba(242, 54, 69, 0.18)",
            bullishZoneMitigated: "rgba(8, 153, 129, 0.07)", bearishZoneMitigated: "rgba(242, 54, 69, 0.07)",
            bos: "rgba(19, 23, 34, 0.6)", choch: "rgba(176, 120, 0, 0.9)",
            level: "rgba(176, 120, 0, 0.45)", levelP: "#b07800", levelR: "#f23645", levelS: "#089981",
            emaFast: "#1565c0", emaSlow: "#8e24aa", bb: "rgba(84, 110, 122, 0.8)",
            bbFill: "rgba(84, 110, 122, 0.08)", rsi: "#5e35b1", guide: "rgba(100, 100, 100, 0.5)",
            macdLine: "#2962ff", macdSignal: "#ef6c00", histUp: "rgba(8, 153, 129, 0.6)",
            histDown: "rgba(242, 54, 69, 0.6)",
        },
    };

    function palette(theme) {
        return PALETTES[theme] || PALETTES.dark;
    }

    // Every trace this module fills, in drawing order. `layer: "below"` traces go before the candlestick trace
    // (zones and the Bollinger band must not cover candles). bb-lower fills to the trace before it ("tonexty"),
    // so bb-upper must stay right before it. Axes: price pane x/y, RSI pane x/y3, MACD pane x/y4.
    function definitions(c) {
        const zone = function (uid, name, fill, mitigated) {
            return { uid: uid, kind: "fvg", layer: "below", name: name, mode: "lines", fill: "toself",
                     fillcolor: fill, line: { width: 0 }, hoveron: "points",
                     hovertemplate: "%{text}<extra></extra>", mitigated: mitigated };
        };
        const line = function (uid, kind, name, color, extra) {
            return Object.assign({ uid: uid, kind: kind, name: name, mode: "lines",
                                   line: { color: color, width: 1.2 }, connectgaps: false,
                                   hovertemplate: name + " %{y}<extra></extra>" }, extra || {});
        };
        return [
            zone("fvg-bull-open", "bullish gap", c.bullishZone),
            zone("fvg-bear-open", "bearish gap", c.bearishZone),
            zone("fvg-bull-mitigated", "bullish gap (mitigated)", c.bullishZoneMitigated),
            zone("fvg-bear-mitigated", "bearish gap (mitigated)", c.bearishZoneMitigated),
            line("bb-upper", "bollinger", "BB upper", c.bb, { layer: "below" }),
            line("bb-lower", "bollinger", "BB lower", c.bb,
                 { layer: "below", fill: "tonexty", fillcolor: c.bbFill }),
            line("bb-middle", "bollinger", "BB middle", c.bb, { layer: "below", line: { color: c.bb, width: 1,
                                                                                         dash: "dot" } }),
            { uid: "levels-line", kind: "levels", name: "floor pivots", mode: "lines", hoverinfo: "skip",
              line: { color: c.level, width: 1, dash: "dot" }, connectgaps: false },
            { uid: "levels-label", kind: "levels", name: "floor pivot", mode: "text", hoverinfo: "skip",
              textfont: { size: 9, color: c.level } },
            // The current period's labels sit in the right margin, outside the plot area.
            { uid: "levels-label-current", kind: "levels", name: "floor pivot", mode: "text", hoverinfo: "skip",
              cliponaxis: false, textposition: "middle right", textfont: { size: 9, color: c.level } },
            line("ema-fast", "ema", "EMA 20", c.emaFast),
            line("ema-slow", "ema", "EMA 50", c.emaSlow),
            { uid: "break-bos", kind: "breaks", name: "BOS", mode: "lines", hoverinfo: "skip",
              line: { color: c.bos, width: 1, dash: "dot" }, connectgaps: false },
            { uid: "break-choch", kind: "breaks", name: "CHOCH", mode: "lines", hoverinfo: "skip",
              line: { color: c.choch, width: 1, dash: "dash" }, connectgaps: false },
            { uid: "break-label", kind: "breaks", name: "structure break", mode: "text",
              textfont: { size: 9, color: c.text }, hovertemplate: "%{customdata}<extra></extra>" },
            // A marker's tip points at its price: "standoff" moves it that many pixels away along its angle.
            { uid: "swing-high", kind: "swings", name: "swing high", mode: "markers",
              marker: { symbol: "triangle-up", angle: 180, standoff: 3, size: 7, color: c.swing },
              hovertemplate: "swing high %{y}<extra></extra>" },
            { uid: "swing-low", kind: "swings", name: "swing low", mode: "markers",
              marker: { symbol: "triangle-up", angle: 0, standoff: 3, size: 7, color: c.swing },
              hovertemplate: "swing low %{y}<extra></extra>" },
            { uid: "signal-buy", kind: "signals", name: "BUY", mode: "markers",
              marker: { symbol: "triangle-up", angle: 0, standoff: 12, size: 13, color: c.buy,
                        line: { color: c.outline, width: 1 } },
              hovertemplate: "%{customdata}<extra></extra>" },
            { uid: "signal-sell", kind: "signals", name: "SELL", mode: "markers",
              marker: { symbol: "triangle-up", angle: 180, standoff: 12, size: 13, color: c.sell,
                        line: { color: c.outline, width: 1 } },
              hovertemplate: "%{customdata}<extra></extra>" },
            line("rsi-guides", "rsi", "RSI 30/70", c.guide,
                 { yaxis: "y3", hoverinfo: "skip", hovertemplate: undefined,
                   line: { color: c.guide, width: 1, dash: "dash" } }),
            line("rsi-line", "rsi", "RSI", c.rsi, { yaxis: "y3", hovertemplate: "RSI %{y:.2f}<extra></extra>" }),
            { uid: "macd-hist", kind: "macd", name: "MACD histogram", type: "bar", yaxis: "y4",
              marker: { color: [] }, hovertemplate: "hist %{y}<extra></extra>" },
            line("macd-line", "macd", "MACD", c.macdLine, { yaxis: "y4" }),
            line("macd-signal", "macd", "signal", c.macdSignal, { yaxis: "y4" }),
        ];
    }

    const TRACE_KIND = {};
    definitions(PALETTES.dark).forEach(function (d) { TRACE_KIND[d.uid] = d.kind; });
    const TRACE_UIDS = Object.keys(TRACE_KIND);
    const INDICATOR_UIDS = TRACE_UIDS.filter(function (uid) {
        const kind = TRACE_KIND[uid];
        return kind === "ema" || kind === "bollinger" || kind === "rsi" || kind === "macd";
    });
    const OVERLAY_UIDS = TRACE_UIDS.filter(function (uid) { return INDICATOR_UIDS.indexOf(uid) < 0; });

    // Fresh, empty traces of every uid for a theme ("dark" or "light"); `shown` (kind names) sets `visible`
    // (all visible when omitted). Each carries meta {overlay: kind, layer: "below" | "above"}.
    function traceTemplates(theme, shown) {
        const on = shown ? new Set(shown) : null;
        return definitions(palette(theme)).map(function (d) {
            const trace = { type: "scatter", xaxis: "x", yaxis: "y", showlegend: false, x: [], y: [] };
            Object.keys(d).forEach(function (key) {
                if (key !== "kind" && key !== "layer" && key !== "mitigated" && d[key] !== undefined) {
                    trace[key] = JSON.parse(JSON.stringify(d[key]));
                }
            });
            trace.meta = { overlay: d.kind, layer: d.layer || "above" };
            trace.visible = on ? on.has(d.kind) : true;
            return trace;
        });
    }

    function kindOfTrace(uid) {
        return TRACE_KIND[uid] || null;
    }

    function uidsOf(kind) {
        return TRACE_UIDS.filter(function (uid) { return TRACE_KIND[uid] === kind; });
    }

    // `?overlays=` → the known kind names in legend order; null or undefined (parameter absent) → the defaults;
    // "" → none.
    function parseKinds(text) {
        if (text === null || text === undefined) {
            return DEFAULT_KINDS.slice();
        }
        const asked = new Set(String(text).split(",").map(function (s) { return s.trim().toLowerCase(); }));
        return KIND_NAMES.filter(function (name) { return asked.has(name); });
    }

    function kindsParam(kinds) {
        const on = new Set(kinds || []);
        return KIND_NAMES.filter(function (name) { return on.has(name); }).join(",");
    }

    // -- signals ---------------------------------------------------------------------------------------------------

    // A consensus signal as the chart keeps it, or null. The signal belongs to the candle that opened at `time`.
    // REST gives that candle's close time as `timestamp`; the socket's `signal` data may carry neither, so the
    // time is read from the id "SYMBOL-TIMEFRAME-OPEN_TIME" the tracker gives every signal
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

    // -- indexes: build cost must follow the objects in the window, not all objects ---------------------------------

    function finite(v) {
        return typeof v === "number" && isFinite(v);
    }

    function lowerBound(keys, t) {
        let lo = 0;
        let hi = keys.length;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (keys[mid] < t) { lo = mid + 1; } else { hi = mid; }
        }
        return lo;
    }

    // Objects as intervals [start, end] sorted by start; the longest finite one bounds how far before the window
    // an overlapping object can start; unbounded ones (open gaps) are kept apart (the tracker keeps at most 50
    // open gaps per direction).
    function intervalIndex(items, startOf, endOf) {
        const bounded = [];
        const unbounded = [];
        let longest = 0;
        (items || []).forEach(function (item) {
            const start = startOf(item);
            const end = endOf(item);
            if (!finite(start) || !(finite(end) || end === Infinity) || end < start) {
                return;
            }
            if (end === Infinity) {
                unbounded.push({ start: start, end: end, item: item });
            } else {
                bounded.push({ start: start, end: end, item: item });
                longest = Math.max(longest, end - start);
            }
        });
        bounded.sort(function (a, b) { return a.start - b.start; });
        return { bounded: bounded, keys: bounded.map(function (e) { return e.start; }), longest: longest,
                 unbounded: unbounded };
    }

    // Visit the entries overlapping [lo, hi], in start order for the bounded ones; returns how many entries it
    // examined (the cost, which tests bound).
    function overlapping(index, lo, hi, visit) {
        let examined = index.unbounded.length;
        for (let i = lowerBound(index.keys, lo - index.longest); i < index.keys.length; i += 1) {
            const e = index.bounded[i];
            examined += 1;
            if (e.start > hi) { break; }
            if (e.end >= lo) { visit(e.item); }
        }
        index.unbounded.forEach(function (e) {
            if (e.start <= hi) { visit(e.item); }
        });
        return examined;
    }

    function sortedIndex(items, keyOf) {
        const list = (items || []).filter(function (item) { return finite(keyOf(item)); })
            .sort(function (a, b) { return keyOf(a) - keyOf(b); });
        return { items: list, keys: list.map(keyOf) };
    }

    // Indexes are built once per overlay state object (a new state is a new object) and per signals array.
    const stateIndexes = new WeakMap();
    const signalIndexes = new WeakMap();

    function zoneEnd(z) {
        return z.mitigated && finite(z.mitigated_time) ? z.mitigated_time : Infinity;
    }

    function indexState(overlays) {
        let index = stateIndexes.get(overlays);
        if (!index) {
            index = {
                swings: sortedIndex(overlays.pivot_points, function (p) { return p.time; }),
                zones: intervalIndex(overlays.fvg_zones, function (z) { return z.time; }, zoneEnd),
                breaks: intervalIndex(overlays.break_signals, function (b) { return Math.min(b.swing_time, b.time); },
                                      function (b) { return Math.max(b.swing_time, b.time); }),
                levels: sortedIndex(overlays.pivot_levels, function (p) { return p.period_start; }),
            };
            stateIndexes.set(overlays, index);
        }
        return index;
    }

    function indexSignals(signals) {
        let index = signalIndexes.get(signals);
        if (!index) {
            index = sortedIndex(signals.filter(Boolean), function (s) { return s.time; });
            signalIndexes.set(signals, index);
        }
        return index;
    }

    // -- build -----------------------------------------------------------------------------------------------------

    function pad2(n) {
        return n < 10 ? "0" + n : String(n);
    }

    // Plot x in UTC when the caller gives no toX (the chart passes one for the viewer's zone).
    function utcX(t) {
        const d = new Date(t * 1000);
        return d.getUTCFullYear() + "-" + pad2(d.getUTCMonth() + 1) + "-" + pad2(d.getUTCDate()) + " " +
            pad2(d.getUTCHours()) + ":" + pad2(d.getUTCMinutes()) + ":" + pad2(d.getUTCSeconds());
    }

    function plainPrice(value) {
        return Number(value).toFixed(2);
    }

    function emptyTraces(uids) {
        const traces = {};
        uids.forEach(function (uid) { traces[uid] = { x: [], y: [] }; });
        ["fvg-bull-open", "fvg-bear-open", "fvg-bull-mitigated", "fvg-bear-mitigated"].forEach(function (uid) {
            traces[uid].text = [];
        });
        ["break-label", "levels-label", "levels-label-current"].forEach(function (uid) {
            Object.assign(traces[uid], { text: [], customdata: [], textposition: [],
                                         textfont: { size: 9, color: [] } });
        });
        ["swing-high", "swing-low", "signal-buy", "signal-sell"].forEach(function (uid) {
            traces[uid].customdata = [];
        });
        return traces;
    }

    function levelColor(c, name) {
        return name === "P" ? c.levelP : name.charAt(0) === "R" ? c.levelR : c.levelS;
    }

    // What the overlay traces hold for the candles range.start..range.end-1 (exclusive end) of `candles`
    // ({times, highs, lows, seconds}: every loaded candle, times ascending). `overlays` is the tracker state
    // {pivot_points, fvg_zones, break_signals, pivot_levels}; `signals` the normalized BUY/SELL signals.
    // opts: {toX(unixSeconds) → plot x, format(price) → text, theme, rightEdge, labelAt} — rightEdge (Unix s)
    // is where open gaps and the current period's floor pivots end when the window holds the latest candle
    // (default: the right edge of the last candle plus one candle, last + 1.5 candles), labelAt where the current
    // period's labels go (default rightEdge; the chart can pass its axis' right end).
    // Returns {traces: {uid: {x, y, ...}} for every overlay uid, counts}.
    function build(overlays, signals, candles, range, opts) {
        const o = opts || {};
        const toX = o.toX || utcX;
        const format = o.format || plainPrice;
        const c = palette(o.theme);
        const traces = emptyTraces(OVERLAY_UIDS);
        const counts = { swingHighs: 0, swingLows: 0, fvg: 0, breaks: 0, levels: 0, levelLines: 0, buy: 0,
                         sell: 0 };
        // `examined`: index entries looked at, the build's cost (it follows the objects near the window).
        const built = { traces: traces, counts: counts, examined: 0 };
        const times = candles.times;
        const n = times.length;
        const start = Math.max(0, range ? range.start : 0);
        const end = Math.min(n, range ? range.end : n);
        if (end <= start) {
            return built;
        }
        const seconds = candles.seconds;
        const latest = end === n;
        const rightEdge = finite(o.rightEdge) ? o.rightEdge : times[n - 1] + 1.5 * seconds;
        const labelAt = finite(o.labelAt) ? o.labelAt : rightEdge;
        const lo = times[start];
        const hi = latest ? Math.max(rightEdge, times[n - 1]) : times[end - 1];
        const data = overlays || {};
        const index = indexState(data);

        // Swing points on the window's candles.
        const swings = index.swings;
        for (let i = lowerBound(swings.keys, lo); i < swings.keys.length && swings.keys[i] <= times[end - 1];
            i += 1) {
            const p = swings.items[i];
            built.examined += 1;
            if (!finite(p.price)) { continue; }
            const high = p.kind === "high";
            const trace = traces[high ? "swing-high" : "swing-low"];
            trace.x.push(toX(p.time));
            trace.y.push(p.price);
            trace.customdata.push((high ? "swing high " : "swing low ") + format(p.price));
            counts[high ? "swingHighs" : "swingLows"] += 1;
        }

        // Gaps: one closed rectangle per gap, cut to the window; a mitigated gap ends at its mitigation.
        built.examined += overlapping(index.zones, lo, hi, function (z) {
            if (!finite(z.top) || !finite(z.bottom)) { return; }
            const x0 = Math.max(z.time, lo);
            const x1 = Math.min(zoneEnd(z), hi);
            if (x1 < x0) { return; }
            const bullish = z.direction === "bullish";
            const trace = traces["fvg-" + (bullish ? "bull" : "bear") + "-" + (zoneEnd(z) === Infinity ? "open"
                : "mitigated")];
            const a = toX(x0);
            const b = toX(x1);
            const text = (bullish ? "bullish" : "bearish") + " gap " + format(z.bottom) + " – " + format(z.top) +
                (zoneEnd(z) === Infinity ? "" : " (mitigated)");
            trace.x.push(a, b, b, a, a, null);
            trace.y.push(z.bottom, z.bottom, z.top, z.top, z.bottom, null);
            trace.text.push(text, text, text, text, text, null);
            counts.fvg += 1;
        });

        // Structure breaks: a level from the broken swing to the breaking candle, labelled in its middle.
        const labels = traces["break-label"];
        built.examined += overlapping(index.breaks, lo, hi, function (b) {
            if (!finite(b.level)) { return; }
            const x0 = Math.max(Math.min(b.swing_time, b.time), lo);
            const x1 = Math.min(Math.max(b.swing_time, b.time), hi);
            if (x1 < x0) { return; }
            const bullish = b.direction === "bullish";
            const trace = traces[b.kind === "CHOCH" ? "break-choch" : "break-bos"];
            trace.x.push(toX(x0), toX(x1), null);
            trace.y.push(b.level, b.level, null);
            labels.x.push(toX(x0 + (x1 - x0) / 2));
            labels.y.push(b.level);
            labels.text.push(b.kind);
            labels.customdata.push(b.kind + " " + (bullish ? "bullish" : "bearish") + " " + format(b.level));
            labels.textposition.push(bullish ? "top center" : "bottom center");
            labels.textfont.color.push(bullish ? c.bullish : c.bearish);
            counts.breaks += 1;
        });

        // Floor pivots over their own period only: from the boundary before its first candle to the boundary
        // before the next period's first candle; the latest period to rightEdge. Labels at the right end of a
        // period's lines, inside for past periods, in the right margin for the current one.
        const levels = index.levels;
        const half = seconds / 2;
        let k = Math.max(0, lowerBound(levels.keys, lo + half) - 1);
        for (; k < levels.items.length; k += 1) {
            const period = levels.items[k];
            built.examined += 1;
            const last = k === levels.items.length - 1;
            const from = period.period_start - half;
            if (from > hi) { break; }
            const until = last ? rightEdge : levels.items[k + 1].period_start - half;
            const x0 = Math.max(from, lo);
            const x1 = Math.min(until, hi);
            if (x1 <= x0) { continue; }
            const current = last && latest;
            const labelTrace = traces[current ? "levels-label-current" : "levels-label"];
            const labelX = toX(current ? labelAt : x1);
            const a = toX(x0);
            const b = toX(x1);
            let drawn = 0;
            LEVELS.forEach(function (name) {
                const value = period[name];
                if (!finite(value)) { return; }
                traces["levels-line"].x.push(a, b, null);
                traces["levels-line"].y.push(value, value, null);
                labelTrace.x.push(labelX);
                labelTrace.y.push(value);
                labelTrace.text.push(name + " " + format(value));
                labelTrace.customdata.push(name);
                labelTrace.textposition.push(current ? "middle right" : "middle left");
                labelTrace.textfont.color.push(levelColor(c, name));
                drawn += 1;
            });
            if (drawn) {
                counts.levels += 1;
                counts.levelLines += drawn;
            }
        }

        // BUY/SELL markers under the candle's low / over its high.
        if (signals && signals.length) {
            const sig = indexSignals(signals);
            for (let i = lowerBound(sig.keys, lo); i < sig.keys.length && sig.keys[i] <= times[end - 1]; i += 1) {
                const s = sig.items[i];
                built.examined += 1;
                const at = lowerBound(times, s.time);
                if (at >= end || times[at] !== s.time) { continue; }
                const buy = s.side === SIDES.BUY;
                const trace = traces[buy ? "signal-buy" : "signal-sell"];
                trace.x.push(toX(s.time));
                trace.y.push(buy ? candles.lows[at] : candles.highs[at]);
                trace.customdata.push(s.side + " " + Math.round((s.confidence || 0) * 100) + "% at " +
                                      (finite(s.price) ? format(s.price) : "market"));
                counts[buy ? "buy" : "sell"] += 1;
            }
        }
        return built;
    }

    // The indicator traces for the window: `book` a tickstream.indicators.IndicatorBook over every loaded candle
    // (same order as the candles), `xs` the plot x of the window's candles (xs[i - range.start], as given to the
    // candlestick trace). `theme` colours the MACD histogram bars. Returns {uid: {x, y}} (macd-hist also
    // {marker: {color}}); RSI guides span the window.
    function indicatorTraces(book, range, xs, theme) {
        const c = palette(theme);
        const traces = {};
        INDICATOR_UIDS.forEach(function (uid) { traces[uid] = { x: [], y: [] }; });
        traces["macd-hist"].marker = { color: [] };
        const series = book.series();
        const n = book.length;
        const start = Math.max(0, range ? range.start : 0);
        const end = Math.min(n, range ? range.end : n, start + (xs ? xs.length : 0));
        if (end <= start) {
            return traces;
        }
        const x = xs.length === end - start ? xs : xs.slice(0, end - start);
        const pairs = [["ema-fast", "emaFast"], ["ema-slow", "emaSlow"], ["bb-upper", "bbUpper"],
                       ["bb-middle", "bbMiddle"], ["bb-lower", "bbLower"], ["rsi-line", "rsi"],
                       ["macd-line", "macdLine"], ["macd-signal", "macdSignal"], ["macd-hist", "macdHist"]];
        pairs.forEach(function (pair) {
            traces[pair[0]].x = x;
            traces[pair[0]].y = series[pair[1]].slice(start, end);
        });
        traces["macd-hist"].marker.color = traces["macd-hist"].y.map(function (v) {
            return v !== null && v < 0 ? c.histDown : c.histUp;
        });
        const x0 = x[0];
        const x1 = x[x.length - 1];
        traces["rsi-guides"].x = [x0, x1, null, x0, x1];
        traces["rsi-guides"].y = [RSI_GUIDES[0], RSI_GUIDES[0], null, RSI_GUIDES[1], RSI_GUIDES[1]];
        return traces;
    }

    // -- older history ---------------------------------------------------------------------------------------------

    const KEYS = {
        pivot_points: function (p) { return p.kind + "@" + p.time; },
        fvg_zones: function (z) { return z.direction + "@" + z.time; },
        break_signals: function (b) { return b.direction + "@" + b.time; },
    };

    // Overlays of a scan over older history joined to the live tracker's: a historical object is kept only when
    // it lies before `liveStart` (the tracker's first candle time; floor pivots: a period before the tracker's
    // earliest period) and the live state does not hold it, so nothing already drawn is repainted. Objects come
    // out in time order, each once. Returns a new state object (the inputs are not changed).
    function mergeHistorical(live, historical, liveStart) {
        const now = live || {};
        const old = historical || {};
        const merged = Object.assign({}, now);
        Object.keys(KEYS).forEach(function (name) {
            const keyOf = KEYS[name];
            const liveList = now[name] || [];
            const seen = new Set(liveList.map(keyOf));
            const kept = [];
            (old[name] || []).forEach(function (item) {
                const key = keyOf(item);
                if (!(item.time < liveStart) || seen.has(key)) { return; }
                seen.add(key);
                kept.push(item);
            });
            merged[name] = kept.concat(liveList).sort(function (a, b) { return a.time - b.time; });
        });
        const liveLevels = now.pivot_levels || [];
        let cutoff = liveStart;
        liveLevels.forEach(function (p) { cutoff = Math.min(cutoff, p.period_start); });
        const periods = new Set(liveLevels.map(function (p) { return p.period_start; }));
        const keptLevels = [];
        (old.pivot_levels || []).forEach(function (p) {
            if (!(p.period_start < cutoff) || periods.has(p.period_start)) { return; }
            periods.add(p.period_start);
            keptLevels.push(p);
        });
        merged.pivot_levels = keptLevels.concat(liveLevels)
            .sort(function (a, b) { return a.period_start - b.period_start; });
        return merged;
    }

    const api = {
        KINDS: KINDS,
        KIND_NAMES: KIND_NAMES,
        DEFAULT_KINDS: DEFAULT_KINDS,
        LEVELS: LEVELS,
        PALETTES: PALETTES,
        TRACE_UIDS: TRACE_UIDS,
        OVERLAY_UIDS: OVERLAY_UIDS,
        INDICATOR_UIDS: INDICATOR_UIDS,
        traceTemplates: traceTemplates,
        kindOfTrace: kindOfTrace,
        uidsOf: uidsOf,
        parseKinds: parseKinds,
        kindsParam: kindsParam,
        build: build,
        indicatorTraces: indicatorTraces,
        mergeHistorical: mergeHistorical,
        signalFromRest: signalFromRest,
        signalFromSocket: signalFromSocket,
    };
    if (typeof window !== "undefined") {
        window.tickstream = Object.assign(window.tickstream || {}, { overlays: api });
    }
    if (typeof module !== "undefined" && module.exports) {
        module.exports = api;
    }
})();
