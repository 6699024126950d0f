// Live chart: loads history over REST once, then applies WebSocket batches to the Plotly figure in place and
// reconnects with backoff. Component ids repeat components/ids.py; message names repeat api/protocol.py.
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
    const SECONDS = { "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "1d": 86400 };

    // Figures a test or a benchmark can read: what was applied, how late, what was skipped.
    const stats = {
        applied: 0, frames: 0, messages: 0, duplicates: 0, gaps: 0, resyncs: 0, reconnects: 0,
        latencies: [], lastCandleTime: null, lastClose: null, connected: false,
    };
    window.tickstream = Object.assign(window.tickstream || {}, { stats: stats });

    const chart = {
        config: null, timeframe: null, seconds: 60, times: [], ready: false, pending: [],
        lastSeq: 0, everConnected: false, attempt: 0, reconnectTimer: null, nonce: 0, lastUpdateAt: 0,
        liveShown: null, loadToken: 0, redrawTimer: null, lastRedrawAt: 0, unrendered: [],
        loadingOlder: false, noOlder: false, relayoutBound: null, socketOpen: false, subscribedTimeframe: null,
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
    }

    function replaceCandle(gd, i, c, meta) {
        const price = gd.data[0];
        const volume = gd.data[1];
        price.open[i] = c.open; price.high[i] = c.high; price.low[i] = c.low; price.close[i] = c.close;
        volume.y[i] = c.volume;
        volume.marker.color[i] = c.close >= c.open ? meta.up_color : meta.down_color;
    }

    function indexOfTime(t) {
        const times = chart.times;
        let lo = 0, hi = times.length - 1;
        while (lo <= hi) {
            const mid = (lo + hi) >> 1;
            if (times[mid] === t) { return mid; }
            if (times[mid] < t) { lo = mid + 1; } else { hi = mid - 1; }
        }
        return -1;
    }

    // Merge candles (oldest first) into the figure: the forming candle changes in place, a new one appends.
    // Returns true when a candle is missing between the figure's last one and the first new one.
    function mergeCandles(gd, candles) {
        const meta = gd.layout.meta || {};
        let gap = false;
        candles.forEach(function (c) {
            const n = chart.times.length;
            const last = n ? chart.times[n - 1] : null;
            if (last === null || c.time > last) {
                if (last !== null && c.time > last + chart.seconds) {
                    gap = true;
                }
                appendCandle(gd, c, meta);
            } else {
                const i = c.time === last ? n - 1 : indexOfTime(c.time);
                if (i >= 0) {
                    replaceCandle(gd, i, c, meta);
                }
            }
        });
        return gap;
    }

    function redraw(gd) {
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

    // Prepend older candles when the user pans past the first one (PROTOCOL.md: history with `end`).
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

    function resync() {
        // Fetch the candles missed while disconnected or dropped, then merge them in.
        if (!chart.ready || !chart.times.length) {
            return;
        }
        stats.resyncs += 1;
        const missing = Math.ceil((Date.now() / 1000 - chart.times[chart.times.length - 1]) / chart.seconds) + 3;
        const token = chart.loadToken;
        fetchCandles(Math.min(5000, Math.max(10, missing)), null).then(function (candles) {
            const gd = graphDiv();
            if (gd && token === chart.loadToken) {
                mergeCandles(gd, candles);
                redraw(gd);
            }
        }).catch(function (err) { console.warn("tickstream: resync failed", err); });
    }

    function applyMessages(gd, messages) {
        const candles = [];
        messages.forEach(function (msg) {
            const data = msg.data || {};
            if ((msg.type === MSG.candleUpdate || msg.type === MSG.fullUpdate) && data.candle &&
                data.symbol === chart.config.symbol && data.timeframe === chart.timeframe) {
                candles.push(data.candle);
                if (msg.timestamp && !data.snapshot) {
                    chart.unrendered.push(Date.parse(msg.timestamp));
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
            return;
        }
        candles.sort(function (a, b) { return a.time - b.time; });
        const gap = mergeCandles(gd, candles);
        scheduleRedraw();
        const last = candles[candles.length - 1];
        stats.applied += candles.length;
        stats.lastCandleTime = last.time;
        chart.lastUpdateAt = Date.now();
        showPrice(last.close, last.open);
        showLive();
        if (gap) {
            resync();
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
            if (msg.type === MSG.welcome) {
                // A new connection numbers its messages from 1 again.
                chart.lastSeq = 0;
                if (chart.everConnected) {
                    stats.reconnects += 1;
                    gap = true;
                }
                chart.everConnected = true;
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
                chart.socketOpen = state.readyState === 1;
                if (state.readyState === 1) {
                    chart.attempt = 0;
                    stats.connected = true;
                    return ["connected", "conn-status conn-connected"];
                }
                if (state.readyState === 0) {
                    return [chart.attempt ? "reconnecting" : "connecting", "conn-status conn-connecting"];
                }
                if (state.readyState === 3) {
                    stats.connected = false;
                    scheduleReconnect();
                    const offline = navigator.onLine === false || chart.attempt > OFFLINE_AFTER_ATTEMPTS;
                    return offline ? ["offline", "conn-status conn-offline"]
                        : ["reconnecting", "conn-status conn-reconnecting"];
                }
                return [nu, nu];
            },
        },
    });
})();
