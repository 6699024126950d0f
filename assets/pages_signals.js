// The signals page (/signals): consensus signals in an AG Grid that grows by row transactions (never by sending
// the whole table again), newest first; the selected row's agent votes; the live trade ideas beside it. History per
// watched symbol comes over REST once, then the `signals` and `ideas` channels add and update rows.
(function () {
    "use strict";

    const FLUSH_MS = 250;

    function signalTime(s) {
        if (s.time !== undefined && s.time !== null) { return s.time; }
        const id = String(s.signal_id || s.id || "");
        const last = Number(id.slice(id.lastIndexOf("-") + 1));
        return isFinite(last) && last > 0 ? last : Math.floor((Date.parse(s.timestamp) || 0) / 1000);
    }

    // One row of the grid from a `signal` message's data or a REST signal (docs/protocol.md).
    function signalRow(s) {
        const id = s.signal_id || s.id;
        const time = signalTime(s);
        const consensus = s.agents_consensus || {};
        const action = s.signal_type || s.action;
        const chart = window.tickstream.pages.chartAt(s.symbol, s.timeframe, time);
        return {
            signal_id: id, time: time, symbol: s.symbol, timeframe: s.timeframe, action: action,
            confidence: s.confidence, price: s.price,
            agents: consensus.totalAgents ? consensus.agentsInFavor + "/" + consensus.totalAgents : "—",
            chart: chart,
            reasoning: s.reasoning || "", votes: consensus.votes || [],
        };
    }

    // Rows waiting for the next flush, applied as one transaction (adds and updates by row id).
    function transactionQueue(gridId, maxRows, sortKey, S) {
        const P = window.tickstream.pages;
        const pending = new Map();
        const stats = { transactions: 0, added: 0, updated: 0, removed: 0 };
        let api = null;
        const painter = P.painter(flush, FLUSH_MS, S);
        P.gridApi(gridId).then(function (gridApi) { api = gridApi; painter.schedule(); });

        function flush() {
            if (!api || !pending.size) { return; }
            const add = [];
            const update = [];
            pending.forEach(function (row, id) { (api.getRowNode(id) ? update : add).push(row); });
            pending.clear();
            const tx = { add: add, update: update, remove: [] };
            const count = api.getDisplayedRowCount() + add.length;
            if (count > maxRows) {
                // Bound: drop the oldest rows (by sortKey) beyond maxRows.
                const all = [];
                api.forEachNode(function (node) { all.push(node.data); });
                all.sort(function (a, b) { return sortKey(a) - sortKey(b); });
                tx.remove = all.slice(0, count - maxRows);
            }
            const started = performance.now();
            api.applyTransaction(tx);
            stats.lastFlushMs = performance.now() - started;
            stats.transactions += 1;
            stats.added += add.length;
            stats.updated += update.length;
            stats.removed += tx.remove.length;
            if (!api.getDisplayedRowCount()) { api.showNoRowsOverlay(); } else { api.hideOverlay(); }
        }

        return {
            put: function (id, row) { pending.set(id, row); painter.schedule(); },
            pending: function () { return pending.size; },
            api: function () { return api; },
            stats: stats,
        };
    }

    function renderVotes(panel, row) {
        const P = window.tickstream.pages;
        panel.replaceChildren();
        const head = P.el("p", null, "");
        const link = P.el("a", "feed-link", row.symbol + " " + row.timeframe + " · " + row.action + " · "
            + Math.round((row.confidence || 0) * 100) + "% · " + P.time(row.time));
        link.href = window.tickstream.pages.chartAt(row.symbol, row.timeframe, row.time);
        head.appendChild(link);
        panel.appendChild(head);
        if (row.reasoning) { panel.appendChild(P.el("p", "muted", row.reasoning)); }
        const table = P.el("table");
        const header = P.el("tr");
        ["Agent", "Vote", "Confidence", "Reasoning"].forEach(function (label) { header.appendChild(P.el("th", null, label)); });
        table.appendChild(header);
        row.votes.forEach(function (vote) {
            const tr = P.el("tr", "vote-row");
            tr.appendChild(P.el("td", null, vote.agent));
            const action = P.el("td");
            action.appendChild(P.el("span", "action action-" + String(vote.action).toLowerCase(), vote.action));
            tr.appendChild(action);
            tr.appendChild(P.el("td", "num", Math.round((vote.confidence || 0) * 100) + "%"));
            tr.appendChild(P.el("td", "muted", vote.reasoning || ""));
            table.appendChild(tr);
        });
        panel.appendChild(table);
    }

    // The WebSocket is the critical path to the first row: on /signals it is opened as soon as the scripts have
    // run (DOMContentLoaded), before Dash has fetched and rendered the layout; what arrives meanwhile is kept for
    // the page's mount, which then takes the subscriptions over.
    const early = { started: false, messages: [], offs: [] };
    function startEarly() {
        const socket = window.tickstream && window.tickstream.socket;
        if (!socket || window.location.pathname.replace(/\/+$/, "") !== "/signals") { return; }
        socket.configure({ batch: true });
        const keep = function (message) { if (early.messages.length < 5000) { early.messages.push(message); } };
        early.offs.push(socket.on("signal", keep), socket.on("idea", keep));
        socket.subscribe("signals");
        socket.subscribe("ideas");
        early.started = true;
    }
    document.addEventListener("DOMContentLoaded", startEarly);

    function takeOverEarly(handlers) {
        if (!early.started) { return; }
        early.started = false;
        early.offs.splice(0).forEach(function (off) { off(); });
        early.messages.splice(0).forEach(function (message) {
            const handle = handlers[message.type];
            if (handle) { handle(message); }
        });
        window.tickstream.socket.unsubscribe("signals");
        window.tickstream.socket.unsubscribe("ideas");
    }

    function mountSignals(config, S) {
        const P = window.tickstream.pages;
        const socket = window.tickstream.socket;
        P.signalsConfig = config;
        P.setTitle("Signals · Tickstream");
        socket.configure({ batch: true });
        P.connectionBadge(document.getElementById("signals-conn"), S);

        const signals = transactionQueue("signals-grid", config.maxSignalRows, function (r) { return r.time; }, S);
        const ideas = transactionQueue("signals-ideas-grid", config.maxIdeaRows,
                                       function (r) { return r.born_time || 0; }, S);

        function putSignal(s) {
            const row = signalRow(s);
            if (row.signal_id) { signals.put(row.signal_id, row); }
        }

        const history = { loading: 0 };
        function loadHistory() {
            config.symbols.forEach(function (symbol) {
                history.loading += 1;
                P.getJSON("/api/v1/signals/symbol/" + encodeURIComponent(symbol) + "?limit=" + config.historyPerSymbol)
                    .then(function (body) { (body.signals || []).forEach(putSignal); })
                    .catch(function () { /* that symbol's history stays out; live rows still come */ })
                    .then(function () { history.loading -= 1; });
            });
        }

        const handlers = {
            signal: function (message) { putSignal(message.data || {}); },
            idea: function (message) {
                const idea = message.data || {};
                if (idea.idea_id) { ideas.put(idea.idea_id, idea); }
            },
        };
        S.on("signal", handlers.signal);
        S.on("idea", handlers.idea);
        S.onResync(loadHistory);
        S.subscribe("signals");
        S.subscribe("ideas");
        takeOverEarly(handlers);
        loadHistory();

        const panel = document.getElementById("signals-detail");
        P.gridApi("signals-grid").then(function (api) {
            api.addEventListener("rowClicked", function (event) { if (event.data) { renderVotes(panel, event.data); } });
        });
        window.tickstream.signalsPage = { signals: signals, ideas: ideas, signalRow: signalRow, history: history };
    }

    if (window.tickstream && window.tickstream.pages) {
        window.tickstream.pages.register("signals", mountSignals);
    }
})();
