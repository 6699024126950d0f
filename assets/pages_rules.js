// The alerts page (/alerts): alert rules (GET/POST/DELETE /api/v1/alerts) and the alert history beside them
// (GET /api/v1/alerts/history, then each `alert` message of the `alerts` channel as the new top row). The create
// form's clientside callback ("tickstream_alerts.create", pages/alerts.py) sends the fields its condition uses and
// shows the API's JSON error as it comes, also under the field it names.
(function () {
    "use strict";

    function pages() { return window.tickstream && window.tickstream.pages; }

    // The body of POST /api/v1/alerts from the form's values: only the fields `visible` lists for the condition
    // (hidden fields keep what was typed before and must not be sent), empty ones left out.
    function ruleBody(condition, values, visible) {
        const body = { condition: condition, frequency: values.frequency || "once", level: values.level || "info" };
        const shown = new Set(visible || []);
        function text(v) { return v === null || v === undefined ? "" : String(v).trim(); }
        function number(v) { return v === null || v === undefined || v === "" ? null : Number(v); }
        if (shown.has("symbol") && text(values.symbol)) { body.symbol = text(values.symbol).toUpperCase(); }
        ["value", "window", "cooldown_seconds"].forEach(function (name) {
            if (shown.has(name) && number(values[name]) !== null) { body[name] = number(values[name]); }
        });
        if (shown.has("timeframe") && values.timeframe) { body.timeframe = values.timeframe; }
        if (shown.has("action") && values.action) { body.action = values.action; }
        if (shown.has("move_direction") && values.move_direction) { body.direction = values.move_direction; }
        if (shown.has("trend_direction") && values.trend_direction) { body.direction = values.trend_direction; }
        if (text(values.message)) { body.message = text(values.message); }
        if (text(values.webhook_url)) { body.webhook_url = text(values.webhook_url); }
        return body;
    }

    // "price above 200", "move ≥ 1.5% down in 300 s", "consensus BUY 1h", …
    function ruleSummary(rule) {
        if (!rule) { return ""; }
        const c = rule.condition;
        const dir = rule.direction ? " " + rule.direction : "";
        if (c === "price_above" || c === "price_below") {
            return "price " + (c === "price_above" ? "crosses above " : "crosses below ") + rule.value;
        }
        if (c === "percent_move") { return "move ≥ " + rule.value + "%" + dir + " in " + rule.window + " s"; }
        if (c === "consensus") { return "consensus " + (rule.action || "BUY/SELL") + " " + rule.timeframe; }
        if (c === "new_fvg") { return "new" + dir + " FVG " + rule.timeframe; }
        if (c === "structure_break") { return dir.trim() + (dir ? " " : "") + "structure break " + rule.timeframe; }
        if (c === "unusual_options") { return "unusual options"; }
        if (c === "order_filled") { return "paper order filled"; }
        return String(c || "");
    }
    const functions = window.dashAgGridFunctions = window.dashAgGridFunctions || {};
    functions.tsRuleSummary = ruleSummary;

    const components = window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {};
    components.DeleteRuleButton = function (props) {
        return window.React.createElement("button", {
            className: "grid-button delete-rule",
            type: "button",
            "aria-label": "Delete alert rule " + (props.value || ""),
            title: "Delete this rule",
            onClick: function (event) {
                const page = window.tickstream.alertsPage;
                const button = event.currentTarget;
                button.disabled = true;
                if (page) { page.remove(props.value).then(function (ok) { if (!ok) { button.disabled = false; } }); }
            },
        }, "Delete");
    };

    let page = null;  // the mounted page's state, for the create callback

    function mountAlerts(config, S) {
        const P = pages();
        const socket = window.tickstream.socket;
        P.setTitle("Alerts · Tickstream");
        socket.configure({ batch: true });
        P.connectionBadge(document.getElementById("alerts-conn"), S);
        const byTime = function (field) { return function (r) { return Date.parse(r[field]) || r[field] || 0; }; };
        const rules = P.liveGrid("alerts-rules-grid", config.maxRuleRows, byTime("created_at"), S);
        const history = P.liveGrid("alerts-history-grid", config.maxHistoryRows, byTime("time"), S);
        const state = { loading: 0, created: 0, deleted: 0, live: 0 };

        function track(promise) {
            state.loading += 1;
            return promise.catch(function (err) { console.warn("tickstream alerts:", err.message); })
                .then(function () { state.loading -= 1; });
        }
        function loadRules() {
            return track(P.getJSON("/api/v1/alerts").then(function (body) {
                rules.replace(body.rules || [], function (r) { return r.rule_id; });
            }));
        }
        function loadHistory() {
            return track(P.getJSON("/api/v1/alerts/history?limit=" + config.historyLimit).then(function (body) {
                history.replace(body.history || [], function (a) { return a.alert_id; });
            }));
        }
        let rulesTimer = null;
        function loadRulesSoon() {
            if (rulesTimer !== null) { return; }
            rulesTimer = setTimeout(function () { rulesTimer = null; if (!S.state.disposed) { loadRules(); } }, 1000);
        }

        S.on("alert", function (message) {
            const a = Object.assign({}, message.data || {});
            if (!a.alert_id) { return; }
            const snapshot = a.snapshot;
            delete a.snapshot;
            history.put(a.alert_id, a);
            if (!snapshot) { state.live += 1; loadRulesSoon(); }  // fired counts and `once` rules changed
        });
        S.onResync(function () { loadRules(); loadHistory(); });
        S.subscribe("alerts");
        loadRules();
        loadHistory();

        function remove(ruleId) {
            return P.sendJSON("DELETE", "/api/v1/alerts/" + encodeURIComponent(ruleId)).then(function () {
                rules.remove(ruleId);
                state.deleted += 1;
                formMessage("Rule deleted.", "form-ok");
                return true;
            }).catch(function (err) {
                formMessage("Could not delete the rule: " + err.message, "form-error");
                return false;
            });
        }

        page = { config: config, rules: rules, history: history, state: state, remove: remove,
                 loadRules: loadRules };
        window.tickstream.alertsPage = page;
    }

    function formMessage(text, className) {
        const dc = window.dash_clientside;
        if (dc && dc.set_props) { dc.set_props("alerts-form-message", { children: text, className: className }); }
    }

    // The clientside callback of the create button: (n_clicks, condition, ...config.inputs values).
    function create(nClicks, condition) {
        const dc = window.dash_clientside;
        if (!nClicks || !page) { return dc.no_update; }
        const P = pages();
        const values = {};
        const args = arguments;
        page.config.inputs.forEach(function (name, i) { values[name] = args[i + 2]; });
        const visible = ((page.config.visible || {})[condition] || {})[values.frequency || "once"] || [];
        const body = ruleBody(condition, values, visible);
        // Errors of the previous attempt leave the fields.
        page.config.inputs.forEach(function (name) {
            if (dc.set_props) { dc.set_props("alerts-input-" + name, { error: null }); }
        });
        P.sendJSON("POST", "/api/v1/alerts", body).then(function (rule) {
            page.rules.put(rule.rule_id, rule);
            page.state.created += 1;
            formMessage("Rule created: " + (rule.symbol ? rule.symbol + " " : "") + ruleSummary(rule) + ".", "form-ok");
        }).catch(function (err) {
            formMessage(err.message, "form-error");
            // "window: Input should be greater than or equal to 1" → that field shows it too.
            const field = String(err.message).split(":")[0].trim();
            const name = field === "direction" ? (condition === "percent_move" ? "move_direction" : "trend_direction")
                : field;
            if (page.config.inputs.indexOf(name) >= 0 && dc.set_props) {
                dc.set_props("alerts-input-" + name, { error: err.message.slice(field.length + 1).trim() });
            }
        });
        return "Creating…";
    }

    window.dash_clientside = Object.assign(window.dash_clientside || {}, { tickstream_alerts: { create: create } });
    window.tickstream = window.tickstream || {};
    window.tickstream.alertRules = { ruleBody: ruleBody, ruleSummary: ruleSummary };

    if (pages()) { pages().register("alerts", mountAlerts); }
})();
