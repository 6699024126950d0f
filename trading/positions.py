"""Positions at average cost and round-trip trades: what each fill does to them (pure)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from trading.orders import EPSILON, Side, round_quantity


class TradeSide(str, Enum):
    LONG = "long"
    SHORT = "short"


class TradeStatus(str, Enum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Position:
    """``quantity`` is signed (negative: short); ``realized_pnl`` sums the closed parts, commissions deducted."""

    symbol: str
    quantity: float = 0.0
    avg_price: float = 0.0
    realized_pnl: float = 0.0
    updated_at: float = 0.0

    @property
    def is_flat(self) -> bool:
        return abs(self.quantity) <= EPSILON

    def unrealized(self, mark: float | None) -> float:
        """Marked to ``mark`` (the live price): (mark − average price) × signed quantity."""
        if mark is None or self.is_flat:
            return 0.0
        return (mark - self.avg_price) * self.quantity


@dataclass(frozen=True, slots=True)
class Trade:
    """A round trip: opens when a position leaves zero, closes when it returns to zero (or flips, which closes it
    and opens the next). ``realized_pnl`` includes every commission paid on its fills."""

    trade_id: str
    symbol: str
    side: TradeSide
    opened_at: float
    entry_quantity: float
    entry_price: float
    exit_quantity: float = 0.0
    exit_price: float | None = None
    realized_pnl: float = 0.0
    commission: float = 0.0
    status: TradeStatus = TradeStatus.OPEN
    closed_at: float | None = None
    fills: int = 1


@dataclass(frozen=True, slots=True)
class FillResult:
    position: Position
    # The trade this fill added to or closed, and the one it opened by flipping the position (if any).
    trade: Trade
    opened: Trade | None
    realized: float


def _average(old_price: float | None, old_qty: float, price: float, qty: float) -> float:
    if old_price is None or old_qty <= EPSILON:
        return price
    return (old_price * old_qty + price * qty) / (old_qty + qty)


def apply_fill(position: Position, trade: Trade | None, side: Side, quantity: float, price: float, commission: float,
               now: float, new_trade_id: str) -> FillResult:
    """Book one fill. ``trade`` is the symbol's open trade (None when the position is flat); ``new_trade_id`` names
    the trade this fill opens, if it opens one."""
    signed = side.sign * quantity
    held = position.quantity
    if abs(held) <= EPSILON or trade is None:
        opened = Trade(new_trade_id, position.symbol, TradeSide.LONG if signed > 0 else TradeSide.SHORT, now,
                       quantity, price, realized_pnl=-commission, commission=commission)
        new = replace(position, quantity=round_quantity(signed), avg_price=price,
                      realized_pnl=position.realized_pnl - commission, updated_at=now)
        return FillResult(new, opened, None, -commission)
    if (held > 0) == (signed > 0):
        # Adding to the position: the average cost moves, nothing is realised but the commission.
        new = replace(position, quantity=round_quantity(held + signed),
                      avg_price=_average(position.avg_price, abs(held), price, quantity),
                      realized_pnl=position.realized_pnl - commission, updated_at=now)
        grown = replace(trade, entry_price=_average(trade.entry_price, trade.entry_quantity, price, quantity),
                        entry_quantity=round_quantity(trade.entry_quantity + quantity),
                        realized_pnl=trade.realized_pnl - commission, commission=trade.commission + commission,
                        fills=trade.fills + 1)
        return FillResult(new, grown, None, -commission)
    closing = min(quantity, abs(held))
    opening = round_quantity(quantity - closing)
    # The commission is shared between the closing and the opening part in proportion to their sizes.
    closing_commission = commission * closing / quantity
    gross = (price - position.avg_price) * closing * (1 if held > 0 else -1)
    realized = gross - closing_commission
    exited = replace(trade, exit_price=_average(trade.exit_price, trade.exit_quantity, price, closing),
                     exit_quantity=round_quantity(trade.exit_quantity + closing),
                     realized_pnl=trade.realized_pnl + realized, commission=trade.commission + closing_commission,
                     fills=trade.fills + 1)
    remaining = round_quantity(held + signed)
    if abs(remaining) <= EPSILON:
        closed = replace(exited, status=TradeStatus.CLOSED, closed_at=now)
        new = replace(position, quantity=0.0, avg_price=0.0, realized_pnl=position.realized_pnl + realized,
                      updated_at=now)
        return FillResult(new, closed, None, realized)
    if opening <= EPSILON:
        new = replace(position, quantity=remaining, realized_pnl=position.realized_pnl + realized, updated_at=now)
        return FillResult(new, exited, None, realized)
    # Flipped: the old trade closes, a new one opens with the rest of the fill at its price.
    closed = replace(exited, status=TradeStatus.CLOSED, closed_at=now)
    opening_commission = commission - closing_commission
    flipped = Trade(new_trade_id, position.symbol, TradeSide.LONG if signed > 0 else TradeSide.SHORT, now, opening,
                    price, realized_pnl=-opening_commission, commission=opening_commission)
    new = replace(position, quantity=remaining, avg_price=price,
                  realized_pnl=position.realized_pnl + realized - opening_commission, updated_at=now)
    return FillResult(new, closed, flipped, realized - opening_commission)
