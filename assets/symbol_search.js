// The symbol box (components/symbol_search.py): suggestions from GET /api/v1/symbols?q= as you type, and a check
// that the symbol exists before navigating. On a chart page the chart switches symbol on its socket (no page
// load); elsewhere Dash's router is asked to show /chart/SYMBOL.
(function () {
    "use strict";

    const INPUT = "symbol-input";
    const FORM = "symbol-form";
    const LIST = "symbol-suggestions";
    const ERROR = "symbol-error";
    const DEBOUNCE_MS = 120;
    const LIMIT = 8;
    let timer = null;
    let asked = "";

    function search(query) {
        return fetch("/api/v1/symbols?limit=" + LIMIT + "&q=" + encodeURIComponent(query), { cache: "no-store" })
            .then(function (response) { return response.ok ? response.json() : { symbols: [] }; })
            .then(function (body) { return body.symbols || []; });
    }

    function suggest(input) {
        const query = input.value.trim();
        const list = document.getElementById(LIST);
        if (!list || !query || query === asked) { return; }
        asked = query;
        search(query).then(function (found) {
            if (input.value.trim() !== query) { return; }
            list.replaceChildren.apply(list, found.map(function (s) {
                const option = document.createElement("option");
                option.value = s.symbol;
                option.label = s.symbol + " · " + s.name;
                return option;
            }));
        }).catch(function () { /* suggestions are a convenience; the check on submit still runs */ });
    }

    function showError(input, text) {
        const error = document.getElementById(ERROR);
        if (error) { error.textContent = text; }
        input.setAttribute("aria-invalid", text ? "true" : "false");
    }

    function navigate(symbol) {
        const chart = window.tickstream && window.tickstream.chart;
        if (chart && chart.mounted() && /^\/chart\//.test(window.location.pathname)) {
            return chart.setSymbol(symbol);
        }
        window.history.pushState({}, "", "/chart/" + encodeURIComponent(symbol));
        window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
        window.scrollTo(0, 0);
        return Promise.resolve(true);
    }

    function submit(input) {
        const typed = input.value.trim();
        if (!typed) { return; }
        search(typed).then(function (found) {
            const upper = typed.toUpperCase();
            const match = found.find(function (s) { return s.symbol.toUpperCase() === upper; });
            if (!match) {
                showError(input, "Unknown symbol: " + typed);
                return;
            }
            showError(input, "");
            input.value = "";
            input.blur();
            navigate(match.symbol);
        }).catch(function () { showError(input, "Symbol search is unavailable"); });
    }

    document.addEventListener("input", function (event) {
        if (event.target && event.target.id === INPUT) {
            showError(event.target, "");
            clearTimeout(timer);
            timer = setTimeout(function () { suggest(event.target); }, DEBOUNCE_MS);
        }
    });
    document.addEventListener("submit", function (event) {
        if (event.target && event.target.id === FORM) {
            event.preventDefault();
            submit(document.getElementById(INPUT));
        }
    });
    // "/" focuses the box on every page (the chart's own keys are in live_chart.js).
    document.addEventListener("keydown", function (event) {
        const target = event.target;
        const typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" ||
                                  target.tagName === "SELECT" || target.isContentEditable);
        if (event.key !== "/" || typing || event.ctrlKey || event.metaKey || event.altKey) { return; }
        const input = document.getElementById(INPUT);
        if (input) {
            event.preventDefault();
            input.focus();
            input.select();
        }
    });
})();
