// Alert toasts on every dashboard page: each `alert` message of the `alerts` channel (docs/alerts.md) pops a small
// toast at the bottom right, in a role="status" region (screen readers announce it politely), at most MAX_SHOWN at
// once (the oldest leaves first), each dismissed after a while (longer for critical ones; not while the pointer or
// focus is on it) or by its close button. The channel's snapshot (the 20 newest firings, `"snapshot": true`) is
// ignored, so old alerts do not pop up on every page load. Embeds (/embed/...) show none.
(function () {
    "use strict";

    const MAX_SHOWN = 4;
    const DISMISS_MS = { info: 8000, warning: 12000, critical: 20000 };
    // The page's own code subscribes first, so the connection opens with its options (ws_client.js configure);
    // a page that subscribes to nothing gets the alerts subscription after this long.
    const WAIT_FOR_PAGE_MS = 2500;
    const SEEN_LIMIT = 200;

    const stats = { shown: 0, ignoredSnapshots: 0, dismissed: 0 };
    const seen = [];
    let stack = null;

    function container() {
        if (stack && stack.isConnected) { return stack; }
        stack = document.createElement("div");
        stack.className = "toast-stack";
        stack.id = "alert-toasts";
        stack.setAttribute("role", "status");
        stack.setAttribute("aria-live", "polite");
        stack.setAttribute("aria-label", "Alerts");
        document.body.appendChild(stack);
        return stack;
    }

    function clock(iso) {
        const ms = Date.parse(iso);
        return isFinite(ms) ? new Date(ms).toLocaleTimeString() : "";
    }

    function dismiss(toast) {
        if (!toast.isConnected) { return; }
        clearTimeout(toast.__timer);
        toast.remove();
        stats.dismissed += 1;
    }

    function show(alert) {
        const level = ["info", "warning", "critical"].indexOf(alert.level) >= 0 ? alert.level : "info";
        const toast = document.createElement("div");
        toast.className = "toast level-" + level;
        toast.setAttribute("data-alert-id", alert.alert_id || "");
        const body = document.createElement("div");
        body.className = "toast-body";
        const title = document.createElement("div");
        title.className = "toast-title";
        title.textContent = (alert.symbol ? alert.symbol + " · " : "") + (level === "info" ? "alert" : level);
        const text = document.createElement("div");
        text.textContent = alert.message || "";
        const when = document.createElement("div");
        when.className = "toast-time";
        when.textContent = clock(alert.time);
        body.append(title, text, when);
        const close = document.createElement("button");
        close.type = "button";
        close.className = "toast-close";
        close.setAttribute("aria-label", "Dismiss alert");
        close.textContent = "×";
        close.addEventListener("click", function () { dismiss(toast); });
        toast.append(body, close);

        const list = container();
        list.appendChild(toast);
        while (list.children.length > MAX_SHOWN) { dismiss(list.firstElementChild); }
        const wait = DISMISS_MS[level];
        function arm() { clearTimeout(toast.__timer); toast.__timer = setTimeout(function () { dismiss(toast); }, wait); }
        function hold() { clearTimeout(toast.__timer); }
        toast.addEventListener("mouseenter", hold);
        toast.addEventListener("mouseleave", arm);
        toast.addEventListener("focusin", hold);
        toast.addEventListener("focusout", arm);
        arm();
        stats.shown += 1;
    }

    function onAlert(message) {
        const alert = message.data || {};
        if (alert.snapshot) { stats.ignoredSnapshots += 1; return; }
        if (alert.alert_id) {
            if (seen.indexOf(alert.alert_id) >= 0) { return; }
            seen.push(alert.alert_id);
            if (seen.length > SEEN_LIMIT) { seen.shift(); }
        }
        show(alert);
    }

    function start() {
        const socket = window.tickstream && window.tickstream.socket;
        if (!socket || window.location.pathname.indexOf("/embed/") === 0) { return; }
        socket.on("alert", onAlert);
        const began = Date.now();
        (function subscribeWhenReady() {
            if (socket.subscriptions().length || Date.now() - began >= WAIT_FOR_PAGE_MS) {
                socket.subscribe("alerts");
                return;
            }
            setTimeout(subscribeWhenReady, 100);
        })();
    }

    // ws_client.js loads after this file (assets load in name order).
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
    else { setTimeout(start, 0); }

    window.tickstream = Object.assign(window.tickstream || {}, { toasts: { show: show, stats: stats } });
})();
