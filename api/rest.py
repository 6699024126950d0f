"""REST routes under /api/v1 (market data) and the service routes (/health)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.errors import ApiError
from api.protocol import candle_to_wire, quote_to_rest
from feeds.market import MarketService, default_interval
from feeds.models import InvalidInput, Period, Timeframe, parse_symbol
from feeds.source import SourceError, UnknownSymbol, UnsupportedRequest

MAX_LIMIT = 50_000


class HistoryQuery(BaseModel):
    """Query string of the history routes; unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore")

    period: str | None = None
    interval: str | None = None
    end: float | None = Field(default=None, gt=0, description="Unix seconds; only candles opening before it")
    limit: int | None = Field(default=None, ge=1, le=MAX_LIMIT, description="at most this many newest candles")


def _symbol(raw: str) -> str:
    try:
        return parse_symbol(raw)
    except InvalidInput as exc:
        raise ApiError(400, exc.code, exc.message) from None


def _query(model: type[BaseModel]) -> Any:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ApiError(400, "invalid_parameter", f"{where}: {first['msg']}") from None


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
        raise ApiError(503, "no_data", f"no source can answer and nothing is cached: {exc}") from None


def create_rest_blueprint(market: MarketService, health: Callable[[], tuple[dict[str, Any], int]],
                          live_metrics: Callable[[], dict[str, Any]]) -> Blueprint:
    api = Blueprint("tickstream_api", __name__)

    @api.get("/api/v1/market-data/<symbol>/history")
    @api.get("/api/v1/market-data/<symbol>/historical")
    def history(symbol: str) -> Response:
        symbol = _symbol(symbol)
        query: HistoryQuery = _query(HistoryQuery)
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
        candles = _source_call(lambda: market.history(symbol, period, timeframe, query.end, query.limit))
        return jsonify({
            "symbol": symbol,
            "period": period.name,
            "interval": timeframe.value,
            "data": [candle_to_wire(c) for c in candles],
        })

    @api.get("/api/v1/market-data/<symbol>")
    def quote(symbol: str) -> Response:
        parsed = _symbol(symbol)
        return jsonify(quote_to_rest(_source_call(lambda: market.quote(parsed))))

    @api.get("/health")
    def health_route() -> Response:
        body, status = health()
        response = jsonify(body)
        response.status_code = status
        return response

    @api.get("/metrics/live-data")
    def live_data_metrics() -> Response:
        return jsonify(live_metrics())

    @api.route("/api/<path:anything>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def api_not_found(anything: str) -> Response:
        raise ApiError(404, "not_found", f"no route /api/{anything}")

    return api
