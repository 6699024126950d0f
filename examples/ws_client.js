// Tickstream in a browser page: stream a symbol's candles and consensus signals, reconnecting with backoff.
// Paste into a page served next to a Tickstream server, or set TICKSTREAM_URL to ws://host:port/ws.
// Reconnects after every close (0.5 s, 1 s, 2 s ... 30 s, with jitter); the delay starts again from 0.5 s only
// after a connection stayed up for a good minute, so a server that accepts and at once closes is not hammered.
(function () {
    "use strict";
    const url = window.TICKSTREAM_URL ||
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
            console.log("signal", message.data.symbol, message.data.side, message.data.confidence);
        } else if (message.type === "error") {
            console.warn("server error", message.data.code, message.data.message);
        }
    }

    function connect() {
        const ws = new WebSocket(url);
        let openedAt = 0;
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
        ws.onclose = function (event) {
            if (openedAt && Date.now() - openedAt >= GOOD_CONNECTION_MS) {
                attempt = 0;
            }
            const delay = Math.min(30000, 500 * Math.pow(2, attempt++)) * (0.75 + Math.random() * 0.5);
            console.warn("connection closed", event.code, event.reason || "", "- reconnecting in",
                Math.round(delay), "ms");
            setTimeout(connect, delay);
        };
    }
    connect();
})();
