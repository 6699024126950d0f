"""Rate limits per client address and route group (market data, signals, trading) with flask-limiter.

Each group shares one budget per client address (``request.remote_addr``: the client's own, or the one a trusted
proxy names, api/client_address.py). Over it, the answer is 429 with ``Retry-After`` and the ``X-RateLimit-*``
headers (the JSON body comes from api/errors.py). The defaults stop a runaway loop, not a person: a dashboard never
comes near them. Counters live in memory, or in Redis when REDIS_URL is set (one budget for every worker).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Mapping

from flask import Flask, Response
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many

from settings import Settings

log = logging.getLogger(__name__)

# Budgets per client address; a group's value is one or more limits separated by ";" (flask-limiter's notation).
DEFAULT_LIMITS: dict[str, str] = {
    "market_data": "300/second",
    "signals": "300/second",
    "trading": "100/second",
}
GROUPS = tuple(DEFAULT_LIMITS)
OFF = "off"
_TRADING_PREFIXES = ("/api/v1/orders", "/api/v1/positions", "/api/v1/trades", "/api/v1/performance",
                     "/api/v1/account", "/api/v1/auto-trading", "/api/v1/alerts")


def route_group(rule: str) -> str | None:
    """The group of a URL rule, or None for routes without a limit (pages, Dash, health, metrics, documents, /ws).

    >>> [route_group(r) for r in ("/api/v1/market-data/<symbol>", "/api/v1/symbols", "/api/v1/signals/symbol/<s>",
    ...                           "/api/v1/orders/<order_id>", "/api/v1/alerts", "/health", "/_dash-layout")]
    ['market_data', 'market_data', 'signals', 'trading', 'trading', None, None]
    """
    if rule.startswith("/api/v1/market-data/") or rule == "/api/v1/symbols":
        return "market_data"
    if rule.startswith("/api/v1/signals/"):
        return "signals"
    if rule.startswith(_TRADING_PREFIXES):
        return "trading"
    return None


def parse_rate_limits(text: str) -> dict[str, str | None]:
    """TICKSTREAM_RATE_LIMITS → the limit of each group (None: no limit). Entries ``group=limits`` separated by
    spaces or commas override the defaults; ``off`` alone turns every limit off, ``group=off`` one group's.

    >>> parse_rate_limits("")["trading"]
    '100/second'
    >>> chosen = parse_rate_limits("trading=5/second;100/minute signals=off")
    >>> chosen["trading"], chosen["signals"], chosen["market_data"]
    ('5/second;100/minute', None, '300/second')
    >>> set(parse_rate_limits("off").values())
    {None}
    """
    limits: dict[str, str | None] = dict(DEFAULT_LIMITS)
    entries = text.replace(",", " ").split()
    if [entry.lower() for entry in entries] == [OFF]:
        return dict.fromkeys(GROUPS)
    for entry in entries:
        group, sep, value = entry.partition("=")
        group = group.strip().lower().replace("-", "_")
        if not sep or group not in GROUPS:
            raise ValueError(f"TICKSTREAM_RATE_LIMITS: {entry!r} is not group=limit with a group among "
                             f"{', '.join(GROUPS)} (or 'off' alone)")
        if value.strip().lower() == OFF:
            limits[group] = None
            continue
        try:
            parsed = parse_many(value)
        except ValueError:
            parsed = []
        if not parsed:
            raise ValueError(f"TICKSTREAM_RATE_LIMITS: {value!r} is not a rate limit such as 100/second or "
                             "10/second;600/minute") from None
        limits[group] = value
    return limits


def retry_after(reset_at: float, now: float) -> int:
    """Whole seconds until the window ends, rounded up (a client that waits that long is let in), at least 1.

    >>> retry_after(100.0, 98.2), retry_after(100.0, 100.0), retry_after(100.0, 97.0)
    (2, 1, 3)
    """
    return max(1, math.ceil(reset_at - now))


def _endpoint_groups(rules: Iterable[tuple[str, str]]) -> dict[str, str]:
    """endpoint → group for the endpoints whose every rule lies in one group (a view shared with other routes, such
    as a 405 answer, keeps no limit rather than charging one group for another's requests)."""
    seen: dict[str, set[str | None]] = {}
    for rule, endpoint in rules:
        seen.setdefault(endpoint, set()).add(route_group(rule))
    return {endpoint: next(iter(groups)) for endpoint, groups in seen.items()  # type: ignore[misc]
            if len(groups) == 1 and None not in groups}


def init_rate_limits(server: Flask, settings: Settings) -> Limiter | None:
    """Limit the routes registered so far (call after every blueprint). None when every limit is off."""
    limits = parse_rate_limits(settings.rate_limits)
    if not any(limits.values()):
        log.info("rate limits are off (TICKSTREAM_RATE_LIMITS=off)")
        return None
    # headers_enabled off: flask-limiter would put Retry-After on every answer and overwrite a route's own (a 503
    # from a busy source says when to come back); the headers are added below instead.
    limiter = Limiter(get_remote_address, app=server, storage_uri=settings.redis_url or "memory://",
                      headers_enabled=False, strategy="fixed-window", key_prefix="tickstream",
                      # Redis down: count in memory for a while rather than fail every request.
                      swallow_errors=True, in_memory_fallback_enabled=bool(settings.redis_url))

    @server.after_request
    def _rate_limit_headers(response: Response) -> Response:
        current = limiter.current_limit
        if current is not None:
            response.headers["X-RateLimit-Limit"] = str(current.limit.amount)
            response.headers["X-RateLimit-Remaining"] = str(current.remaining)
            response.headers["X-RateLimit-Reset"] = str(int(current.reset_at))
            if response.status_code == 429 and current.breached:
                response.headers["Retry-After"] = str(retry_after(current.reset_at, time.time()))
        return response

    limited = _limit_endpoints(server, limiter, limits)
    log.debug("rate limits on %d endpoints: %s", len(limited), limits)
    return limiter


def _limit_endpoints(server: Flask, limiter: Limiter, limits: Mapping[str, str | None]) -> dict[str, str]:
    groups = {endpoint: group for endpoint, group in
              _endpoint_groups((rule.rule, rule.endpoint) for rule in server.url_map.iter_rules()).items()
              if limits.get(group)}
    for endpoint, group in groups.items():
        limit = limits[group]
        assert limit is not None
        message = (f"too many {group.replace('_', ' ')} requests from this address (limit {limit}); retry after "
                   "Retry-After seconds")
        # A shared limit: every route of the group draws on the same budget (scope = the group's name).
        server.view_functions[endpoint] = limiter.shared_limit(limit, scope=group, error_message=message)(
            server.view_functions[endpoint])
    return groups
