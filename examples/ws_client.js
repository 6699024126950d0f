// Tickstream in a browser page: stream a symbol's candles and consensus signals, reconnecting with backoff.
// Paste into a page served next to a Tickstream server, or set TICKSTREAM_URL to ws://host:port/ws.
(function () {
    "use strict";
    const url = window.TICKSTREAM_URL ||
        (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws?batch=1";
    const symbol = "AAPL";
    const timeframe = "1m";
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
            console.log(message.data.symbol, message.data.timeframe, c.time, c.open, c.high, c.low, c.close);
        } else if (message.type === "signal") {
            console.log("signal", message.data.symbol, message.data.side, message.data.confidence);
        } else if (message.type === "error") {
            console.warn("server error", message.data.code, message.data.message);
        }
    }

    function connect() {
        const ws = new WebSocket(url);
        ws.onopen = function () { attempt = 0; lastSeq = 0; subscribe(ws); };
        ws.onmessage = function (event) {
            const frame = JSON.parse(event.data);
            (frame.type === "batch" ? frame.data : [frame]).forEach(function (m) { handle(ws, m); });
        };
        ws.onclose = function () {
            const delay = Math.min(30000, 500 * Math.pow(2, attempt++)) * (0.75 + Math.random() * 0.5);
            setTimeout(connect, delay);
        };
    }
    connect();
})();
