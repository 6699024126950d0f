"""REST routes of the paper broker: orders, positions, trades, performance, account, ideas to orders, auto-trading.

Unlike api/rest.py these routes change state (POST, DELETE). Bodies are JSON objects of at most MAX_BODY_BYTES,
validated by the pydantic models below (which also give the OpenAPI schemas, api/openapi.py); errors are JSON
``{"error": {"code", "message"}}`` with a 4xx status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import orjson
from flask import Blueprint, Response, request
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from api.errors import ApiError
from api.query import parse_query
from feeds.models import InvalidInput, Timeframe, parse_symbol
from feeds.source import SourceError, UnknownSymbol, UnsupportedRequest
from trading.broker import OrderRefused
from trading.orders import Order, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from trading.positions import TradeStatus
from trading.service import TradingService
from trading.store import AutoRule
from trading.wire import (
    auto_rule_to_wire,
    curve_to_wire,
    fill_to_wire,
    order_to_wire,
    performance_to_wire,
    trade_to_wire,
)

MAX_BODY_BYTES = 4096
MAX_CLIENT_ORDER_ID = 64
MAX_LIST = 1000
DEFAULT_LIST = 100
MAX_NOTIONAL = 1e9
_PRICE = Field(default=None, gt=0, le=1e9, allow_inf_nan=False)


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class OrderBody(BaseModel):
    """``POST /api/v1/orders``; ``qty`` is accepted for ``quantity`` and ``order_type`` for ``type``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    symbol: str = Field(min_length=1, max_length=20, description="ticker, case-insensitive", examples=["AAPL"])
    side: Literal["buy", "sell"]
    quantity: float = Field(gt=0, le=1e9, allow_inf_nan=False, validation_alias=AliasChoices("quantity", "qty"),
                            description="shares, contracts or coins (fractions allowed, down to 0.000001)")
    type: Literal["market", "limit", "stop", "stop_limit"] = Field(
        default="market", validation_alias=AliasChoices("type", "order_type"))
    limit_price: float | None = _PRICE
    stop_price: float | None = _PRICE
    time_in_force: Literal["day", "gtc", "ioc", "fok"] = Field(
        default="day", description="day: until the next 00:00 UTC; gtc: until canceled; ioc: fill what the first "
                                   "quote can, cancel the rest; fok: all on the first quote or nothing")
    take_profit: float | None = Field(default=None, gt=0, le=1e9, allow_inf_nan=False,
                                      description="bracket: a limit exit at this price once the entry filled")
    stop_loss: float | None = Field(default=None, gt=0, le=1e9, allow_inf_nan=False,
                                    description="bracket: a stop exit at this price once the entry filled (OCO with "
                                                "take_profit)")
    client_order_id: str | None = Field(default=None, min_length=1, max_length=MAX_CLIENT_ORDER_ID,
                                        pattern=r"^[\x21-\x7e]+$",
                                        description="your id (printable ASCII, no spaces); repeating it returns the "
                                                    "existing order")

    _normalise = field_validator("side", "type", "time_in_force", mode="before")(_lower)


class FromPayloadBody(BaseModel):
    """``POST /api/v1/orders/from-payload/{idea_id}``: optional changes to the prepared payload."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    quantity: float | None = Field(default=None, gt=0, le=1e9, allow_inf_nan=False,
                                   validation_alias=AliasChoices("quantity", "qty"))
    time_in_force: Literal["day", "gtc", "ioc", "fok"] | None = None

    _normalise = field_validator("time_in_force", mode="before")(_lower)


class ResetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cash: float | None = Field(default=None, gt=0, le=1e12, allow_inf_nan=False,
                               description="starting cash (default TICKSTREAM_PAPER_CASH)")


class AutoRuleBody(BaseModel):
    """``POST /api/v1/auto-trading``: trade the consensus signals of one symbol and timeframe."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(min_length=1, max_length=20)
    timeframe: str = Field(min_length=1, max_length=8, examples=["1h"])
    enabled: bool = True
    notional: float = Field(gt=0, le=MAX_NOTIONAL, allow_inf_nan=False,
                            description="position size: this much money's worth (whole units when it buys one)")


class OrdersQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["open", "closed", "all"] = "open"
    symbol: str | None = Field(default=None, max_length=20)
    limit: int = Field(default=DEFAULT_LIST, ge=1, le=MAX_LIST)


class TradesQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["open", "closed", "all"] = "all"
    limit: int = Field(default=DEFAULT_LIST, ge=1, le=MAX_LIST)


class PerformanceQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    since: float | None = Field(default=None, ge=0, le=4_102_444_800,
                                description="only equity curve points at or after this Unix time")


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def _problem(exc: ValidationError) -> ApiError:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return ApiError(400, "invalid_body", f"{where}: {first['msg']}")


def _body(model: type[BaseModel], optional: bool = False) -> Any:
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"the body may be at most {MAX_BODY_BYTES} bytes")
    request.max_content_length = MAX_BODY_BYTES
    raw = request.get_data(cache=False)
    if not raw.strip():
        if optional:
            return model()
        raise ApiError(400, "invalid_body", "a JSON object is required")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _problem(exc) from None


def _symbol(raw: str) -> str:
    try:
        return parse_symbol(raw)
    except InvalidInput as exc:
        raise ApiError(400, exc.code, exc.message) from None


def _placing(call: Callable[[], tuple[Order, bool]]) -> Response:
    """Run a submit: 201 for a new accepted order, 200 for an existing one (repeated client_order_id), 400 for a
    rejected one (its reason in the error, the order beside it)."""
    try:
        order, new = call()
    except OrderRefused as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    except UnknownSymbol as exc:
        raise ApiError(404, "unknown_symbol", str(exc) or "unknown symbol") from None
    except (UnsupportedRequest, InvalidInput) as exc:
        raise ApiError(400, exc.code, exc.message) from None
    except SourceError as exc:
        raise ApiError(503, "no_data", f"no quote for the symbol: {exc}") from None
    body = order_to_wire(order)
    if new and order.status is OrderStatus.REJECTED:
        return _json({"error": {"code": "order_rejected", "message": order.reason or "rejected"}, "order": body}, 400)
    return _json(body, 201 if new else 200)


_ALL_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
# The methods each route answers (with HEAD for GET); any other method gets 405 with Allow (see _other_method).
_ALLOWED: dict[str, tuple[str, ...]] = {}


def _other_method(**_path_values: str) -> Response:
    """OPTIONS: 204 with ``Allow``; another method the route does not take: 405 JSON with ``Allow`` (RFC 9110
    §15.5.6), instead of the API's 404 catch-all."""
    rule = request.url_rule.rule if request.url_rule is not None else ""
    allowed = ", ".join((*_ALLOWED.get(rule, ()), "OPTIONS"))
    if request.method == "OPTIONS":
        response = Response(status=204, headers={"Allow": allowed})
        del response.headers["Content-Type"]
        return response
    raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}; use "
                                              f"{allowed.replace(', OPTIONS', '')}", headers={"Allow": allowed})


def _close_routes(api: Blueprint) -> None:
    """Give every route of the blueprint its answer to the methods it does not take."""
    for rule, methods in _ALLOWED.items():
        others = [m for m in _ALL_METHODS if m not in methods]
        api.add_url_rule(rule, endpoint="trading_other_method", view_func=_other_method, methods=others,
                         provide_automatic_options=False)


