// Which of the loaded candles the chart gives Plotly (window.tickstream.chartWindow). Plotly re-lays every plotted
// point on any change, so the browser keeps all loaded candles but plots only the visible range plus a margin of
// half the visible span on each side, at most `max` candles; the margin lets the user pan a little before the
// slice must be recomputed (needsReslice). Zoomed out past `max`, the chart offers a coarser timeframe (coarser).
// Pure functions over ascending arrays of candle open times in Unix seconds.
(function () {
    "use strict";

    const TIMEFRAMES = ["1m", "5m", "15m", "30m", "1h", "4h", "1d"];
    const SECONDS = { "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400 };
    const DEFAULTS = { initial: 300, max: 1500 };

    // First index whose time is >= t (times.length when none).
    function indexAtOrAfter(times, t) {
        let lo = 0;
        let hi = times.length;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (times[mid] < t) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    // Last index whose time is <= t (-1 when none).
    function indexAtOrBefore(times, t) {
        let lo = 0;
        let hi = times.length;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (times[mid] <= t) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo - 1;
    }

    // Index of the candle opened at t, or -1.
    function indexOf(times, t) {
        const i = indexAtOrAfter(times, t);
        return i < times.length && times[i] === t ? i : -1;
    }

    function options(opts) {
        const o = Object.assign({}, DEFAULTS, opts || {});
        o.max = Math.max(1, Math.floor(o.max));
        o.initial = Math.max(1, Math.min(o.max, Math.floor(o.initial)));
        return o;
    }

    // The candles to plot: {start, end} (end exclusive) into `times`, plus what the view holds: `visible` (the
    // count of candles inside it), `first`/`last` (their index range, last exclusive) and `tooMany` (the view
    // alone holds more than opts.max; the slice is then the opts.max candles nearest the view's right end).
    // `view` is {from, to} in Unix seconds (the x axis range), or null for "follow the latest": the last
    // opts.initial candles. The margin on each side is half the visible span, counted both in time and in
    // candles, whichever reaches further (so a weekend gap does not leave the margin empty).
    function slice(times, view, opts) {
        const o = options(opts);
        const n = times.length;
        if (!n) {
            return { start: 0, end: 0, first: 0, last: 0, visible: 0, tooMany: false };
        }
        let first;
        let last;
        let from;
        let to;
        if (!view) {
            last = n;
            first = Math.max(0, n - o.initial);
            from = times[first];
            to = times[n - 1];
        } else if (!isFinite(view.from) || !isFinite(view.to)) {
            return slice(times, null, opts);
        } else {
            from = Math.min(view.from, view.to);
            to = Math.max(view.from, view.to);
            first = indexAtOrAfter(times, from);
            last = indexAtOrBefore(times, to) + 1;
            if (last < first) {
                last = first;
            }
        }
        const visible = last - first;
        if (visible > o.max) {
            return { start: last - o.max, end: last, first: first, last: last, visible: visible, tooMany: true };
        }
        const halfSpan = (to - from) / 2;
        const halfCount = Math.ceil(visible / 2);
        let start = Math.max(0, Math.min(indexAtOrAfter(times, from - halfSpan), first - halfCount));
        let end = Math.min(n, Math.max(indexAtOrBefore(times, to + halfSpan) + 1, last + halfCount));
        if (end - start > o.max) {
            // Share the room left after the view between both sides; a side short of candles gives its share
            // to the other.
            const room = o.max - visible;
            let left = Math.min(first - start, Math.floor(room / 2));
            const right = Math.min(end - last, room - left);
            left = Math.min(first - start, room - right);
            start = first - left;
            end = last + right;
        }
        return { start: start, end: end, first: first, last: last, visible: visible, tooMany: false };
    }

    // True when the slice `current` ({start, end}) no longer serves the view: the view came within a quarter of
    // the margin (an eighth of its span) of an edge of the slice, or left it, on a side where more candles are
    // loaded. With view null (following the latest), true when candles were added after the slice's end.
    // A resliced window can come out the same (the view already holds opts.max candles): compare before redrawing.
    function needsReslice(current, view, times) {
        const n = times.length;
        if (!current || !n) {
            return n > 0;
        }
        if (current.end > n || current.start < 0 || current.end <= current.start) {
            return true;
        }
        if (!view) {
            return current.end < n;
        }
        const from = Math.min(view.from, view.to);
        const to = Math.max(view.from, view.to);
        const guard = (to - from) / 8;
        const leftEdge = times[current.start];
        const rightEdge = times[current.end - 1];
        if (current.start > 0 && from - guard < leftEdge) {
            return true;
        }
        return current.end < n && to + guard > rightEdge;
    }

    // The next coarser timeframe whose candles over the same span would number at most `max`, or null (none
    // does, or the timeframe is unknown). 3,000 one-minute candles with max 1,500 → "5m" (600 candles).
    function coarser(timeframe, visibleCount, max) {
        const seconds = SECONDS[timeframe];
        if (!seconds) {
            return null;
        }
        const limit = max || DEFAULTS.max;
        const span = visibleCount * seconds;
        for (let i = TIMEFRAMES.indexOf(timeframe) + 1; i < TIMEFRAMES.length; i += 1) {
            if (Math.ceil(span / SECONDS[TIMEFRAMES[i]]) <= limit) {
                return TIMEFRAMES[i];
            }
        }
        return null;
    }

    // The x range a Plotly relayout event sets, as a view for slice(): {from, to} in Unix seconds, null when the
    // axis went back to autorange (follow the latest), undefined when the event does not touch the x axis (a
    // y-only zoom, a legend click) or its range cannot be read. `parse` turns a Plotly date into Unix seconds
    // (tickstream.format.fromPlotX with the chart's zone); `axis` defaults to "xaxis".
    function viewFromRelayout(event, parse, axis) {
        if (!event) {
            return undefined;
        }
        const name = axis || "xaxis";
        if (event[name + ".autorange"] === true) {
            return null;
        }
        let range = event[name + ".range"];
        if (!Array.isArray(range)) {
            if (event[name + ".range[0]"] === undefined || event[name + ".range[1]"] === undefined) {
                return undefined;
            }
            range = [event[name + ".range[0]"], event[name + ".range[1]"]];
        }
        const from = parse(range[0]);
        const to = parse(range[1]);
        if (typeof from !== "number" || typeof to !== "number" || !isFinite(from) || !isFinite(to)) {
            return undefined;
        }
        return { from: Math.min(from, to), to: Math.max(from, to) };
    }

    const api = {
        TIMEFRAMES: TIMEFRAMES,
        SECONDS: SECONDS,
        DEFAULTS: DEFAULTS,
        indexAtOrAfter: indexAtOrAfter,
        indexAtOrBefore: indexAtOrBefore,
        indexOf: indexOf,
        slice: slice,
        needsReslice: needsReslice,
        coarser: coarser,
        viewFromRelayout: viewFromRelayout,
    };
    if (typeof window !== "undefined") {
        window.tickstream = Object.assign(window.tickstream || {}, { chartWindow: api });
    }
    if (typeof module !== "undefined" && module.exports) {
        module.exports = api;
    }
})();
