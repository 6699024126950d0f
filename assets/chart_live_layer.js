// The chart's live layer (window.tickstream.liveLayer): what every tick changes — the forming candle and its
// volume bar, the newest segment of each indicator line shown, the last-price line and its label on the price
// axis — drawn as a few SVG elements over the Plotly figure, on the figure's own axes. Plotly re-lays every trace
// of a figure on any change, so a tick drawn here costs the same whatever the history, overlays and panes; the
// figure itself redraws only when a candle closes or the view, overlays or an axis range change.
// `scene` is pure (values and axis mappings in, shapes in pixels out); `render` writes them into the layer.
(function () {
    "use strict";

    const SVG = "http://www.w3.org/2000/svg";
    // Indicator lines with a newest segment: [trace uid, IndicatorBook series, legend kind, axis].
    const SEGMENTS = [
        ["ema-fast", "emaFast", "ema", "y"], ["ema-slow", "emaSlow", "ema", "y"],
        ["bb-upper", "bbUpper", "bollinger", "y"], ["bb-middle", "bbMiddle", "bollinger", "y"],
        ["bb-lower", "bbLower", "bollinger", "y"], ["rsi-line", "rsi", "rsi", "y3"],
        ["macd-line", "macdLine", "macd", "y4"], ["macd-signal", "macdSignal", "macd", "y4"],
    ];

    function finite(v) {
        return typeof v === "number" && isFinite(v);
    }

    // Shapes in pixels. `s`: {x: forming candle's plot x, prevX: the previous candle's (or null), open, high, low,
    // close, volume, colors: {up, down}, series: IndicatorBook series, index: the forming candle's index,
    // shown: Set of legend kinds, lineStyles: {uid: {color, width, dash}}, histColors: {up, down}}.
    // `axes`: {x(v), y(v), y2(v), y3(v), y4(v) → pixels (null when the axis is not shown), plot: {left, right},
    // bodyHalf, barHalf (pixels)}. Returns {visible, candle, volume, last, segments, hist}.
    function scene(s, axes) {
        const x = axes.x(s.x);
        const rising = s.close >= s.open;
        const color = rising ? s.colors.up : s.colors.down;
        const out = { visible: finite(x), rising: rising, color: color, segments: [], hist: null, candle: null,
                      volume: null, last: null };
        const yClose = axes.y(s.close);
        if (finite(yClose)) {
            out.last = { y: yClose, x1: axes.plot.left, x2: axes.plot.right, color: color };
        }
        if (!out.visible || x < axes.plot.left - axes.bodyHalf || x > axes.plot.right + axes.bodyHalf) {
            out.visible = false;
            return out;
        }
        const yOpen = axes.y(s.open);
        const top = Math.min(yOpen, yClose);
        out.candle = {
            wick: { x: x, y1: axes.y(s.high), y2: axes.y(s.low) },
            body: { x: x - axes.bodyHalf, y: top, w: Math.max(1, 2 * axes.bodyHalf),
                    h: Math.max(1, Math.abs(yOpen - yClose)) },
        };
        const base = axes.y2 ? axes.y2(0) : null;
        const height = axes.y2 ? axes.y2(s.volume) : null;
        if (finite(base) && finite(height)) {
            out.volume = { x: x - axes.barHalf, y: Math.min(base, height), w: Math.max(1, 2 * axes.barHalf),
                           h: Math.abs(base - height) };
        }
        const prevX = s.prevX === null || s.prevX === undefined ? null : axes.x(s.prevX);
        const i = s.index;
        SEGMENTS.forEach(function (def) {
            const map = axes[def[3]];
            if (!s.shown.has(def[2]) || !map || !s.series || !finite(prevX) || i < 1) { return; }
            const values = s.series[def[1]];
            const a = values[i - 1];
            const b = values[i];
            if (!finite(a) || !finite(b)) { return; }
            const style = s.lineStyles[def[0]] || {};
            out.segments.push({ uid: def[0], x1: prevX, y1: map(a), x2: x, y2: map(b), color: style.color || "#888",
                                width: style.width || 1, dash: style.dash || "solid" });
        });
        if (s.shown.has("macd") && axes.y4 && s.series) {
            const h = s.series.macdHist[i];
            if (finite(h)) {
                const zero = axes.y4(0);
                const y = axes.y4(h);
                const colors = s.histColors || s.colors;
                out.hist = { x: x - axes.barHalf, y: Math.min(zero, y), w: Math.max(1, 2 * axes.barHalf),
                             h: Math.max(1, Math.abs(zero - y)), color: h < 0 ? colors.down : colors.up };
            }
        }
        return out;
    }

    const DASHES = { solid: "", dot: "2,3", dash: "6,4", dashdot: "6,3,2,3" };

    function node(parent, tag, cls) {
        const el = document.createElementNS(SVG, tag);
        if (cls) { el.setAttribute("class", cls); }
        parent.appendChild(el);
        return el;
    }

    function set(el, attrs) {
        Object.keys(attrs).forEach(function (key) {
            const value = String(attrs[key]);
            if (el.getAttribute(key) !== value) { el.setAttribute(key, value); }
        });
    }

    // The layer's elements, made once per layer element.
    function parts(layer) {
        if (layer._tickstreamParts) { return layer._tickstreamParts; }
        const svg = node(layer, "svg", "chart-live-svg");
        const p = {
            svg: svg,
            last: node(svg, "line", "live-last-price"),
            volume: node(svg, "rect", "live-volume"),
            hist: node(svg, "rect", "live-macd-hist"),
            segments: {},
            wick: node(svg, "line", "live-wick"),
            body: node(svg, "rect", "live-body"),
            label: document.createElement("div"),
        };
        SEGMENTS.forEach(function (def) { p.segments[def[0]] = node(svg, "line", "live-" + def[0]); });
        p.label.className = "chart-last-label";
        layer.appendChild(p.label);
        layer._tickstreamParts = p;
        return p;
    }

    function show(el, visible) {
        const value = visible ? "" : "none";
        if (el.style.display !== value) { el.style.display = value; }
    }

    // Write a scene into the layer (an element over the figure, same size). `labelText` is the last price shown
    // on the price axis; `labelLeft` the x where the axis' labels start.
    function render(layer, sc, labelText, labelLeft) {
        const p = parts(layer);
        show(p.wick, sc.visible && sc.candle);
        show(p.body, sc.visible && sc.candle);
        if (sc.visible && sc.candle) {
            set(p.wick, { x1: sc.candle.wick.x, x2: sc.candle.wick.x, y1: sc.candle.wick.y1, y2: sc.candle.wick.y2,
                          stroke: sc.color, "stroke-width": 1 });
            set(p.body, { x: sc.candle.body.x, y: sc.candle.body.y, width: sc.candle.body.w,
                          height: sc.candle.body.h, fill: sc.color });
        }
        show(p.volume, sc.visible && sc.volume);
        if (sc.visible && sc.volume) {
            set(p.volume, { x: sc.volume.x, y: sc.volume.y, width: sc.volume.w, height: sc.volume.h, fill: sc.color,
                            "fill-opacity": 0.6 });
        }
        show(p.hist, sc.visible && sc.hist);
        if (sc.visible && sc.hist) {
            set(p.hist, { x: sc.hist.x, y: sc.hist.y, width: sc.hist.w, height: sc.hist.h, fill: sc.hist.color });
        }
        const drawn = {};
        if (sc.visible) {
            sc.segments.forEach(function (seg) {
                drawn[seg.uid] = true;
                set(p.segments[seg.uid], { x1: seg.x1, y1: seg.y1, x2: seg.x2, y2: seg.y2, stroke: seg.color,
                                           "stroke-width": seg.width, "stroke-dasharray": DASHES[seg.dash] || "" });
            });
        }
        Object.keys(p.segments).forEach(function (uid) { show(p.segments[uid], !!drawn[uid]); });
        show(p.last, !!sc.last);
        show(p.label, !!sc.last);
        if (sc.last) {
            set(p.last, { x1: sc.last.x1, x2: sc.last.x2, y1: sc.last.y, y2: sc.last.y, stroke: sc.last.color,
                          "stroke-width": 1, "stroke-dasharray": "2,3" });
            if (p.label.textContent !== labelText) { p.label.textContent = labelText; }
            const style = p.label.style;
            const top = Math.round(sc.last.y) + "px";
            if (style.top !== top) { style.top = top; }
            const left = Math.round(labelLeft) + "px";
            if (style.left !== left) { style.left = left; }
            if (style.backgroundColor !== sc.last.color) { style.backgroundColor = sc.last.color; }
        }
    }

    const api = { scene: scene, render: render, SEGMENTS: SEGMENTS };
    if (typeof window !== "undefined") {
        window.tickstream = Object.assign(window.tickstream || {}, { liveLayer: api });
    }
    if (typeof module !== "undefined" && module.exports) {
        module.exports = api;
    }
})();
