"""JSON shapes of the paper broker's values, for REST answers and WebSocket messages (docs/protocol.md)."""

from __future__ import annotations

import math
from typing import Any

from api.protocol import iso_ms
from trading.orders import Order
from trading.performance import Performance, money, percent
from trading.positions import Position, Trade
from trading.store import AutoRule, Fill


def _num(value: float | None, digits: int = 10) -> float | None:
    # JSON has no NaN or infinity (docs/protocol.md: missing values are null); rounding drops float dust.
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


def _time(value: float | None) -> str | None:
    return None if value is None else iso_ms(value)


def order_to_wire(order: Order) -> dict[str, Any]:
    """A REST order (``POST/GET /api/v1/orders``)."""
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "quantity": _num(order.quantity),
        "filled_quantity": _num(order.filled_quantity),
        "avg_fill_price": _num(order.avg_fill_price),
        "limit_price": order.limit_price,
        "stop_price": order.stop_price,
        "time_in_force": order.time_in_force.value,
        "status": order.status.value,
        "created_at": iso_ms(order.created_at),
        "updated_at": iso_ms(order.updated_at),
        "reason": order.reason,
        "take_profit": order.take_profit,
        "stop_loss": order.stop_loss,
        "leg": order.leg.value,
        "parent_id": order.parent_id,
        "triggered": order.triggered,
        "expires_at": _time(order.expires_at),
        "commission": _num(order.commission),
        "idea_id": order.idea_id,
    }


def order_update(order: Order) -> dict[str, Any]:
    """An ``order_update`` message: the designs' fields (``volume`` = the quantity, ``price`` = the last fill price
    or the limit) and the fill fields."""
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "status": order.status.value,
        "volume": _num(order.quantity),
        "price": _num(order.wire_price),
        "filled_quantity": _num(order.filled_quantity),
        "last_fill_quantity": _num(order.last_fill_quantity),
        "last_fill_price": _num(order.last_fill_price),
        "avg_fill_price": _num(order.avg_fill_price),
        "limit_price": order.limit_price,
        "stop_price": order.stop_price,
        "time_in_force": order.time_in_force.value,
        "leg": order.leg.value,
        "parent_id": order.parent_id,
        "reason": order.reason,
        "updated_at": iso_ms(order.updated_at),
    }


def fill_to_wire(fill: Fill) -> dict[str, Any]:
    return {"order_id": fill.order_id, "symbol": fill.symbol, "side": fill.side.value,
            "quantity": _num(fill.quantity), "price": _num(fill.price), "commission": _num(fill.commission),
            "time": iso_ms(fill.time)}


def trade_to_wire(trade: Trade) -> dict[str, Any]:
    """A round trip (``GET /api/v1/trades`` item and ``trade`` message)."""
    return {
        "trade_id": trade.trade_id,
        "symbol": trade.symbol,
        "side": trade.side.value,
        "status": trade.status.value,
        "quantity": _num(trade.entry_quantity),
        "entry_price": _num(trade.entry_price),
        "exit_quantity": _num(trade.exit_quantity),
        "exit_price": _num(trade.exit_price),
        "realized_pnl": _num(trade.realized_pnl, 6),
        "commission": _num(trade.commission, 6),
        "opened_at": iso_ms(trade.opened_at),
        "closed_at": _time(trade.closed_at),
        "fills": trade.fills,
    }


def position_to_wire(position: Position, mark: float | None) -> dict[str, Any]:
    """A position marked to ``mark`` (``GET /api/v1/positions`` item and ``position`` message)."""
    return {
        "symbol": position.symbol,
        "quantity": _num(position.quantity),
        "avg_price": _num(position.avg_price),
        "market_price": _num(mark),
        "market_value": _num(position.quantity * mark) if mark is not None else None,
        "unrealized_pnl": _num(position.unrealized(mark), 6),
        "realized_pnl": _num(position.realized_pnl, 6),
    }


def performance_to_wire(perf: Performance) -> dict[str, Any]:
    return {
        "total_value": _num(perf.total_value, 6),
        "cash": _num(perf.cash, 6),
        "daily_pnl": _num(perf.daily_pnl, 6),
        "open_positions": perf.open_positions,
        "win_rate": _num(perf.win_rate),
        "profit_factor": _num(perf.profit_factor),
        "max_drawdown": _num(perf.max_drawdown),
        "sharpe": _num(perf.sharpe),
        "realized_pnl": _num(perf.realized_pnl, 6),
        "unrealized_pnl": _num(perf.unrealized_pnl, 6),
        "closed_trades": perf.closed_trades,
    }


def curve_to_wire(curve: list[tuple[float, float]]) -> list[dict[str, Any]]:
    return [{"time": int(t), "value": _num(v, 6)} for t, v in curve]


def dashboard_update(perf: Performance) -> dict[str, Any]:
    """The overview cards as the "Real-time Data Updates" design writes them into the page: display strings, with
    the numbers beside them in ``values``."""
    return {
        "total_value": money(perf.total_value),
        "daily_pnl": money(perf.daily_pnl),
        "open_positions": perf.open_positions,
        "win_rate": percent(perf.win_rate),
        "values": {
            "total_value": round(perf.total_value, 2),
            "daily_pnl": round(perf.daily_pnl, 2),
            "open_positions": perf.open_positions,
            "win_rate": _num(perf.win_rate, 6),
        },
    }


def auto_rule_to_wire(rule: AutoRule) -> dict[str, Any]:
    return {"symbol": rule.symbol, "timeframe": rule.timeframe, "enabled": rule.enabled, "notional": rule.notional}
