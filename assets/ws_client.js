// The shared WebSocket client of every page: one connection per page to /ws (envelope dialect,
// docs/protocol.md), opened on the first subscription; ref-counted subscriptions re-sent after every reconnect;
// batches unwrapped; duplicates dropped and gaps noticed by `seq`; reconnection with capped, jittered backoff.
// Consumers register handlers by message type and are told when to re-read what they may have missed (onResync).
// A plain WebSocket, not a Dash component: a component hands Dash only its latest message, so messages that
// arrive while the page is busy would be merged away.
(function () {
    "use strict";

    const PATH = "/ws";
    const MAX_BACKOFF_MS = 30000;
    const FIRST_BACKOFF_MS = 500;
    // After this many failed attempts in a row the status says "offline" (it keeps retrying).
    const OFFLINE_AFTER_ATTEMPTS = 5;
    // Subscriptions put in the URL of a new connection (the rest are sent as messages, within the server's
    // message rate: 50 per second, bursts of 100).
    const MAX_URL_SUBSCRIPTIONS = 40;
    const SEND_SPACING_MS = 25;

    const state = {
        socket: null, status: "idle", attempt: 0, retryAt: null, retryTimer: null, lastSeq: 0, opened: false,
        everOpened: false, batch: false, path: PATH, client: "dashboard", outbox: [], outboxTimer: null,
        counts: { frames: 0, messages: 0, duplicates: 0, gaps: 0, reconnects: 0, errors: 0 },
    };
    const subscriptions = new Map();  // key → {channel, symbol, timeframe, refs}
    const handlers = new Map();  // type → Set(handler)
    const statusHandlers = new Set();
    const resyncHandlers = new Set();

    function keyOf(channel, params) {
        const p = params || {};
        return [channel, p.symbol || "", p.timeframe || ""].join(":");
    }

    function subscriptionData(sub) {
        const data = { channel: sub.channel };
        if (sub.symbol) { data.symbol = sub.symbol; }
        if (sub.timeframe) { data.timeframe = sub.timeframe; }
        return data;
    }

    function call(fn, arg, what) {
        try {
            fn(arg);
        } catch (err) {
            // One consumer's bug must not stop the others from getting the message.
            console.error("tickstream socket: " + what + " handler failed", err);
        }
    }

    function setStatus(status) {
        state.status = status;
        const info = publicState();
        statusHandlers.forEach(function (fn) { call(fn, info, "status"); });
    }

    function publicState() {
        return { state: state.status, attempt: state.attempt, retryAt: state.retryAt,
                 counts: Object.assign({}, state.counts) };
    }

    function url() {
        const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
        const query = ["client=" + encodeURIComponent(state.client)];
        if (state.batch) { query.push("batch=1"); }
        let inUrl = 0;
        subscriptions.forEach(function (sub) {
            if (inUrl >= MAX_URL_SUBSCRIPTIONS) { return; }
            sub.inUrl = true;
            inUrl += 1;
            query.push("subscribe=" + encodeURIComponent(
                [sub.channel, sub.symbol || "", sub.timeframe || ""].join(":").replace(/:+$/, "")));
        });
        return scheme + window.location.host + state.path + "?" + query.join("&");
    }

    function flushOutbox() {
        state.outboxTimer = null;
        const socket = state.socket;
        if (!socket || socket.readyState !== 1 || !state.outbox.length) { return; }
        socket.send(state.outbox.shift());
        if (state.outbox.length) {
            state.outboxTimer = setTimeout(flushOutbox, SEND_SPACING_MS);
        }
    }

    function send(message) {
        state.outbox.push(JSON.stringify(message));
        if (!state.outboxTimer) { flushOutbox(); }
    }

    function open() {
        if (state.socket || !subscriptions.size) { return; }
        clearTimeout(state.retryTimer);
        state.retryTimer = null;
        state.retryAt = null;
        state.opened = false;
        state.outbox = [];
        subscriptions.forEach(function (sub) { sub.inUrl = false; });
        setStatus(state.everOpened ? "reconnecting" : "connecting");
        let socket;
        try {
            socket = new WebSocket(url());
        } catch (err) {
            console.warn("tickstream socket: cannot open", err);
            scheduleReconnect();
            return;
        }
        state.socket = socket;
        socket.onopen = function () {
            if (state.socket !== socket) { return; }
            state.opened = true;
            state.lastSeq = 0;
            const again = state.everOpened;
            state.everOpened = true;
            state.attempt = 0;
            // Subscriptions that did not fit in the URL.
            subscriptions.forEach(function (sub) {
                if (!sub.inUrl) { send({ type: "subscribe", data: subscriptionData(sub) }); }
            });
            setStatus("connected");
            if (again) {
                state.counts.reconnects += 1;
                resync("reconnect");
            }
        };
        socket.onmessage = function (event) {
            if (state.socket === socket) { receive(event.data); }
        };
        socket.onclose = function () {
            if (state.socket !== socket) { return; }
            state.socket = null;
            clearTimeout(state.outboxTimer);
            state.outboxTimer = null;
            if (subscriptions.size) { scheduleReconnect(); } else { setStatus("idle"); }
        };
        socket.onerror = function () { /* onclose follows and reconnects */ };
    }

    function scheduleReconnect() {
        if (state.retryTimer) { return; }
        const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * Math.pow(2, state.attempt)) *
            (0.75 + Math.random() * 0.5);
        state.attempt += 1;
        state.retryAt = Date.now() + delay;
        state.retryTimer = setTimeout(function () {
            state.retryTimer = null;
            open();
        }, delay);
        const offline = navigator.onLine === false || state.attempt > OFFLINE_AFTER_ATTEMPTS;
        setStatus(offline ? "offline" : "reconnecting");
    }

    function resync(reason) {
        resyncHandlers.forEach(function (fn) { call(fn, { reason: reason }, "resync"); });
    }

    function dispatch(message) {
        const typed = handlers.get(message.type);
        if (typed) { typed.forEach(function (fn) { call(fn, message, message.type); }); }
        const any = handlers.get("*");
        if (any) { any.forEach(function (fn) { call(fn, message, "*"); }); }
    }

    function receive(raw) {
        let frame;
        try {
            frame = JSON.parse(raw);
        } catch (err) {
            console.warn("tickstream socket: unreadable frame", err);
            return;
        }
        state.counts.frames += 1;
        const messages = frame && frame.type === "batch" && Array.isArray(frame.data) ? frame.data : [frame];
        let gap = false;
        messages.forEach(function (message) {
            if (!message || typeof message !== "object") { return; }
            state.counts.messages += 1;
            if (typeof message.seq === "number") {
                if (message.seq <= state.lastSeq) {
                    state.counts.duplicates += 1;
                    return;
                }
                if (state.lastSeq && message.seq > state.lastSeq + 1) {
                    state.counts.gaps += 1;
                    gap = true;
                }
                state.lastSeq = message.seq;
            }
            if (message.type === "error") {
                state.counts.errors += 1;
                console.warn("tickstream socket: server error", message.data);
            }
            dispatch(message);
        });
        if (gap) { resync("gap"); }
    }

    function subscribe(channel, params) {
        const key = keyOf(channel, params);
        const existing = subscriptions.get(key);
        if (existing) {
            existing.refs += 1;
            return key;
        }
        const p = params || {};
        const sub = { channel: channel, symbol: p.symbol || null, timeframe: p.timeframe || null, refs: 1,
                      inUrl: false };
        subscriptions.set(key, sub);
        if (state.socket && state.opened) {
            send({ type: "subscribe", data: subscriptionData(sub) });
        } else if (!state.socket && !state.retryTimer) {
            // Opened after the current task, so that subscriptions made together go in one URL.
            setTimeout(open, 0);
        }
        return key;
    }

    function unsubscribe(channel, params) {
        const key = keyOf(channel, params);
        const sub = subscriptions.get(key);
        if (!sub) { return; }
        sub.refs -= 1;
        if (sub.refs > 0) { return; }
        subscriptions.delete(key);
        if (state.socket && state.opened) {
            send({ type: "unsubscribe", data: subscriptionData(sub) });
        }
    }

    function on(type, fn) {
        if (!handlers.has(type)) { handlers.set(type, new Set()); }
        handlers.get(type).add(fn);
        return function off() { handlers.get(type).delete(fn); };
    }

    function onStatus(fn) {
        statusHandlers.add(fn);
        call(fn, publicState(), "status");
        return function off() { statusHandlers.delete(fn); };
    }

    function onResync(fn) {
        resyncHandlers.add(fn);
        return function off() { resyncHandlers.delete(fn); };
    }

    function retryNow() {
        if (state.socket) { return; }
        clearTimeout(state.retryTimer);
        state.retryTimer = null;
        open();
    }

    // Options for the page's connection, before its first subscription: {batch: true} lets the server gather
    // messages for up to its batching window (fine for tables that repaint a few times a second; the chart
    // wants every message at once).
    function configure(options) {
        const o = options || {};
        if (typeof o.batch === "boolean") { state.batch = o.batch; }
        if (typeof o.path === "string") { state.path = o.path; }
        if (typeof o.client === "string") { state.client = o.client; }
    }

    window.addEventListener("online", function () {
        if (!state.socket && subscriptions.size) { retryNow(); }
    });

    window.tickstream = Object.assign(window.tickstream || {}, {
        socket: {
            subscribe: subscribe,
            unsubscribe: unsubscribe,
            on: on,
            onStatus: onStatus,
            onResync: onResync,
            retryNow: retryNow,
            configure: configure,
            send: function (message) { if (state.socket && state.opened) { send(message); } },
            state: publicState,
            subscriptions: function () { return Array.from(subscriptions.values()).map(subscriptionData); },
        },
    });
})();
