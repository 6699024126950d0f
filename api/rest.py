"""REST routes under /api/v1 (quotes, history, options, symbols) and the service routes (/health, /metrics…)."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import fields
from datetime import date
from typing import Any, Literal, TypeVar

import orjson
from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from api.errors import ApiError
from api.metrics import PrometheusExporter
from api.protocol import candle_to_wire, iso_ms, quote_to_rest
from api.query import parse_query
from api.signal_bridge import HistorySignals, SignalEngine
from feeds.failover import Sourced
from feeds.market import MarketService, default_interval
from feeds.models import (
    Candle,
    InvalidInput,
    OptionChain,
    OptionContract,
    Period,
    Timeframe,
    parse_symbol,
)
from feeds.source import SourceError, UnknownSymbol, UnsupportedRequest
from feeds.universe import MAX_QUERY_LENGTH, MAX_RESULTS, Instrument, shipped

MAX_LIMIT = 50_000
# 2100-01-01: far enough for any paging, and keeps ``end`` inside what datetime and the sources can represent.
MAX_END = 4_102_444_800
_EXPIRATION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTRACT_FIELDS = tuple(f.name for f in fields(OptionContract))
# Every route here is read-only: other methods on its path are answered by _other_method.
_OTHER_METHODS = ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
_ALLOWED = "GET, HEAD, OPTIONS"

View = TypeVar("View", bound=Callable[..., Any])


def _other_method(**_path_values: str) -> Response:
    """OPTIONS: 204 with ``Allow``; any other method: 405 with a JSON error and ``Allow`` (RFC 9110 §15.5.6)."""
    if request.method == "OPTIONS":
        response = Response(status=204, headers={"Allow": _ALLOWED})
        # No body, so no media type (Flask would label the empty answer text/html).
        del response.headers["Content-Type"]
        return response
    raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}; use GET",
                   headers={"Allow": _ALLOWED})


def get_route(blueprint: Blueprint, rule: str) -> Callable[[View], View]:
    """Register a GET view for ``rule`` whose path also answers the other methods itself (see _other_method).

    Without this, other methods on an /api path fell through to the JSON 404 catch-all, and OPTIONS got Flask's
    automatic empty text/html 200.
    """

    def register(view: View) -> View:
        blueprint.add_url_rule(rule, view_func=view, methods=["GET"], provide_automatic_options=False)
        blueprint.add_url_rule(rule, endpoint="other_method", view_func=_other_method, methods=_OTHER_METHODS,
                               provide_automatic_options=False)
        return view

    return register


class HistoryQuery(BaseModel):
    """Query string of the history routes; unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")

    period: str | None = Field(
        default=None,
        description="1d 5d 1mo 3mo 6mo 1y 2y 5y max, or Nd for N days (case-insensitive); "
                    "default from the interval (1m→1d, 5m→5d, 15m/30m/1h→1mo, 4h→3mo, 1d→1y)",
        examples=["30d", "1y"],
    )
    interval: str | None = Field(
        default=None,
        description="candle width: 1m 5m 15m 30m 1h 4h 1d (60m = 1h); default from the period",
        examples=["1d", "1m"],
    )
    end: float | None = Field(default=None, gt=0, le=MAX_END,
                              description="Unix seconds; only candles opening strictly before it (paging back)")
    limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT, description="at most this many newest candles")
    format: Literal["rows", "columns"] | None = Field(
        default=None,
        description="rows (default): `data` is a list of candle objects; columns: `columns` holds one array per "
                    "field (time, open, high, low, close, volume), about half the bytes",
        examples=["columns"])


class OptionsQuery(BaseModel):
    """Query string of the options route."""

    model_config = ConfigDict(extra="ignore")

    expiration: str | None = Field(
        default=None,
        description="expiration date YYYY-MM-DD, one of the listed ``expirations``; default the nearest",
        json_schema_extra={"format": "date"},
        examples=["2024-01-19"],
    )


def _symbol(raw: str) -> str:
    try:
        return parse_symbol(raw)
    except InvalidInput as exc:
        raise ApiError(400, exc.code, exc.message) from None


def _source_call(call: Callable[[], Any]) -> Any:
    """Run a source call and turn its errors into HTTP answers (404 unknown symbol, 400, 503)."""
    try:
        return call()
    except UnknownSymbol as exc:
        raise ApiError(404, "unknown_symbol", str(exc) or "unknown symbol") from None
    except UnsupportedRequest as exc:
        raise ApiError(400, exc.code, exc.message) from None
    except InvalidInput as exc:
        raise ApiError(400, exc.code, exc.message) from None
    except SourceError as exc:
        retry = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(max(1, math.ceil(retry)))} if retry else None
        raise ApiError(503, "no_data", f"no source can answer and nothing is cached: {exc}", headers) from None


