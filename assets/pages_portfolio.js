// The portfolio page (/portfolio): positions, working orders and trades in AG Grids grown by row transactions from
// the `positions`, `orders` and `trades` channels (their snapshots first); the performance cards from
// `performance`; the equity figure rebuilt by the page's Dash callback when performance moved (throttled, not per
// tick); cancel buttons (DELETE /api/v1/orders/{id}) and the account reset (POST /api/v1/account/reset) behind a
// confirmation dialog. After a reconnect (or a reset) everything is read again over REST.
(function () {
    "use strict";

    const OPEN_STATUSES = ["new", "accepted", "partially_filled"];

    function pages() { return window.tickstream && window.tickstream.pages; }
    // From pages_trading.js (loaded after this file, used once the page mounts).
    function money(value, signed) { return pages().money(value, signed); }

    // Value and note of each performance card from a `performance` message (or GET /api/v1/performance).
    const CARD_FORMATS = {
        total_value: function (d) { return [money(d.total_value), "cash " + money(d.cash), 0]; },
        daily_pnl: function (d) { return [money(d.daily_pnl, true), "since 00:00 UTC", d.daily_pnl]; },
        open_positions: function (d) {
            return [String(d.open_positions === undefined ? "—" : d.open_positions),
                    "unrealised " + money(d.unrealized_pnl, true), 0];
        },
        win_rate: function (d) {
            return [d.win_rate === null || d.win_rate === undefined ? "—" : (d.win_rate * 100).toFixed(1) + "%",
                    (d.closed_trades || 0) + " closed trade" + (d.closed_trades === 1 ? "" : "s"), 0];
        },
        profit_factor: function (d) {
            return [d.profit_factor === null || d.profit_factor === undefined ? "—" : d.profit_factor.toFixed(2),
                    d.profit_factor === null || d.profit_factor === undefined ? "no losing trade yet" : "gains ÷ losses", 0];
        },
        max_drawdown: function (d) {
            return [d.max_drawdown === null || d.max_drawdown === undefined ? "—" : (d.max_drawdown * 100).toFixed(2) + "%",
                    "from the running peak", d.max_drawdown >= 0.00005 ? -1 : 0];
        },
        sharpe: function (d) {
            return [d.sharpe === null || d.sharpe === undefined ? "—" : d.sharpe.toFixed(2),
                    d.sharpe === null || d.sharpe === undefined ? "needs two daily returns" : "daily returns, annualised", 0];
        },
    };

    function paintCards(cards, data) {
        cards.querySelectorAll("[data-metric]").forEach(function (card) {
            const format = CARD_FORMATS[card.getAttribute("data-metric")];
            if (!format) { return; }
            const shown = format(data);
            card.querySelector(".metric-value").textContent = shown[0];
            card.querySelector(".metric-note").textContent = shown[1];
            card.classList.toggle("up", shown[2] > 0);
            card.classList.toggle("down", shown[2] < 0);
        });
    }

    // An order_update message or a REST order, as a row of the working-orders grid.
    function orderRow(o) {
        const row = Object.assign({}, o);
        if (row.quantity === undefined) { row.quantity = o.volume; }
        delete row.snapshot;
        return row;
    }

    function showMessage(text, tone) {
        const box = document.getElementById("portfolio-message");
        if (!box) { return; }
        box.textContent = text;
        box.className = "action-message" + (tone ? " " + tone : "");
    }

    components();
    function components() {
        const defs = window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {};
        defs.CancelOrderButton = function (props) {
            const open = props.data && OPEN_STATUSES.indexOf(props.data.status) >= 0;
            return window.React.createElement("button", {
                className: "grid-button cancel-order",
                type: "button",
                disabled: !open,
                "aria-label": "Cancel order " + (props.value || ""),
                title: "Cancel this order",
                onClick: function (event) {
                    const page = window.tickstream.portfolioPage;
                    const button = event.currentTarget;
                    button.disabled = true;
                    // Enabled again when the cancel failed (the row stays; the message says why).
                    if (page) { page.cancel(props.value).then(function (ok) { if (!ok) { button.disabled = false; } }); }
                },
            }, "Cancel");
        };
    }

    function mountPortfolio(config, S) {
        const P = pages();
        const socket = window.tickstream.socket;
        const dc = window.dash_clientside;
        P.setTitle("Portfolio · Tickstream");
        socket.configure({ batch: true });
        P.connectionBadge(document.getElementById("portfolio-conn"), S);

        const byTime = function (field) { return function (r) { return Date.parse(r[field]) || 0; }; };
        const positions = pages().liveGrid("portfolio-positions-grid", 10000, function () { return 0; }, S);
        const orders = pages().liveGrid("portfolio-orders-grid", config.maxOrderRows, byTime("updated_at"), S);
        const trades = pages().liveGrid("portfolio-trades-grid", config.maxTradeRows, byTime("opened_at"), S);
        const cards = document.getElementById("portfolio-cards");
        const seen = { performance: null, reloads: 0 };

        function putPosition(p) {
            if (!p || !p.symbol) { return; }
            if (!p.quantity) { positions.remove(p.symbol); return; }
            const row = Object.assign({}, p);
            delete row.snapshot;
            positions.put(p.symbol, row);
        }
        function putOrder(o) {
            if (!o || !o.order_id) { return; }
            if (OPEN_STATUSES.indexOf(o.status) < 0) { orders.remove(o.order_id); return; }
            orders.put(o.order_id, orderRow(o));
        }
        function putTrade(t) {
            if (!t || !t.trade_id) { return; }
            const row = Object.assign({}, t);
            delete row.snapshot;
            trades.put(t.trade_id, row);
        }

        // The equity figure: the page's Dash callback rebuilds it; asked at most every equityRefreshSeconds.
        const equity = { timer: null, last: 0, asked: 0 };
        function refreshEquity(now) {
            if (equity.timer !== null) { return; }
            const wait = now ? 0 : Math.max(0, config.equityRefreshSeconds * 1000 - (Date.now() - equity.last));
            equity.timer = setTimeout(function () {
                equity.timer = null;
                if (S.state.disposed) { return; }
                equity.last = Date.now();
                equity.asked += 1;
                if (dc && dc.set_props) { dc.set_props("portfolio-equity-refresh", { data: equity.last }); }
            }, wait);
        }

        // Everything again over REST: after a reconnect, a reset, or when the figures disagree with the rows.
        function reload() {
            seen.reloads += 1;
            return Promise.all([
                P.getJSON("/api/v1/positions").then(function (body) {
                    positions.replace((body.positions || []).filter(function (p) { return p.quantity; }),
                                      function (p) { return p.symbol; });
                }),
                P.getJSON("/api/v1/orders?status=open&limit=" + config.maxOrderRows).then(function (body) {
                    orders.replace((body.orders || []).map(orderRow), function (o) { return o.order_id; });
                }),
                P.getJSON("/api/v1/trades?status=all&limit=" + config.tradesLimit).then(function (body) {
                    trades.replace(body.trades || [], function (t) { return t.trade_id; });
                }),
                P.getJSON("/api/v1/performance?since=" + Math.floor(Date.now() / 1000)).then(function (body) {
                    if (body && body.total_value !== undefined) { seen.performance = body; paintCards(cards, body); }
                }),
            ]).catch(function (err) { showMessage("Could not read the account: " + err.message, "bad"); });
        }
        let reloadTimer = null;
        function reloadSoon() {
            if (reloadTimer !== null) { return; }
            reloadTimer = setTimeout(function () { reloadTimer = null; if (!S.state.disposed) { reload(); } }, 1000);
        }

        S.on("position", function (message) { putPosition(message.data); });
        S.on("order_update", function (message) { putOrder(message.data); });
        S.on("trade", function (message) { putTrade(message.data); });
        S.on("performance", function (message) {
            const data = message.data || {};
            const before = seen.performance;
            seen.performance = data;
            paintCards(cards, data);
            if (!data.snapshot) { refreshEquity(false); }
            // A reset made elsewhere clears trades and positions without a message per row: the figures tell.
            if (before && (data.closed_trades || 0) < (before.closed_trades || 0)) { reloadSoon(); }
            if (positions.settled() && data.open_positions !== positions.count()) { reloadSoon(); }
        });
        S.onResync(reload);
        ["positions", "orders", "trades", "performance"].forEach(function (channel) { S.subscribe(channel); });

        function cancel(orderId) {
            showMessage("Canceling order " + orderId + "…");
            return P.sendJSON("DELETE", "/api/v1/orders/" + encodeURIComponent(orderId)).then(function (order) {
                putOrder(order);
                showMessage("Order " + order.order_id + " " + order.status.replace("_", " ") + ".", "good");
                return true;
            }).catch(function (err) {
                showMessage("Could not cancel order " + orderId + ": " + err.message, "bad");
                return false;
            });
        }

        const dialog = document.getElementById("portfolio-reset-dialog");
        S.listen(document.getElementById("portfolio-reset"), "click", function () {
            if (dialog.showModal) { dialog.showModal(); } else { dialog.setAttribute("open", ""); }
        });
        S.listen(document.getElementById("portfolio-reset-cancel"), "click", function () { dialog.close(); });
        S.listen(document.getElementById("portfolio-reset-confirm"), "click", function () {
            dialog.close();
            showMessage("Resetting the account…");
            P.sendJSON("POST", "/api/v1/account/reset", {}).then(function (account) {
                showMessage("Account reset: " + money(account.cash) + " cash.", "good");
                return reload();
            }).then(function () { refreshEquity(true); }).catch(function (err) {
                showMessage("Could not reset the account: " + err.message, "bad");
            });
        });

        window.tickstream.portfolioPage = {
            positions: positions, orders: orders, trades: trades, cancel: cancel, reload: reload, equity: equity,
            seen: seen,
        };
    }

    if (pages()) { pages().register("portfolio", mountPortfolio); }
})();
