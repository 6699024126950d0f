// AG Grid helpers of the dashboard pages: value formatters named in components/*.py column definitions
// ({"function": "tsPrice(params.value)"}) and the paper-order button cell.
(function () {
    "use strict";

    function pages() { return window.tickstream && window.tickstream.pages; }

    const functions = window.dashAgGridFunctions = window.dashAgGridFunctions || {};
    functions.tsTime = function (value) { return pages() ? pages().time(value) : String(value); };
    // With a symbol: that instrument's precision.
    functions.tsPrice = function (value, symbol) {
        if (!pages()) { return String(value); }
        return pages().price(value, symbol ? pages().precisions[symbol] : undefined);
    };
    functions.tsShare = function (value) {
        return value === null || value === undefined ? "—" : Math.round(value * 100) + "%";
    };
    functions.tsRatio = function (value) {
        return value === null || value === undefined || !isFinite(value) ? "—" : value.toFixed(2);
    };
    functions.tsNumber = function (value, digits) {
        return value === null || value === undefined || !isFinite(value) ? "—" : Number(value).toFixed(digits);
    };
    functions.tsInteger = function (value) {
        return value === null || value === undefined || !isFinite(value) ? "—" : Math.round(value).toLocaleString("en-US");
    };

    const components = window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {};
    // A plain link (the row's value is the address): far cheaper per cell than the markdown renderer.
    components.ChartLink = function (props) {
        return window.React.createElement("a", { href: props.value, className: "grid-link" }, "chart ↗");
    };
    // "Paper order": sends the idea's prepared order once paper trading exists (the page config says so);
    // until then it is shown disabled with the reason as its title.
    components.PaperOrderButton = function (props) {
        const config = (pages() && pages().signalsConfig) || {};
        const enabled = Boolean(config.paperTrading) && props.data && props.data.status === "pending";
        return window.React.createElement("button", {
            className: "paper-order",
            type: "button",
            disabled: !enabled,
            title: enabled ? "Send the prepared paper order" : (config.paperNote || "Paper trading is not set up"),
            onClick: function () {
                if (enabled && pages() && pages().sendPaperOrder) { pages().sendPaperOrder(props.value); }
            },
        }, "Paper order");
    };
})();
