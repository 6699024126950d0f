// assets/pages_rules.js and assets/pages_trading.js: the alert-rule body sent by the /alerts form, rule summaries,
// and the money and order-price formats of the trading pages, on hand-worked cases. The files are browser scripts
// (no exports): each runs in a sandbox whose `window` collects what it defines.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

function load(...files) {
    const window = {};
    const sandbox = { window: window, console: console };
    vm.createContext(sandbox);
    for (const file of files) {
        vm.runInContext(fs.readFileSync(path.join(__dirname, "..", "..", "assets", file), "utf8"), sandbox);
    }
    return window;
}

const rules = load("pages_rules.js");
const trading = load("pages_trading.js");

test("ruleBody sends only the fields the condition shows, trimmed, numbers as numbers", () => {
    const values = {
        symbol: " aapl ", value: "0", window: 1, move_direction: "up", trend_direction: "bearish", timeframe: "1h",
        action: "BUY", frequency: "every_time", cooldown_seconds: "30", level: "warning", message: "  hi  ",
        webhook_url: "",
    };
    const body = rules.tickstream.alertRules.ruleBody(
        "percent_move", values, ["cooldown_seconds", "move_direction", "symbol", "value", "window"]);
    // Plain-object copy: the sandbox's objects have another realm's prototype.
    assert.deepEqual(JSON.parse(JSON.stringify(body)), {
        condition: "percent_move", frequency: "every_time", level: "warning", symbol: "AAPL", value: 0, window: 1,
        cooldown_seconds: 30, direction: "up", message: "hi",
    });
    const fvg = rules.tickstream.alertRules.ruleBody("new_fvg", values, ["symbol", "timeframe", "trend_direction"]);
    assert.equal(fvg.direction, "bearish");
    assert.equal(fvg.timeframe, "1h");
    assert.equal(fvg.value, undefined);
    // Empty optional inputs are left out; defaults for frequency and level.
    const bare = rules.tickstream.alertRules.ruleBody("order_filled", { symbol: "", value: null }, ["symbol"]);
    assert.deepEqual(JSON.parse(JSON.stringify(bare)), { condition: "order_filled", frequency: "once", level: "info" });
});

test("ruleSummary says what a rule watches", () => {
    const summary = rules.tickstream.alertRules.ruleSummary;
    assert.equal(summary({ condition: "price_above", value: 200 }), "price crosses above 200");
    assert.equal(summary({ condition: "percent_move", value: 1.5, window: 300, direction: "down" }),
                 "move ≥ 1.5% down in 300 s");
    assert.equal(summary({ condition: "consensus", action: null, timeframe: "1h" }), "consensus BUY/SELL 1h");
    assert.equal(summary({ condition: "structure_break", direction: "bullish", timeframe: "4h" }),
                 "bullish structure break 4h");
    assert.equal(summary({ condition: "order_filled" }), "paper order filled");
});

test("money: dollars with cents and thousands, signed on request", () => {
    const money = trading.dashAgGridFunctions.tsMoney;
    assert.equal(money(50000), "$50,000.00");
    assert.equal(money(-1200), "-$1,200.00");
    assert.equal(money(1.4, true), "+$1.40");
    assert.equal(money(-0.001, true), "$0.00");
    assert.equal(money(null), "\u2014");
    assert.equal(trading.dashAgGridFunctions.tsQuantity(0.1234567), "0.123457");
});

test("an order's price: its limit, its stop, or both", () => {
    const price = trading.dashAgGridFunctions.tsOrderPrice;
    assert.equal(price({ symbol: "X", limit_price: 101.5, stop_price: null }), "101.5");
    assert.equal(price({ symbol: "X", limit_price: null, stop_price: 99 }), "stop 99");
    assert.equal(price({ symbol: "X", limit_price: 101.5, stop_price: 101 }), "101.5 / stop 101");
    assert.equal(price({ symbol: "X", limit_price: null, stop_price: null }), "market");
});
