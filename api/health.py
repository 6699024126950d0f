"""The /health body (docs/protocol.md): starting (HTTP 503), healthy, degraded (a source circuit open, stale data,
a late feed) or unhealthy (HTTP 503)."""

from __future__ import annotations

from typing import Any

from api.signal_bridge import SignalEngine
from feeds.live import LiveFeed
from feeds.source import MarketSource
from feeds.watchdog import FeedCheck, FeedState

STARTING = "starting"
HEALTHY = "healthy"
DEGRADED = "degraded"
UNHEALTHY = "unhealthy"


def source_states(source: MarketSource) -> list[dict[str, Any]]:
    """``[{name, state, ...}]`` for every source behind ``source``: breaker states for a failover chain, the
    source's own state otherwise (the simulated market reports ``ok``); ``rejected_quotes``/``rejected_candles``
    count what the source answered that failed validation (feeds/quote_validation.py)."""
    health = source.health()
    entries = health.get("sources")
    if isinstance(entries, list):
        return [
            {
                "name": entry.get("name"),
                "state": entry.get("state"),
                "consecutive_failures": entry.get("consecutive_failures", 0),
                "total_failures": entry.get("total_failures", 0),
                "last_error": entry.get("last_error"),
                "last_failure": entry.get("last_failure"),
                "last_success": entry.get("last_success"),
                "lingering_calls": entry.get("lingering_calls", 0),
                "rejected_quotes": entry.get("rejected_quotes", 0),
                "rejected_candles": entry.get("rejected_candles", 0),
                "last_rejection": entry.get("last_rejection"),
            }
            for entry in entries
        ]
    return [{
        "name": health.get("name", source.name),
        "state": health.get("state", "ok"),
        "consecutive_failures": 0,
        "total_failures": health.get("errors", 0),
        "last_error": health.get("last_error"),
        "last_failure": None,
        "last_success": health.get("last_success"),
        "lingering_calls": health.get("lingering_calls", 0),
        "rejected_quotes": health.get("rejected_quotes", 0),
        "rejected_candles": health.get("rejected_candles", 0),
        "last_rejection": health.get("last_rejection"),
    }]


def cache_state(health: dict[str, Any]) -> dict[str, Any]:
    """``{mode, reason, directory}`` of the market cache behind a source's ``health()``: ``disk``, ``memory`` (its
    directory could not be used; ``reason`` says why) or ``none`` (the simulated market has no cache)."""
    cache = health.get("cache")
    if not isinstance(cache, dict):
        return {"mode": "none", "reason": None, "directory": None}
    return {"mode": cache.get("mode", "disk"), "reason": cache.get("reason"), "directory": cache.get("directory")}


def skipped_files(health: dict[str, Any]) -> list[dict[str, Any]]:
    """Replay files left out at start-up (``{file, row, reason}``), from the replay source's details."""
    found: list[dict[str, Any]] = []
    entries = health.get("sources")
    for details in ([e.get("details") for e in entries] if isinstance(entries, list) else [health]):
        if isinstance(details, dict) and isinstance(details.get("skipped_files"), list):
            found.extend(details["skipped_files"])
    return found


def _usable(state: object) -> bool:
    # "closed" is a failover breaker that lets calls through; "ok" is a source that reports on itself.
    return state in ("closed", "ok")


def format_uptime(seconds: float) -> str:
    """``H:MM:SS`` with whole seconds; hours run past 24 (``180190`` → ``"50:03:10"``), negatives count as 0."""
    whole = max(0, int(seconds))
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def agents_state(signals: SignalEngine | None) -> str:
    """``active`` once trackers vote, ``warming_up`` while none is seeded yet, ``not_configured`` without them."""
    if signals is None:
        return "not_configured"
    return "active" if signals.trackers() else "warming_up"


