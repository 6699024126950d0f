"""The OpenAPI 3.1 document of every REST route (docs/protocol.md) and the blueprint serving it at /api/v1/openapi.json.

Schemas come from pydantic models: the query models the routes validate with (api/rest.py) and the response models
below, which restate docs/protocol.md and docs/signals.md shapes field by field. Fields a route may add later are
allowed (docs/protocol.md: clients ignore fields they do not know), so response objects do not forbid extra
properties.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any, Literal

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from api.alert_routes import AlertRuleBody
from api.alert_routes import HistoryQuery as AlertHistoryQuery
from api.rest import (
    MAX_END,
    MAX_LEVELS_CANDLES,
    MAX_LIMIT,
    HistoryQuery,
    LevelsQuery,
    OptionsQuery,
    SignalListQuery,
    SymbolsQuery,
    get_route,
)
from api.trading_openapi import BODY_MODELS, RESPONSE_MODELS, trading_paths

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
_REF = "#/components/schemas/{model}"

# docs/protocol.md "Common rules", with lower case allowed because symbols are case-insensitive on input.
SYMBOL_PATTERN = r"^[A-Za-z0-9^][A-Za-z0-9.\-=^]{0,19}$"
PERIOD_PATTERN = r"^([1-9][0-9]{0,4}[dD]|[136][mM][oO]|[125][yY]|[mM][aA][xX])$"
TIMEFRAMES = ["1m", "5m", "15m", "30m", "1h", "4h", "1d", "60m"]
EXPIRATION_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

Number = float | None


class _Open(BaseModel):
    # Responses may grow new optional fields (docs/protocol.md), so a documented object never forbids extra ones.
    model_config = ConfigDict(extra="allow")


# -- market data -----------------------------------------------------------------------------------------------


class ErrorDetail(_Open):
    code: str = Field(description="machine-readable code, e.g. invalid_symbol, unknown_symbol, no_data")
    message: str


class ErrorBody(_Open):
    """Every error answer of the API."""

    error: ErrorDetail


class Quote(_Open):
    symbol: str
    price: Number
    change: Number = Field(description="price minus the previous close, with the price's decimals")
    change_percent: Number = Field(description="in percent, 4 decimals")
    volume: Number = Field(description="volume traded since the start of the UTC day (a whole number when it counts "
                                       "shares or contracts)")
    bid: Number
    ask: Number
    timestamp: str = Field(description="ISO-8601 UTC with milliseconds and Z",
                           json_schema_extra={"format": "date-time"})
    source: str = Field(description="the source that produced the price: sim, yahoo, polygon, alpaca, replay")
    stale: bool = Field(default=False, description="true: every source failed; this is the last good value")
    as_of: str | None = Field(default=None, description="when a stale value was fetched (ISO-8601 UTC)")


class Candle(_Open):
    time: int = Field(description="the candle's open time in Unix seconds")
    open: Number
    high: Number
    low: Number
    close: Number
    volume: Number = Field(description="a whole number when it counts shares or contracts")


class History(_Open):
    symbol: str
    period: str
    interval: Literal["1m", "5m", "15m", "30m", "1h", "4h", "1d"]
    data: list[Candle] = Field(description="oldest first")
    source: str = Field(default="", description="the source that produced the candles")
    stale: bool = Field(default=False, description="true: every source failed; these are the last good candles")
    as_of: str | None = Field(default=None, description="when stale candles were fetched (ISO-8601 UTC)")


class CandleColumns(_Open):
    """The candles of a ``format=columns`` answer: one array per field, index i of each is candle i."""

    time: list[int] = Field(description="open times in Unix seconds, oldest first")
    open: list[Number]
    high: list[Number]
    low: list[Number]
    close: list[Number]
    volume: list[Number]


class HistoryColumns(_Open):
    """The history answer with ``format=columns``: the same candles as ``data`` in the row form."""

    symbol: str
    period: str
    interval: Literal["1m", "5m", "15m", "30m", "1h", "4h", "1d"]
    columns: CandleColumns
    source: str = Field(default="", description="the source that produced the candles")
    stale: bool = Field(default=False, description="true: every source failed; these are the last good candles")
    as_of: str | None = Field(default=None, description="when stale candles were fetched (ISO-8601 UTC)")


class OptionContract(_Open):
    contract_symbol: str = Field(description="OCC symbol, e.g. AAPL240119C00190000")
    strike: float
    last_price: Number
    bid: Number
    ask: Number
    volume: int | None
    open_interest: int | None
    implied_volatility: Number = Field(description="annual, as a decimal (0.25 = 25 %)")
    delta: Number = Field(description="option price change per 1.00 move of the underlying")
    gamma: Number
    theta: Number = Field(description="option price change per calendar day")
    vega: Number = Field(description="option price change per volatility point")
    unusual: bool = Field(description="volume far above open interest or the contract's usual volume")


class OptionChain(_Open):
    symbol: str
    underlying_price: Number
    expiration: str = Field(json_schema_extra={"format": "date"})
    expirations: list[str] = Field(description="every expiration the source lists, nearest first")
    calls: list[OptionContract]
    puts: list[OptionContract]
    source: str = Field(default="")
    stale: bool = False
    as_of: str | None = None


class SymbolMatch(_Open):
    symbol: str = Field(description="the ticker as the market data routes take it")
    name: str
    asset_class: Literal["equity", "etf", "index", "future", "currency", "crypto"]
    tick_size: float = Field(description="smallest price step, e.g. 0.01, 0.25 (ES=F), 0.00001 (EURUSD=X)")
    precision: int = Field(ge=0, description="decimals of the instrument's prices; every price of it on the wire "
                                             "has at most these")


class SymbolList(_Open):
    symbols: list[SymbolMatch] = Field(description="best match first")


# -- service -----------------------------------------------------------------------------------------------------


class SourceState(_Open):
    name: str
    state: str = Field(description="closed / half_open / open for a failover source; ok for the simulated market")


class SkippedFile(_Open):
    file: str
    row: int | None = Field(description="1-based data row (the header not counted); null when not one row's fault")
    reason: str


class CacheHealth(_Open):
    mode: Literal["disk", "memory", "none"] = Field(
        description="memory: the cache directory could not be used and the cache runs in memory only (degraded); "
                    "none: the simulated market has no cache")
    reason: str | None = None
    directory: str | None = None


class LiveDataHealth(_Open):
    status: Literal["running", "stopped"]
    quotes_fetched: int
    errors: int
    uptime: str = Field(description='time since the feed started, "H:MM:SS" (hours run past 24: "50:03:10")',
                        pattern=r"^[0-9]+:[0-5][0-9]:[0-5][0-9]$", examples=["50:03:10"])
    uptime_seconds: float = Field(description="the same in seconds")
    stale: bool = False
    sources: list[SourceState] = Field(default_factory=list)
    feed_state: Literal["stopped", "starting", "running", "late", "stalled"] = Field(
        default="running",
        description="the feed watchdog: starting until the first feed iteration completes; late when none "
                    "completed for max(3 update intervals, 2 s) (health degraded); stalled after max(10 update "
                    "intervals, 10 s) (health unhealthy); stopped when the feed was never started")
    seconds_since_update: float | None = Field(
        default=None, description="seconds since the last completed feed iteration (since the start before the "
                                  "first one); null when the feed was never started")
    skipped_files: list[SkippedFile] = Field(default_factory=list,
                                             description="replay files left out at start-up (the others play)")


class Health(_Open):
    status: Literal["starting", "healthy", "degraded", "unhealthy"]
    database: str
    redis: str
    agents: str
    live_data: LiveDataHealth
    cache: CacheHealth | None = None
    reasons: list[str] = Field(default_factory=list, description="why the status is not healthy")


class SourceDetail(_Open):
    name: str
    state: str
    consecutive_failures: int
    total_failures: int
    last_error: str | None
    last_failure: float | None
    last_success: float | None
    lingering_calls: int
    rejected_quotes: int = Field(default=0, description="quotes the source answered that failed validation "
                                                        "(not finite, not positive, bid above ask), dropped")
    rejected_candles: int = Field(default=0, description="history candles dropped for the same reasons or a "
                                                         "high/low not containing open and close")
    last_rejection: str | None = None


class LiveData(_Open):
    """Feed statistics; more counters may appear."""

    quotes_fetched: int
    errors: int
    restarts: int
    uptime: float = Field(description="seconds")
    feed: str
    feed_running: bool
    symbols: list[str]
    sources: list[SourceDetail]
    cache: dict[str, Any] | None = Field(description="hits, misses, hit_rate, stale_reads, writes, errors")
    cache_hit_rate: float | None
    bus: dict[str, Any]
    websocket: dict[str, Any] = Field(
        description="active_connections, subscriptions, messages_sent, messages_dropped, frames_sent…; "
                    "symbols_charged (symbols clients brought in, each counted for one connection), leases (REST), "
                    "new_symbol_refusals")


# -- signals (docs/signals.md) ----------------------------------------------------------------------------------


class Vote(_Open):
    agent: str
    action: Literal["BUY", "SELL", "HOLD"]
    confidence: float = Field(ge=0, le=1)


class AgentsConsensus(_Open):
    # camelCase: the wire names docs/protocol.md fixed for this object.
    agentsInFavor: int
    totalAgents: int
    votes: list[Vote]


class Signal(_Open):
    id: str
    symbol: str
    action: Literal["BUY", "SELL", "HOLD"]
    confidence: float = Field(ge=0, le=1)
    price: Number
    timestamp: str = Field(json_schema_extra={"format": "date-time"})
    timeframe: str
    reasoning: str
    agents_consensus: AgentsConsensus


class SignalList(_Open):
    signals: list[Signal] = Field(description="newest first")


class SwingPoint(_Open):
    time: int
    index: int
    kind: Literal["high", "low"]
    price: float
    confirmed_time: int
    confirmed_index: int


class FairValueGap(_Open):
    time: int
    index: int
    direction: Literal["bullish", "bearish"]
    top: float
    bottom: float
    confirmed_index: int
    mitigated: bool
    mitigated_index: int | None
    mitigated_time: int | None


class StructureBreak(_Open):
    time: int
    index: int
    direction: Literal["bullish", "bearish"]
    kind: Literal["BOS", "CHOCH"]
    level: float
    swing_index: int
    swing_time: int


class FloorPivots(_Open):
    period_start: int
    P: float
    R1: float
    R2: float
    R3: float
    S1: float
    S2: float
    S3: float


class Overlays(_Open):
    pivot_points: list[SwingPoint]
    fvg_zones: list[FairValueGap]
    break_signals: list[StructureBreak]
    pivot_levels: list[FloorPivots]


class LevelsWindow(_Open):
    start: int | None = Field(description="open time of the first candle the overlays were computed over")
    end: int | None = Field(description="open time of the last one")
    candles: int = Field(description="how many candles")


class SignalLevels(_Open):
    symbol: str
    timeframe: str
    signals: Overlays
    source: str | None = Field(default=None, description="with period, end or limit: the source of the candles")
    stale: bool | None = Field(default=None, description="with period, end or limit: true when the candles are "
                                                         "the last good ones from the cache")
    as_of: str | None = Field(default=None, description="when stale candles were fetched (ISO-8601 UTC)")
    window: LevelsWindow | None = Field(default=None, description="with period, end or limit: the candles the "
                                                                  "overlays were computed over")


class SignalCounts(_Open):
    pivot_points: int
    fvg_zones: int
    break_signals: int


class TrackerStatus(_Open):
    last_candle_count: int
    last_update_time: str | None
    cached_signals_count: SignalCounts


class WsStatus(_Open):
    active_trackers: int
    trackers: dict[str, TrackerStatus] = Field(description='keyed by "SYMBOL_TIMEFRAME", e.g. "GC=F_1h"')


_MODELS: tuple[type[BaseModel], ...] = (
    ErrorBody, Quote, History, HistoryColumns, OptionChain, SymbolList, Health, LiveData, SignalList, SignalLevels,
    WsStatus,
)


# -- alerts (api/alert_routes.py, docs/alerts.md) ---------------------------------------------------------------


class AlertRuleOut(_Open):
    """An alert rule with its firing state."""

    rule_id: str
    condition: Literal["price_above", "price_below", "percent_move", "consensus", "new_fvg", "structure_break",
                       "unusual_options", "order_filled"]
    symbol: str | None = Field(description="null: an order_filled rule for every symbol")
    value: Number = Field(description="price level (price_above/price_below) or percent (percent_move)")
    window: Number = Field(description="percent_move look-back in seconds")
    timeframe: Literal["1m", "5m", "15m", "30m", "1h", "4h", "1d"]
    action: Literal["BUY", "SELL"] | None
    direction: Literal["up", "down", "bullish", "bearish"] | None
    frequency: Literal["once", "once_per_bar", "every_time"]
    cooldown_seconds: float
    level: Literal["info", "warning", "critical"]
    message: str
    webhook_url: str | None
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    enabled: bool = Field(description="false once a `once` rule has fired")
    fired_count: int
    last_fired_at: str | None = Field(json_schema_extra={"format": "date-time"})
    last_bar: int | None = Field(description="open time (Unix seconds) of the candle of the last firing")


class AlertRuleList(_Open):
    rules: list[AlertRuleOut] = Field(description="oldest first")


class AlertsDeleted(_Open):
    deleted: int


class WebhookResult(_Open):
    status: Literal["pending", "delivered", "failed", "dropped"]
    attempts: int
    error: str | None


class AlertFiring(_Open):
    alert_id: str
    rule_id: str
    level: Literal["info", "warning", "critical"]
    symbol: str | None
    message: str
    time: str = Field(json_schema_extra={"format": "date-time"})
    condition: str
    details: dict[str, Any] = Field(description="what the condition saw: price, percent, contracts, order …")
    webhook: WebhookResult | None = Field(description="null when the rule has no webhook")


class AlertHistory(_Open):
    history: list[AlertFiring] = Field(description="newest first")


_MODELS += (AlertRuleBody, AlertRuleOut, AlertRuleList, AlertsDeleted, AlertHistory)


# -- building the document -----------------------------------------------------------------------------------


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _error(description: str) -> dict[str, Any]:
    return _json(ErrorBody, description)


def query_parameters(model: type[BaseModel], extra: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """OpenAPI query parameters from a pydantic query model (every field optional; ``None`` means absent)."""
    schema = model.model_json_schema()
    params = []
    for name, prop in schema.get("properties", {}).items():
        branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
        param_schema = copy.deepcopy(branches[0]) if len(branches) == 1 else {"anyOf": branches}
        param_schema.update((extra or {}).get(name, {}))
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in schema.get("required", []),
                                 "schema": param_schema}
        if "description" in prop:
            param["description"] = prop["description"]
        if prop.get("examples"):
            param["example"] = prop["examples"][0]
        params.append(param)
    return params


def _symbol_param(description: str = "ticker, case-insensitive (AAPL, BRK-B, GC=F, ^GSPC, BTC-USD, EURUSD=X; "
                                      "currency pairs also as EURUSD)"
                  ) -> dict[str, Any]:
    return {"name": "symbol", "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "pattern": SYMBOL_PATTERN}, "example": "AAPL"}


def _history_operation(operation_id: str, summary: str, description: str) -> dict[str, Any]:
    params = query_parameters(HistoryQuery, {
        "period": {"pattern": PERIOD_PATTERN},
        "interval": {"enum": TIMEFRAMES},
    })
    candles = {"description": "candles, oldest first: `data` (rows, the default) or `columns` (format=columns)",
               "content": {"application/json": {"schema": {"oneOf": [_ref(History), _ref(HistoryColumns)]}}}}
    return {
        "operationId": operation_id,
        "tags": ["market-data"],
        "summary": summary,
        "description": description,
        "parameters": [_symbol_param(), *params],
        "responses": {
            "200": candles,
            "400": _error("invalid symbol, period, interval, end or limit, or a window the source cannot serve"),
            "404": _error("no source knows the symbol"),
            "503": _error("no source can answer and nothing is cached"),
        },
    }


def _alert_paths() -> dict[str, Any]:
    rule_id = {"name": "rule_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
    unknown_rule = _error("no such rule")
    return {
        "/api/v1/alerts": {
            "get": {"operationId": "listAlertRules", "tags": ["alerts"], "summary": "Alert rules",
                    "responses": {"200": _json(AlertRuleList, "every rule, oldest first")}},
            "post": {"operationId": "createAlertRule", "tags": ["alerts"], "summary": "Make an alert rule",
                     "description": "Conditions and frequencies as docs/alerts.md defines them. At most 500 rules.",
                     "requestBody": {"required": True,
                                     "content": {"application/json": {"schema": _ref(AlertRuleBody)}}},
                     "responses": {"201": _json(AlertRuleOut, "the rule"),
                                   "400": _error("invalid body or rule (invalid_json, invalid_rule, invalid_symbol, "
                                                 "invalid_timeframe), or too_many_rules"),
                                   "403": _error("a browser origin that may not change state"),
                                   "404": _error("no source knows the symbol"),
                                   "413": _error("body over 16 KiB")}},
            "delete": {"operationId": "deleteAllAlertRules", "tags": ["alerts"], "summary": "Delete every rule",
                       "responses": {"200": _json(AlertsDeleted, "how many rules were deleted")}},
        },
        "/api/v1/alerts/history": {"get": {
            "operationId": "getAlertHistory", "tags": ["alerts"], "summary": "Firings, newest first",
            "description": "The server keeps the newest 10,000 firings, each with its webhook result.",
            "parameters": query_parameters(AlertHistoryQuery),
            "responses": {"200": _json(AlertHistory, "firings, newest first"),
                          "400": _error("limit outside 1..1000 or an empty parameter")},
        }},
        "/api/v1/alerts/{rule_id}": {
            "get": {"operationId": "getAlertRule", "tags": ["alerts"], "summary": "One alert rule",
                    "parameters": [rule_id],
                    "responses": {"200": _json(AlertRuleOut, "the rule"), "404": unknown_rule}},
            "delete": {"operationId": "deleteAlertRule", "tags": ["alerts"], "summary": "Delete one alert rule",
                       "parameters": [rule_id],
                       "responses": {"200": _json(AlertRuleOut, "the deleted rule"), "404": unknown_rule}},
        },
    }


def _paths() -> dict[str, Any]:
    market_errors = {
        "400": _error("invalid symbol"),
        "404": _error("no source knows the symbol"),
        "503": _error("no source can answer and nothing is cached"),
    }
    return {
        "/api/v1/market-data/{symbol}": {"get": {
            "operationId": "getQuote",
            "tags": ["market-data"],
            "summary": "Latest quote",
            "description": "The feed's latest price when fresh, else the cache (30 s), else the source chain. "
                           "When every source fails the last good quote is returned with stale: true and its source.",
            "parameters": [_symbol_param()],
            "responses": {"200": _json(Quote, "the latest quote"), **market_errors},
        }},
        "/api/v1/market-data/{symbol}/history": {"get": _history_operation(
            "getHistory", "OHLCV candles",
            "Candles whose open time lies in `period` before `end` (default now, the forming candle included). "
            "With `end` only candles opening strictly before it (load older history by passing the oldest "
            f"time you have); with `limit` (1..{MAX_LIMIT}) only the newest ones. `end` is at most {MAX_END}.",
        )},
        "/api/v1/market-data/{symbol}/historical": {"get": _history_operation(
            "getHistorical", "OHLCV candles (alias)",
            "Same as /history; the interval defaults from the period (1d→5m, 5d→15m, 1mo→1h, 3mo→4h, longer→1d).",
        )},
        "/api/v1/market-data/{symbol}/options": {"get": {
            "operationId": "getOptions",
            "tags": ["market-data"],
            "summary": "Option chain with Greeks",
            "description": "Calls and puts of one expiration (default the nearest) with Black-Scholes Greeks; "
                           "`unusual` marks contracts whose volume is far above their open interest or usual volume.",
            "parameters": [_symbol_param(), *query_parameters(OptionsQuery, {
                "expiration": {"pattern": EXPIRATION_PATTERN}})],
            "responses": {
                "200": _json(OptionChain, "the chain"),
                "400": _error("invalid symbol or expiration, an expiration the source does not list, or a source "
                              "without options"),
                "404": market_errors["404"],
                "503": market_errors["503"],
            },
        }},
        "/api/v1/symbols": {"get": {
            "operationId": "searchSymbols",
            "tags": ["market-data"],
            "summary": "Symbol search",
            "description": "Instruments of the symbol universe shipped with the server (about 2,200 real tickers: "
                           "US, European and Japanese equities, ETFs, indices, futures, currency pairs, crypto) whose "
                           "ticker starts with `q` or whose name has words starting with the words of `q`, best first. "
                           "The simulated market serves exactly these symbols (unless started with "
                           "TICKSTREAM_SIM_ANY_SYMBOL=1); real providers know them too.",
            "parameters": query_parameters(SymbolsQuery),
            "responses": {
                "200": _json(SymbolList, "the matches, best first (possibly none)"),
                "400": _error("q missing, blank or longer than 50 characters, or limit outside 1..50"),
            },
        }},
        "/api/v1/signals/symbol/{symbol}": {"get": {
            "operationId": "getSignals",
            "tags": ["signals"],
            "summary": "Consensus signals of a symbol",
            "description": "The newest `limit` signals (default 50), newest first: of one timeframe with "
                           "`timeframe`, else across all timeframes. From the live trackers when the server streams "
                           "the symbol (the request then keeps it streamed 5 minutes, within the client address's "
                           "new-symbol limit); otherwise from its history at once (the newest 100 of its last 500 "
                           "closed candles per timeframe, cached 15 s), without adding it to the feed.",
            "parameters": [_symbol_param(), *query_parameters(SignalListQuery, {"timeframe": {"enum": TIMEFRAMES}})],
            "responses": {
                "200": _json(SignalList, "signals, newest first"),
                "400": _error("invalid symbol, timeframe or limit"),
                "404": _error("unknown symbol"),
                "503": _error("the symbol is not tracked and no source can answer for its history, nothing cached"),
            },
        }},
        "/api/v1/signals/symbol/{symbol}/levels": {"get": {
            "operationId": "getSignalLevels",
            "tags": ["signals"],
            "summary": "Chart overlays: swing points, fair value gaps, structure breaks, floor pivots",
            "description": "Object shapes as defined in docs/signals.md. Without period, end and limit: from the live "
                           "tracker when the server streams the symbol; otherwise from its last 300 closed candles "
                           "at once (cached 15 s), without adding it to the feed. With any of them: the overlays "
                           "of every closed candle the history route gives for the same period, end and limit "
                           f"(limit 1..{MAX_LEVELS_CANDLES}, default {MAX_LEVELS_CANDLES}; without end the "
                           "forming candle is left out; without period the timeframe's default window widened to "
                           "hold limit candles), computed over that window alone (older history for a chart), "
                           "cached 15 s.",
            "parameters": [_symbol_param(), *query_parameters(LevelsQuery, {
                "timeframe": {"enum": TIMEFRAMES}, "period": {"pattern": PERIOD_PATTERN}})],
            "responses": {
                "200": _json(SignalLevels, "the overlays"),
                "400": _error("invalid symbol, timeframe, period, end or limit"),
                "404": _error("unknown symbol"),
                "503": _error("the symbol is not tracked and no source can answer for its history, nothing cached"),
            },
        }},
        "/ws/status": {"get": {
            "operationId": "getWsStatus",
            "tags": ["service"],
            "summary": "Signal trackers behind the WebSocket streams",
            "responses": {"200": _json(WsStatus, "one entry per (symbol, timeframe) tracker")},
        }},
        "/health": {"get": {
            "operationId": "getHealth",
            "tags": ["service"],
            "summary": "Service health",
            "description": "starting (503): the feed has not completed its first iteration yet; degraded: a source "
                           "circuit is open, data is stale, the feed is late (no iteration completed for "
                           "max(3 update intervals, 2 s)), the cache runs in memory only (cache.mode) or replay files "
                           "were skipped (live_data.skipped_files); unhealthy (503): the feed is down or stalled (no "
                           "iteration for max(10 update intervals, 10 s)) or nothing can be served. `reasons` says "
                           "why.",
            "responses": {"200": _json(Health, "healthy or degraded"),
                          "503": _json(Health, "starting or unhealthy")},
        }},
        "/metrics/live-data": {"get": {
            "operationId": "getLiveDataMetrics",
            "tags": ["service"],
            "summary": "Feed statistics (JSON)",
            "responses": {"200": _json(LiveData, "quotes fetched, errors, uptime, cache hit rate, per-source "
                                                 "state, WebSocket connections, messages sent and dropped")},
        }},
        "/metrics": {"get": {
            "operationId": "getMetrics",
            "tags": ["service"],
            "summary": "The same statistics in Prometheus text format",
            "description": "`tickstream_` prefix, base units (seconds, ratios), `_total` counters.",
            "responses": {"200": {"description": "Prometheus text exposition format 0.0.4",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}},
        }},
        "/api/v1/openapi.json": {"get": {
            "operationId": "getOpenApi",
            "tags": ["service"],
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1 document",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}},
        }},
        "/api/docs": {"get": {
            "operationId": "getApiDocs",
            "tags": ["service"],
            "summary": "Interactive documentation of this document (Swagger UI, served by the app: works offline)",
            "responses": {"200": {"description": "HTML page",
                                  "content": {"text/html": {"schema": {"type": "string"}}}}},
        }},
        **_alert_paths(),
    }


@cache
def _document() -> dict[str, Any]:
    _, definitions = models_json_schema([*((m, "serialization") for m in (*_MODELS, *RESPONSE_MODELS)),
                                         *((m, "validation") for m in BODY_MODELS)], ref_template=_REF)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Tickstream API",
            "version": API_VERSION,
            "description": "Real-time market data: quotes, history, option chains, signals and service health. "
                           'Errors are `{"error": {"code", "message"}}`. Any route answers 400 `host_not_allowed` '
                           "to a Host name the server does not serve, and the market-data, signals and trading routes "
                           "429 `too_many_requests` (with `Retry-After` and `X-RateLimit-*`) over their rate limit "
                           "(docs/security.md).",
        },
        "tags": [
            {"name": "market-data", "description": "quotes, candles and option chains"},
            {"name": "signals", "description": "signal consensus and chart overlays"},
            {"name": "service", "description": "health, statistics and this document"},
            {"name": "alerts", "description": "alert rules and their firings"},
            {"name": "trading", "description": "the paper broker: orders, positions, trades, performance"},
        ],
        "paths": {**_paths(), **trading_paths(_error, query_parameters)},
        "components": {"schemas": definitions.get("$defs", {})},
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())


def create_openapi_blueprint() -> Blueprint:
    docs = Blueprint("tickstream_openapi", __name__)
    body = _document()

    @get_route(docs, "/api/v1/openapi.json")
    def openapi() -> Response:
        return jsonify(body)

    return docs
