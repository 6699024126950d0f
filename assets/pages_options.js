// The options page (/options/<symbol>): the chain refreshes every 60 s through the page's Dash interval, which
// is paused while the tab is hidden and fired at once when it is shown again after a missed refresh; the
// underlying's live price (`market_data`) fills the header and the title ("AAPL 158.21 ▲0.2% · Tickstream").
(function () {
    "use strict";

    function mountOptions(config) {
        const P = window.tickstream.pages;
        const socket = window.tickstream.socket;
        const dc = window.dash_clientside;
        const priceEl = document.getElementById("options-price");
        const changeEl = document.getElementById("options-change");
        let hiddenAt = null;
        let quote = null;

        document.addEventListener("visibilitychange", function () {
            if (!dc.set_props) { return; }
            if (document.hidden) {
                hiddenAt = Date.now();
                dc.set_props("options-refresh", { disabled: true });
                return;
            }
            const missed = hiddenAt !== null && Date.now() - hiddenAt >= config.refreshSeconds * 1000;
            hiddenAt = null;
            const update = { disabled: false };
            // A changed n_intervals runs the refresh callback now instead of up to 60 s later.
            if (missed) { update.n_intervals = Date.now(); }
            dc.set_props("options-refresh", update);
        });

        const painter = P.painter(function () {
            if (!quote) { return; }
            priceEl.textContent = P.price(quote.price);
            changeEl.textContent = P.signed(quote.change, 2) + " (" + P.percent(quote.change_percent) + ")";
            changeEl.className = "chart-change " + (quote.change > 0 ? "up" : quote.change < 0 ? "down" : "");
            P.setTitle(P.symbolTitle(config.symbol, quote.price, quote.change_percent));
        }, 250);
        socket.configure({ batch: true });
        P.connectionBadge(document.getElementById("options-conn"));
        socket.on("market_data", function (message) {
            const data = message.data || {};
            if (data.symbol !== config.symbol) { return; }
            quote = data;
            painter.schedule();
        });
        socket.subscribe("market_data", { symbol: config.symbol });
    }

    if (window.tickstream && window.tickstream.pages) {
        window.tickstream.pages.register("options", mountOptions);
    }
})();
