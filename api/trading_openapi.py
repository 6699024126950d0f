"""The paper trading part of the OpenAPI document: response models restating docs/protocol.md, the request bodies
from api/trading_routes.py's pydantic models, and the paths (merged into api/openapi.py's document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.trading_routes import (
    MAX_BODY_BYTES,
    AutoRuleBody,
    FromPayloadBody,
    OrderBody,
    OrdersQuery,
    PerformanceQuery,
    ResetBody,
    TradesQuery,
)

_REF = "#/components/schemas/{model}"
Number = float | None
Status = Literal["new", "accepted", "partially_filled", "filled", "canceled", "expired", "rejected"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Order(_Open):
    order_id: str
    client_order_id: str | None
    symbol: str
    side: Literal["buy", "sell"]
    type: Literal["market", "limit", "stop", "stop_limit"]
    quantity: float
    filled_quantity: float
    avg_fill_price: Number
    limit_price: Number
    stop_price: Number
    time_in_force: Literal["day", "gtc", "ioc", "fok"]
    status: Status
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})
    reason: str | None = Field(description="why it was rejected, canceled or expired")
    take_profit: Number = None
    stop_loss: Number = None
    leg: Literal["entry", "take_profit", "stop_loss"] = "entry"
    parent_id: str | None = Field(default=None, description="a bracket exit's entry order")
    triggered: bool = Field(default=False, description="a stop whose stop price was reached")
    expires_at: str | None = Field(default=None, description="day orders: the next 00:00 UTC after placing")
    commission: float = 0.0
    idea_id: str | None = None


class Fill(_Open):
    order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    quantity: float
    price: float
    commission: float
    time: str = Field(json_schema_extra={"format": "date-time"})


class OrderWithFills(Order):
    fills: list[Fill] = Field(default_factory=list, description="oldest first")


class OrderList(_Open):
    orders: list[Order] = Field(description="newest first")


class RejectedOrder(_Open):
    """400 for an order the rules refused: the error, and the order as stored (status rejected)."""

    error: dict[str, str]
    order: Order


class Position(_Open):
    symbol: str
    quantity: float = Field(description="signed: negative is short")
    avg_price: float
    market_price: Number
    market_value: Number = None
    unrealized_pnl: float
    realized_pnl: float


class PositionList(_Open):
    positions: list[Position]


class Trade(_Open):
    trade_id: str
    symbol: str
    side: Literal["long", "short"]
    status: Literal["open", "closed"]
    quantity: float = Field(description="quantity entered")
    entry_price: float
    exit_quantity: float
    exit_price: Number
    realized_pnl: float = Field(description="commissions included")
    commission: float
    opened_at: str
    closed_at: str | None
    fills: int


class TradeList(_Open):
    trades: list[Trade] = Field(description="newest first")


class EquityPoint(_Open):
    time: int = Field(description="Unix seconds")
    value: float


class Performance(_Open):
    total_value: float
    cash: float
    daily_pnl: float
    open_positions: int
    win_rate: Number = Field(description="closed trades with P&L > 0 ÷ closed trades; null before the first")
    profit_factor: Number = Field(description="gross profit ÷ gross loss; null while nothing lost")
    max_drawdown: float = Field(description="largest 1 − equity ÷ running peak, 0..1")
    sharpe: Number = Field(description="daily returns, mean ÷ sample std × √252 (√365 for all-crypto holdings)")
    realized_pnl: float
    unrealized_pnl: float
    closed_trades: int
    equity_curve: list[EquityPoint] = Field(description="sampled every minute, oldest first")


class Account(_Open):
    cash: float
    starting_cash: float
    total_value: float
    buying_power: float
    reserved: float = Field(description="cash held back by open orders")
    open_orders: int
    max_open_orders: int
    allow_short: bool
    created_at: str


class AutoRule(_Open):
    symbol: str
    timeframe: str
    enabled: bool
    notional: float


class AutoRuleList(_Open):
    rules: list[AutoRule]


RESPONSE_MODELS: tuple[type[BaseModel], ...] = (Order, OrderWithFills, OrderList, RejectedOrder, PositionList,
                                                TradeList, Performance, Account, AutoRule, AutoRuleList)
BODY_MODELS: tuple[type[BaseModel], ...] = (OrderBody, FromPayloadBody, ResetBody, AutoRuleBody)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _body(model: type[BaseModel], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": _ref(model)}}}


def trading_paths(error: Any, query_parameters: Any) -> dict[str, Any]:
    """The paths; ``error(description)`` and ``query_parameters(model)`` are api/openapi.py's helpers."""
    tags = ["trading"]
    too_large = error(f"the body is over {MAX_BODY_BYTES} bytes")
    order_id = {"name": "order_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
    placed = {
        "201": _json(Order, "the new order (accepted)"),
        "200": _json(Order, "the existing order with this client_order_id"),
        "400": {"description": "a malformed body (`invalid_body`, `invalid_json`, `invalid_symbol`), or an order the "
                               "rules refused (`order_rejected`, with the stored order)",
                "content": {"application/json": {"schema": {"anyOf": [_ref(RejectedOrder),
                                                                      {"$ref": _REF.format(model="ErrorBody")}]}}}},
        "404": error("unknown symbol"),
        "413": too_large,
        "429": error("1,000 open orders already"),
        "503": error("no quote for the symbol can be had"),
    }
    return {
        "/api/v1/orders": {
            "post": {"operationId": "placeOrder", "tags": tags, "summary": "Place a paper order",
                     "description": "Fills against the live quotes (docs/trading.md). `qty` is accepted for "
                                    "`quantity`, `order_type` for `type`.",
                     "requestBody": _body(OrderBody), "responses": placed},
            "get": {"operationId": "listOrders", "tags": tags, "summary": "Orders, newest first",
                    "parameters": query_parameters(OrdersQuery),
                    "responses": {"200": _json(OrderList, "the orders"), "400": error("bad parameter")}},
        },
        "/api/v1/orders/{order_id}": {
            "get": {"operationId": "getOrder", "tags": tags, "summary": "One order with its fills",
                    "parameters": [order_id],
                    "responses": {"200": _json(OrderWithFills, "the order"), "404": error("unknown order")}},
            "delete": {"operationId": "cancelOrder", "tags": tags, "summary": "Cancel an open order",
                       "description": "A bracket entry's waiting exits are canceled with it; a closed order is "
                                      "answered as it is.",
                       "parameters": [order_id],
                       "responses": {"200": _json(Order, "the order"), "404": error("unknown order")}},
        },
        "/api/v1/orders/from-payload/{idea_id}": {
            "post": {"operationId": "placeIdeaOrder", "tags": tags,
                     "summary": "Place the prepared payload of a signal engine idea",
                     "parameters": [{"name": "idea_id", "in": "path", "required": True,
                                     "schema": {"type": "string", "maxLength": 128}}],
                     "requestBody": _body(FromPayloadBody, required=False),
                     "responses": {**placed, "404": error("unknown idea or symbol")}},
        },
        "/api/v1/positions": {"get": {
            "operationId": "listPositions", "tags": tags, "summary": "Open positions marked to the live price",
            "responses": {"200": _json(PositionList, "the positions")}}},
        "/api/v1/trades": {"get": {
            "operationId": "listTrades", "tags": tags, "summary": "Round trips, newest first",
            "parameters": query_parameters(TradesQuery),
            "responses": {"200": _json(TradeList, "the trades"), "400": error("bad parameter")}}},
        "/api/v1/performance": {"get": {
            "operationId": "getPerformance", "tags": tags, "summary": "Performance and equity curve",
            "parameters": query_parameters(PerformanceQuery),
            "responses": {"200": _json(Performance, "definitions in docs/trading.md"),
                          "400": error("bad parameter")}}},
        "/api/v1/account": {"get": {
            "operationId": "getAccount", "tags": tags, "summary": "Cash, buying power, open orders",
            "responses": {"200": _json(Account, "the account")}}},
        "/api/v1/account/reset": {"post": {
            "operationId": "resetAccount", "tags": tags, "summary": "Start the paper account over",
            "requestBody": _body(ResetBody, required=False),
            "responses": {"200": _json(Account, "the new account"), "400": error("bad body"), "413": too_large}}},
        "/api/v1/auto-trading": {
            "get": {"operationId": "listAutoRules", "tags": tags, "summary": "Auto-trading rules",
                    "responses": {"200": _json(AutoRuleList, "the rules")}},
            "post": {"operationId": "setAutoRule", "tags": tags,
                     "summary": "Trade a symbol's consensus signals of one timeframe (or stop: enabled false)",
                     "requestBody": _body(AutoRuleBody),
                     "responses": {"200": _json(AutoRule, "the rule"), "400": error("bad body"),
                                   "413": too_large, "429": error("200 rules already")}},
        },
    }
