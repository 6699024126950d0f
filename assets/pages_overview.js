// The overview (/): the watchlist (pages_watchlist.js), the latest consensus signals (`signals` channel: its
// snapshot, then each new signal), recent alerts (`alerts`) and the summary cards fed by `dashboard_update`.
(function () {
    "use strict";

    function chartAt(symbol, timeframe, time) {
        let url = "/chart/" + encodeURIComponent(symbol) + "?tf=" + encodeURIComponent(timeframe || "");
        if (time !== undefined && time !== null) { url += "&at=" + encodeURIComponent(time); }
        return url;
    }

    // A short newest-first list: items keyed by id, at most `limit`, repainted through a painter.
    function feedList(element, limit, render, S) {
        const P = window.tickstream.pages;
        const items = new Map();
        const painter = P.painter(function () {
            const sorted = Array.from(items.values()).sort(function (a, b) { return b.sortKey - a.sortKey; });
            const fragment = document.createDocumentFragment();
            sorted.slice(0, limit).forEach(function (item) { fragment.appendChild(render(item.data)); });
            element.replaceChildren(fragment);
        }, 250, S);
        return function put(id, sortKey, data) {
            items.set(id, { sortKey: sortKey, data: data });
            if (items.size > limit * 4) {
                const oldest = Array.from(items.entries()).sort(function (a, b) { return a[1].sortKey - b[1].sortKey; });
                oldest.slice(0, items.size - limit).forEach(function (entry) { items.delete(entry[0]); });
            }
            painter.schedule();
        };
    }

    function mountOverview(config, S) {
        const P = window.tickstream.pages;
        const socket = window.tickstream.socket;
        P.setTitle("Overview · Tickstream");
        socket.configure({ batch: true });
        P.connectionBadge(document.getElementById("overview-conn"), S);
        P.watchlist(config, S);

        const signalsList = document.getElementById("overview-signals");
        const putSignal = feedList(signalsList, config.latestSignals, function (s) {
            const li = P.el("li", "feed-item");
            const action = P.el("span", "action action-" + String(s.signal_type || "").toLowerCase(), s.signal_type);
            const link = P.el("a", "feed-link", s.symbol + " " + s.timeframe);
            link.href = chartAt(s.symbol, s.timeframe, s.time);
            const confidence = P.el("span", "muted", Math.round((s.confidence || 0) * 100) + "%");
            const price = P.el("span", "num", P.price(s.price));
            const when = P.el("span", "muted feed-time", P.time(s.time));
            li.append(action, link, confidence, price, when);
            return li;
        }, S);
        S.on("signal", function (message) {
            const s = message.data || {};
            if (!s.signal_id) { return; }
            putSignal(s.signal_id, Date.parse(s.timestamp) || (s.time || 0) * 1000, s);
        });
        S.subscribe("signals");

        const alertsList = document.getElementById("overview-alerts");
        const putAlert = feedList(alertsList, config.recentAlerts, function (a) {
            const li = P.el("li", "feed-item alert-" + (a.level || "info"));
            li.append(P.el("span", "feed-symbol", a.symbol || ""), P.el("span", null, a.message || ""),
                      P.el("span", "muted feed-time", a.time ? new Date(a.time).toLocaleTimeString() : ""));
            return li;
        }, S);
        S.on("alert", function (message) {
            const a = message.data || {};
            putAlert(a.alert_id || message.seq, Date.parse(a.time) || Date.now(), a);
        });
        S.subscribe("alerts");

        const cards = document.getElementById("summary-cards");
        S.on("dashboard_update", function (message) {
            const data = message.data || {};
            cards.querySelectorAll("[data-metric]").forEach(function (card) {
                const key = card.getAttribute("data-metric");
                if (data[key] === undefined || data[key] === null) { return; }
                card.querySelector(".metric-value").textContent = String(data[key]);
                card.querySelector(".metric-note").textContent = "paper account";
                const number = data.values && data.values[key];
                card.classList.toggle("up", key === "daily_pnl" && number > 0);
                card.classList.toggle("down", key === "daily_pnl" && number < 0);
            });
        });
        S.subscribe("dashboard");
    }

    if (window.tickstream && window.tickstream.pages) {
        window.tickstream.pages.register("overview", mountOverview);
        window.tickstream.pages.chartAt = chartAt;
    }
})();
