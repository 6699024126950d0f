// The chart's order ticket (components/order_ticket.py): places a paper order on the chart's symbol with
// POST /api/v1/orders and says what became of it. A click on a price in the chart while the ticket is open
// (the chart sends "tickstream:price-click") makes it a limit order at that price, on the instrument's tick.
(function () {
    "use strict";

    const TICKET = "order-ticket";
    const TOGGLE = "order-ticket-toggle";
    const RESULT = "order-ticket-result";
    // The order placed last: its later transitions (fills come after the POST is answered) update the result.
    let lastOrderId = null;
    let subscribed = false;

    function el(id) { return document.getElementById(id); }

    function chartState() {
        const chart = window.tickstream && window.tickstream.chart;
        return chart && chart.mounted() ? chart.state() : null;
    }

    function setValue(id, value) {
        // Through Dash, so that the input's own state agrees with what is shown.
        if (window.dash_clientside && window.dash_clientside.set_props) {
            window.dash_clientside.set_props(id, { value: value });
        } else if (el(id)) {
            el(id).value = value;
        }
    }

    function side() {
        const pressed = document.querySelector("#" + TICKET + " [data-side][aria-pressed='true']");
        return pressed ? pressed.getAttribute("data-side") : "buy";
    }

    function number(id) {
        const node = el(id);
        const value = node && node.value !== "" ? Number(node.value) : null;
        return value === null || !isFinite(value) ? null : value;
    }

    function say(text, ok) {
        const node = el(RESULT);
        if (!node) { return; }
        node.textContent = text;
        node.className = "ticket-result " + (ok ? "ticket-ok" : "ticket-refused");
    }

    function body() {
        const state = chartState();
        const type = el("ticket-type").value;
        const order = { symbol: state ? state.symbol : "", side: side(), quantity: number("ticket-quantity"),
                        type: type, time_in_force: el("ticket-tif").value };
        if (type === "limit") { order.limit_price = number("ticket-limit"); }
        if (type === "stop") { order.stop_price = number("ticket-stop"); }
        return order;
    }

    function describe(order) {
        const filled = order.filled_quantity ? " · filled " + order.filled_quantity +
            (order.avg_fill_price ? " at " + order.avg_fill_price : "") : "";
        return order.side.toUpperCase() + " " + (order.quantity || order.volume) + " " + order.symbol + " " + order.type + ": " +
            order.status + filled + " (" + order.order_id + ")";
    }

    function submit() {
        const order = body();
        if (!order.symbol) { say("No chart to trade on", false); return; }
        if (!(order.quantity > 0)) { say("Quantity must be more than 0", false); return; }
        say("Sending…", true);
        fetch("/api/v1/orders", { method: "POST", headers: { "Content-Type": "application/json" },
                                  body: JSON.stringify(order) })
            .then(function (response) {
                return response.json().catch(function () { return {}; }).then(function (answer) {
                    if (response.ok) {
                        const placed = answer.order || answer;
                        lastOrderId = placed.order_id;
                        say(describe(placed), true);
                    } else {
                        const error = answer.error || {};
                        const detail = answer.order && answer.order.reason ? answer.order.reason : error.message;
                        say("Refused: " + (detail || "HTTP " + response.status), false);
                    }
                });
            })
            .catch(function () { say("The server did not answer", false); });
    }

    function follow() {
        const socket = window.tickstream && window.tickstream.socket;
        if (subscribed || !socket) { return; }
        subscribed = true;
        socket.subscribe("orders", {});
        socket.on("order_update", function (message) {
            const data = message.data || {};
            if (lastOrderId && data.order_id === lastOrderId && !data.snapshot) {
                say(describe(data), data.status !== "rejected");
            }
        });
    }

    function toggle(open) {
        const ticket = el(TICKET);
        if (open) { follow(); }
        const button = el(TOGGLE);
        if (!ticket) { return; }
        ticket.hidden = !open;
        if (button) { button.setAttribute("aria-pressed", String(open)); }
    }

    document.addEventListener("click", function (event) {
        const target = event.target.closest ? event.target.closest("button") : null;
        if (!target) { return; }
        if (target.id === TOGGLE) {
            toggle(el(TICKET) && el(TICKET).hidden);
        } else if (target.hasAttribute("data-side") && target.closest("#" + TICKET)) {
            document.querySelectorAll("#" + TICKET + " [data-side]").forEach(function (b) {
                b.setAttribute("aria-pressed", String(b === target));
            });
        }
    });
    document.addEventListener("submit", function (event) {
        if (event.target && event.target.id === TICKET) {
            event.preventDefault();
            submit();
        }
    });
    window.addEventListener("tickstream:price-click", function (event) {
        const ticket = el(TICKET);
        if (!ticket || ticket.hidden || !event.detail) { return; }
        const state = chartState();
        const tick = event.detail.tickSize > 0 ? event.detail.tickSize : 0.01;
        const digits = Math.max(0, Math.min(10, event.detail.precision || 2));
        const price = Number((Math.round(event.detail.price / tick) * tick).toFixed(digits));
        el("ticket-type").value = "limit";
        setValue("ticket-limit", price);
        // Below the last price a limit buys the dip; above it, it sells the rally.
        if (state && event.detail.last) {
            const wanted = price <= event.detail.last ? "buy" : "sell";
            document.querySelectorAll("#" + TICKET + " [data-side]").forEach(function (b) {
                b.setAttribute("aria-pressed", String(b.getAttribute("data-side") === wanted));
            });
        }
        say("Limit " + (price <= event.detail.last ? "buy" : "sell") + " at " + price + " — set quantity and place",
            true);
    });
})();
