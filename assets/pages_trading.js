// Helpers of the paper-trading pages (portfolio, alerts, the signals page's paper order): money and quantity
// formats, AG Grid value formatters, a grid kept by row transactions, and JSON requests whose failures carry the
// API's error (`{"error": {"code", "message"}}`). Loaded after pages_common.js (assets load in name order); the
// pages use these when they mount.
(function () {
    "use strict";

    const FLUSH_MS = 250;

    function pages() { return window.tickstream && window.tickstream.pages; }

    function money(value, signed) {
        if (value === null || value === undefined || !isFinite(value)) { return "—"; }
        const abs = Math.abs(value) < 0.005 ? 0 : Math.abs(value);
        const text = "$" + abs.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
        if (value <= -0.005) { return "-" + text; }
        return (signed && value >= 0.005 ? "+" : "") + text;
    }

    function quantity(value) {
        if (value === null || value === undefined || !isFinite(value)) { return "—"; }
        return Number(value).toLocaleString("en-US", { maximumFractionDigits: 6 });
    }

    function isoTime(value) {
        if (!value) { return "—"; }
        const ms = Date.parse(value);
        if (!isFinite(ms)) { return String(value); }
        return pages() ? pages().time(ms / 1000) : new Date(ms).toLocaleString();
    }

    const functions = window.dashAgGridFunctions = window.dashAgGridFunctions || {};
    functions.tsMoney = money;
    functions.tsQuantity = quantity;
    functions.tsIsoTime = isoTime;
    // Time of day only (the working-orders grid is narrow).
    functions.tsClock = function (value) {
        const ms = Date.parse(value);
        return isFinite(ms) ? new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }) : "—";
    };
    // An order's price: its limit, its stop ("stop 101.50"), or both for a stop-limit ("101.50 / stop 101.00").
    functions.tsOrderPrice = function (order) {
        if (!order) { return "—"; }
        const P = pages();
        const digits = P ? P.precisions[order.symbol] : undefined;
        const fmt = function (v) { return P ? P.price(v, digits) : String(v); };
        const limit = order.limit_price;
        const stop = order.stop_price;
        if (limit !== null && limit !== undefined && stop !== null && stop !== undefined) {
            return fmt(limit) + " / stop " + fmt(stop);
        }
        if (limit !== null && limit !== undefined) { return fmt(limit); }
        if (stop !== null && stop !== undefined) { return "stop " + fmt(stop); }
        return "market";
    };

    // An AG Grid kept by transactions: put (add or update by row id), remove, replace (after a REST read); at most
    // maxRows rows (the oldest by sortKey dropped).
    function liveGrid(gridId, maxRows, sortKey, S) {
        const P = pages();
        const pending = new Map();  // id → row, or null to remove
        let replacement = null;
        let api = null;
        const stats = { transactions: 0 };
        const painter = P.painter(flush, FLUSH_MS, S);
        P.gridApi(gridId).then(function (gridApi) { api = gridApi; painter.schedule(); });

        function flush() {
            if (!api) { return; }
            if (replacement) {
                const keep = new Set(replacement.map(function (row) { return row.__id; }));
                const remove = [];
                api.forEachNode(function (node) { if (!keep.has(node.id)) { remove.push(node.data); } });
                if (remove.length) { api.applyTransaction({ remove: remove }); }
                replacement.forEach(function (row) { if (!pending.has(row.__id)) { pending.set(row.__id, row); } });
                replacement = null;
            }
            if (!pending.size) { return; }
            const tx = { add: [], update: [], remove: [] };
            pending.forEach(function (row, id) {
                const node = api.getRowNode(id);
                if (row === null) { if (node) { tx.remove.push(node.data); } }
                else { (node ? tx.update : tx.add).push(row); }
            });
            pending.clear();
            const count = api.getDisplayedRowCount() + tx.add.length - tx.remove.length;
            if (count > maxRows) {
                const all = [];
                api.forEachNode(function (node) { all.push(node.data); });
                all.sort(function (a, b) { return sortKey(a) - sortKey(b); });
                tx.remove = tx.remove.concat(all.slice(0, count - maxRows));
            }
            api.applyTransaction(tx);
            stats.transactions += 1;
            if (!api.getDisplayedRowCount()) { api.showNoRowsOverlay(); } else { api.hideOverlay(); }
        }

        return {
            put: function (id, row) { row.__id = id; pending.set(id, row); painter.schedule(); },
            remove: function (id) { pending.set(id, null); painter.schedule(); },
            replace: function (rows, idOf) {
                pending.clear();
                replacement = rows.map(function (row) { row.__id = idOf(row); return row; });
                painter.schedule();
            },
            count: function () { return api ? api.getDisplayedRowCount() : 0; },
            settled: function () { return Boolean(api) && !pending.size && !replacement; },
            api: function () { return api; },
            stats: stats,
        };
    }

    function sendJSON(method, path, body) {
        const init = { method: method, headers: { Accept: "application/json" } };
        if (body !== undefined) {
            init.headers["Content-Type"] = "application/json";
            init.body = JSON.stringify(body);
        }
        return fetch(path, init).then(function (response) {
            return response.json().catch(function () { return {}; }).then(function (answer) {
                if (!response.ok) {
                    const error = (answer && answer.error) || {};
                    const failure = new Error(error.message || (method + " " + path + ": HTTP " + response.status));
                    failure.code = error.code;
                    failure.status = response.status;
                    failure.body = answer;
                    throw failure;
                }
                return answer;
            });
        });
    }

    // The signals page's "Paper order" button (pages_grid.js PaperOrderButton): the idea's prepared payload becomes
    // a paper bracket order in one call; the answer (the order, or the API's refusal) is written under the grid.
    const paperOrders = { sent: 0, last: null };
    function sendPaperOrder(ideaId) {
        const box = document.getElementById("signals-paper-result");
        function say(text, tone, link) {
            if (!box) { return; }
            box.className = "note paper-result" + (tone ? " " + tone : "");
            box.textContent = text;
            if (link) {
                const a = document.createElement("a");
                a.href = "/portfolio";
                a.className = "feed-link";
                a.textContent = "Portfolio ↗";
                box.append(" ", a);
            }
        }
        paperOrders.sent += 1;
        say("Sending the paper order of idea " + ideaId + "…");
        return sendJSON("POST", "/api/v1/orders/from-payload/" + encodeURIComponent(ideaId), {}).then(function (o) {
            paperOrders.last = { ok: true, order: o };
            const P = pages();
            const digits = P ? P.precisions[o.symbol] : undefined;
            const fmt = function (v) { return P ? P.price(v, digits) : String(v); };
            let text = "Order " + o.order_id + " " + o.status.replace("_", " ") + ": " + o.side + " " + quantity(o.quantity)
                + " " + o.symbol + " " + o.type.replace("_", " ");
            if (o.limit_price !== null && o.limit_price !== undefined) { text += " at " + fmt(o.limit_price); }
            if (o.stop_loss) { text += ", stop loss " + fmt(o.stop_loss); }
            if (o.take_profit) { text += ", target " + fmt(o.take_profit); }
            say(text + ".", "good", true);
            return o;
        }).catch(function (err) {
            paperOrders.last = { ok: false, code: err.code, message: err.message };
            say("Paper order of idea " + ideaId + " refused: " + err.message, "bad");
        });
    }

    if (pages()) {
        Object.assign(pages(), { sendPaperOrder: sendPaperOrder, paperOrders: paperOrders, money: money, quantity: quantity, isoTime: isoTime, liveGrid: liveGrid,
                                 sendJSON: sendJSON });
    }
})();