def _json(body: dict[str, Any]) -> Response:
    # orjson: a year of candles or a 5-day minute window (7200 candles) encodes ~10× faster than Flask's json, and it
    # writes NaN as null, as docs/protocol.md asks.
    return Response(orjson.dumps(body), mimetype="application/json")


def _finite(value: Any) -> Any:
    # docs/protocol.md: missing values are null, never NaN.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


CANDLE_FIELDS = ("time", "open", "high", "low", "close", "volume")


def candle_columns(candles: list[Candle]) -> dict[str, list[Any]]:
    """Candles as one array per field (``?format=columns``): the keys are not repeated for every candle, which
    halves the JSON; values exactly as in the row form (candle_to_wire)."""
    rows = [candle_to_wire(c) for c in candles]
    return {name: [row[name] for row in rows] for name in CANDLE_FIELDS}


def _window(candles: list[Candle]) -> dict[str, Any]:
    """Which candles an overlays answer was computed over: the first and last open times and how many."""
    return {"start": candles[0].time if candles else None, "end": candles[-1].time if candles else None,
            "candles": len(candles)}


def _labels(sourced: Sourced[Any]) -> dict[str, Any]:
    """Where an answer came from; a stale one also says when it was fetched."""
    labels: dict[str, Any] = {"source": sourced.source, "stale": sourced.stale}
    if sourced.stale and sourced.as_of is not None:
        labels["as_of"] = iso_ms(sourced.as_of)
    return labels


def contract_to_wire(contract: OptionContract) -> dict[str, Any]:
    return {name: _finite(getattr(contract, name)) for name in _CONTRACT_FIELDS}


def chain_to_wire(chain: OptionChain) -> dict[str, Any]:
    return {
        "symbol": chain.symbol,
        "underlying_price": _finite(chain.underlying_price),
        "expiration": chain.expiration,
        "expirations": list(chain.expirations),
        "calls": [contract_to_wire(c) for c in chain.calls],
        "puts": [contract_to_wire(c) for c in chain.puts],
    }


def _expiration(raw: str | None) -> str | None:
    if raw is None:
        return None
    text = raw.strip()
    try:
        if not _EXPIRATION_RE.match(text):
            raise ValueError(text)
        date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "invalid_expiration", f"expiration must be a date YYYY-MM-DD, got {raw!r}") from None
    return text


_PEER_BODY = {"symbol": "AAPL", "price": 190.12, "change": 1.05, "change_percent": 0.55, "volume": 1_234_567.0,
              "bid": 190.11, "ask": 190.13, "timestamp": "2024-01-15T10:30:00.123Z", "source": "peer",
              "stale": False}


class SymbolsQuery(BaseModel):
    """Query string of the symbol search."""

    model_config = ConfigDict(extra="ignore")

    q: str = Field(min_length=1, max_length=MAX_QUERY_LENGTH,
                   description="start of a ticker (aap, eurusd, ^gsp) or words of a name (apple, gold futures)",
                   examples=["aap", "gold"])
    limit: int = Field(default=10, ge=1, le=MAX_RESULTS, description="at most this many matches, best first")


def instrument_to_wire(instrument: Instrument) -> dict[str, Any]:
    return {"symbol": instrument.symbol, "name": instrument.name, "asset_class": instrument.asset_class.value,
            "tick_size": instrument.tick_size, "precision": instrument.precision}


class SignalsQuery(BaseModel):
    """Query string of the signals routes."""

    model_config = ConfigDict(extra="ignore")

    timeframe: str | None = None


# Signals one answer holds at most: the trackers keep 50 per (symbol, timeframe), 350 for the seven timeframes.
MAX_SIGNALS_LIMIT = 500
DEFAULT_SIGNALS_LIMIT = 50
# How long a signals request waits for the trackers of a symbol the feed streams but is still seeding.
_TRACKER_WAIT_SECONDS = 5.0


class SignalListQuery(SignalsQuery):
    """Query string of the signal list: a timeframe, and how many of the newest signals."""

    timeframe: str | None = Field(default=None, description="only this timeframe; default all timeframes",
                                  examples=["1h"])
    limit: int = Field(default=DEFAULT_SIGNALS_LIMIT, ge=1, le=MAX_SIGNALS_LIMIT,
                       description="at most this many signals, the newest (across timeframes without `timeframe`)")


# Candles one ``levels?end=&limit=`` answer is computed over at most (about 15 ms of analysis, 300 kB of JSON).
MAX_LEVELS_CANDLES = 5000


