// Tickstream in a browser page: stream a symbol's candles and consensus signals, reconnecting with backoff.
// Paste into a page served next to a Tickstream server, or set window.TICKSTREAM_URL to ws://host:port/ws.
// In Node (22+; Node 20 with --experimental-websocket): TICKSTREAM_URL=ws://127.0.0.1:8000/ws node ws_client.js
// Reconnects after every close or failed connect (0.5 s, 1 s, 2 s ... 30 s, with jitter); the delay starts again
// from 0.5 s only after a connection stayed up for a good minute, so a server that accepts and at once closes is
// not hammered.
(function () {
    "use strict";
    const env = typeof process !== "undefined" && process.env ? process.env : {};
    const url = (typeof window !== "undefined" && window.TICKSTREAM_URL) || env.TICKSTREAM_URL ||
        (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws?batch=1";
    const symbol = "AAPL";
    const timeframe = "1m";
    const GOOD_CONNECTION_MS = 60000;
    let attempt = 0;
    let lastSeq = 0;

    function subscribe(ws) {
        ws.send(JSON.stringify({ type: "subscribe", data: { channel: "candles", symbol: symbol, timeframe: timeframe } }));
        ws.send(JSON.stringify({ type: "subscribe", data: { channel: "signals", symbol: symbol } }));
    }

    function handle(ws, message) {
        if (typeof message.seq === "number") {
            if (lastSeq && message.seq !== lastSeq + 1) {
                console.warn("missed", message.seq - lastSeq - 1, "messages; resubscribing for a snapshot");
                subscribe(ws);
            }
            lastSeq = message.seq;
        }
        if (message.type === "candle_update" || message.type === "full_update") {
            const c = message.data.candle;
            // The snapshot after subscribing is a full_update with "snapshot": true, not a candle that closed.
            const mark = message.data.snapshot ? "snapshot" : (message.type === "full_update" ? "closed" : "");
            console.log(message.data.symbol, message.data.timeframe, mark, c.time, c.open, c.high, c.low, c.close);
        } else if (message.type === "signal") {
            // signal_type is the action (BUY, SELL, HOLD); confidence and strength are numbers in [0, 1].
            console.log("signal", message.data.symbol, message.data.signal_type, message.data.confidence,
                message.data.strength);
        } else if (message.type === "error") {
            console.warn("server error", message.data.code, message.data.message);
        }
    }

    function connect() {
        let ws;
        let openedAt = 0;
        let retrying = false;
        // One reconnect per socket, whichever event comes first: a refused connection may fire `error` and no
        // `close` at all (Node's WebSocket does so), a dropped one fires both, a server's close frame only `close`.
        function reconnect(why) {
            if (retrying) {
                return;
            }
            retrying = true;
            if (openedAt && Date.now() - openedAt >= GOOD_CONNECTION_MS) {
                attempt = 0;
            }
            const delay = Math.min(30000, 500 * Math.pow(2, attempt++)) * (0.75 + Math.random() * 0.5);
            console.warn(why, "- reconnecting in", Math.round(delay), "ms");
            setTimeout(connect, delay);
        }
        try {
            ws = new WebSocket(url);
        } catch (err) {
            reconnect("connect failed: " + err.message);
            return;
        }
        ws.onopen = function () { openedAt = Date.now(); lastSeq = 0; subscribe(ws); };
        ws.onmessage = function (event) {
            let frame;
            try {
                frame = JSON.parse(event.data);
            } catch (err) {
                console.warn("ignoring a frame that is not JSON");
                return;
            }
            (frame.type === "batch" ? frame.data : [frame]).forEach(function (m) { handle(ws, m); });
        };
        ws.onerror = function () { reconnect(openedAt ? "connection error" : "connect failed"); };
        ws.onclose = function (event) { reconnect("connection closed " + event.code + " " + (event.reason || "")); };
    }
    connect();
})();