def health_body(feed: LiveFeed, source: MarketSource,
                signals: SignalEngine | None = None) -> tuple[dict[str, Any], int]:
    """The body and HTTP status of GET /health.

    - unhealthy (503): the feed thread is not running, or it tracks no symbol (every first quote failed), or no
      source can be called (every circuit open) and the feed has no price at all to show, or the watchdog finds
      the feed stalled (no iteration completed for ``watchdog_limits.stalled_after``: max(10 intervals, 10 s));
    - starting (503): the feed runs but has not completed its first iteration yet;
    - degraded (200): a source's circuit is open or half-open, a tracked symbol's latest price is the stale
      fallback from the cache, the feed is late (no iteration for ``late_after``: max(3 intervals, 2 s)), the cache
      runs in memory only (``cache.mode``), or replay files were skipped at start-up (``live_data.skipped_files``);
    - healthy (200) otherwise. ``reasons`` says why it is not healthy.
    """
    stats = feed.stats.snapshot()
    sources = source_states(source)
    running = feed.is_running
    watch = feed.watchdog_check()
    quotes = {symbol: feed.latest_quote(symbol) for symbol in feed.symbols}
    stale = sorted(symbol for symbol, quote in quotes.items() if quote is not None and quote.stale)
    have_prices = any(quote is not None for quote in quotes.values())

    reasons: list[str] = []
    if not running:
        reasons.append("the feed thread is not running")
    elif not have_prices and feed.iterations > 0:
        # After the first iteration; symbols whose first quote failed stay listed while the feed retries them.
        reasons.append("the feed has no price for any symbol: no source could give a first quote")
    blocked = [s["name"] for s in sources if not _usable(s["state"])]
    if sources and len(blocked) == len(sources) and not have_prices:
        reasons.append("no source can be called and there is no data to serve")
    if running and watch.state is FeedState.STALLED:
        reasons.append(_late_reason(watch))
    unhealthy = bool(reasons)
    starting = running and not unhealthy and watch.state is FeedState.STARTING
    if starting:
        reasons.append(watch.reason)
    elif running and watch.state is FeedState.LATE:
        reasons.append(_late_reason(watch))
    for name in blocked:
        state = next(s["state"] for s in sources if s["name"] == name)
        reasons.append(f"source {name} is {state}")
    if stale:
        reasons.append(f"stale data for {', '.join(stale)}")
    # Start-up problems the app carried on through: they degrade the service, never stop it.
    details = source.health()
    cache = cache_state(details)
    if cache["mode"] == "memory":
        reasons.append(f"the market cache runs in memory only: {cache['reason']}")
    skipped = skipped_files(details)
    for entry in skipped:
        row = f" row {entry['row']}:" if entry.get("row") is not None else ""
        reasons.append(f"replay file {entry['file']} skipped:{row} {entry['reason']}")

    status = UNHEALTHY if unhealthy else STARTING if starting else DEGRADED if reasons else HEALTHY
    body: dict[str, Any] = {
        "status": status,
        "database": "not_configured",
        "redis": "not_configured",
        "agents": agents_state(signals),
        "live_data": {
            "status": "running" if running else "stopped",
            "quotes_fetched": stats["quotes_fetched"],
            "errors": stats["errors"],
            "uptime": format_uptime(stats["uptime"]),
            "uptime_seconds": stats["uptime"],
            "stale": bool(stale),
            "sources": [{"name": s["name"], "state": s["state"]} for s in sources],
            "feed_state": watch.state.value,
            "seconds_since_update": round(watch.idle, 3) if watch.state is not FeedState.STOPPED else None,
            "skipped_files": skipped,
        },
        "cache": cache,
        "reasons": reasons,
    }
    return body, 503 if status in (UNHEALTHY, STARTING) else 200


def _late_reason(watch: FeedCheck) -> str:
    return (f"{watch.reason} (degraded after {watch.limits.late_after:g} s, unhealthy after "
            f"{watch.limits.stalled_after:g} s)")
