// The live watchlist (components/watchlist.py): one row per symbol with price, change and % change from
// `market_data` messages, repainted at most 4 times a second (only rows that changed), flashing up/down; a
// sparkline of 5-minute closes drawn as one SVG path, redrawn only when a 5-minute candle closes. The analyst's
// list is kept in localStorage (editable watchlists); clicking a row opens its chart.
(function () {
    "use strict";

    const SVG_NS = "http://www.w3.org/2000/svg";
    const REPAINT_MS = 250;
    const MAX_FLASH_ROWS = 64;

    // The path rule of components/watchlist.py sparkline_path (keep both in step).
    function round1(v) { return Math.round(v * 10) / 10; }
    function sparklinePath(values, width, height, points) {
        const finite = values.filter(function (v) { return v !== null && v !== undefined && isFinite(v); })
            .slice(-points);
        if (finite.length < 2) { return ""; }
        const low = Math.min.apply(null, finite);
        const high = Math.max.apply(null, finite);
        const span = high - low;
        const step = width / (finite.length - 1);
        let out = "";
        for (let i = 0; i < finite.length; i += 1) {
            const y = span === 0 ? height / 2 : height - (finite[i] - low) / span * height;
            out += (i === 0 ? "M" : "L") + round1(i * step) + "," + round1(y);
        }
        return out;
    }

    function loadList(config) {
        if (!config.editable) { return config.symbols.slice(0, config.maxSymbols); }
        try {
            const raw = window.localStorage.getItem(config.storageKey);
            const list = raw ? JSON.parse(raw) : null;
            if (Array.isArray(list)) {
                return list.filter(function (s) { return typeof s === "string" && s; }).slice(0, config.maxSymbols);
            }
        } catch (err) {
            // unreadable: the default list
        }
        return config.symbols.slice(0, config.maxSymbols);
    }

    function saveList(config, list) {
        try { window.localStorage.setItem(config.storageKey, JSON.stringify(list)); } catch (err) { /* session only */ }
    }

    function normalise(text) {
        const symbol = (text || "").trim().toUpperCase();
        return /^[A-Z0-9^][A-Z0-9.\-=^]{0,19}$/.test(symbol) ? symbol : null;
    }

    function mountWatchlist(config, S) {
        const P = window.tickstream.pages;
        const socket = window.tickstream.socket;
        const root = document.getElementById("watchlist");
        if (!root || !socket || !S) { return; }
        const body = root.querySelector(".watchlist-rows");
        const spark = config.spark;
        const rows = new Map();  // symbol → row state
        const dirty = new Set();
        let list = loadList(config);
        const stats = { messages: 0, paintedRows: 0, sparkRedraws: 0 };

        socket.configure({ batch: true });

        function chartUrl(symbol) { return "/chart/" + encodeURIComponent(symbol); }

        function buildRow(symbol) {
            const tr = P.el("tr", "watch-row");
            tr.setAttribute("data-symbol", symbol);
            tr.tabIndex = 0;
            const name = P.el("td", "watch-symbol");
            const link = P.el("a", null, symbol);
            link.href = chartUrl(symbol);
            if (document.documentElement.classList.contains("embed")) { link.target = "_blank"; link.rel = "noopener"; }
            name.appendChild(link);
            tr.appendChild(name);
            let path = null;
            if (!config.compact) {
                const cell = P.el("td", "watch-spark");
                const svg = document.createElementNS(SVG_NS, "svg");
                svg.setAttribute("viewBox", "0 0 " + spark.width + " " + spark.height);
                svg.setAttribute("preserveAspectRatio", "none");
                svg.setAttribute("class", "sparkline");
                svg.setAttribute("aria-hidden", "true");
                path = document.createElementNS(SVG_NS, "path");
                svg.appendChild(path);
                cell.appendChild(svg);
                tr.appendChild(cell);
            }
            const priceCell = P.el("td", "watch-price num", "—");
            const changeCell = P.el("td", "watch-change num", "");
            const pctCell = P.el("td", "watch-pct num", "");
            tr.appendChild(priceCell);
            tr.appendChild(changeCell);
            tr.appendChild(pctCell);
            const actions = P.el("td", "watch-actions");
            if (config.editable) {
                const remove = P.el("button", "watch-remove", "×");
                remove.type = "button";
                remove.title = "Remove " + symbol;
                remove.setAttribute("aria-label", "Remove " + symbol);
                remove.setAttribute("data-remove", symbol);
                actions.appendChild(remove);
            }
            tr.appendChild(actions);
            return {
                symbol: symbol, tr: tr, priceCell: priceCell, changeCell: changeCell, pctCell: pctCell, path: path,
                quote: null, shown: null, flip: false, closes: [], bucket: null, lastPrice: null, precision: undefined,
            };
        }

        function loadSpark(row) {
            if (!row.path) { return; }
            const url = "/api/v1/market-data/" + encodeURIComponent(row.symbol) + "/history?period=1d&interval="
                + spark.timeframe + "&limit=" + spark.points;
            P.getJSON(url).then(function (body) {
                if (!body || !Array.isArray(body.data) || !rows.has(row.symbol)) { return; }
                row.closes = body.data.map(function (c) { return c.close; }).slice(-spark.points);
                const last = body.data[body.data.length - 1];
                if (last && row.bucket === null) { row.bucket = Math.floor(last.time / spark.seconds); }
                drawSpark(row);
            }).catch(function () { /* no history: the row stays without a sparkline */ });
        }

        function drawSpark(row) {
            if (!row.path) { return; }
            row.path.setAttribute("d", sparklinePath(row.closes, spark.width, spark.height, spark.points));
            const first = row.closes[0];
            const last = row.closes[row.closes.length - 1];
            row.path.setAttribute("class", last >= first ? "up" : "down");
            stats.sparkRedraws += 1;
        }

        function add(symbol, persist) {
            if (rows.has(symbol) || rows.size >= config.maxSymbols) { return false; }
            const row = buildRow(symbol);
            rows.set(symbol, row);
            P.lookUpPrecision(symbol, function (digits) {
                row.precision = digits;
                dirty.add(symbol);
                painter.schedule();
            });
            body.appendChild(row.tr);
            S.subscribe("market_data", { symbol: symbol });
            loadSpark(row);
            if (persist) { list.push(symbol); saveList(config, list); }
            return true;
        }

        function remove(symbol) {
            const row = rows.get(symbol);
            if (!row) { return; }
            rows.delete(symbol);
            dirty.delete(symbol);
            row.tr.remove();
            S.unsubscribe("market_data", { symbol: symbol });
            list = list.filter(function (s) { return s !== symbol; });
            saveList(config, list);
        }

        function paint() {
            let flashes = 0;
            dirty.forEach(function (symbol) {
                const row = rows.get(symbol);
                if (!row || !row.quote) { return; }
                const q = row.quote;
                const previous = row.shown;
                const digits = row.precision !== undefined ? row.precision : (Math.abs(q.price) >= 1 ? 2 : 4);
                row.priceCell.textContent = P.price(q.price, digits);
                row.changeCell.textContent = P.signed(q.change, digits);
                row.pctCell.textContent = P.percent(q.change_percent);
                const direction = q.change > 0 ? "up" : q.change < 0 ? "down" : "flat";
                row.changeCell.className = "watch-change num " + direction;
                row.pctCell.className = "watch-pct num " + direction;
                if (previous !== null && q.price !== previous && flashes < MAX_FLASH_ROWS) {
                    // Two classes with the same animation: switching between them restarts it without a reflow.
                    row.flip = !row.flip;
                    row.priceCell.className = "watch-price num flash-" + (q.price > previous ? "up" : "down")
                        + (row.flip ? "-a" : "-b");
                    flashes += 1;
                }
                row.shown = q.price;
                stats.paintedRows += 1;
            });
            dirty.clear();
        }
        const painter = P.painter(paint, REPAINT_MS, S);

        S.on("market_data", function (message) {
            const data = message.data || {};
            const row = rows.get(data.symbol);
            if (!row) { return; }
            stats.messages += 1;
            row.quote = data;
            // Sparkline: a 5-minute candle closed when the message's time enters the next bucket; its close is the
            // last price seen before.
            const at = Date.parse(message.timestamp) / 1000;
            if (isFinite(at) && row.path) {
                const bucket = Math.floor(at / spark.seconds);
                if (row.bucket !== null && bucket > row.bucket && row.lastPrice !== null) {
                    row.closes.push(row.lastPrice);
                    if (row.closes.length > spark.points) { row.closes.shift(); }
                    drawSpark(row);
                }
                if (row.bucket === null || bucket > row.bucket) { row.bucket = bucket; }
            }
            row.lastPrice = data.price;
            dirty.add(data.symbol);
            painter.schedule();
        });
        S.onResync(function () {
            rows.forEach(function (row) { loadSpark(row); });
        });

        body.addEventListener("click", function (event) {
            const removeButton = event.target.closest("[data-remove]");
            if (removeButton) {
                event.stopPropagation();
                remove(removeButton.getAttribute("data-remove"));
                return;
            }
            const tr = event.target.closest("tr[data-symbol]");
            if (tr && !event.target.closest("a")) {
                const url = chartUrl(tr.getAttribute("data-symbol"));
                if (document.documentElement.classList.contains("embed")) { window.open(url, "_blank", "noopener"); }
                else { window.location.href = url; }
            }
        });
        body.addEventListener("keydown", function (event) {
            const tr = event.target.closest && event.target.closest("tr[data-symbol]");
            if (tr && event.key === "Enter") { window.location.href = chartUrl(tr.getAttribute("data-symbol")); }
        });

        if (config.editable) {
            const input = document.getElementById("watchlist-add-input");
            const button = document.getElementById("watchlist-add");
            const submit = function () {
                const symbol = normalise(input.value);
                if (!symbol) { input.setAttribute("aria-invalid", "true"); return; }
                input.removeAttribute("aria-invalid");
                add(symbol, true);
                input.value = "";
            };
            button.addEventListener("click", submit);
            input.addEventListener("keydown", function (event) { if (event.key === "Enter") { submit(); } });
        }

        list.forEach(function (symbol) { add(symbol, false); });
        window.tickstream.watchlist = {
            stats: stats, symbols: function () { return Array.from(rows.keys()); }, add: function (s) { return add(s, true); },
            remove: remove,
        };
    }

    window.tickstream = Object.assign(window.tickstream || {}, { sparklinePath: sparklinePath });
    if (window.tickstream.pages) {
        window.tickstream.pages.register("watchlist", mountWatchlist);
        window.tickstream.pages.watchlist = mountWatchlist;
    }
})();

// The embeddable watchlist is the same table, compact and fixed to the symbols of its address.
(function () {
    "use strict";
    if (window.tickstream && window.tickstream.pages) {
        window.tickstream.pages.register("embed-watchlist", function (config, S) {
            window.tickstream.pages.watchlist(config, S);
        });
    }
})();
