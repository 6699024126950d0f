// Theme and frame of every page (the shared theme contract): <html data-theme="dark|light"> remembered in
// localStorage["tickstream-theme"], switched by any [data-theme-toggle] element, announced with the
// "tickstream:theme" event. Runs before React renders (Dash loads assets before its renderer starts), so a page
// never paints in the wrong theme. Embed routes (/embed/...) get html.embed (no top bar) and may take ?theme=.
(function () {
    "use strict";

    const KEY = "tickstream-theme";
    const THEMES = ["dark", "light"];
    const root = document.documentElement;
    const embed = window.location.pathname.indexOf("/embed/") === 0;

    function stored() {
        try {
            const value = window.localStorage.getItem(KEY);
            return THEMES.indexOf(value) >= 0 ? value : null;
        } catch (err) {
            return null;  // storage disabled (private mode, sandboxed iframe): the default theme
        }
    }

    function requested() {
        const value = new URLSearchParams(window.location.search).get("theme");
        return THEMES.indexOf(value) >= 0 ? value : null;
    }

    // Every library's own switch follows the one attribute: Mantine reads data-mantine-color-scheme, AG Grid's
    // theming API data-ag-theme-mode; their colours come from the CSS variables in style.css.
    function apply(theme) {
        root.setAttribute("data-theme", theme);
        root.setAttribute("data-mantine-color-scheme", theme);
        root.setAttribute("data-ag-theme-mode", theme);
        root.style.colorScheme = theme;
    }

    function current() {
        return root.getAttribute("data-theme") === "light" ? "light" : "dark";
    }

    function setTheme(theme, remember) {
        if (THEMES.indexOf(theme) < 0) { return; }
        apply(theme);
        if (remember !== false) {
            try {
                window.localStorage.setItem(KEY, theme);
                window.localStorage.setItem("mantine-color-scheme-value", theme);
            } catch (err) {
                // not remembered: the switch still applies to this page
            }
        }
        window.dispatchEvent(new CustomEvent("tickstream:theme", { detail: { theme: theme } }));
    }

    // An embed follows ?theme= (a portal picks the theme that matches it) and never changes what the analyst
    // chose for the full app.
    apply((embed && requested()) || stored() || "dark");
    // Mantine's provider sets its own attribute from its own key when it mounts: keep that key in step.
    try { window.localStorage.setItem("mantine-color-scheme-value", current()); } catch (err) { /* no storage */ }
    if (embed) { root.classList.add("embed"); }

    document.addEventListener("click", function (event) {
        const target = event.target && event.target.closest && event.target.closest("[data-theme-toggle]");
        if (!target) { return; }
        setTheme(current() === "dark" ? "light" : "dark");
    });

    // Another tab switched: follow it.
    window.addEventListener("storage", function (event) {
        if (event.key === KEY && THEMES.indexOf(event.newValue) >= 0 && !embed) { setTheme(event.newValue, false); }
    });

    window.tickstream = Object.assign(window.tickstream || {}, {
        theme: { current: current, set: setTheme },
    });
})();
