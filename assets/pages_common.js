// What the dashboard pages share in the browser: mounting a page's live code once its layout is rendered (and
// releasing it when the page leaves), a painter that repaints at most N times a second and not at all while the
// tab is hidden, Dash intervals paused while hidden,
// number formatting (window.tickstream.format when loaded, else the same rules here), page titles and the AG Grid
// API. Pages mount through the clientside callback "tickstream_pages.mount" fed by their PAGE_CONFIG store
// (components/live_page.py), whose data names the page: {page: "overview", ...}.
(function () {
    "use strict";

    const mounters = {};
    // Decimal places per symbol (instrument precision) from the pages' configs and /api/v1/symbols.
    const precisions = {};
    const mounted = {};
    const stats = { paints: 0, skippedHidden: 0 };

    function register(name, mount) { mounters[name] = mount; }
    // Pages whose live part is a Dash interval only: pause it while hidden.
    register("status", function (config, owner) { pauseWhileHidden(config.interval, config.refreshSeconds, owner); });

    // What a mounted page holds (subscriptions, handlers, listeners), released together when the page leaves the
    // document: the chart's links navigate without a reload, so a page can be replaced while this document lives.
    function scope() {
        const socket = window.tickstream.socket;
        const releases = [];
        const subscribed = new Map();  // subscription key → refs taken through this scope
        const state = { disposed: false };
        function key(channel, params) { return channel + ":" + JSON.stringify(params || {}); }
        return {
            state: state,
            subscribe: function (channel, params) {
                const k = key(channel, params);
                subscribed.set(k, { channel: channel, params: params, refs: ((subscribed.get(k) || {}).refs || 0) + 1 });
                socket.subscribe(channel, params);
            },
            unsubscribe: function (channel, params) {
                const k = key(channel, params);
                const entry = subscribed.get(k);
                if (!entry) { return; }
                entry.refs -= 1;
                if (entry.refs <= 0) { subscribed.delete(k); }
                socket.unsubscribe(channel, params);
            },
            on: function (type, fn) { releases.push(socket.on(type, fn)); },
            onResync: function (fn) { releases.push(socket.onResync(fn)); },
            onStatus: function (fn) { releases.push(socket.onStatus(fn)); },
            listen: function (target, type, fn) {
                target.addEventListener(type, fn);
                releases.push(function () { target.removeEventListener(type, fn); });
            },
            dispose: function () {
                if (state.disposed) { return; }
                state.disposed = true;
                releases.splice(0).forEach(function (release) { release(); });
                subscribed.forEach(function (entry) {
                    for (let i = 0; i < entry.refs; i += 1) { socket.unsubscribe(entry.channel, entry.params); }
                });
                subscribed.clear();
            },
        };
    }

    let current = null;  // {key, root, scope} of the mounted page

    function unmountIfGone() {
        if (current && !current.root.isConnected) {
            current.scope.dispose();
            delete mounted[current.key];
            current = null;
        }
    }

    function mount(config) {
        const dc = window.dash_clientside;
        if (!config || !config.page || !mounters[config.page]) { return dc.no_update; }
        unmountIfGone();
        // Dash may run the callback again for the same store; a page mounts once while it is shown.
        const key = config.page + ":" + JSON.stringify(config);
        if (mounted[key]) { return dc.no_update; }
        const root = document.querySelector(".live-page.page-" + config.page);
        if (!root) { return dc.no_update; }
        mounted[key] = true;
        if (current) { current.scope.dispose(); }
        current = { key: key, root: root, scope: scope() };
        const container = document.getElementById("_pages_content");
        if (container && !container.__tickstreamObserved) {
            container.__tickstreamObserved = true;
            new MutationObserver(unmountIfGone).observe(container, { childList: true });
        }
        Object.assign(precisions, config.precision || {});
        try {
            mounters[config.page](config, current.scope);
        } catch (err) {
            console.error("tickstream pages: mounting " + config.page + " failed", err);
        }
        return Date.now();
    }

    // Calls paint() at most once per `intervalMs`, only when something is dirty and the tab is visible; a
    // hidden tab keeps the newest state and paints it once when shown again.
    function painter(paint, intervalMs, owner) {
        let dirty = false;
        let timer = null;
        let last = 0;
        function run() {
            timer = null;
            if (!dirty || (owner && owner.state.disposed)) { return; }
            if (document.hidden) { stats.skippedHidden += 1; return; }
            dirty = false;
            last = performance.now();
            stats.paints += 1;
            paint();
        }
        function schedule() {
            dirty = true;
            if (timer !== null || document.hidden) { return; }
            const wait = Math.max(0, intervalMs - (performance.now() - last));
            timer = setTimeout(run, wait);
        }
        const onVisible = function () { if (!document.hidden && dirty) { schedule(); } };
        if (owner) { owner.listen(document, "visibilitychange", onVisible); }
        else { document.addEventListener("visibilitychange", onVisible); }
        return { schedule: schedule, flush: run };
    }

    // A Dash interval (dcc.Interval `intervalId`) that stops while the tab is hidden and, shown again after a
    // missed period, fires at once (a changed n_intervals runs its callback).
    function pauseWhileHidden(intervalId, periodSeconds, owner) {
        const dc = window.dash_clientside;
        let hiddenAt = null;
        owner.listen(document, "visibilitychange", function () {
            if (!dc || !dc.set_props) { return; }
            if (document.hidden) {
                hiddenAt = Date.now();
                dc.set_props(intervalId, { disabled: true });
                return;
            }
            const missed = hiddenAt !== null && Date.now() - hiddenAt >= periodSeconds * 1000;
            hiddenAt = null;
            const update = { disabled: false };
            if (missed) { update.n_intervals = Date.now(); }
            dc.set_props(intervalId, update);
        });
    }

    function fmt() { return (window.tickstream && window.tickstream.format) || null; }

    // Asks the instrument search for a symbol's precision (once per symbol); calls back when known.
    const asked = {};
    function lookUpPrecision(symbol, then) {
        if (precisions[symbol] !== undefined) { then(precisions[symbol]); return; }
        if (asked[symbol]) { return; }
        asked[symbol] = true;
        getJSON("/api/v1/symbols?q=" + encodeURIComponent(symbol) + "&limit=5").then(function (body) {
            const match = (body.symbols || body.results || []).find(function (i) { return i.symbol === symbol; });
            if (match && isFinite(match.precision)) { precisions[symbol] = match.precision; then(match.precision); }
        }).catch(function () { /* the default precision stays */ });
    }

    function price(value, precision) {
        if (value === null || value === undefined || !isFinite(value)) { return "—"; }
        const f = fmt();
        if (f && f.price) { return f.price(value, precision); }
        const digits = precision === undefined || precision === null ? (Math.abs(value) >= 1 ? 2 : 4) : precision;
        return Number(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
    }

    function signed(value, precision) {
        if (value === null || value === undefined || !isFinite(value)) { return "—"; }
        return (value > 0 ? "+" : value < 0 ? "−" : "") + price(Math.abs(value), precision);
    }

    function percent(value) {
        if (value === null || value === undefined || !isFinite(value)) { return "—"; }
        const f = fmt();
        if (f && f.percent) { return f.percent(value); }
        return (value > 0 ? "+" : value < 0 ? "−" : "") + Math.abs(value).toFixed(2) + "%";
    }

    function time(unixSeconds) {
        if (unixSeconds === null || unixSeconds === undefined) { return "—"; }
        const f = fmt();
        if (f && f.time) { return f.time(unixSeconds, {}); }
        return new Date(unixSeconds * 1000).toLocaleString([], { month: "short", day: "numeric",
                                                               hour: "2-digit", minute: "2-digit" });
    }

    // "AAPL 158.21 ▲0.2% · Tickstream"
    function symbolTitle(symbol, last, changePercent, precision) {
        let text = symbol;
        if (last !== null && last !== undefined && isFinite(last)) {
            text += " " + price(last, precision);
            if (changePercent !== null && changePercent !== undefined && isFinite(changePercent)) {
                const arrow = changePercent > 0 ? "▲" : changePercent < 0 ? "▼" : "";
                text += " " + arrow + Math.abs(changePercent).toFixed(1) + "%";
            }
        }
        return text + " · Tickstream";
    }

    function setTitle(text) { if (document.title !== text) { document.title = text; } }

    function gridApi(id) {
        if (!window.dash_ag_grid || !window.dash_ag_grid.getApiAsync) {
            return Promise.reject(new Error("dash-ag-grid is not loaded"));
        }
        return window.dash_ag_grid.getApiAsync(id);
    }

    function getJSON(path) {
        return fetch(path, { headers: { Accept: "application/json" } }).then(function (response) {
            return response.json().then(function (body) {
                if (!response.ok && !(body && typeof body === "object")) { throw new Error(path + ": " + response.status); }
                return body;
            });
        });
    }

    // A small connection badge: the page says whether its data is live, reconnecting or offline.
    function connectionBadge(element, owner) {
        if (!element || !owner) { return; }
        owner.onStatus(function (info) {
            const stateName = info.state === "idle" ? "connecting" : info.state;
            element.textContent = stateName;
            element.className = "conn-status conn-" + stateName;
        });
    }

    function el(tag, className, text) {
        const node = document.createElement(tag);
        if (className) { node.className = className; }
        if (text !== undefined && text !== null) { node.textContent = text; }
        return node;
    }

    window.tickstream = Object.assign(window.tickstream || {}, {
        pages: {
            register: register, painter: painter, current: function () { return current; }, price: price, signed: signed, percent: percent,
            time: time, precisions: precisions, lookUpPrecision: lookUpPrecision, pauseWhileHidden: pauseWhileHidden, symbolTitle: symbolTitle, setTitle: setTitle, gridApi: gridApi, getJSON: getJSON,
            connectionBadge: connectionBadge, el: el, stats: stats,
        },
    });
    window.dash_clientside = Object.assign(window.dash_clientside || {}, {
        tickstream_pages: { mount: mount },
    });
})();
