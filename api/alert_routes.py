"""REST routes of the alert rules and their history (``/api/v1/alerts``), bodies validated by pydantic v2."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import orjson
from flask import Blueprint, Response, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.errors import ApiError
from api.protocol import iso_ms
from api.query import parse_query
from feeds.market import MarketService
from feeds.models import InvalidInput, Timeframe, parse_symbol
from feeds.source import SourceError, UnknownSymbol
from trading.alert_service import AlertService, RuleLimitReached
from trading.alerts import (
    DEFAULT_COOLDOWN_SECONDS,
    MAX_COOLDOWN_SECONDS,
    MAX_RULE_MESSAGE_LENGTH,
    MAX_WINDOW_SECONDS,
    AlertRule,
    Condition,
    Frequency,
    InvalidRule,
    Level,
    check_rule,
)
from trading.webhooks import MAX_URL_LENGTH, check_webhook_url

# A rule body is a few hundred bytes; anything much bigger is a mistake or an attack.
MAX_BODY_BYTES = 16_384
MAX_HISTORY_LIMIT = 1_000
DEFAULT_HISTORY_LIMIT = 100

SymbolCheck = Callable[[str], None]


class AlertRuleBody(BaseModel):
    """Body of ``POST /api/v1/alerts``. Unknown fields are refused, so a misspelt option is not silently ignored."""

    model_config = ConfigDict(extra="forbid")

    condition: Literal["price_above", "price_below", "percent_move", "consensus", "new_fvg", "structure_break",
                       "unusual_options", "order_filled"] = Field(description="what makes the rule fire")
    # No length limit here: the symbol check answers invalid_symbol, as every route does (the body is bounded).
    symbol: str | None = Field(default=None,
                               description="the instrument; required except for order_filled (none: any symbol)",
                               examples=["AAPL"])
    value: float | None = Field(default=None, allow_inf_nan=False,
                                description="price_above/price_below: the price level crossed; percent_move: the move "
                                            "in percent (0 to 1000)", examples=[190.5])
    window: float | None = Field(default=None, ge=1, le=MAX_WINDOW_SECONDS, allow_inf_nan=False,
                                 description="percent_move: the look-back in seconds")
    timeframe: str | None = Field(default=None, description="candle width for once_per_bar, consensus, new_fvg and "
                                                            "structure_break: 1m 5m 15m 30m 1h 4h 1d; default 1m",
                                  examples=["1h"])
    action: Literal["BUY", "SELL", "buy", "sell"] | None = Field(
        default=None, description="consensus: the action (none: BUY or SELL)")
    direction: Literal["up", "down", "bullish", "bearish"] | None = Field(
        default=None, description="percent_move: up or down (none: either); new_fvg, structure_break: bullish or "
                                  "bearish (none: either)")
    frequency: Literal["once", "once_per_bar", "every_time"] = Field(
        default="once", description="once (then disabled), once_per_bar (per candle of timeframe), every_time "
                                    "(with cooldown_seconds)")
    cooldown_seconds: float | None = Field(default=None, ge=1, le=MAX_COOLDOWN_SECONDS, allow_inf_nan=False,
                                           description=f"every_time: the least time between two firings; default "
                                                       f"{DEFAULT_COOLDOWN_SECONDS:g}")
    level: Literal["info", "warning", "critical"] = Field(default="info", description="how loud the alert is")
    message: str = Field(default="", max_length=MAX_RULE_MESSAGE_LENGTH,
                         description="your text, put in front of the generated description")
    webhook_url: str | None = Field(default=None, max_length=MAX_URL_LENGTH,
                                    description="http(s) URL the alert is POSTed to as JSON (retried with backoff)")


def rule_to_wire(rule: AlertRule) -> dict[str, Any]:
    body = rule.to_dict()
    body["created_at"] = iso_ms(rule.created_at)
    body["last_fired_at"] = iso_ms(rule.last_fired_at) if rule.last_fired_at is not None else None
    return body


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def _read_body() -> AlertRuleBody:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"a rule body is at most {MAX_BODY_BYTES} bytes")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "body_too_large", f"a rule body is at most {MAX_BODY_BYTES} bytes")
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"the body must be a JSON object: {exc}") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object such as "
                                            '{"symbol": "AAPL", "condition": "price_above", "value": 200}')
    try:
        return AlertRuleBody.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ApiError(400, "invalid_rule", f"{where}: {first['msg']}") from None


def build_rule(body: AlertRuleBody, rule_id: str, now: float, check_symbol: SymbolCheck | None) -> AlertRule:
    """The rule a valid body describes, checked as a whole; ApiError (400, 404) says what is wrong."""
    symbol: str | None = None
    if body.symbol is not None:
        try:
            symbol = parse_symbol(body.symbol)
        except InvalidInput as exc:
            raise ApiError(400, exc.code, exc.message) from None
    try:
        timeframe = Timeframe.parse(body.timeframe) if body.timeframe is not None else Timeframe.M1
    except InvalidInput as exc:
        raise ApiError(400, exc.code, exc.message) from None
    webhook = body.webhook_url.strip() if body.webhook_url else None
    if webhook:
        try:
            check_webhook_url(webhook)
        except ValueError as exc:
            raise ApiError(400, "invalid_rule", f"webhook_url: {exc}") from None
    rule = AlertRule(
        rule_id=rule_id, condition=Condition(body.condition), symbol=symbol, value=body.value, window=body.window,
        timeframe=timeframe, action=body.action.upper() if body.action else None, direction=body.direction,
        frequency=Frequency(body.frequency),
        cooldown_seconds=body.cooldown_seconds if body.cooldown_seconds is not None else DEFAULT_COOLDOWN_SECONDS,
        level=Level(body.level), message=body.message.strip(), webhook_url=webhook or None, created_at=now)
    try:
        check_rule(rule)
    except InvalidRule as exc:
        raise ApiError(400, "invalid_rule", str(exc)) from None
    if symbol is not None and check_symbol is not None:
        check_symbol(symbol)
    return rule


class HistoryQuery(BaseModel):
    """Query string of ``GET /api/v1/alerts/history``."""

    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=DEFAULT_HISTORY_LIMIT, ge=1, le=MAX_HISTORY_LIMIT,
                       description="at most this many firings, the newest")
    rule_id: str | None = Field(default=None, min_length=1, max_length=64, description="only this rule's firings")


def _methods_route(blueprint: Blueprint, rule: str, views: dict[str, Callable[..., Response]]) -> None:
    """Register ``views`` (method → view) on ``rule``; other methods get 405 with ``Allow``, OPTIONS 204."""
    allowed = ", ".join([*views, "OPTIONS"])
    endpoint = rule.replace("/", "_").replace("<", "").replace(">", "")

    def dispatch(**values: str) -> Response:
        view = views.get(request.method)
        if view is not None:
            return view(**values)
        if request.method == "OPTIONS":
            response = Response(status=204, headers={"Allow": allowed})
            del response.headers["Content-Type"]
            return response
        raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed on {request.path}; use "
                                                  f"{' or '.join(views)}", headers={"Allow": allowed})

    blueprint.add_url_rule(rule, endpoint=endpoint, view_func=dispatch,
                           methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                           provide_automatic_options=False)


def symbol_checker(market: MarketService) -> SymbolCheck:
    """A SymbolCheck asking the market for a quote: 404 for a symbol no source knows. A source that cannot answer
    right now does not stop a rule from being made (it will fire once prices come)."""

    def check(symbol: str) -> None:
        try:
            market.quote(symbol)
        except UnknownSymbol as exc:
            raise ApiError(404, "unknown_symbol", str(exc) or f"unknown symbol: {symbol}") from None
        except (SourceError, InvalidInput):
            pass

    return check


def create_alert_blueprint(alerts: AlertService, check_symbol: SymbolCheck | None = None) -> Blueprint:
    """``check_symbol(symbol)`` raises ApiError (404 unknown symbol) for a symbol no source knows."""
    api = Blueprint("tickstream_alerts", __name__)

    def create() -> Response:
        body = _read_body()
        rule = build_rule(body, alerts.new_rule_id(), alerts.clock(), check_symbol)
        try:
            alerts.add_rule(rule)
        except RuleLimitReached as exc:
            raise ApiError(400, "too_many_rules", str(exc)) from None
        response = _json(rule_to_wire(rule), 201)
        response.headers["Location"] = f"/api/v1/alerts/{rule.rule_id}"
        return response

    def list_rules() -> Response:
        return _json({"rules": [rule_to_wire(r) for r in alerts.rules()]})

    def delete_all() -> Response:
        return _json({"deleted": alerts.delete_all()})

    def one(rule_id: str) -> Response:
        rule = alerts.rule(rule_id)
        if rule is None:
            raise ApiError(404, "unknown_rule", f"no alert rule {rule_id[:64]!r}")
        return _json(rule_to_wire(rule))

    def delete_one(rule_id: str) -> Response:
        rule = alerts.delete_rule(rule_id)
        if rule is None:
            raise ApiError(404, "unknown_rule", f"no alert rule {rule_id[:64]!r}")
        return _json(rule_to_wire(rule))

    def history() -> Response:
        query = parse_query(HistoryQuery)
        return _json({"history": alerts.history(query.limit, query.rule_id)})

    _methods_route(api, "/api/v1/alerts", {"GET": list_rules, "POST": create, "DELETE": delete_all})
    _methods_route(api, "/api/v1/alerts/history", {"GET": history})
    _methods_route(api, "/api/v1/alerts/<rule_id>", {"GET": one, "DELETE": delete_one})
    return api