class LevelsQuery(SignalsQuery):
    """Query string of the overlays route. With none of period, end and limit: the live state; with any of them,
    the overlays of the history window the history route gives for the same parameters (older history)."""

    timeframe: str | None = Field(default=None, description="candle width (default 1h)", examples=["1h"])
    period: str | None = Field(
        default=None,
        description="history window before `end` as on the history route; default the timeframe's (1m→1d, "
                    "5m→5d, 15m/30m/1h→1mo, 4h→3mo, 1d→1y), widened to hold `limit` candles",
        examples=["5d"])
    end: float | None = Field(default=None, gt=0, le=MAX_END,
                              description="Unix seconds: the overlays of the candles opening strictly before it "
                                          "(pass the oldest candle time a chart has, as for the history route)")
    limit: int | None = Field(default=None, ge=1, le=MAX_LEVELS_CANDLES,
                              description=f"over at most this many newest candles of the window "
                                          f"(1..{MAX_LEVELS_CANDLES}, default {MAX_LEVELS_CANDLES})")

    def windowed(self) -> bool:
        return self.period is not None or self.end is not None or self.limit is not None


def _levels_period(raw: str | None, timeframe: Timeframe, limit: int) -> Period:
    """The window of a levels answer: ``period`` as given, else the timeframe's default window widened to hold
    ``limit`` candles (a chart passes how many it holds, not the days they span)."""
    try:
        if raw:
            return Period.parse(raw)
        default = Period.parse(timeframe.default_period)
        days = math.ceil(limit * timeframe.seconds / 86_400) + 1
        return default if default.days is None or default.days >= days else Period.parse(f"{days}d")
    except InvalidInput as exc:
        raise ApiError(400, exc.code, exc.message) from None