def create_trading_blueprint(service: TradingService, peer_route: bool = False) -> Blueprint:
    """The blueprint. ``peer_route`` adds ``POST /bench/peer-order``, a bare Flask route that parses the JSON body
    and answers it back with 201: what bench/trading.py compares order placement against."""
    api = Blueprint("tickstream_trading", __name__)
    _ALLOWED.update({
        "/api/v1/orders": ("GET", "POST"),
        "/api/v1/orders/<order_id>": ("GET", "DELETE"),
        "/api/v1/orders/from-payload/<idea_id>": ("POST",),
        "/api/v1/positions": ("GET",),
        "/api/v1/trades": ("GET",),
        "/api/v1/performance": ("GET",),
        "/api/v1/account": ("GET",),
        "/api/v1/account/reset": ("POST",),
        "/api/v1/auto-trading": ("GET", "POST"),
    })

    if peer_route:
        @api.post("/bench/peer-order")
        def bench_peer_order() -> Response:
            return _json(request.get_json(force=True, silent=True) or {}, 201)

    @api.post("/api/v1/orders", provide_automatic_options=False)
    def place_order() -> Response:
        body: OrderBody = _body(OrderBody)
        order_request = OrderRequest(
            symbol=_symbol(body.symbol), side=Side(body.side), quantity=body.quantity, type=OrderType(body.type),
            limit_price=body.limit_price, stop_price=body.stop_price, time_in_force=TimeInForce(body.time_in_force),
            take_profit=body.take_profit, stop_loss=body.stop_loss, client_order_id=body.client_order_id)
        return _placing(lambda: service.submit(order_request))

    @api.get("/api/v1/orders", provide_automatic_options=False)
    def list_orders() -> Response:
        query: OrdersQuery = parse_query(OrdersQuery)
        statuses = None if query.status == "all" else [
            s for s in OrderStatus if s.is_open == (query.status == "open")]
        symbol = _symbol(query.symbol) if query.symbol else None
        orders = service.broker.store.orders(statuses, query.limit, symbol)
        return _json({"orders": [order_to_wire(o) for o in orders]})

    @api.get("/api/v1/orders/<order_id>", provide_automatic_options=False)
    def get_order(order_id: str) -> Response:
        order = service.broker.store.order(order_id[:64])
        if order is None:
            raise ApiError(404, "unknown_order", f"no order {order_id[:64]!r}")
        body = order_to_wire(order)
        body["fills"] = [fill_to_wire(f) for f in service.broker.store.fills(order.order_id)]
        return _json(body)

    @api.delete("/api/v1/orders/<order_id>", provide_automatic_options=False)
    def cancel_order(order_id: str) -> Response:
        order = service.cancel(order_id[:64])
        if order is None:
            raise ApiError(404, "unknown_order", f"no order {order_id[:64]!r}")
        return _json(order_to_wire(order))

    @api.post("/api/v1/orders/from-payload/<idea_id>", provide_automatic_options=False)
    def order_from_payload(idea_id: str) -> Response:
        body: FromPayloadBody = _body(FromPayloadBody, optional=True)
        tif = TimeInForce(body.time_in_force) if body.time_in_force else None
        return _placing(lambda: service.from_payload(idea_id[:128], body.quantity, tif))

    @api.get("/api/v1/positions", provide_automatic_options=False)
    def positions() -> Response:
        return _json({"positions": service.positions()})

    @api.get("/api/v1/trades", provide_automatic_options=False)
    def trades() -> Response:
        query: TradesQuery = parse_query(TradesQuery)
        status = None if query.status == "all" else TradeStatus(query.status)
        return _json({"trades": [trade_to_wire(t) for t in service.broker.store.trades(query.limit, status)]})

    @api.get("/api/v1/performance", provide_automatic_options=False)
    def performance() -> Response:
        query: PerformanceQuery = parse_query(PerformanceQuery)
        perf, curve = service.performance()
        if query.since is not None:
            curve = [point for point in curve if point[0] >= query.since]
        return _json({**performance_to_wire(perf), "equity_curve": curve_to_wire(curve)})

    @api.get("/api/v1/account", provide_automatic_options=False)
    def account() -> Response:
        return _json(service.account())

    @api.post("/api/v1/account/reset", provide_automatic_options=False)
    def reset() -> Response:
        body: ResetBody = _body(ResetBody, optional=True)
        service.reset(body.cash)
        return _json(service.account())

    @api.get("/api/v1/auto-trading", provide_automatic_options=False)
    def auto_rules() -> Response:
        return _json({"rules": [auto_rule_to_wire(r) for r in service.auto_rules()]})

    @api.post("/api/v1/auto-trading", provide_automatic_options=False)
    def set_auto_rule() -> Response:
        body: AutoRuleBody = _body(AutoRuleBody)
        try:
            timeframe = Timeframe.parse(body.timeframe)
        except InvalidInput as exc:
            raise ApiError(400, exc.code, exc.message) from None
        try:
            rule = service.set_auto_rule(AutoRule(_symbol(body.symbol), timeframe.value, body.enabled, body.notional))
        except OrderRefused as exc:
            raise ApiError(exc.status, exc.code, exc.message) from None
        return _json(auto_rule_to_wire(rule))

    _close_routes(api)
    return api
