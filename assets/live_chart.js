// Live chart: loads history over REST once, then applies WebSocket batches to the Plotly figure in place and
// reconnects with backoff. Signal overlays (assets/chart_overlays.js builds them) come over REST at load and then
// with every full_update and signal message; they are rebuilt only when they or the candle window change and are
// drawn in the same coalesced Plotly.react as the candles. Component ids repeat components/ids.py; message names
// repeat api/protocol.py.
(function () {
    "use strict";

    const IDS = {
        graph: "chart-graph",
        ws: "chart-ws",
        live: "chart-live",
        price: "chart-price",
        change: "chart-change",
    };
    const MSG = {
        welcome: "welcome",
        batch: "batch",
        candleUpdate: "candle_update",
        fullUpdate: "full_update",
        marketData: "market_data",
        signal: "signal",
        error: "error",
    };
    const LIVE_STALE_MS = 5000;
    const MAX_BACKOFF_MS = 30000;
    const OFFLINE_AFTER_ATTEMPTS = 5;
    const LATENCY_SAMPLES = 5000;
    // Candles drawn at first; older ones load when the user pans left. Plotly redraws every candle on each
    // change (about 0.2 s for 1,500 candles in software rendering), so the window stays modest and redraws are
    // coalesced: messages are merged into the arrays at once and drawn at most every MIN_REDRAW_MS.
    const HISTORY_WINDOW = 500;
    const MIN_REDRAW_MS = 100;
    // Candles re-read after messages were dropped (a lost frame touches only the last few); a hole between two
    // candles is re-read whole, from the candle before it.
    const RESYNC_TAIL = 10;
    const SECONDS = { "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400 };
    // Consensus signals kept for markers (newest win); the tracker itself keeps 50 per timeframe.
    const MAX_SIGNALS = 500;
    // Room kept above and below the candles' own price span before an overlay (a far floor pivot, an old open
    // gap) may widen the price axis: overlays never squash the candles, and stay reachable by panning. The time
    // axis keeps fitting the candles exactly (marker traces would otherwise pad it by 5% on each side).
    const OVERLAY_Y_ROOM = 0.1;

    // Figures a test or a benchmark can read: what was applied, how late, what was skipped.
    const stats = {
        applied: 0, frames: 0, messages: 0, duplicates: 0, gaps: 0, resyncs: 0, reconnects: 0,
        latencies: [], lastCandleTime: null, lastClose: null, connected: false,
        // Overlay states that differed from the last one, overlay rebuilds, BUY/SELL signals the socket added.
        overlayUpdates: 0, overlayBuilds: 0, signals: 0,
    };
    window.tickstream = Object.assign(window.tickstream || {}, { stats: stats });

    const chart = {
        config: null, timeframe: null, seconds: 60, times: [], ready: false, pending: [],
        lastSeq: 0, everConnected: false, connectionBegun: false, attempt: 0, reconnectTimer: null, nonce: 0, lastUpdateAt: 0,
        liveShown: null, loadToken: 0, redrawTimer: null, lastRedrawAt: 0, unrendered: [],
        loadingOlder: false, noOlder: false, relayoutBound: null, socketOpen: false, subscribedTimeframe: null,
        // Overlays: the tracker's latest state (and its JSON, to notice a change), whether the socket has sent it
        // since the load (then a late REST answer is older), BUY/SELL signals by id, what was built for which
        // candle window, the kinds shown, and the price span of the candles.
        overlays: null, overlayText: "", overlaysFromSocket: false, signals: new Map(), overlaysDirty: true,
        overlayWindow: "", built: null, shown: null, overlayLayoutDirty: true, priceLow: Infinity,
        priceHigh: -Infinity, yClip: "", xClip: "",
    };

    // What the overlays show now (a test or a benchmark reads it).
    window.tickstream.overlayState = function () {
        return {
            overlays: chart.overlays, signals: Array.from(chart.signals.values()),
            counts: chart.built ? chart.built.counts : null, shown: chart.shown ? Array.from(chart.shown) : null,
            window: chart.overlayWindow, fromSocket: chart.overlaysFromSocket, dirty: chart.overlaysDirty,
        };
    };

    function setProps(id, props) {
        if (!(window.dash_clientside && window.dash_clientside.set_props)) {
            return;
        }
        try {
            window.dash_clientside.set_props(id, props);
        } catch (err) {
            // Dash throws for a component that is not in the layout (yet, on a slow first render, or any more,
            // after leaving the page); the timers here run regardless, and there is nothing to update then.
            console.debug("tickstream: " + id + " is not rendered", err);
        }
    }

    function graphDiv() {
        const holder = document.getElementById(IDS.graph);
        return holder ? holder.querySelector(".js-plotly-plot") : null;
    }

    function whenGraphReady(timeoutMs) {
        const started = Date.now();
        return new Promise(function (resolve, reject) {
            (function poll() {
                const gd = graphDiv();
                if (gd && gd._fullLayout && gd.data && gd.data.length >= 2 && window.Plotly) {
                    resolve(gd);
                } else if (Date.now() - started > timeoutMs) {
                    reject(new Error("chart did not render"));
                } else {
                    setTimeout(poll, 30);
                }
            })();
        });
    }

    function toX(t) {
        return new Date(t * 1000).toISOString();
    }

    function wsUrl() {
        const cfg = chart.config;
        const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
        const symbol = encodeURIComponent(cfg.symbol);
        chart.nonce += 1;
        chart.subscribedTimeframe = chart.timeframe;
        return scheme + window.location.host + cfg.wsPath + "?batch=1" +
            "&subscribe=" + encodeURIComponent("candles:" + cfg.symbol + ":" + chart.timeframe) +
            "&subscribe=" + encodeURIComponent("market_data:" + cfg.symbol) +
            "&subscribe=" + encodeURIComponent("signals:" + cfg.symbol) +
            "&client=dashboard&symbol=" + symbol + "&n=" + chart.nonce;
    }

    function historyUrl(limit, end) {
        // A period long enough to hold `limit` candles of this timeframe.
        const days = Math.ceil(limit * chart.seconds / 86400) + 1;
        let url = chart.config.historyPath + "?interval=" + encodeURIComponent(chart.timeframe) +
            "&period=" + days + "d&limit=" + limit;
        if (end) {
            url += "&end=" + end;
        }
        return url;
    }

    function fetchCandles(limit, end) {
        return fetch(historyUrl(limit, end), { cache: "no-store" }).then(function (response) {
            if (!response.ok) {
                throw new Error("history request failed: HTTP " + response.status);
            }
            return response.json();
        }).then(function (body) {
            return body.data || [];
        });
    }

    // Replace the figure's data with these candles (first load and timeframe change).
    function setCandles(gd, candles) {
        const meta = gd.layout.meta || {};
        const price = gd.data[0];
        const volume = gd.data[1];
        price.x = []; price.open = []; price.high = []; price.low = []; price.close = [];
        volume.x = []; volume.y = []; volume.marker = Object.assign({}, volume.marker, { color: [] });
        chart.times = [];
        chart.priceLow = Infinity;
        chart.priceHigh = -Infinity;
        candles.forEach(function (c) { appendCandle(gd, c, meta); });
        redraw(gd);
    }

    function appendCandle(gd, c, meta) {
        const price = gd.data[0];
        const volume = gd.data[1];
        const x = toX(c.time);
        price.x.push(x); price.open.push(c.open); price.high.push(c.high); price.low.push(c.low);
        price.close.push(c.close);
        volume.x.push(x); volume.y.push(c.volume);
        volume.marker.color.push(c.close >= c.open ? meta.up_color : meta.down_color);
        chart.times.push(c.time);
        notePriceSpan(c);
    }

    function replaceCandle(gd, i, c, meta) {
        const price = gd.data[0];
        const volume = gd.data[1];
        price.open[i] = c.open; price.high[i] = c.high; price.low[i] = c.low; price.close[i] = c.close;
        volume.y[i] = c.volume;
        volume.marker.color[i] = c.close >= c.open ? meta.up_color : meta.down_color;
        notePriceSpan(c);
    }

    function notePriceSpan(c) {
        if (c.low < chart.priceLow) { chart.priceLow = c.low; }
        if (c.high > chart.priceHigh) { chart.priceHigh = c.high; }
    }

    // Index of the candle opened at t, or -(insertion point) - 1 when there is none.
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

    // A candle fetched to fill a hole goes between its neighbours (rare: only after messages were lost).
    function insertCandle(gd, i, c, meta) {
        const price = gd.data[0];
        const volume = gd.data[1];
        const x = toX(c.time);
        price.x.splice(i, 0, x); price.open.splice(i, 0, c.open); price.high.splice(i, 0, c.high);
        price.low.splice(i, 0, c.low); price.close.splice(i, 0, c.close);
        volume.x.splice(i, 0, x); volume.y.splice(i, 0, c.volume);
        volume.marker.color.splice(i, 0, c.close >= c.open ? meta.up_color : meta.down_color);
        chart.times.splice(i, 0, c.time);
        notePriceSpan(c);
        // Markers of signals on this candle can be drawn now.
        chart.overlaysDirty = true;
    }

    // Merge candles (oldest first) into the figure: the forming candle changes in place, a new one appends, a
    // missing one is inserted. Returns the time of the figure's last candle when a candle is missing between it
    // and the first new one (a hole to re-read), else null.
    function mergeCandles(gd, candles) {
        const meta = gd.layout.meta || {};
        let holeAfter = null;
        candles.forEach(function (c) {
            const n = chart.times.length;
            const last = n ? chart.times[n - 1] : null;
            if (last === null || c.time > last) {
                if (last !== null && c.time > last + chart.seconds && holeAfter === null) {
                    holeAfter = last;
                }
                appendCandle(gd, c, meta);
            } else {
                const i = c.time === last ? n - 1 : searchTime(c.time);
                if (i >= 0) {
                    replaceCandle(gd, i, c, meta);
                } else {
                    insertCandle(gd, -i - 1, c, meta);
                }
            }
        });
        return holeAfter;
    }

    // -- overlays --------------------------------------------------------------------------------------------------

    function overlayKit() {
        return window.tickstream.overlays;
    }

    function levelsUrl() {
        return chart.config.levelsPath + "?timeframe=" + encodeURIComponent(chart.timeframe);
    }

    function signalsUrl() {
        return chart.config.signalsPath + "?timeframe=" + encodeURIComponent(chart.timeframe);
    }

    function fetchJson(url) {
        return fetch(url, { cache: "no-store" }).then(function (response) {
            if (!response.ok) {
                throw new Error(url + ": HTTP " + response.status);
            }
            return response.json();
        });
    }

    // The tracker's overlay state for this chart, from REST at load or from a full_update; the figure is rebuilt
    // at the next redraw only when it differs from what is drawn.
    function setOverlayState(overlays) {
        const text = JSON.stringify(overlays);
        if (text === chart.overlayText) {
            return false;
        }
        chart.overlays = overlays;
        chart.overlayText = text;
        chart.overlaysDirty = true;
        stats.overlayUpdates += 1;
        return true;
    }

    // Keep BUY/SELL signals of this chart's timeframe (HOLD draws nothing); true when one is new.
    function addSignals(signals) {
        let added = false;
        signals.forEach(function (s) {
            if (!s || s.timeframe !== chart.timeframe || chart.signals.has(s.id)) {
                return;
            }
            chart.signals.set(s.id, s);
            added = true;
        });
        if (chart.signals.size > MAX_SIGNALS) {
            const oldest = Array.from(chart.signals.values()).sort(function (a, b) { return a.time - b.time; });
            oldest.slice(0, chart.signals.size - MAX_SIGNALS).forEach(function (s) { chart.signals.delete(s.id); });
        }
        if (added) {
            chart.overlaysDirty = true;
        }
        return added;
    }

    function resetOverlays() {
        chart.overlays = null;
        chart.overlayText = "";
        chart.overlaysFromSocket = false;
        chart.signals = new Map();
        chart.overlaysDirty = true;
    }

    // Overlays and recent signals over REST for the load `token`; the figure shows candles without waiting.
    function fetchOverlays(token) {
        fetchJson(levelsUrl()).then(function (body) {
            // A full_update that came first is newer than this answer.
            if (token === chart.loadToken && !chart.overlaysFromSocket && body.signals &&
                    setOverlayState(body.signals)) {
                scheduleRedraw();
            }
        }).catch(function (err) { console.warn("tickstream: overlay levels failed", err); });
        fetchSignals(token);
    }

    function fetchSignals(token) {
        fetchJson(signalsUrl()).then(function (body) {
            const kit = overlayKit();
            if (token === chart.loadToken && kit && addSignals((body.signals || []).map(function (item) {
                return kit.signalFromRest(item, chart.seconds);
            }))) {
                scheduleRedraw();
            }
        }).catch(function (err) { console.warn("tickstream: signals failed", err); });
    }

    // The marker traces follow the price and volume traces; a graph the page (re)mounted has none yet.
    function ensureOverlayTraces(gd, kit) {
        const present = {};
        gd.data.forEach(function (trace) { present[trace.uid] = true; });
        if (kit.TRACE_UIDS.every(function (uid) { return present[uid]; })) {
            return;
        }
        kit.traceTemplates().forEach(function (trace) {
            if (!present[trace.uid]) {
                gd.data.push(trace);
            }
        });
        chart.overlaysDirty = true;
        chart.xClip = "";
        chart.yClip = "";
    }

    // Bring the figure's overlays up to date before a redraw: rebuild only when the overlays, the signals or the
    // candle window (first or last candle) changed; show or hide kinds without rebuilding.
    function updateOverlays(gd) {
        const kit = overlayKit();
        if (!kit) {
            return;
        }
        ensureOverlayTraces(gd, kit);
        const n = chart.times.length;
        const windowKey = n ? chart.times[0] + ":" + chart.times[n - 1] + ":" + chart.seconds : "";
        if (chart.overlaysDirty || windowKey !== chart.overlayWindow || !chart.built) {
            const price = gd.data[0];
            chart.built = kit.build(chart.overlays, Array.from(chart.signals.values()),
                                    { times: chart.times, highs: price.high, lows: price.low, seconds: chart.seconds });
            chart.overlaysDirty = false;
            chart.overlayWindow = windowKey;
            chart.overlayLayoutDirty = true;
            stats.overlayBuilds += 1;
            gd.data.forEach(function (trace) {
                const points = chart.built.traces[trace.uid];
                if (!points) {
                    return;
                }
                trace.x = points.x; trace.y = points.y; trace.customdata = points.customdata;
                if (trace.mode === "text") {
                    trace.text = points.text;
                    trace.textposition = points.textposition;
                    trace.textfont = Object.assign({}, trace.textfont, { color: points.textcolor });
                }
            });
        }
        if (chart.overlayLayoutDirty) {
            const shown = chart.shown || new Set(kit.KINDS);
            const parts = kit.layoutParts(chart.built, shown);
            gd.layout.shapes = parts.shapes;
            gd.layout.annotations = parts.annotations;
            gd.data.forEach(function (trace) {
                const kind = kit.kindOfTrace(trace.uid);
                if (kind) {
                    trace.visible = shown.has(kind);
                }
            });
            chart.overlayLayoutDirty = false;
        }
        clipAxes(gd);
    }

    // Autorange on the candles: the time axis spans them exactly (half a candle of room on each side, as for the
    // candles alone) and overlays may widen the price axis only by OVERLAY_Y_ROOM of the candles' span.
    function clipAxes(gd) {
        const n = chart.times.length;
        if (!n || !gd.layout.xaxis || !gd.layout.yaxis || !(chart.priceHigh >= chart.priceLow)) {
            return;
        }
        const times = [chart.times[0] - chart.seconds / 2, chart.times[n - 1] + chart.seconds / 2];
        if (times.join(":") !== chart.xClip) {
            chart.xClip = times.join(":");
            gd.layout.xaxis.autorangeoptions = { clipmin: toX(times[0]), clipmax: toX(times[1]) };
        }
        const span = chart.priceHigh - chart.priceLow;
        const room = Math.max(span * OVERLAY_Y_ROOM, Math.abs(chart.priceHigh) * 1e-4);
        const clip = [chart.priceLow - room, chart.priceHigh + room];
        const key = clip.join(":");
        if (key !== chart.yClip) {
            chart.yClip = key;
            gd.layout.yaxis.autorangeoptions = { clipmin: clip[0], clipmax: clip[1] };
        }
    }

    function redraw(gd) {
        updateOverlays(gd);
        gd.layout.datarevision = (gd.layout.datarevision || 0) + 1;
        window.Plotly.react(gd, gd.data, gd.layout);
        chart.lastRedrawAt = Date.now();
        const now = Date.now();
        chart.unrendered.forEach(function (sent) {
            stats.latencies.push(now - sent);
        });
        if (stats.latencies.length > LATENCY_SAMPLES) {
            stats.latencies.splice(0, stats.latencies.length - LATENCY_SAMPLES);
        }
        chart.unrendered = [];
    }

    function scheduleRedraw() {
        if (chart.redrawTimer) {
            return;
        }
        const wait = Math.max(0, MIN_REDRAW_MS - (Date.now() - chart.lastRedrawAt));
        chart.redrawTimer = setTimeout(function () {
            window.requestAnimationFrame(function () {
                chart.redrawTimer = null;
                const gd = graphDiv();
                if (gd && chart.ready) {
                    redraw(gd);
                }
            });
        }, wait);
    }

    // Prepend older candles when the user pans past the first one (docs/protocol.md: history with `end`).
    function onRelayout(event) {
        const left = event && (event["xaxis.range[0]"] || (event["xaxis.range"] && event["xaxis.range"][0]));
        if (!left || !chart.ready || chart.loadingOlder || chart.noOlder || !chart.times.length) {
            return;
        }
        const first = chart.times[0];
        if (Date.parse(left.replace(" ", "T") + (left.endsWith("Z") ? "" : "Z")) / 1000 > first) {
            return;
        }
        chart.loadingOlder = true;
        const token = chart.loadToken;
        fetchCandles(HISTORY_WINDOW, first).then(function (older) {
            const gd = graphDiv();
            if (!gd || token !== chart.loadToken) {
                return;
            }
            if (!older.length) {
                chart.noOlder = true;
                return;
            }
            const current = chart.times.map(function (t, i) {
                const price = gd.data[0];
                return { time: t, open: price.open[i], high: price.high[i], low: price.low[i],
                         close: price.close[i], volume: gd.data[1].y[i] };
            });
            setCandles(gd, older.filter(function (c) { return c.time < first; }).concat(current));
        }).catch(function (err) {
            console.warn("tickstream: older history failed", err);
        }).then(function () {
            chart.loadingOlder = false;
        });
    }

    function showPrice(close, open) {
        setProps(IDS.price, { children: Number(close).toLocaleString(undefined, { maximumFractionDigits: 6 }) });
        stats.lastClose = close;
    }

    function showLive() {
        const fresh = Date.now() - chart.lastUpdateAt < LIVE_STALE_MS;
        if (fresh !== chart.liveShown) {
            chart.liveShown = fresh;
            setProps(IDS.live, { className: fresh ? "live-badge live-on" : "live-badge live-stale" });
        }
    }
    setInterval(showLive, 1000);

    // Fetch the candles missed while disconnected or dropped, then merge them in: from the candle before a hole
    // (`holeAfter`, a candle time) to the last one, or the last RESYNC_TAIL candles when messages were dropped or
    // the socket reconnected (a hole left then shows when the next candle arrives, and is re-read in turn).
    function resync(holeAfter) {
        if (!chart.ready || !chart.times.length) {
            return;
        }
        stats.resyncs += 1;
        const hole = typeof holeAfter === "number";
        const missing = hole
            ? Math.ceil((chart.times[chart.times.length - 1] - holeAfter) / chart.seconds) + 3 : RESYNC_TAIL;
        const token = chart.loadToken;
        fetchCandles(Math.min(5000, Math.max(RESYNC_TAIL, missing)), null).then(function (candles) {
            const gd = graphDiv();
            if (gd && token === chart.loadToken) {
                mergeCandles(gd, candles);
                redraw(gd);
            }
        }).catch(function (err) { console.warn("tickstream: resync failed", err); });
        if (!hole) {
            // Signals sent while the socket was down or its messages dropped; overlays come with every full_update.
            fetchSignals(token);
        }
    }

    function applyMessages(gd, messages) {
        const candles = [];
        let overlaysChanged = false;
        messages.forEach(function (msg) {
            const data = msg.data || {};
            if ((msg.type === MSG.candleUpdate || msg.type === MSG.fullUpdate) && data.candle &&
                data.symbol === chart.config.symbol && data.timeframe === chart.timeframe) {
                candles.push(data.candle);
                if (msg.timestamp && !data.snapshot) {
                    chart.unrendered.push(Date.parse(msg.timestamp));
                }
                if (msg.type === MSG.fullUpdate && data.signals) {
                    chart.overlaysFromSocket = true;
                    overlaysChanged = setOverlayState(data.signals) || overlaysChanged;
                }
            } else if (msg.type === MSG.signal && data.symbol === chart.config.symbol && overlayKit()) {
                if (addSignals([overlayKit().signalFromSocket(data, chart.seconds)])) {
                    stats.signals += 1;
                    overlaysChanged = true;
                }
            } else if (msg.type === MSG.marketData && data.symbol === chart.config.symbol) {
                if (data.change_percent !== null && data.change_percent !== undefined) {
                    const pct = Number(data.change_percent);
                    setProps(IDS.change, {
                        children: (pct >= 0 ? "+" : "") + pct.toFixed(2) + "%",
                        className: "chart-change " + (pct >= 0 ? "up" : "down"),
                    });
                }
            }
        });
        if (!candles.length) {
            if (overlaysChanged) {
                scheduleRedraw();
            }
            return;
        }
        candles.sort(function (a, b) { return a.time - b.time; });
        const holeAfter = mergeCandles(gd, candles);
        scheduleRedraw();
        const last = candles[candles.length - 1];
        stats.applied += candles.length;
        stats.lastCandleTime = last.time;
        chart.lastUpdateAt = Date.now();
        showPrice(last.close, last.open);
        showLive();
        if (holeAfter !== null) {
            resync(holeAfter);
        }
    }

    // Unwrap a frame into messages, dropping those already applied (by seq) and noting gaps.
    function acceptFrame(raw) {
        let frame;
        try {
            frame = JSON.parse(raw);
        } catch (err) {
            console.warn("tickstream: unreadable frame", err);
            return [];
        }
        stats.frames += 1;
        const messages = frame.type === MSG.batch ? frame.data : [frame];
        const fresh = [];
        let gap = false;
        messages.forEach(function (msg) {
            stats.messages += 1;
            if (msg.type === MSG.welcome && beginConnection()) {
                gap = true;
            }
            if (typeof msg.seq === "number") {
                if (msg.seq <= chart.lastSeq) {
                    stats.duplicates += 1;
                    return;
                }
                if (chart.lastSeq && msg.seq > chart.lastSeq + 1) {
                    stats.gaps += 1;
                    gap = true;
                }
                chart.lastSeq = msg.seq;
            }
            if (msg.type === MSG.error) {
                console.warn("tickstream: server error", msg.data);
            }
            fresh.push(msg);
        });
        return { messages: fresh, gap: gap };
    }

    // A new connection numbers its messages from 1 again. Noticed on whichever comes first, the socket's open
    // state or the welcome message: the component can merge fast frames, and a lost welcome must not make the
    // new connection's messages look like duplicates of the old one's. True when it is a reconnection.
    function beginConnection() {
        if (chart.connectionBegun) {
            return false;
        }
        chart.connectionBegun = true;
        chart.lastSeq = 0;
        const again = chart.everConnected;
        if (again) {
            stats.reconnects += 1;
        }
        chart.everConnected = true;
        return again;
    }

    function candleSubscription(kind, timeframe) {
        return JSON.stringify({ type: kind, data: { channel: "candles", symbol: chart.config.symbol,
                                                    timeframe: timeframe } });
    }

    // Stream the chosen timeframe: on an open socket by unsubscribing and subscribing (closing a socket
    // mid-stream is noisier for both ends), otherwise by opening a socket whose URL subscribes.
    function streamTimeframe() {
        const old = chart.subscribedTimeframe;
        if (!chart.socketOpen || !old) {
            chart.lastSeq = 0;
            chart.everConnected = false;
            chart.connectionBegun = false;
            setProps(IDS.ws, { url: wsUrl() });
            return;
        }
        if (old === chart.timeframe) {
            return;
        }
        chart.subscribedTimeframe = chart.timeframe;
        setProps(IDS.ws, { send: candleSubscription("unsubscribe", old) });
        // The component sends when its `send` prop changes; two changes in one render would merge into one.
        setTimeout(function () {
            setProps(IDS.ws, { send: candleSubscription("subscribe", chart.timeframe) });
        }, 60);
    }

    function scheduleReconnect() {
        if (chart.reconnectTimer || !chart.config) {
            return;
        }
        const delay = Math.min(MAX_BACKOFF_MS, 500 * Math.pow(2, chart.attempt)) * (0.75 + Math.random() * 0.5);
        chart.attempt += 1;
        chart.reconnectTimer = setTimeout(function () {
            chart.reconnectTimer = null;
            setProps(IDS.ws, { url: wsUrl() });
        }, delay);
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        tickstream: {
            loadChart: function (timeframe, config) {
                const nu = window.dash_clientside.no_update;
                if (!config || !timeframe) {
                    return nu;
                }
                chart.config = config;
                chart.timeframe = timeframe;
                chart.ready = false;
                chart.pending = [];
                chart.noOlder = false;
                chart.seconds = SECONDS[timeframe] || 60;
                chart.loadToken += 1;
                const token = chart.loadToken;
                resetOverlays();
                fetchOverlays(token);
                Promise.all([fetchCandles(HISTORY_WINDOW, null), whenGraphReady(15000)]).then(function (results) {
                    if (token !== chart.loadToken) {
                        return;
                    }
                    const candles = results[0];
                    const gd = results[1];
                    gd.layout.meta = Object.assign({}, gd.layout.meta, { timeframe: timeframe });
                    // A new timeframe starts from a fresh view; zoom is kept only within one timeframe.
                    gd.layout.uirevision = config.symbol + "-" + timeframe;
                    ["xaxis", "yaxis", "xaxis2", "yaxis2"].forEach(function (axis) {
                        if (gd.layout[axis]) { gd.layout[axis].autorange = true; }
                    });
                    setCandles(gd, candles);
                    if (chart.relayoutBound !== gd && gd.on) {
                        gd.on("plotly_relayout", onRelayout);
                        chart.relayoutBound = gd;
                    }
                    if (candles.length) {
                        const last = candles[candles.length - 1];
                        stats.lastCandleTime = last.time;
                        showPrice(last.close, last.open);
                    }
                    chart.ready = true;
                    const pending = chart.pending;
                    chart.pending = [];
                    if (pending.length) {
                        applyMessages(gd, pending);
                    }
                    // Stream only once history is in place: the subscribe snapshot then covers the gap.
                    streamTimeframe();
                }).catch(function (err) {
                    console.warn("tickstream: chart load failed, retrying", err);
                    setTimeout(function () {
                        if (token === chart.loadToken) {
                            window.dash_clientside.tickstream.loadChart(timeframe, config);
                        }
                    }, 2000);
                });
                return { timeframe: timeframe, token: token };
            },

            onMessage: function (message, config) {
                const nu = window.dash_clientside.no_update;
                if (!message || !message.data || !chart.config) {
                    return nu;
                }
                const accepted = acceptFrame(message.data);
                if (!accepted.messages || !accepted.messages.length) {
                    return nu;
                }
                if (!chart.ready) {
                    Array.prototype.push.apply(chart.pending, accepted.messages);
                    return nu;
                }
                const gd = graphDiv();
                if (!gd) {
                    return nu;
                }
                applyMessages(gd, accepted.messages);
                if (accepted.gap) {
                    resync();
                }
                return nu;
            },

            onState: function (state, config) {
                const nu = window.dash_clientside.no_update;
                if (!state) {
                    return [nu, nu];
                }
                const opened = state.readyState === 1 && !chart.socketOpen;
                chart.socketOpen = state.readyState === 1;
                if (state.readyState === 1) {
                    chart.attempt = 0;
                    stats.connected = true;
                    if (opened && beginConnection() && chart.ready) {
                        resync();  // candles missed while disconnected
                    }
                    return ["connected", "conn-status conn-connected"];
                }
                if (state.readyState === 0) {
                    return [chart.attempt ? "reconnecting" : "connecting", "conn-status conn-connecting"];
                }
                if (state.readyState === 3) {
                    stats.connected = false;
                    chart.connectionBegun = false;
                    scheduleReconnect();
                    const offline = navigator.onLine === false || chart.attempt > OFFLINE_AFTER_ATTEMPTS;
                    return offline ? ["offline", "conn-status conn-offline"]
                        : ["reconnecting", "conn-status conn-reconnecting"];
                }
                return [nu, nu];
            },

            // The legend's checklist: which overlay kinds to draw (hiding needs no rebuild, only a redraw).
            showOverlays: function (kinds) {
                chart.shown = new Set(kinds || []);
                chart.overlayLayoutDirty = true;
                if (chart.ready) {
                    scheduleRedraw();
                }
                return kinds || [];
            },
        },
    });
})();
