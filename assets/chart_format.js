// Number and time formatting for every page (window.tickstream.format): prices at the instrument's precision with
// thousands separators, signed percentages, volumes, and times in the viewer's time zone. Plotly dates carry no
// zone, so the chart shifts times itself with plotX/fromPlotX. Pure functions; the Intl formatters they need are
// built once and cached (the chart calls plotX for every candle it plots).
(function () {
    "use strict";

    const DASH = "\u2014";
    // Intl.NumberFormat accepts up to 20 fraction digits in every engine the app supports.
    const MAX_DIGITS = 20;
    const DEFAULT_PRECISION = 2;
    const QUARTER_HOUR = 900;
    // Offsets cached per zone; a zone's offset can only change where a transition falls, and transitions fall
    // on quarter hours of UTC in every zone of the tz database since 1970, so one value per quarter hour is exact.
    const MAX_CACHED_OFFSETS = 8192;

    const numberFormats = new Map();
    const zoneFormats = new Map();
    const offsetCache = new Map();
    const labelCache = new Map();

    function isNumber(value) {
        return typeof value === "number" && isFinite(value);
    }

    function clampDigits(digits, fallback) {
        const d = isNumber(digits) ? Math.round(digits) : fallback;
        return Math.max(0, Math.min(MAX_DIGITS, d));
    }

    function numberFormat(key, options) {
        let f = numberFormats.get(key);
        if (!f) {
            f = new Intl.NumberFormat("en-US", options);
            numberFormats.set(key, f);
        }
        return f;
    }

    // 2981.3, 2 → "2,981.30". Non-numbers (null, NaN, Infinity) show as an em dash.
    function price(value, precision) {
        if (!isNumber(value)) {
            return DASH;
        }
        const digits = clampDigits(precision, DEFAULT_PRECISION);
        return numberFormat("p" + digits, {
            minimumFractionDigits: digits, maximumFractionDigits: digits, signDisplay: "negative",
        }).format(value);
    }

    // A change already in percent: 0.2134 → "+0.21%", -1.5 → "-1.50%", 0 → "0.00%".
    function percent(value, digits) {
        if (!isNumber(value)) {
            return DASH;
        }
        const d = clampDigits(digits, 2);
        return numberFormat("pct" + d, {
            minimumFractionDigits: d, maximumFractionDigits: d, signDisplay: "exceptZero",
        }).format(value) + "%";
    }

    // 1234567 → "1,234,567"; with {compact: true}: 85210 → "85.2K", 1.25e6 → "1.3M".
    function volume(value, options) {
        if (!isNumber(value)) {
            return DASH;
        }
        if (options && options.compact) {
            return numberFormat("vc", { notation: "compact", maximumFractionDigits: 1 }).format(value);
        }
        return numberFormat("v", { maximumFractionDigits: 0 }).format(value);
    }

    // Plotly's tickformat / hoverformat (d3-format) for a precision: 2 → ",.2f".
    function d3Format(precision) {
        return ",." + clampDigits(precision, DEFAULT_PRECISION) + "f";
    }

    // Decimals a tick size needs: 0.01 → 2, 0.25 → 2, 1 → 0, 5e-8 → 8; the default 2 for anything else.
    function precisionOf(tickSize) {
        if (!isNumber(tickSize) || tickSize <= 0) {
            return DEFAULT_PRECISION;
        }
        for (let digits = 0; digits <= 12; digits += 1) {
            const scaled = tickSize * Math.pow(10, digits);
            if (Math.abs(scaled - Math.round(scaled)) <= 1e-9 * Math.max(1, scaled)) {
                return digits;
            }
        }
        return 12;
    }

    function isUtc(timeZone) {
        return !timeZone || timeZone === "UTC" || timeZone === "Etc/UTC" || timeZone === "GMT";
    }

    function zoneFormat(timeZone) {
        let f = zoneFormats.get(timeZone);
        if (!f) {
            f = new Intl.DateTimeFormat("en-US", {
                timeZone: timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
                hour: "numeric", minute: "numeric", second: "numeric",
            });
            zoneFormats.set(timeZone, f);
        }
        return f;
    }

    // True when the browser knows the IANA zone name (a URL or localStorage value is checked before use).
    function validZone(timeZone) {
        if (typeof timeZone !== "string" || !timeZone) {
            return false;
        }
        try {
            zoneFormat(timeZone);
            return true;
        } catch (err) {
            return false;
        }
    }

    // The zone's offset from UTC in minutes at that instant (Berlin in summer: 120, New York in winter: -300).
    // Throws a RangeError for a zone the browser does not know (see validZone).
    function zoneOffsetMinutes(unixSeconds, timeZone) {
        if (isUtc(timeZone)) {
            return 0;
        }
        const bucket = Math.floor(unixSeconds / QUARTER_HOUR);
        let cache = offsetCache.get(timeZone);
        if (!cache) {
            cache = new Map();
            offsetCache.set(timeZone, cache);
        }
        let offset = cache.get(bucket);
        if (offset === undefined) {
            // Read the wall clock at the start of the bucket (whole seconds, as formatToParts gives).
            const at = bucket * QUARTER_HOUR;
            const parts = zoneFormat(timeZone).formatToParts(new Date(at * 1000));
            const f = {};
            for (let i = 0; i < parts.length; i += 1) {
                f[parts[i].type] = parts[i].value;
            }
            const wall = Date.UTC(Number(f.year), Number(f.month) - 1, Number(f.day), Number(f.hour) % 24,
                                  Number(f.minute), Number(f.second)) / 1000;
            offset = Math.round((wall - at) / 60);
            if (cache.size >= MAX_CACHED_OFFSETS) {
                cache.clear();
            }
            cache.set(bucket, offset);
        }
        return offset;
    }

    function pad2(n) {
        return n < 10 ? "0" + n : String(n);
    }

    // The wall clock of an instant in a zone as a Date whose UTC fields are that wall clock.
    function wallClock(unixSeconds, timeZone) {
        return new Date((unixSeconds + zoneOffsetMinutes(unixSeconds, timeZone) * 60) * 1000);
    }

    function dateText(d) {
        return d.getUTCFullYear() + "-" + pad2(d.getUTCMonth() + 1) + "-" + pad2(d.getUTCDate());
    }

    // The Plotly x value of an instant shown in a zone: "YYYY-MM-DD HH:MM:SS" (".mmm" added for fractions).
    function plotX(unixSeconds, timeZone) {
        const d = wallClock(unixSeconds, timeZone);
        let text = dateText(d) + " " + pad2(d.getUTCHours()) + ":" + pad2(d.getUTCMinutes()) + ":" +
            pad2(d.getUTCSeconds());
        const ms = d.getUTCMilliseconds();
        if (ms) {
            text += "." + (ms < 10 ? "00" : ms < 100 ? "0" : "") + ms;
        }
        return text;
    }

    const PLOT_X = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?)?Z?$/;

    // The inverse of plotX, for the ranges of a relayout event: unix seconds (fractional when the text has
    // fractions), or null for text that is not a Plotly date. A number is read as Plotly's own milliseconds.
    // A wall time that occurs twice (the hour repeated when DST ends) reads as the first; one that never occurs
    // (skipped when DST starts) as the instant an hour later on the clock.
    function fromPlotX(value, timeZone) {
        let wall;
        if (typeof value === "number") {
            if (!isFinite(value)) {
                return null;
            }
            wall = value / 1000;
        } else {
            const m = PLOT_X.exec(String(value || "").trim());
            if (!m) {
                return null;
            }
            const fraction = m[7] ? Number("0." + m[7]) : 0;
            wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] || 0), Number(m[5] || 0),
                            Number(m[6] || 0)) / 1000 + fraction;
        }
        if (isUtc(timeZone)) {
            return wall;
        }
        // Try the offsets in force just before and just after: the earliest instant that shows this wall time.
        const early = wall - zoneOffsetMinutes(wall - 86400, timeZone) * 60;
        const late = wall - zoneOffsetMinutes(wall + 86400, timeZone) * 60;
        const candidates = [Math.min(early, late), Math.max(early, late)];
        for (let i = 0; i < candidates.length; i += 1) {
            const t = candidates[i];
            if (t + zoneOffsetMinutes(t, timeZone) * 60 === wall) {
                return t;
            }
        }
        return wall - zoneOffsetMinutes(wall, timeZone) * 60;
    }

    // A candle's time for people: "2026-03-08 14:05" (seconds only when the instant has them) in the zone given
    // (UTC by default); on daily candles their date, "2026-03-08": a daily candle is a UTC day, so its date is
    // read in UTC whatever the zone (New York would otherwise show the day before).
    function time(unixSeconds, options) {
        if (!isNumber(unixSeconds)) {
            return DASH;
        }
        const o = options || {};
        if (o.timeframe === "1d") {
            return dateText(new Date(unixSeconds * 1000));
        }
        const d = wallClock(unixSeconds, o.timeZone);
        let text = dateText(d) + " " + pad2(d.getUTCHours()) + ":" + pad2(d.getUTCMinutes());
        if (d.getUTCSeconds()) {
            text += ":" + pad2(d.getUTCSeconds());
        }
        return text;
    }

    function shortZoneName(locale, timeZone, date) {
        const parts = new Intl.DateTimeFormat(locale, { timeZone: timeZone, timeZoneName: "short" })
            .formatToParts(date);
        for (let i = 0; i < parts.length; i += 1) {
            if (parts[i].type === "timeZoneName") {
                return parts[i].value;
            }
        }
        return timeZone;
    }

    // A short name of the zone at an instant (default now): "UTC", "EST"/"EDT", "CET"/"CEST", "BST", else the
    // offset "GMT+9", "GMT+5:30". American zones have abbreviations in en-US, European ones only in en-GB.
    function zoneLabel(timeZone, at) {
        if (isUtc(timeZone)) {
            return "UTC";
        }
        const when = isNumber(at) ? at : Date.now() / 1000;
        const key = timeZone + "@" + Math.floor(when / QUARTER_HOUR);
        let label = labelCache.get(key);
        if (label === undefined) {
            const date = new Date(when * 1000);
            label = shortZoneName("en-US", timeZone, date);
            if (/^GMT[+-]/.test(label)) {
                const british = shortZoneName("en-GB", timeZone, date);
                if (!/^GMT[+-]/.test(british)) {
                    label = british;
                }
            }
            if (labelCache.size >= 1024) {
                labelCache.clear();
            }
            labelCache.set(key, label);
        }
        return label;
    }

    // Time left until a candle closes: 42 → "0:42", 725 → "12:05", 3723 → "1:02:03"; never negative.
    function countdown(seconds) {
        const total = isNumber(seconds) && seconds > 0 ? Math.floor(seconds) : 0;
        const h = Math.floor(total / 3600);
        const m = Math.floor((total % 3600) / 60);
        const s = total % 60;
        return h ? h + ":" + pad2(m) + ":" + pad2(s) : m + ":" + pad2(s);
    }

    const api = {
        price: price,
        percent: percent,
        volume: volume,
        d3Format: d3Format,
        precisionOf: precisionOf,
        validZone: validZone,
        zoneOffsetMinutes: zoneOffsetMinutes,
        plotX: plotX,
        fromPlotX: fromPlotX,
        time: time,
        zoneLabel: zoneLabel,
        countdown: countdown,
    };
    if (typeof window !== "undefined") {
        window.tickstream = Object.assign(window.tickstream || {}, { format: api });
    }
    if (typeof module !== "undefined" && module.exports) {
        module.exports = api;
    }
})();
