// The live chart's browser side: keeps every loaded candle in memory, gives Plotly only the candles in view plus a
// margin (assets/chart_window.js), draws overlays and indicator panes as a fixed set of traces
// (assets/chart_overlays.js, assets/chart_indicators.js), and redraws at most once per animation frame with the
// newest state. Data: history over REST, then the page's shared WebSocket (assets/ws_client.js). Symbol and
// timeframe changes resubscribe on the same socket and update the URL (no page load). Component ids repeat
// components/ids.py; message names repeat api/protocol.py; the query parameters are documented in docs/chart.md.
(function () {
    "use strict";

    const IDS = {
        root: "chart-root", graph: "chart-graph", stage: "chart-stage", symbol: "chart-symbol", name: "chart-name",
        price: "chart-price", change: "chart-change", source: "chart-source", status: "chart-status",
        countdown: "chart-countdown", readout: "chart-readout", timeframes: "chart-timeframes",
        liveLayer: "chart-live-layer",
        overlays: "chart-overlays", notice: "chart-notice", retry: "chart-retry", coarser: "chart-coarser",
    };
    const MSG = {
        candleUpdate: "candle_update", fullUpdate: "full_update", marketData: "market_data", signal: "signal",
        status: "status",
    };
    const SECONDS = { "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400 };
    // Candles fetched at first and per page of older history; candles in view when the chart opens.
    const FIRST_HISTORY = 500;
    const OLDER_PAGE = 1000;
    const MAX_LOADED = 20000;
    const VISIBLE = 160;
    // Most candles Plotly is given (zoomed out further, the chart offers the next coarser timeframe).
    const MAX_PLOTTED = 1500;
    // Empty room right of the newest candle, in candles, while the chart follows the latest.
    const RIGHT_PAD = 4;
    // Candles re-read after a reconnection or a seq gap (a lost message touches only the last few).
    const RESYNC_TAIL = 10;
    const MAX_SIGNALS = 500;
    const LATENCY_SAMPLES = 5000;
    const HISTORY_RETRY_MS = [1000, 2000, 4000, 8000, 15000];
    const STORE = { overlays: "tickstream-chart-overlays", utc: "tickstream-chart-utc", log: "tickstream-chart-log",
                    theme: "tickstream-theme" };
    const SOURCE_NAMES = { sim: "SIMULATED", yahoo: "Yahoo", polygon: "Polygon", alpaca: "Alpaca" };
    const PANE_SHARE = { volume: 0.14, indicator: 0.17, gap: 0.015 };

    // Figures a test or a benchmark reads.
    const stats = {
        applied: 0, messages: 0, redraws: 0, resyncs: 0, latencies: [], firstCandleMs: null, plotted: 0,
        loaded: 0, drawMs: [], mainMs: [], marks: {}, lastCandleTime: null, lastClose: null, overlayBuilds: 0, signals: 0, olderPages: 0,
        get duplicates() { return socketCounts().duplicates; },
        get gaps() { return socketCounts().gaps; },
        get reconnects() { return socketCounts().reconnects; },
        get connected() { return chart.socketState === "connected"; },
    };

    function kit() { return window.tickstream || {}; }
    function socket() { return kit().socket; }
    function fmt() { return kit().format; }
    function socketCounts() {
        const s = socket();
        return s ? s.state().counts : { duplicates: 0, gaps: 0, reconnects: 0 };
    }

    const chart = {
        mounted: false, config: null, symbol: null, timeframe: null, seconds: 60, precision: 2,
        // Every loaded candle, oldest first, as parallel arrays; xs are the Plotly x values in the shown zone.
        times: [], opens: [], highs: [], lows: [], closes: [], volumes: [], xs: [],
        book: null, loadToken: 0, ready: false, pending: [], noOlder: false, loadingOlder: null,
        view: { follow: true, span: defaultSpan(), from: null, to: null }, yManual: false, slice: null,
        overlaysLive: null, overlaysLiveText: "", overlaysHistorical: null, signals: new Map(),
        overlaysDirty: true, built: null, builtKey: "", shown: new Set(), timeZone: "UTC", utc: false,
        log: false, theme: "dark", frameRequested: false, drawing: false, unrendered: [], lastQuote: null,
        hoverIndex: null, socketState: "idle", retryAt: null, feedStatus: null, historyError: null,
        historyRetryTimer: null, historyAttempt: 0, offs: [], subscribed: null, stale: false, source: null,
        lastTitleAt: 0, coarserOffer: null,
    };

    // -- small helpers -------------------------------------------------------------------------------------------

    function el(id) { return document.getElementById(id); }

    function setText(id, text) {
        const node = el(id);
        if (node && node.textContent !== text) { node.textContent = text; }
    }

    function graphDiv() {
        const holder = el(IDS.graph);
        return holder ? holder.querySelector(".js-plotly-plot") : null;
    }

    function stored(key, fallback) {
        try {
            const value = window.localStorage.getItem(key);
            return value === null ? fallback : value;
        } catch (err) {
            return fallback;
        }
    }

    function store(key, value) {
        try { window.localStorage.setItem(key, value); } catch (err) { /* private mode: not remembered */ }
    }

    // Candles in view when a chart opens: about 8 px each, so a phone shows fewer than a desktop screen.
    function defaultSpan() {
        const stage = el(IDS.stage);
        const width = stage && stage.clientWidth ? stage.clientWidth : 1200;
        return Math.max(40, Math.min(VISIBLE, Math.round(width / 8)));
    }

    function price(value) {
        return value === null || value === undefined || !isFinite(value) ? "—" : fmt().price(value, chart.precision);
    }

    // Daily candles are UTC days: drawn on their UTC date in every zone (shifted, they would sit on the evening
    // before in New York).
    function plotZone() { return chart.timeframe === "1d" ? "UTC" : chart.timeZone; }

    function toX(t) { return fmt().plotX(t, plotZone()); }

    function localZone() {
        try {
            return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
        } catch (err) {
            return "UTC";
        }
    }

    function paneDomains(shown) {
        // components/figures.py pane_domains is the same rule.
        const panes = [["rsi", "yaxis3"], ["macd", "yaxis4"]].filter(function (p) { return shown.has(p[0]); });
        const domains = { yaxis3: [0, 0], yaxis4: [0, 0] };
        let bottom = 0;
        panes.slice().reverse().forEach(function (p) {
            domains[p[1]] = [bottom, +(bottom + PANE_SHARE.indicator).toFixed(4)];
            bottom = +(bottom + PANE_SHARE.indicator + PANE_SHARE.gap).toFixed(4);
        });
        domains.yaxis2 = [bottom, +(bottom + PANE_SHARE.volume).toFixed(4)];
        domains.yaxis = [+(bottom + PANE_SHARE.volume + PANE_SHARE.gap).toFixed(4), 1];
        return domains;
    }

    function themeColors() {
        const style = window.getComputedStyle(document.documentElement);
        function v(name, fallback) { return (style.getPropertyValue(name) || "").trim() || fallback; }
        const dark = chart.theme !== "light";
        return {
            background: v("--chart-bg", dark ? "#131722" : "#ffffff"),
            grid: v("--chart-grid", dark ? "#2a2e39" : "#e0e3eb"),
            text: v("--chart-text", dark ? "#d1d4dc" : "#131722"),
            muted: v("--chart-muted", dark ? "#787b86" : "#6a6d78"),
            up: v("--chart-up", dark ? "#26a69a" : "#089981"),
            down: v("--chart-down", dark ? "#ef5350" : "#f23645"),
        };
    }

    // -- candles in memory ---------------------------------------------------------------------------------------

    function clearCandles() {
        chart.times = []; chart.opens = []; chart.highs = []; chart.lows = []; chart.closes = []; chart.volumes = [];
        chart.xs = [];
        chart.book = new (kit().indicators.IndicatorBook)();
        chart.slice = null;
        chart.builtKey = "";
    }

    function rowsOf(body) {
        // The compact form (?format=columns) or rows.
        if (body && body.columns && body.columns.time) {
            const c = body.columns;
            return c.time.map(function (t, i) {
                return { time: t, open: c.open[i], high: c.high[i], low: c.low[i], close: c.close[i], volume: c.volume[i] };
            });
        }
        return (body && body.data) || [];
    }

    function setCandles(candles) {
        clearCandles();
        candles.forEach(function (c) { pushCandle(c); });
        chart.book.setAll(chart.closes);
        chart.mainDirty = true;
        stats.loaded = chart.times.length;
    }

    function pushCandle(c) {
        chart.times.push(c.time); chart.opens.push(c.open); chart.highs.push(c.high); chart.lows.push(c.low);
        chart.closes.push(c.close); chart.volumes.push(c.volume); chart.xs.push(toX(c.time));
    }

    function prependCandles(older) {
        const first = chart.times.length ? chart.times[0] : Infinity;
        const rows = older.filter(function (c) { return c.time < first; });
        if (!rows.length) { return 0; }
        chart.times = rows.map(function (c) { return c.time; }).concat(chart.times);
        chart.opens = rows.map(function (c) { return c.open; }).concat(chart.opens);
        chart.highs = rows.map(function (c) { return c.high; }).concat(chart.highs);
        chart.lows = rows.map(function (c) { return c.low; }).concat(chart.lows);
        chart.closes = rows.map(function (c) { return c.close; }).concat(chart.closes);
        chart.volumes = rows.map(function (c) { return c.volume; }).concat(chart.volumes);
        chart.xs = rows.map(function (c) { return toX(c.time); }).concat(chart.xs);
        chart.book.prepend(rows.map(function (c) { return c.close; }));
        if (chart.slice) {
            chart.slice = { start: chart.slice.start + rows.length, end: chart.slice.end + rows.length };
        }
        chart.builtKey = "";
        chart.mainDirty = true;
        stats.loaded = chart.times.length;
        return rows.length;
    }

    function searchTime(t) {
        const times = chart.times;
        let lo = 0, hi = times.length - 1;
        while (lo <= hi) {
            const mid = (lo + hi) >> 1;
            if (times[mid] === t) { return mid; }
            if (times[mid] < t) { lo = mid + 1; } else { hi = mid - 1; }
        }
        return -lo - 1;
    }

    // Merge one candle: the forming candle changes in place, a new one appends, a missing one is inserted.
    // Returns true when a candle was missing between the last one held and this one (a hole to re-read).
    function mergeCandle(c) {
        const n = chart.times.length;
        const last = n ? chart.times[n - 1] : null;
        if (last === null || c.time > last) {
            chart.mainDirty = true;
            pushCandle(c);
            chart.book.append(c.close);
            stats.loaded = chart.times.length;
            return last !== null && c.time > last + chart.seconds;
        }
        const i = c.time === last ? n - 1 : searchTime(c.time);
        if (i >= 0) {
            chart.opens[i] = c.open; chart.highs[i] = c.high; chart.lows[i] = c.low; chart.closes[i] = c.close;
            chart.volumes[i] = c.volume;
            if (i === n - 1) { chart.book.updateLast(c.close); } else { chart.book.setAll(chart.closes); }
        } else {
            const at = -i - 1;
            chart.times.splice(at, 0, c.time); chart.opens.splice(at, 0, c.open); chart.highs.splice(at, 0, c.high);
            chart.lows.splice(at, 0, c.low); chart.closes.splice(at, 0, c.close);
            chart.volumes.splice(at, 0, c.volume); chart.xs.splice(at, 0, toX(c.time));
            chart.book.setAll(chart.closes);
            chart.builtKey = "";
            chart.mainDirty = true;
            stats.loaded = chart.times.length;
        }
        return false;
    }

    // -- REST ----------------------------------------------------------------------------------------------------

    function readJson(response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
            if (!response.ok) {
                const reason = body && body.error && body.error.message ? body.error.message : "HTTP " + response.status;
                const error = new Error(reason);
                error.status = response.status;
                throw error;
            }
            return body;
        });
    }

    function fetchJson(url) {
        return fetch(url, { cache: "no-store" }).then(readJson);
    }

    function historyQuery(timeframe, limit, end) {
        const days = Math.ceil(limit * SECONDS[timeframe] / 86400) + 1;
        return "?format=columns&interval=" + encodeURIComponent(timeframe) + "&period=" + days + "d&limit=" + limit +
            (end ? "&end=" + end : "");
    }

    function historyUrl(limit, end) {
        return chart.config.historyPath + historyQuery(chart.timeframe, limit, end);
    }

    // A chart page's first history is asked for as soon as this script runs, before Dash has rendered the page
    // (which takes a layout request and a callback): the answer is then there when the chart mounts.
    const prefetched = (function () {
        const match = /^\/(?:embed\/)?chart\/([^/]+)$/.exec(window.location.pathname);
        if (!match || !window.fetch) { return null; }
        const params = new URLSearchParams(window.location.search);
        const timeframe = params.get("tf") || params.get("timeframe") || "1m";
        if (!SECONDS[timeframe]) { return null; }
        let symbol;
        try { symbol = decodeURIComponent(match[1]).toUpperCase(); } catch (err) { return null; }
        const url = "/api/v1/market-data/" + encodeURIComponent(symbol) + "/history" +
            historyQuery(timeframe, FIRST_HISTORY, null);
        return { symbol: symbol, timeframe: timeframe, response: fetch(url, { cache: "no-store" }) };
    })();
    let prefetchUsed = false;

    // The first page of history: the prefetched answer when it is for this chart, else a request.
    function firstCandles() {
        const p = prefetched;
        if (p && !prefetchUsed && p.symbol === chart.symbol && p.timeframe === chart.timeframe) {
            prefetchUsed = true;
            return p.response.then(readJson).then(function (body) {
                noteSource(body.source, body.stale);
                return rowsOf(body);
            });
        }
        return fetchCandles(FIRST_HISTORY, null);
    }

    function fetchCandles(limit, end) {
        return fetchJson(historyUrl(limit, end)).then(function (body) {
            noteSource(body.source, body.stale);
            return rowsOf(body);
        });
    }

    function fetchLiveOverlays(token) {
        const url = chart.config.levelsPath + "?timeframe=" + encodeURIComponent(chart.timeframe);
        fetchJson(url).then(function (body) {
            // A full_update that came first is newer than this answer.
            if (token === chart.loadToken && !chart.overlaysFromSocket && body.signals) {
                setLiveOverlays(body.signals);
            }
        }).catch(function (err) { console.warn("tickstream chart: overlays failed", err); });
    }

    // Overlays of the loaded history (the vectorised scan over those candles, same definitions): they fill in
    // what the live tracker no longer holds (its last 50 swings…) without repainting what it shows.
    function fetchHistoricalOverlays(token) {
        const n = chart.times.length;
        if (n < 2) { return; }
        const url = chart.config.levelsPath + "?timeframe=" + encodeURIComponent(chart.timeframe) +
            "&end=" + chart.times[n - 1] + "&limit=" + Math.min(5000, n - 1);
        fetchJson(url).then(function (body) {
            if (token === chart.loadToken && body.signals) {
                chart.overlaysHistorical = body.signals;
                chart.overlaysDirty = true;
                requestDraw();
            }
        }).catch(function (err) { console.warn("tickstream chart: older overlays failed", err); });
    }

    function fetchSignals(token) {
        const url = chart.config.signalsPath + "?limit=200&timeframe=" + encodeURIComponent(chart.timeframe);
        fetchJson(url).then(function (body) {
            const overlays = kit().overlays;
            if (token === chart.loadToken && addSignals((body.signals || []).map(function (item) {
                return overlays.signalFromRest(item, chart.seconds);
            }))) {
                requestDraw();
            }
        }).catch(function (err) { console.warn("tickstream chart: signals failed", err); });
    }

    function setLiveOverlays(overlays) {
        const text = JSON.stringify(overlays);
        if (text === chart.overlaysLiveText) { return; }
        chart.overlaysLive = overlays;
        chart.overlaysLiveText = text;
        chart.overlaysDirty = true;
        requestDraw();
    }

    function addSignals(signals) {
        let added = false;
        signals.forEach(function (s) {
            if (!s || s.timeframe !== chart.timeframe || chart.signals.has(s.id)) { return; }
            chart.signals.set(s.id, s);
            added = true;
        });
        if (chart.signals.size > MAX_SIGNALS) {
            Array.from(chart.signals.values()).sort(function (a, b) { return a.time - b.time; })
                .slice(0, chart.signals.size - MAX_SIGNALS).forEach(function (s) { chart.signals.delete(s.id); });
        }
        if (added) { chart.overlaysDirty = true; }
        return added;
    }

    // The overlays drawn: the live tracker's state, completed with the older history's where it holds nothing.
    function overlayState() {
        const live = chart.overlaysLive;
        const older = chart.overlaysHistorical;
        if (!older) { return live; }
        if (!live) { return older; }
        return kit().overlays.mergeHistorical(live, older, liveStart(live));
    }

    // The time from which the live tracker's objects are authoritative: its earliest swing (it keeps the last
    // ones only), else its earliest object of any kind.
    function liveStart(live) {
        let start = Infinity;
        (live.pivot_points || []).forEach(function (p) { if (p.time < start) { start = p.time; } });
        if (start === Infinity) {
            ["fvg_zones", "break_signals"].forEach(function (key) {
                (live[key] || []).forEach(function (o) { if (o.time < start) { start = o.time; } });
            });
        }
        return start === Infinity ? (chart.times.length ? chart.times[chart.times.length - 1] : 0) : start;
    }

    // -- loading -------------------------------------------------------------------------------------------------

    function load() {
        chart.loadToken += 1;
        const token = chart.loadToken;
        chart.ready = false;
        chart.pending = [];
        chart.noOlder = false;
        chart.loadingOlder = null;
        chart.overlaysLive = null; chart.overlaysLiveText = ""; chart.overlaysHistorical = null;
        chart.overlaysFromSocket = false; chart.signals = new Map(); chart.overlaysDirty = true;
        chart.feedStatus = null;
        chart.historyError = null;
        clearTimeout(chart.historyRetryTimer);
        setStageState("loading");
        subscribe();
        fetchLiveOverlays(token);
        fetchSignals(token);
        stats.marks.historyAsked = stats.marks.historyAsked || performance.now();
        firstCandles().then(function (candles) {
            if (token !== chart.loadToken) { return; }
            stats.marks.historyReady = stats.marks.historyReady || performance.now();
            chart.historyAttempt = 0;
            setCandles(candles);
            chart.ready = true;
            const pending = chart.pending;
            chart.pending = [];
            applyMessages(pending);
            fetchHistoricalOverlays(token);
            const at = chart.openAt;
            chart.openAt = null;
            if (at) { return centreOn(at); }
            requestDraw();
            return null;
        }).catch(function (err) {
            if (token !== chart.loadToken) { return; }
            console.warn("tickstream chart: history failed", err);
            historyFailed(err, token);
        });
    }

    function historyFailed(err, token) {
        const delay = HISTORY_RETRY_MS[Math.min(chart.historyAttempt, HISTORY_RETRY_MS.length - 1)];
        chart.historyAttempt += 1;
        chart.historyError = { message: err.status === 404 ? "no data for " + chart.symbol : "source unavailable",
                               retryAt: Date.now() + delay };
        setStageState("error");
        chart.historyRetryTimer = setTimeout(function () {
            if (token === chart.loadToken) { load(); }
        }, delay);
    }

    function loadOlder() {
        if (chart.loadingOlder) { return chart.loadingOlder; }
        if (chart.noOlder || !chart.times.length || chart.times.length >= MAX_LOADED) {
            return Promise.resolve(0);
        }
        const token = chart.loadToken;
        chart.loadingOlder = fetchCandles(OLDER_PAGE, chart.times[0]).then(function (older) {
            if (token !== chart.loadToken) { return 0; }
            const added = prependCandles(older);
            if (!added) { chart.noOlder = true; }
            stats.olderPages += 1;
            fetchHistoricalOverlays(token);
            requestDraw();
            return added;
        }).catch(function (err) {
            console.warn("tickstream chart: older history failed", err);
            return 0;
        }).then(function (added) {
            chart.loadingOlder = null;
            return added;
        });
        return chart.loadingOlder;
    }

    // Older pages until at least `count` candles are held (or there are no more); for tests and benchmarks.
    function ensureCandles(count) {
        if (!chart.ready || chart.times.length >= count || chart.noOlder) {
            return chart.ready ? Promise.resolve(chart.times.length) : waitReady().then(function () {
                return ensureCandles(count);
            });
        }
        return loadOlder().then(function () { return ensureCandles(count); });
    }

    function waitReady() {
        return new Promise(function (resolve) {
            (function poll() { if (chart.ready) { resolve(); } else { setTimeout(poll, 50); } })();
        });
    }

    function atParameter() {
        const at = Number(new URLSearchParams(window.location.search).get("at"));
        return isFinite(at) && at > 0 ? at : null;
    }

    // Open centred on the candle at (or before) Unix time `at`, loading older history as far as needed.
    function centreOn(at) {
        const token = chart.loadToken;
        function step() {
            if (token !== chart.loadToken) { return null; }
            if (chart.times.length && chart.times[0] > at && !chart.noOlder) {
                return loadOlder().then(step);
            }
            const half = chart.view.span * chart.seconds / 2;
            chart.view = { follow: false, span: chart.view.span, from: at - half, to: at + half };
            chart.yManual = false;
            requestMainDraw();
            return null;
        }
        return step();
    }

    // -- socket --------------------------------------------------------------------------------------------------

    function subscriptionsFor(symbol, timeframe) {
        return [["candles", { symbol: symbol, timeframe: timeframe }], ["market_data", { symbol: symbol }],
                ["signals", { symbol: symbol }]];
    }

    function subscribe() {
        const s = socket();
        const wanted = subscriptionsFor(chart.symbol, chart.timeframe);
        const key = chart.symbol + "|" + chart.timeframe;
        if (chart.subscribed && chart.subscribed.key === key) { return; }
        if (chart.subscribed) {
            chart.subscribed.list.forEach(function (sub) { s.unsubscribe(sub[0], sub[1]); });
        }
        wanted.forEach(function (sub) { s.subscribe(sub[0], sub[1]); });
        chart.subscribed = { key: key, list: wanted };
    }

    function unsubscribeAll() {
        const s = socket();
        if (chart.subscribed && s) {
            chart.subscribed.list.forEach(function (sub) { s.unsubscribe(sub[0], sub[1]); });
        }
        chart.subscribed = null;
    }

    function onMessage(msg) {
        if (!chart.mounted) { return; }
        stats.messages += 1;
        if (!chart.ready) {
            chart.pending.push(msg);
            return;
        }
        applyMessages([msg]);
    }

    function applyMessages(messages) {
        let hole = false;
        let changed = false;
        messages.forEach(function (msg) {
            const data = msg.data || {};
            if (data.symbol !== chart.symbol) { return; }
            if ((msg.type === MSG.candleUpdate || msg.type === MSG.fullUpdate) && data.candle &&
                    data.timeframe === chart.timeframe) {
                hole = mergeCandle(data.candle) || hole;
                changed = true;
                stats.applied += 1;
                stats.lastCandleTime = chart.times[chart.times.length - 1];
                stats.lastClose = chart.closes[chart.closes.length - 1];
                if (msg.timestamp && !data.snapshot) { chart.unrendered.push(Date.parse(msg.timestamp)); }
                if (msg.type === MSG.fullUpdate && data.signals) {
                    chart.overlaysFromSocket = true;
                    setLiveOverlays(data.signals);
                }
            } else if (msg.type === MSG.signal) {
                if (addSignals([kit().overlays.signalFromSocket(data, chart.seconds)])) {
                    stats.signals += 1;
                    changed = true;
                }
            } else if (msg.type === MSG.marketData) {
                chart.lastQuote = data;
                noteSource(data.source, null);
                showChange(data);
            } else if (msg.type === MSG.status) {
                chart.feedStatus = data.state === "live" ? null : data;
                if (data.state === "live") { chart.stale = false; }
                if (data.state === "stale") { chart.stale = true; }
                showSource();
                showStageState();
            }
        });
        if (changed) { requestDraw(); }
        if (hole) { resync(); }
    }

    // Candles missed while disconnected or dropped: the last few re-read and merged; signals re-read.
    function resync() {
        if (!chart.ready) { return; }
        stats.resyncs += 1;
        const token = chart.loadToken;
        fetchCandles(RESYNC_TAIL, null).then(function (candles) {
            if (token !== chart.loadToken) { return; }
            let hole = false;
            candles.forEach(function (c) { hole = mergeCandle(c) || hole; });
            if (hole) {
                // A longer outage: re-read from the last candle held before it.
                return fetchCandles(5000, null).then(function (more) {
                    if (token === chart.loadToken) { more.forEach(function (c) { mergeCandle(c); }); }
                });
            }
            return null;
        }).then(requestDraw).catch(function (err) { console.warn("tickstream chart: resync failed", err); });
        fetchSignals(token);
    }

    function onSocketStatus(info) {
        chart.socketState = info.state;
        chart.retryAt = info.retryAt;
        const node = el(IDS.status);
        if (node) {
            const labels = { idle: "connecting", connecting: "connecting", connected: "live",
                             reconnecting: "reconnecting", offline: "offline" };
            node.textContent = labels[info.state] || info.state;
            node.className = "conn-status conn-" + (info.state === "idle" ? "connecting" : info.state);
        }
        showStageState();
    }

    // -- header --------------------------------------------------------------------------------------------------

    function noteSource(source, stale) {
        if (source) { chart.source = source; }
        if (stale === true || stale === false) { chart.stale = stale; }
        showSource();
    }

    function showSource() {
        const node = el(IDS.source);
        if (!node || !chart.config) { return; }
        let label = chart.config.sourceLabel;
        if (chart.source && chart.config.feed !== "replay") {
            label = SOURCE_NAMES[chart.source] || String(chart.source);
        }
        const stale = chart.stale || (chart.feedStatus && chart.feedStatus.state === "stale");
        const text = stale ? "STALE · " + label : label;
        if (node.textContent !== text) { node.textContent = text; }
        const cls = "source-badge" + (stale ? " source-stale" : chart.config.feed === "sim" ? " source-sim" : "");
        if (node.className !== cls) { node.className = cls; }
    }

    function showChange(data) {
        const node = el(IDS.change);
        if (!node || data.change_percent === null || data.change_percent === undefined) { return; }
        const pct = Number(data.change_percent);
        const text = fmt().percent(pct);
        if (node.textContent !== text) { node.textContent = text; }
        const cls = "chart-change " + (pct >= 0 ? "up" : "down");
        if (node.className !== cls) { node.className = cls; }
    }

    function showPrice() {
        const n = chart.closes.length;
        if (!n) { return; }
        const close = chart.closes[n - 1];
        setText(IDS.price, price(close));
        const now = Date.now();
        if (now - chart.lastTitleAt > 1000 && !chart.config.embed) {
            chart.lastTitleAt = now;
            const pct = chart.lastQuote && isFinite(chart.lastQuote.change_percent) ? Number(chart.lastQuote.change_percent) : null;
            document.title = chart.symbol + " " + price(close) +
                (pct === null ? "" : " " + (pct >= 0 ? "▲" : "▼") + Math.abs(pct).toFixed(2) + "%") + " · Tickstream";
        }
    }

    function showReadout() {
        const root = el(IDS.readout);
        const n = chart.times.length;
        if (!root || !n) { return; }
        const i = chart.hoverIndex !== null && chart.hoverIndex < n ? chart.hoverIndex : n - 1;
        const values = {
            time: fmt().time(chart.times[i], { timeZone: chart.timeZone, timeframe: chart.timeframe }),
            open: price(chart.opens[i]), high: price(chart.highs[i]), low: price(chart.lows[i]),
            close: price(chart.closes[i]), volume: fmt().volume(chart.volumes[i]),
        };
        root.querySelectorAll("[data-field]").forEach(function (node) {
            const text = values[node.getAttribute("data-field")];
            if (text !== undefined && node.textContent !== text) { node.textContent = text; }
        });
        root.className = "chart-readout " + (chart.closes[i] >= chart.opens[i] ? "up" : "down");
    }

    function showCountdown() {
        if (!chart.mounted) { return; }
        const n = chart.times.length;
        if (!n) { setText(IDS.countdown, ""); return; }
        const left = Math.max(0, Math.round(chart.times[n - 1] + chart.seconds - Date.now() / 1000));
        setText(IDS.countdown, "closes in " + fmt().countdown(left));
    }

    // -- stage: loading, error, stalled, offline ------------------------------------------------------------------

    function setStageState(state) {
        chart.stageBase = state;
        showStageState();
    }

    function showStageState() {
        const stage = el(IDS.stage);
        const notice = el(IDS.notice);
        if (!stage || !notice) { return; }
        let message = null;
        let dim = false;
        const now = Date.now();
        if (chart.stageBase === "error" && chart.historyError) {
            const wait = Math.max(0, Math.ceil((chart.historyError.retryAt - now) / 1000));
            message = chart.historyError.message + " — retrying in " + wait + " s";
        } else if (chart.socketState === "reconnecting" || chart.socketState === "offline") {
            const wait = chart.retryAt ? Math.max(0, Math.ceil((chart.retryAt - now) / 1000)) : 0;
            message = (chart.socketState === "offline" ? "Offline" : "Connection lost") +
                " — reconnecting in " + wait + " s";
            dim = true;
        } else if (chart.feedStatus && chart.feedStatus.state !== "live") {
            const names = { stale: "Serving cached data", no_data: "No data yet", stalled: "Feed stalled" };
            const since = chart.feedStatus.since ? Date.parse(chart.feedStatus.since) / 1000 : null;
            message = (names[chart.feedStatus.state] || chart.feedStatus.state) +
                (since ? " since " + fmt().time(since, { timeZone: chart.timeZone, timeframe: "1m" }) : "") +
                (chart.feedStatus.reason ? " — " + chart.feedStatus.reason : "");
            dim = chart.feedStatus.state !== "stale";
        }
        const loading = chart.stageBase === "loading" || (chart.stageBase === "error" && !chart.times.length);
        const cls = "chart-stage" + (loading ? " chart-loading" : "") + (dim ? " chart-dimmed" : "") +
            (chart.stageBase === "error" ? " chart-error" : "");
        if (stage.className !== cls) { stage.className = cls; }
        notice.hidden = message === null;
        if (message !== null) {
            const text = notice.querySelector(".chart-notice-text");
            if (text && text.textContent !== message) { text.textContent = message; }
        }
    }

    function retryNow() {
        if (chart.stageBase === "error") {
            load();
        } else if (chart.socketState === "reconnecting" || chart.socketState === "offline") {
            socket().retryNow();
        } else {
            // A stalled feed: re-read what the server holds now and resubscribe.
            const s = socket();
            unsubscribeAll();
            s.retryNow();
            load();
        }
    }

    // -- drawing -------------------------------------------------------------------------------------------------

    // Redraw the main figure too (not only the live layer) at the next frame.
    function requestMainDraw() {
        chart.mainDirty = true;
        requestDraw();
    }

    function requestDraw() {
        if (chart.frameRequested || !chart.mounted) { return; }
        chart.frameRequested = true;
        window.requestAnimationFrame(draw);
    }

    // The window of candles given to Plotly for the current view, re-sliced only when the view nears its edges.
    function currentView() {
        const n = chart.times.length;
        if (chart.view.follow || chart.view.from === null) {
            const last = chart.times[n - 1];
            const to = last + RIGHT_PAD * chart.seconds;
            return { from: to - chart.view.span * chart.seconds, to: to };
        }
        return { from: chart.view.from, to: chart.view.to };
    }

    // One frame's drawing: the main figure when something but the forming candle changed (a candle closed, the
    // view, the overlays, an axis range that no longer holds the forming candle), then the live layer, which
    // holds what every tick changes (assets/chart_live_layer.js).
    function draw() {
        chart.frameRequested = false;
        const gd = graphDiv();
        if (!gd || !chart.ready || !window.Plotly || !gd._fullLayout) {
            if (chart.ready && chart.mounted) { setTimeout(requestDraw, 50); }
            return;
        }
        stats.marks.graphReady = stats.marks.graphReady || performance.now();
        if (chart.drawing) {
            chart.redrawAfter = true;
            return;
        }
        if (!chart.times.length) {
            setStageState("empty");
            showEmpty(gd);
            return;
        }
        const began = performance.now();
        const view = currentView();
        const win = kit().chartWindow;
        if (!chart.slice || chart.view.follow || win.needsReslice(chart.slice, view, chart.times)) {
            const slice = win.slice(chart.times, view, { max: MAX_PLOTTED, initial: chart.view.span });
            if (!chart.slice || slice.start !== chart.slice.start || slice.end !== chart.slice.end) {
                chart.mainDirty = true;
            }
            chart.slice = { start: slice.start, end: slice.end };
            offerCoarser(slice);
        }
        if (chart.overlaysDirty) { chart.mainDirty = true; }
        const needed = neededRanges(view);
        if (!chart.ranges || !covers(chart.ranges, needed)) {
            chart.mainDirty = true;
        }
        const latencies = chart.unrendered;
        chart.unrendered = [];
        chart.drawing = true;
        let main = null;
        if (chart.mainDirty) {
            chart.mainDirty = false;
            chart.ranges = padRanges(needed);
            const mainBegan = performance.now();
            main = Promise.resolve(drawMain(gd, view)).then(function () {
                stats.mainMs.push(performance.now() - mainBegan);
                if (stats.mainMs.length > 100) { stats.mainMs.shift(); }
            });
        }
        Promise.resolve(main).then(function () {
            drawLive(gd);
            stats.redraws += 1;
            stats.drawMs.push(performance.now() - began);
            if (stats.drawMs.length > 200) { stats.drawMs.shift(); }
            if (stats.firstCandleMs === null) {
                stats.firstCandleMs = performance.now();
            }
            if (chart.stageBase !== "ready" && chart.stageBase !== "error") { setStageState("ready"); }
            // The frame after this one is painted with the new figure.
            window.requestAnimationFrame(function () {
                const now = Date.now();
                latencies.forEach(function (sent) { stats.latencies.push(now - sent); });
                if (stats.latencies.length > LATENCY_SAMPLES) {
                    stats.latencies.splice(0, stats.latencies.length - LATENCY_SAMPLES);
                }
            });
        }).catch(function (err) {
            console.error("tickstream chart: redraw failed", err, err && err.stack);
        }).then(function () {
            chart.drawing = false;
            if (chart.redrawAfter) {
                chart.redrawAfter = false;
                requestDraw();
            }
        });
        showPrice();
        showReadout();
    }

    // The main figure: every candle of the window but the forming one, the overlays, the indicator panes.
    function drawMain(gd, view) {
        const n = chart.times.length;
        const start = chart.slice.start;
        const end = chart.slice.end;
        const closedEnd = Math.min(end, n - 1);
        const colors = themeColors();
        ensureTraces(gd, colors);
        const xs = chart.xs.slice(start, closedEnd);
        const candles = chart.traces.price;
        candles.x = xs; candles.open = chart.opens.slice(start, closedEnd);
        candles.high = chart.highs.slice(start, closedEnd); candles.low = chart.lows.slice(start, closedEnd);
        candles.close = chart.closes.slice(start, closedEnd);
        const volume = chart.traces.volume;
        volume.x = xs; volume.y = chart.volumes.slice(start, closedEnd);
        const barColors = new Array(Math.max(0, closedEnd - start));
        for (let i = start; i < closedEnd; i += 1) {
            barColors[i - start] = chart.closes[i] >= chart.opens[i] ? colors.up : colors.down;
        }
        volume.marker = Object.assign({}, volume.marker, { color: barColors });
        updateOverlayTraces(gd, start, end);
        updateIndicatorTraces(gd, start, closedEnd, xs);
        applyAxes(gd.layout, view);
        gd.layout.annotations = [];
        gd.layout.datarevision = (gd.layout.datarevision || 0) + 1;
        stats.plotted = end - start;
        stats.mainRedraws = (stats.mainRedraws || 0) + 1;
        // Only the traces shown: Plotly works through every trace it is given, shown or not.
        const shown = chart.traces.ordered.filter(function (trace) { return trace.visible !== false; });
        return window.Plotly.react(gd, shown, gd.layout);
    }

    // The live layer over the main figure, on the main figure's own axes as it last drew them.
    function drawLive(gd) {
        const layer = el(IDS.liveLayer);
        const full = gd._fullLayout;
        if (!layer || !full || !full.xaxis || !full.yaxis || !full.xaxis.d2p) { return; }
        const n = chart.times.length;
        const xa = full.xaxis;
        function mapper(axis) {
            if (!axis || axis.visible === false || !axis.d2p) { return null; }
            return function (v) { return axis._offset + axis.d2p(v); };
        }
        const period = chart.seconds * 1000;
        const pxPerMs = xa._length / Math.max(1, xa.r2l(xa.range[1]) - xa.r2l(xa.range[0]));
        const axes = {
            x: mapper(xa), y: mapper(full.yaxis), y2: mapper(full.yaxis2), y3: mapper(full.yaxis3),
            y4: mapper(full.yaxis4), plot: { left: xa._offset, right: xa._offset + xa._length },
            bodyHalf: candleHalfWidth(gd) * pxPerMs, barHalf: period * (1 - (full.bargap || 0.2)) / 2 * pxPerMs,
        };
        const styles = {};
        if (chart.traces) {
            Object.keys(chart.traces.byUid).forEach(function (uid) {
                const line = chart.traces.byUid[uid].line;
                if (line) { styles[uid] = line; }
            });
        }
        const palette = kit().overlays.PALETTES[chart.theme] || kit().overlays.PALETTES.dark;
        const colors = themeColors();
        const i = n - 1;
        const scene = kit().liveLayer.scene({
            x: chart.xs[i], prevX: i > 0 ? chart.xs[i - 1] : null, open: chart.opens[i], high: chart.highs[i],
            low: chart.lows[i], close: chart.closes[i], volume: chart.volumes[i], colors: colors,
            series: chart.book.series(), index: i, shown: chart.shown, lineStyles: styles,
            histColors: { up: palette.histUp, down: palette.histDown },
        }, axes);
        kit().liveLayer.render(layer, scene, price(chart.closes[i]), xa._offset + xa._length + 1);
        stats.liveRedraws = (stats.liveRedraws || 0) + 1;
    }

    // Half the body width of a candle in milliseconds, as Plotly drew the figure's candles.
    function candleHalfWidth(gd) {
        const cd = (gd.calcdata || []).find(function (c) { return c && c[0] && c[0].trace && c[0].trace.uid === "price"; });
        const t = cd && cd[0] && cd[0].t;
        return t && isFinite(t.bdPos) && t.bdPos > 0 ? t.bdPos : chart.seconds * 1000 * 0.245;
    }

    // The axis ranges the candles in view need (the forming candle included): price, volume and MACD.
    function neededRanges(view) {
        const times = chart.times;
        let i = searchTime(Math.ceil(view.from));
        if (i < 0) { i = -i - 1; }
        let low = Infinity, high = -Infinity, volume = 0, macdLow = Infinity, macdHigh = -Infinity;
        const series = chart.shown.has("macd") ? chart.book.series() : null;
        for (; i < times.length && times[i] <= view.to; i += 1) {
            if (chart.lows[i] < low) { low = chart.lows[i]; }
            if (chart.highs[i] > high) { high = chart.highs[i]; }
            if (chart.volumes[i] > volume) { volume = chart.volumes[i]; }
            if (series) {
                [series.macdLine[i], series.macdSignal[i], series.macdHist[i]].forEach(function (v) {
                    if (v !== null && v < macdLow) { macdLow = v; }
                    if (v !== null && v > macdHigh) { macdHigh = v; }
                });
            }
        }
        return { low: low, high: high, volume: volume, macdLow: macdLow, macdHigh: macdHigh };
    }

    function padRanges(r) {
        const room = Math.max((r.high - r.low) * 0.08, Math.abs(r.high) * 1e-4);
        const macdRoom = Math.max((r.macdHigh - r.macdLow) * 0.1, 1e-9);
        return { low: r.low - room, high: r.high + room, volume: r.volume * 1.15 || 1,
                 macdLow: r.macdLow - macdRoom, macdHigh: r.macdHigh + macdRoom, tight: r };
    }

    // Whether the ranges drawn still hold what the view needs (a forming candle may outgrow them).
    function covers(drawn, needed) {
        if (!(needed.high >= needed.low)) { return true; }
        const priceOk = chart.yManual || (needed.low >= drawn.low && needed.high <= drawn.high);
        const macdOk = !chart.shown.has("macd") || !(needed.macdHigh >= needed.macdLow) ||
            (needed.macdLow >= drawn.macdLow && needed.macdHigh <= drawn.macdHigh);
        return priceOk && needed.volume <= drawn.volume && macdOk;
    }

    function showEmpty(gd) {
        const notice = el(IDS.notice);
        if (notice) {
            notice.hidden = false;
            const text = notice.querySelector(".chart-notice-text");
            if (text) { text.textContent = "No candles for " + chart.symbol + " on " + chart.timeframe + " yet"; }
        }
    }

    function offerCoarser(slice) {
        const button = el(IDS.coarser);
        if (!button) { return; }
        const next = slice.tooMany ? kit().chartWindow.coarser(chart.timeframe, slice.visible, MAX_PLOTTED) : null;
        chart.coarserOffer = next;
        button.hidden = !next;
        if (next) {
            button.textContent = "Zoomed out past " + MAX_PLOTTED.toLocaleString("en-US") + " candles · switch to " + next;
        }
    }

    // The figure's traces: the overlay templates drawn below the candles (zones, bands), the price and volume
    // traces, the other overlay and indicator templates, and the last-price line. Rebuilt for a new theme.
    function ensureTraces(gd, colors) {
        if (chart.traces && chart.tracesTheme === chart.theme && gd.data.indexOf(chart.traces.price) >= 0) { return; }
        const templates = kit().overlays.traceTemplates(chart.theme, Array.from(chart.shown));
        const byUid = {};
        gd.data.forEach(function (trace) { byUid[trace.uid] = trace; });
        const priceTrace = byUid.price || gd.data[0];
        const volumeTrace = byUid.volume || gd.data[1];
        priceTrace.increasing = { line: { color: colors.up, width: 1 }, fillcolor: colors.up };
        priceTrace.decreasing = { line: { color: colors.down, width: 1 }, fillcolor: colors.down };
        const below = templates.filter(function (t) { return t.meta.layer === "below"; });
        const above = templates.filter(function (t) { return t.meta.layer !== "below"; });
        const ordered = below.concat([priceTrace, volumeTrace], above);
        gd.data = ordered.slice();
        chart.traces = { price: priceTrace, volume: volumeTrace, byUid: {}, ordered: ordered };
        ordered.forEach(function (trace) { chart.traces.byUid[trace.uid] = trace; });
        chart.tracesTheme = chart.theme;
        chart.builtKey = "";
        applyTheme(gd.layout, colors);
    }

    function updateOverlayTraces(gd, start, end) {
        const overlays = kit().overlays;
        const n = chart.times.length;
        // Rebuilt when the objects, the window or the newest candle's time change, not for a forming-candle tick.
        const key = start + ":" + end + ":" + chart.times[start] + ":" + chart.times[n - 1] + ":" + chart.timeZone;
        if (chart.overlaysDirty || key !== chart.builtKey) {
            chart.built = overlays.build(overlayState(), Array.from(chart.signals.values()),
                                         { times: chart.times, highs: chart.highs, lows: chart.lows, seconds: chart.seconds },
                                         { start: start, end: end }, { toX: toX, format: price, theme: chart.theme });
            chart.builtKey = key;
            chart.overlaysDirty = false;
            stats.overlayBuilds += 1;
            Object.keys(chart.built.traces).forEach(function (uid) {
                const trace = chart.traces.byUid[uid];
                if (trace) { Object.assign(trace, chart.built.traces[uid]); }
            });
        }
        chart.traces.ordered.forEach(function (trace) {
            const kind = trace.meta && trace.meta.overlay;
            if (kind) {
                const visible = chart.shown.has(kind);
                if (trace.visible !== visible) { trace.visible = visible; }
            }
        });
    }

    function updateIndicatorTraces(gd, start, end, xs) {
        if (!(chart.shown.has("ema") || chart.shown.has("bollinger") || chart.shown.has("rsi") || chart.shown.has("macd"))) {
            return;
        }
        const traces = kit().overlays.indicatorTraces(chart.book, { start: start, end: end }, xs, chart.theme);
        Object.keys(traces).forEach(function (uid) {
            const trace = chart.traces.byUid[uid];
            if (trace) { Object.assign(trace, traces[uid]); }
        });
    }

    function fontSize() {
        const width = window.innerWidth || 1280;
        return width >= 3000 ? 18 : width >= 2000 ? 14 : width <= 480 ? 10 : 11;
    }

    function applyAxes(layout, view) {
        const domains = paneDomains(chart.shown);
        layout.yaxis.domain = domains.yaxis;
        layout.yaxis2.domain = domains.yaxis2;
        layout.yaxis3.domain = domains.yaxis3;
        layout.yaxis4.domain = domains.yaxis4;
        layout.yaxis3.visible = chart.shown.has("rsi");
        layout.yaxis4.visible = chart.shown.has("macd");
        layout.yaxis.type = chart.log ? "log" : "linear";
        layout.yaxis.tickformat = fmt().d3Format(chart.precision);
        layout.yaxis.hoverformat = fmt().d3Format(chart.precision);
        layout.font = Object.assign({}, layout.font, { size: fontSize() });
        layout.margin = { l: 8, r: fontSize() * 7, t: 8, b: fontSize() * 2.6 };
        if (chart.view.follow) {
            layout.xaxis.range = [toX(view.from), toX(view.to)];
            layout.xaxis.autorange = false;
        }
        const r = chart.ranges;
        if (!chart.yManual && r && r.high >= r.low) {
            layout.yaxis.autorange = false;
            layout.yaxis.range = chart.log && r.low > 0
                ? logRange(r.tight.low, r.tight.high) : [r.low, r.high];
        }
        if (r) {
            layout.yaxis2.autorange = false;
            layout.yaxis2.range = [0, r.volume];
            if (r.macdHigh >= r.macdLow) {
                layout.yaxis4.autorange = false;
                layout.yaxis4.range = [r.macdLow, r.macdHigh];
            }
        }
    }

    function logRange(low, high) {
        const lo = Math.log10(low), hi = Math.log10(high);
        const room = Math.max((hi - lo) * 0.08, 1e-5);
        return [lo - room, hi + room];
    }

    function applyTheme(layout, colors) {
        layout.paper_bgcolor = colors.background;
        layout.plot_bgcolor = "rgba(0,0,0,0)";
        layout.font = Object.assign({}, layout.font, { color: colors.text });
        ["xaxis", "yaxis", "yaxis2", "yaxis3", "yaxis4"].forEach(function (name) {
            const axis = layout[name];
            if (!axis) { return; }
            axis.gridcolor = colors.grid;
            axis.linecolor = colors.grid;
            axis.color = colors.muted;
            axis.tickfont = Object.assign({}, axis.tickfont, { color: colors.muted });
            if (axis.showspikes) { axis.spikecolor = colors.muted; }
        });
    }

    // -- user input: pan/zoom, hover, toolbar, keyboard, navigation --------------------------------------------

    // While the user drags, the main figure moves on its own; the live layer is hidden until the drag ends.
    function onRelayouting() {
        const layer = el(IDS.liveLayer);
        if (layer && !layer.classList.contains("chart-live-hidden")) { layer.classList.add("chart-live-hidden"); }
    }

    function onRelayout(event) {
        const layer = el(IDS.liveLayer);
        if (layer) { layer.classList.remove("chart-live-hidden"); }
        if (!event || !chart.ready || !chart.times.length) { return; }
        if (event["xaxis.autorange"] || event.autosize || event.width || event.height) {
            if (event["xaxis.autorange"]) {
                chart.view = { follow: true, span: defaultSpan(), from: null, to: null };
                chart.yManual = false;
                requestMainDraw();
            } else {
                requestMainDraw();  // the window resized: both layers take the new size
            }
            return;
        }
        if (event["yaxis.autorange"]) {
            chart.yManual = false;
            requestMainDraw();
        }
        const r0 = event["xaxis.range[0]"] || (event["xaxis.range"] && event["xaxis.range"][0]);
        const r1 = event["xaxis.range[1]"] || (event["xaxis.range"] && event["xaxis.range"][1]);
        if (!r0 || !r1) {
            if (event["yaxis.range[0]"] !== undefined) { chart.yManual = true; }
            requestDraw();
            return;
        }
        const from = fmt().fromPlotX(String(r0), plotZone());
        const to = fmt().fromPlotX(String(r1), plotZone());
        const last = chart.times[chart.times.length - 1];
        const span = Math.max(5, Math.round((to - from) / chart.seconds));
        // Back at the right edge: follow the newest candle again, keeping the width the user chose.
        chart.view = to >= last + chart.seconds ? { follow: true, span: span, from: null, to: null }
            : { follow: false, span: span, from: from, to: to };
        if (from < chart.times[0] + span * chart.seconds / 2) { loadOlder(); }
        requestMainDraw();
    }

    function onHover(event) {
        const point = event && event.points && event.points[0];
        if (!point || !chart.slice) { return; }
        chart.hoverIndex = chart.slice.start + point.pointIndex;
        if (point.data && point.data.uid !== "price" && point.data.uid !== "volume") {
            const i = searchTime(fmt().fromPlotX(String(point.x), plotZone()));
            chart.hoverIndex = i >= 0 ? i : null;
        }
        showReadout();
    }

    function onUnhover() {
        chart.hoverIndex = null;
        showReadout();
    }

    // A click (not a drag) on the price pane tells the order ticket the price under the pointer.
    function onPointerDown(event) {
        chart.pointerDown = { x: event.clientX, y: event.clientY };
    }

    function onPointerUp(event) {
        const down = chart.pointerDown;
        chart.pointerDown = null;
        const gd = graphDiv();
        if (!down || !gd || !gd._fullLayout || Math.abs(event.clientX - down.x) > 3 ||
                Math.abs(event.clientY - down.y) > 3) { return; }
        const ya = gd._fullLayout.yaxis;
        const box = gd.getBoundingClientRect();
        const y = event.clientY - box.top - ya._offset;
        if (y < 0 || y > ya._length) { return; }
        const at = ya.p2d(y);
        if (!isFinite(at)) { return; }
        window.dispatchEvent(new CustomEvent("tickstream:price-click", { detail: {
            price: at, symbol: chart.symbol, precision: chart.precision, tickSize: chart.config.tickSize,
            last: chart.closes[chart.closes.length - 1] } }));
    }

    function bindGraph() {
        const gd = graphDiv();
        if (!gd || !gd.on || chart.boundGraph === gd) { return; }
        gd.addEventListener("pointerdown", onPointerDown, true);
        // Plotly lays a cover over the page while a button is down: the release reaches the window, not the graph.
        if (!chart.pointerUpBound) {
            window.addEventListener("pointerup", onPointerUp, true);
            chart.pointerUpBound = true;
        }
        gd.on("plotly_relayout", onRelayout);
        gd.on("plotly_relayouting", onRelayouting);
        gd.on("plotly_hover", onHover);
        gd.on("plotly_unhover", onUnhover);
        chart.boundGraph = gd;
    }

    function showToolbar() {
        document.querySelectorAll("#" + IDS.timeframes + " [data-tf]").forEach(function (button) {
            const on = String(button.getAttribute("data-tf") === chart.timeframe);
            if (button.getAttribute("aria-pressed") !== on) { button.setAttribute("aria-pressed", on); }
        });
        document.querySelectorAll("#" + IDS.overlays + " [data-overlay]").forEach(function (button) {
            const on = String(chart.shown.has(button.getAttribute("data-overlay")));
            if (button.getAttribute("aria-pressed") !== on) { button.setAttribute("aria-pressed", on); }
        });
        document.querySelectorAll("[data-action=log]").forEach(function (b) { b.setAttribute("aria-pressed", String(chart.log)); });
        document.querySelectorAll("[data-action=utc]").forEach(function (b) {
            b.setAttribute("aria-pressed", String(chart.utc));
            b.textContent = chart.utc ? "UTC" : fmt().zoneLabel(chart.timeZone, Date.now() / 1000);
            b.title = chart.utc ? "Times in UTC (click for your time zone)" : "Times in " + chart.timeZone + " (click for UTC)";
        });
        setText(IDS.symbol, chart.symbol);
    }

    function onClick(event) {
        if (!chart.mounted) { return; }
        const target = event.target.closest ? event.target.closest("button") : null;
        if (!target || !el(IDS.root) || !el(IDS.root).contains(target)) { return; }
        if (target.hasAttribute("data-tf")) {
            setTimeframe(target.getAttribute("data-tf"));
        } else if (target.hasAttribute("data-overlay")) {
            toggleOverlay(target.getAttribute("data-overlay"));
        } else if (target.getAttribute("data-action") === "log") {
            chart.log = !chart.log;
            store(STORE.log, chart.log ? "1" : "0");
            showToolbar();
            requestMainDraw();
        } else if (target.getAttribute("data-action") === "utc") {
            setUtc(!chart.utc);
        } else if (target.id === IDS.retry) {
            retryNow();
        } else if (target.id === IDS.coarser && chart.coarserOffer) {
            chart.view = { follow: true, span: defaultSpan(), from: null, to: null };
            setTimeframe(chart.coarserOffer);
        }
    }

    function toggleOverlay(name) {
        if (chart.shown.has(name)) { chart.shown.delete(name); } else { chart.shown.add(name); }
        store(STORE.overlays, Array.from(chart.shown).join(","));
        const url = new URL(window.location.href);
        if (url.searchParams.has("overlays")) {
            url.searchParams.set("overlays", Array.from(chart.shown).join(","));
            window.history.replaceState(window.history.state, "", url.pathname + url.search);
        }
        showToolbar();
        requestMainDraw();
    }

    function setUtc(utc) {
        chart.utc = utc;
        store(STORE.utc, utc ? "1" : "0");
        chart.timeZone = utc ? "UTC" : localZone();
        chart.xs = chart.times.map(toX);
        chart.builtKey = "";
        if (!chart.view.follow) {
            // The view stays on the same instants; only their labels move.
            const gd = graphDiv();
            if (gd && gd.layout.xaxis) { gd.layout.xaxis.range = [toX(chart.view.from), toX(chart.view.to)]; }
        }
        showToolbar();
        showReadout();
        requestMainDraw();
    }

    function onKey(event) {
        if (!chart.mounted || event.ctrlKey || event.metaKey || event.altKey) { return; }
        const target = event.target;
        const typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" ||
                                  target.tagName === "SELECT" || target.isContentEditable);
        if (typing) { return; }
        const n = Number(event.key);
        const timeframes = chart.config.timeframes || Object.keys(SECONDS);
        if (n >= 1 && n <= timeframes.length && !chart.config.embed) {
            event.preventDefault();
            setTimeframe(timeframes[n - 1]);
        }
    }

    function chartPath(symbol) {
        const prefix = chart.config.embed ? "/embed/chart/" : "/chart/";
        return prefix + encodeURIComponent(symbol);
    }

    function pushUrl(replace) {
        const url = new URL(window.location.href);
        url.pathname = chartPath(chart.symbol);
        url.searchParams.delete("timeframe");
        url.searchParams.set("tf", chart.timeframe);
        if (!replace) { url.searchParams.delete("at"); }
        const target = url.pathname + url.search;
        if (target === window.location.pathname + window.location.search) { return; }
        const state = { tickstreamChart: true, symbol: chart.symbol, timeframe: chart.timeframe };
        if (replace || chart.config.embed) {
            window.history.replaceState(state, "", target);
        } else {
            window.history.pushState(state, "", target);
        }
    }

    function setTimeframe(timeframe, fromHistory) {
        if (!SECONDS[timeframe] || timeframe === chart.timeframe) { return; }
        chart.timeframe = timeframe;
        chart.seconds = SECONDS[timeframe];
        chart.view = { follow: true, span: defaultSpan(), from: null, to: null };
        chart.yManual = false;
        if (!fromHistory) { pushUrl(false); }
        showToolbar();
        resetFigureView();
        load();
    }

    // Instrument details (name, precision) of a symbol from the symbol search route; null when unknown.
    function lookup(symbol) {
        return fetchJson(chart.config.apiBase + "/symbols?limit=10&q=" + encodeURIComponent(symbol)).then(function (body) {
            return (body.symbols || []).find(function (s) { return s.symbol === symbol; }) || null;
        });
    }

    function setSymbol(symbol, fromHistory, timeframe) {
        if (!symbol) { return Promise.resolve(false); }
        return lookup(symbol).catch(function () { return null; }).then(function (instrument) {
            if (!instrument && chart.config.feed === "sim") { return false; }
            chart.symbol = symbol;
            chart.config = Object.assign({}, chart.config, {
                symbol: symbol, name: instrument ? instrument.name : "",
                precision: instrument ? instrument.precision : 2,
                tickSize: instrument ? instrument.tick_size : 0.01,
                historyPath: "/api/v1/market-data/" + encodeURIComponent(symbol) + "/history",
                levelsPath: "/api/v1/signals/symbol/" + encodeURIComponent(symbol) + "/levels",
                signalsPath: "/api/v1/signals/symbol/" + encodeURIComponent(symbol),
            });
            chart.precision = chart.config.precision;
            if (timeframe && SECONDS[timeframe]) {
                chart.timeframe = timeframe;
                chart.seconds = SECONDS[timeframe];
            }
            chart.view = { follow: true, span: defaultSpan(), from: null, to: null };
            chart.yManual = false;
            chart.lastQuote = null;
            setText(IDS.name, chart.config.name);
            setText(IDS.price, "—");
            setText(IDS.change, "");
            if (!fromHistory) { pushUrl(false); }
            showToolbar();
            resetFigureView();
            clearCandles();
            load();
            return true;
        });
    }

    function resetFigureView() {
        const gd = graphDiv();
        if (gd && gd.layout && gd.layout.xaxis) {
            gd.layout.uirevision = chart.symbol + "-" + chart.timeframe;
        }
    }

    // Back and forward between chart URLs are handled here, without Dash re-rendering the page.
    function onPopState(event) {
        if (!chart.mounted) { return; }
        const match = /^\/(?:embed\/)?chart\/([^/]+)$/.exec(window.location.pathname);
        if (!match) { return; }
        event.stopImmediatePropagation();
        const params = new URLSearchParams(window.location.search);
        const symbol = decodeURIComponent(match[1]);
        const timeframe = params.get("tf") || params.get("timeframe") || chart.timeframe;
        if (symbol !== chart.symbol) {
            setSymbol(symbol, true, timeframe);
        } else if (timeframe !== chart.timeframe) {
            setTimeframe(timeframe, true);
        }
    }

    function onTheme(event) {
        const theme = event && event.detail && event.detail.theme;
        chart.theme = theme === "light" ? "light" : "dark";
        chart.tracesTheme = null;
        chart.builtKey = "";
        requestMainDraw();
    }

    // -- mounting ------------------------------------------------------------------------------------------------

    function initialOverlays(config) {
        const params = new URLSearchParams(window.location.search);
        const known = new Set(config.overlays || []);
        let names;
        if (params.has("overlays")) {
            names = params.get("overlays").split(",");
        } else {
            const saved = stored(STORE.overlays, null);
            names = saved === null ? config.defaultOverlays : saved.split(",");
        }
        return new Set(names.map(function (s) { return s.trim(); }).filter(function (s) { return known.has(s); }));
    }

    function embedOptions() {
        if (!chart.config.embed) { return; }
        const params = new URLSearchParams(window.location.search);
        const theme = params.get("theme");
        if (theme === "light" || theme === "dark") {
            document.documentElement.setAttribute("data-theme", theme);
        }
        const height = Number(params.get("height"));
        const root = el(IDS.root);
        if (root && height >= 150 && height <= 4000) { root.style.height = height + "px"; }
    }

    function mount(config) {
        stats.marks.mount = stats.marks.mount || performance.now();
        if (!config || !window.tickstream.socket || !window.tickstream.format) { return false; }
        unmount();
        chart.mounted = true;
        chart.config = Object.assign({}, config);
        chart.symbol = config.symbol;
        const params = new URLSearchParams(window.location.search);
        const tf = params.get("tf") || params.get("timeframe") || config.timeframe;
        chart.timeframe = SECONDS[tf] ? tf : config.timeframe;
        chart.seconds = SECONDS[chart.timeframe];
        chart.precision = typeof config.precision === "number" ? config.precision : 2;
        chart.shown = initialOverlays(config);
        chart.utc = stored(STORE.utc, "0") === "1";
        chart.timeZone = chart.utc ? "UTC" : localZone();
        chart.log = stored(STORE.log, "0") === "1";
        embedOptions();
        chart.theme = document.documentElement.getAttribute("data-theme") === "light" ? "light" : "dark";
        chart.view = { follow: true, span: defaultSpan(), from: null, to: null };
        chart.yManual = false;
        chart.tracesTheme = null;
        chart.traces = null;
        chart.boundGraph = null;
        stats.firstCandleMs = null;
        clearCandles();
        const s = socket();
        chart.offs = [
            s.on(MSG.candleUpdate, onMessage), s.on(MSG.fullUpdate, onMessage), s.on(MSG.marketData, onMessage),
            s.on(MSG.signal, onMessage), s.on(MSG.status, onMessage),
            s.onStatus(onSocketStatus), s.onResync(function () { resync(); }),
        ];
        showToolbar();
        showSource();
        chart.openAt = atParameter();
        pushUrl(true);
        load();
        (function bindWhenReady() {
            if (!chart.mounted) { return; }
            if (graphDiv() && graphDiv().on) { bindGraph(); } else { setTimeout(bindWhenReady, 50); }
        })();
        return true;
    }

    function unmount() {
        if (!chart.mounted) { return; }
        chart.mounted = false;
        chart.offs.forEach(function (off) { off(); });
        chart.offs = [];
        unsubscribeAll();
        chart.loadToken += 1;
        clearTimeout(chart.historyRetryTimer);
    }

    // The page left (Dash removed the chart): stop streaming it.
    setInterval(function () {
        if (chart.mounted && !el(IDS.root)) { unmount(); }
        showCountdown();
        if (chart.mounted && (chart.stageBase === "error" || chart.socketState !== "connected")) { showStageState(); }
    }, 1000);

    document.addEventListener("click", onClick);
    document.addEventListener("keydown", onKey);
    window.addEventListener("popstate", onPopState);
    window.addEventListener("tickstream:theme", onTheme);

    window.tickstream = Object.assign(window.tickstream || {}, {
        stats: stats,
        chart: {
            ensureCandles: ensureCandles,
            setSymbol: function (symbol) { return setSymbol(symbol, false); },
            setTimeframe: function (tf) { setTimeframe(tf, false); },
            mounted: function () { return chart.mounted; },
            state: function () {
                return {
                    symbol: chart.symbol, timeframe: chart.timeframe, loaded: chart.times.length,
                    slice: chart.slice, view: chart.view, shown: Array.from(chart.shown), timeZone: chart.timeZone,
                    log: chart.log, theme: chart.theme, ready: chart.ready, socket: chart.socketState,
                    feedStatus: chart.feedStatus, stage: chart.stageBase, source: chart.source, stale: chart.stale,
                    firstTime: chart.times[0], lastTime: chart.times[chart.times.length - 1],
                    counts: chart.built ? chart.built.counts : null, signals: chart.signals.size,
                };
            },
        },
    });

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        tickstream: Object.assign({}, (window.dash_clientside || {}).tickstream, {
            mountChart: function (config) {
                // The layout is in the page once this runs; mount on the next frame so the graph exists.
                window.requestAnimationFrame(function () { mount(config); });
                return { symbol: config && config.symbol, at: Date.now() };
            },
        }),
    });
})();