def create_rest_blueprint(market: MarketService, health: Callable[[], tuple[dict[str, Any], int]],
                          live_metrics: Callable[[], dict[str, Any]], signals: SignalEngine | None = None, *,
                          peer_route: bool = False,
                          lease_symbol: Callable[[str, str | None], object] | None = None) -> Blueprint:
    """The REST blueprint. ``peer_route`` adds ``/bench/peer``, a bare JSON route bench/rest.py measures against.
    ``lease_symbol(symbol, client_address)`` is told of every tracked symbol the signals routes answer for, so the
    feed keeps it a while for a poller (within the address's new-symbol limit) and lets it go later."""
    api = Blueprint("tickstream_api", __name__)
    exporter = PrometheusExporter(live_metrics)

    @get_route(api, "/api/v1/market-data/<symbol>/history")
    @get_route(api, "/api/v1/market-data/<symbol>/historical")
    def history(symbol: str) -> Response:
        symbol = _symbol(symbol)
        query: HistoryQuery = parse_query(HistoryQuery)
        try:
            timeframe = Timeframe.parse(query.interval) if query.interval else None
            period = Period.parse(query.period) if query.period else None
        except InvalidInput as exc:
            code = "invalid_interval" if exc.code == "invalid_timeframe" else exc.code
            raise ApiError(400, code, exc.message) from None
        if timeframe is None:
            timeframe = default_interval(period) if period else Timeframe.D1
        if period is None:
            period = Period.parse(timeframe.default_period)
        sourced: Sourced[list[Candle]] = _source_call(
            lambda: market.history_sourced(symbol, period, timeframe, query.end, query.limit))
        candles = ({"columns": candle_columns(sourced.value)} if query.format == "columns"
                   else {"data": [candle_to_wire(c) for c in sourced.value]})
        return _json({
            "symbol": symbol,
            "period": period.name,
            "interval": timeframe.value,
            **candles,
            **_labels(sourced),
        })

    @get_route(api, "/api/v1/market-data/<symbol>/options")
    def options(symbol: str) -> Response:
        symbol = _symbol(symbol)
        query: OptionsQuery = parse_query(OptionsQuery)
        expiration = _expiration(query.expiration)
        sourced: Sourced[OptionChain] = _source_call(lambda: market.options_sourced(symbol, expiration))
        return _json({**chain_to_wire(sourced.value), **_labels(sourced)})

    @get_route(api, "/api/v1/symbols")
    def symbols() -> Response:
        # The shipped universe whatever the feed: real providers know these tickers too.
        query: SymbolsQuery = parse_query(SymbolsQuery)
        if not query.q.strip():
            raise ApiError(400, "invalid_parameter", "q: must not be blank")
        return _json({"symbols": [instrument_to_wire(i) for i in shipped().search(query.q, query.limit)]})

    @get_route(api, "/api/v1/market-data/<symbol>")
    def quote(symbol: str) -> Response:
        parsed = _symbol(symbol)
        sourced = _source_call(lambda: market.quote_sourced(parsed))
        body = quote_to_rest(sourced.value)
        body.update(_labels(sourced))
        return _json(body)

    def _signals_timeframe(default: Timeframe | None) -> Timeframe | None:
        query: SignalsQuery = parse_query(SignalsQuery)
        if not query.timeframe:
            return default
        try:
            return Timeframe.parse(query.timeframe)
        except InvalidInput as exc:
            raise ApiError(400, exc.code, exc.message) from None

    def _tracked(symbol: str, timeframe: Timeframe | None = None) -> bool:
        """Whether ``symbol`` is the feed's (so its trackers answer; the feed then keeps it a while longer for this
        client). A symbol the feed streams but whose trackers are still being seeded (after start-up, or just
        subscribed) is waited for, at most _TRACKER_WAIT_SECONDS: answering it from a fresh history scan would
        contradict what its trackers then stream. Never starts a symbol: one the feed does not stream is answered
        from its history."""
        assert signals is not None

        def ready() -> bool:
            if timeframe is None:
                return len(signals.trackers(symbol)) >= len(signals.timeframes)
            return signals.tracker(symbol, timeframe) is not None

        if not ready():
            if symbol not in market.feed.symbols:
                return False
            deadline = time.monotonic() + _TRACKER_WAIT_SECONDS
            while not ready() and time.monotonic() < deadline:
                time.sleep(0.05)
        if lease_symbol is not None:
            lease_symbol(symbol, request.remote_addr)
        return True

    if signals is not None:
        engine = signals

        def _history(symbol: str, timeframe: Timeframe) -> list[Candle]:
            candles: list[Candle] = _source_call(lambda: market.history(
                symbol, Period.parse(timeframe.default_period), timeframe))
            return candles

        untracked = HistorySignals(_history, engine.timeframes)

        @get_route(api, "/api/v1/signals/symbol/<symbol>")
        def symbol_signals(symbol: str) -> Response:
            parsed = _symbol(symbol)
            query: SignalListQuery = parse_query(SignalListQuery)
            timeframe = _signals_timeframe(None)
            if _tracked(parsed, timeframe):
                found = engine.signal_list(parsed, timeframe)
            else:
                found = untracked.signal_list(parsed, timeframe)
            return _json({"signals": found[:query.limit]})

        def _window_levels(symbol: str, timeframe: Timeframe, query: LevelsQuery) -> Response:
            limit = query.limit or MAX_LEVELS_CANDLES
            period = _levels_period(query.period, timeframe, limit)

            def load() -> tuple[list[Candle], dict[str, Any]]:
                sourced: Sourced[list[Candle]] = _source_call(
                    lambda: market.history_sourced(symbol, period, timeframe, query.end, limit))
                candles = sourced.value
                if query.end is None:
                    candles = candles[:-1]  # the newest is the forming candle: its overlays are not final
                return candles, {**_labels(sourced), "window": _window(candles)}

            overlays, labels = untracked.window_overlays(
                (symbol, timeframe, period.name, query.end, limit), timeframe, load)
            return _json({"symbol": symbol, "timeframe": timeframe.value, "signals": overlays, **labels})

        @get_route(api, "/api/v1/signals/symbol/<symbol>/levels")
        def symbol_levels(symbol: str) -> Response:
            parsed = _symbol(symbol)
            query: LevelsQuery = parse_query(LevelsQuery)
            timeframe = _signals_timeframe(Timeframe.H1)
            assert timeframe is not None
            if query.windowed():
                return _window_levels(parsed, timeframe, query)
            if _tracked(parsed, timeframe):
                overlays = engine.overlays(parsed, timeframe)
            else:
                overlays = untracked.overlays(parsed, timeframe)
            return _json({"symbol": parsed, "timeframe": timeframe.value, "signals": overlays})

        @get_route(api, "/ws/status")
        def ws_status() -> Response:
            return _json(engine.ws_status())

    @get_route(api, "/health")
    def health_route() -> Response:
        body, status = health()
        response = jsonify(body)
        response.status_code = status
        return response

    @get_route(api, "/metrics/live-data")
    def live_data_metrics() -> Response:
        return jsonify(live_metrics())

    @get_route(api, "/metrics")
    def prometheus_metrics() -> Response:
        return Response(exporter.render(), content_type=exporter.content_type)

    if peer_route:
        @get_route(api, "/bench/peer")
        def bench_peer() -> Response:
            # Flask's own jsonify: the peer is the plain Flask way of answering JSON.
            return jsonify(_PEER_BODY)

    @api.route("/api/<path:anything>", methods=["GET", *_OTHER_METHODS], provide_automatic_options=False)
    def api_not_found(anything: str) -> Response:
        raise ApiError(404, "not_found", f"no route /api/{anything}")

    return api
