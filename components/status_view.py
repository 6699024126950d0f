"""The status page's cards (pure): the service's health, sources and their circuits, data age per symbol, cache,
WebSocket traffic, signal trackers, feed restarts, uptime and the latest error — from the bodies of /health,
/metrics/live-data and /ws/status."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from dash import html

# Trackers listed on the page (the rest are counted): a page, not a dump.
MAX_TRACKER_ROWS = 40


def _number(value: Any, digits: int = 0) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    return f"{value:,.{digits}f}"


def duration(seconds: float | None) -> str:
    """``3725`` → ``1:02:05``; days as ``2d 1:02:05``.

    >>> duration(3725), duration(2 * 86400 + 5), duration(None)
    ('1:02:05', '2d 0:00:05', '—')
    """
    if seconds is None or not math.isfinite(seconds):
        return "—"
    total = int(max(0, seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def age(seconds: float | None) -> str:
    """How old a value is: ``0.4 s``, ``12 s``, ``3 min``, ``2 h``.

    >>> age(0.42), age(12.3), age(185), age(7300), age(None)
    ('0.4 s', '12 s', '3 min', '2 h', '—')
    """
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 10:
        return f"{max(seconds, 0):.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def kv_table(rows: Sequence[tuple[str, Any]], class_name: str = "kv") -> html.Table:
    return html.Table(className=class_name, children=html.Tbody([
        html.Tr([html.Th(label), html.Td(value)]) for label, value in rows
    ]))


def state_label(state: str) -> html.Span:
    return html.Span(state, className=f"state-{state}")


def card(title: str, body: Any, key: str) -> html.Section:
    return html.Section(className="panel status-card", children=[html.H3(title, className="panel-title"), body],
                        **{"data-card": key})


def service_card(health: Mapping[str, Any]) -> html.Section:
    live = health.get("live_data") or {}
    rows: list[tuple[str, Any]] = [
        ("status", state_label(str(health.get("status", "unknown")))),
        ("uptime", html.Span(str(live.get("uptime") or duration(live.get("uptime_seconds"))),
                             **{"data-value": "uptime"})),
        ("database", str(health.get("database", "—"))),
        ("redis", str(health.get("redis", "—"))),
        ("agents", str(health.get("agents", "—"))),
    ]
    reasons = health.get("reasons") or []
    if reasons:
        rows.append(("reasons", "; ".join(str(r) for r in reasons)))
    return card("Service", kv_table(rows), "service")


def feed_card(live: Mapping[str, Any]) -> html.Section:
    rows: list[tuple[str, Any]] = [
        ("feed", f"{live.get('feed', '—')} · {'running' if live.get('feed_running') else 'stopped'}"),
        ("quotes fetched", html.Span(_number(live.get("quotes_fetched")), **{"data-value": "quotes"})),
        ("ticks", html.Span(_number(live.get("ticks")), **{"data-value": "ticks"})),
        ("candles closed", _number(live.get("candles_closed"))),
        ("errors", _number(live.get("errors"))),
        ("feed restarts", _number(live.get("restarts"))),
        ("last iteration", age(live.get("last_iteration_seconds"))),
        ("latest error", str(live.get("last_error") or "none")),
    ]
    return card("Feed", kv_table(rows), "feed")


def sources_card(live: Mapping[str, Any]) -> html.Section:
    sources = live.get("sources") or []
    rows = [(str(s.get("name")), html.Span([state_label(str(s.get("state"))),
                                            f" · {_number(s.get('total_failures'))} failures"]))
            for s in sources]
    cache = live.get("cache") or {}
    hit_rate = live.get("cache_hit_rate")
    rows.append(("cache hit rate", "—" if hit_rate is None else f"{hit_rate * 100:.1f} %"))
    if cache:
        rows.append(("cache", f"{cache.get('mode', '')} · {_number(cache.get('hits'))} hits · "
                              f"{_number(cache.get('misses'))} misses"))
    return card("Sources and cache", kv_table(rows), "sources")


def websocket_card(live: Mapping[str, Any]) -> html.Section:
    ws = live.get("websocket") or {}
    rows = [
        ("connections", html.Span(_number(ws.get("active_connections")), **{"data-value": "connections"})),
        ("subscriptions", _number(ws.get("subscriptions"))),
        ("messages sent", html.Span(_number(ws.get("messages_sent")), **{"data-value": "messages_sent"})),
        ("messages dropped", _number(ws.get("messages_dropped"))),
        ("slow closes", _number(ws.get("slow_closes"))),
        ("bytes sent", _number(ws.get("bytes_sent"))),
    ]
    return card("WebSocket", kv_table(rows), "websocket")


def data_age_card(ages: Mapping[str, tuple[float | None, str, bool]]) -> html.Section:
    """``ages``: symbol → (seconds since its latest quote, source, stale)."""
    rows = [(symbol, f"{age(seconds)} · {source}{' · stale' if stale else ''}")
            for symbol, (seconds, source, stale) in sorted(ages.items())]
    return card("Data age per symbol", kv_table(rows) if rows else html.P("No symbol tracked.", className="muted"),
                "ages")


def trackers_card(ws_status: Mapping[str, Any]) -> html.Section:
    trackers = ws_status.get("trackers") or {}
    rows = [(key, f"{_number(t.get('last_candle_count'))} candles · "
                  f"{sum(int(v or 0) for v in (t.get('cached_signals_count') or {}).values())} overlays")
            for key, t in sorted(trackers.items())[:MAX_TRACKER_ROWS]]
    more = len(trackers) - len(rows)
    body: list[Any] = [html.P(f"{_number(ws_status.get('active_trackers'))} active", className="muted"),
                       kv_table(rows)]
    if more > 0:
        body.append(html.P(f"and {more} more", className="muted"))
    return card("Signal trackers", html.Div(body), "trackers")


def status_cards(health: Mapping[str, Any], live: Mapping[str, Any], ws_status: Mapping[str, Any],
                 ages: Mapping[str, tuple[float | None, str, bool]]) -> list[html.Section]:
    return [service_card(health), feed_card(live), sources_card(live), websocket_card(live), data_age_card(ages),
            trackers_card(ws_status)]
