"""Order domain values of the paper broker: sides, types, time in force, states, and the order itself."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum

# Quantities and money below this are zero (float sums of fills leave dust such as 1e-12 shares).
EPSILON = 1e-9
# Fill quantities are whole multiples of this (a millionth of a share or coin); no venue trades finer.
QUANTITY_STEP = 1e-6


class Side(str, Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(str, Enum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(str, Enum):
    DAY = "day"  # until the next 00:00 UTC after it was placed (docs/trading.md)
    GTC = "gtc"  # until filled or canceled
    IOC = "ioc"  # on the first quote it meets: what fills, fills; the rest is canceled
    FOK = "fok"  # on the first quote it meets: all of it fills at once, or none and it is canceled


class OrderStatus(str, Enum):
    """Order states as brokers name them (Alpaca, FIX OrdStatus)."""

    NEW = "new"  # received; a bracket leg waits here until its entry has filled
    ACCEPTED = "accepted"  # working: evaluated against every quote
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in _OPEN

    @property
    def is_working(self) -> bool:
        return self in _WORKING


_OPEN = frozenset({OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})
_WORKING = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})


class Leg(str, Enum):
    """Role of an order: a plain or entry order, or one of the two exits a bracket attaches to it."""

    ENTRY = "entry"
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a client asks for, already parsed (api/trading_routes.py validates the JSON)."""

    symbol: str
    side: Side
    quantity: float
    type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    take_profit: float | None = None
    stop_loss: float | None = None
    client_order_id: str | None = None
    idea_id: str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    client_order_id: str | None
    symbol: str
    side: Side
    type: OrderType
    quantity: float
    limit_price: float | None
    stop_price: float | None
    time_in_force: TimeInForce
    status: OrderStatus
    created_at: float
    updated_at: float
    filled_quantity: float = 0.0
    avg_fill_price: float | None = None
    last_fill_quantity: float | None = None
    last_fill_price: float | None = None
    reason: str | None = None
    # A stop (or stop-limit) whose stop price has been reached: from then on it is a market (or limit) order.
    triggered: bool = False
    # When a ``day`` order expires (Unix seconds); None for the others.
    expires_at: float | None = None
    leg: Leg = Leg.ENTRY
    # Bracket: the entry's exits (prices), and for an exit its entry's id.
    take_profit: float | None = None
    stop_loss: float | None = None
    parent_id: str | None = None
    commission: float = 0.0
    idea_id: str | None = None
    # Whether the order has already met a quote (ioc and fok act on the first one only).
    evaluated: bool = False

    @property
    def remaining(self) -> float:
        return max(0.0, self.quantity - self.filled_quantity)

    @property
    def wire_price(self) -> float | None:
        """``price`` of an ``order_update``: the last fill price, else the limit (or the stop)."""
        if self.last_fill_price is not None:
            return self.last_fill_price
        return self.limit_price if self.limit_price is not None else self.stop_price

    def with_status(self, status: OrderStatus, now: float, reason: str | None = None) -> Order:
        return replace(self, status=status, updated_at=now, reason=reason if reason is not None else self.reason)

    def with_fill(self, quantity: float, price: float, commission: float, now: float) -> Order:
        filled = round_quantity(self.filled_quantity + quantity)
        average = price if self.avg_fill_price is None else \
            (self.avg_fill_price * self.filled_quantity + price * quantity) / filled
        status = OrderStatus.FILLED if filled >= self.quantity - EPSILON else OrderStatus.PARTIALLY_FILLED
        return replace(self, filled_quantity=filled, avg_fill_price=average, last_fill_quantity=quantity,
                       last_fill_price=price, status=status, updated_at=now, commission=self.commission + commission)


def round_quantity(value: float) -> float:
    """To a whole number of QUANTITY_STEP, rounding the float noise away (0.30000000000000004 → 0.3)."""
    return round(round(value / QUANTITY_STEP) * QUANTITY_STEP, 6)


def floor_quantity(value: float) -> float:
    """Down to a whole number of QUANTITY_STEP (a volume cap must never be exceeded by rounding up)."""
    return round(math.floor(value / QUANTITY_STEP + 1e-6) * QUANTITY_STEP, 6)


def day_end(t: float) -> float:
    """The next 00:00 UTC after instant ``t``: when a ``day`` order placed at ``t`` expires (docs/trading.md)."""
    start = datetime.fromtimestamp(t, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (start + timedelta(days=1)).timestamp()


def utc_day(t: float) -> int:
    """The UTC day of instant ``t`` as days since the epoch."""
    return int(t // 86_400)
