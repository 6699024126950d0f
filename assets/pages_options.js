// The options page (/options/<symbol>): the chain refreshes every 60 s through the page's Dash interval, paused
// while the tab is hidden (pauseWhileHidden); the underlying's live price (`market_data`) fills the header and the
// title ("AAPL 158.21 ▲0.2% · Tickstream").
(function () {
    "use strict";

    function mountOptions(config, S) {
        const P = window.tickstream.pages;
        const socket = window.tickstream.socket;
        const priceEl = document.getElementById("options-price");
        const changeEl = document.getElementById("options-change");
        let quote = null;
        P.pauseWhileHidden("options-refresh", config.refreshSeconds, S);

        const painter = P.painter(function () {
            if (!quote) { return; }
            const digits = P.precisions[config.symbol];
            priceEl.textContent = P.price(quote.price, digits);
            changeEl.textContent = P.signed(quote.change, digits === undefined ? 2 : digits) + " (" + P.percent(quote.change_percent) + ")";
            changeEl.className = "chart-change " + (quote.change > 0 ? "up" : quote.change < 0 ? "down" : "");
            P.setTitle(P.symbolTitle(config.symbol, quote.price, quote.change_percent, digits));
        }, 250, S);
        socket.configure({ batch: true });
        P.connectionBadge(document.getElementById("options-conn"), S);
        S.on("market_data", function (message) {
            const data = message.data || {};
            if (data.symbol !== config.symbol) { return; }
            quote = data;
            painter.schedule();
        });
        S.subscribe("market_data", { symbol: config.symbol });
    }

    if (window.tickstream && window.tickstream.pages) {
        window.tickstream.pages.register("options", mountOptions);
    }
})();
