"""The fill model: whether, how much and at what price a working order fills against one quote (docs/trading.md).

Pure: an order and a quote in, a decision out. The rules do not flatter the trader (the usual complaint about paper
trading): a market order pays the spread and the slippage, a limit fills only when the quote reaches it and never
through it, and no fill takes more than a share of what the market traded on that tick.
"""

from __future__ import annotations

from dataclasses import dataclass

from trading.orders import EPSILON, Order, OrderType, Side, TimeInForce, floor_quantity


@dataclass(frozen=True, slots=True)
class MarketTick:
    """One quote the broker evaluates orders against. ``volume`` is what traded since the previous quote of the
    symbol; None when the source reports no volumes at all (some currency and index feeds): then no cap applies."""

    symbol: str
    time: float
    bid: float
    ask: float
    volume: float | None


@dataclass(frozen=True, slots=True)
class FillRules:
    slippage_bps: float = 0.0
    max_volume_share: float = 1.0
    commission_per_order: float = 0.0
    commission_per_share: float = 0.0

    def commission(self, order: Order, quantity: float) -> float:
        """Per share on every fill, per order once (on its first fill)."""
        per_order = self.commission_per_order if order.filled_quantity <= EPSILON else 0.0
        return per_order + self.commission_per_share * quantity


@dataclass(frozen=True, slots=True)
class Decision:
    """``triggered``: the stop was reached (now or before); ``quantity`` 0: nothing fills on this quote;
    ``cancel_rest``: an ioc/fok order's unfilled rest ends now."""

    triggered: bool
    quantity: float = 0.0
    price: float | None = None
    cancel_rest: bool = False


NO_FILL = Decision(triggered=False)


def stop_reached(order: Order, tick: MarketTick) -> bool:
    """A buy stop triggers when the ask reaches the stop (ask ≥ stop), a sell stop when the bid does (bid ≤ stop):
    the price one could actually trade at, not the last trade."""
    assert order.stop_price is not None
    if order.side is Side.BUY:
        return tick.ask >= order.stop_price
    return tick.bid <= order.stop_price


def market_price(side: Side, tick: MarketTick, slippage_bps: float) -> float:
    """A buy pays the ask plus the slippage, a sell gets the bid minus it."""
    if side is Side.BUY:
        return tick.ask * (1 + slippage_bps / 10_000)
    return tick.bid * (1 - slippage_bps / 10_000)


def limit_price_reached(order: Order, tick: MarketTick) -> bool:
    """A buy limit is marketable when the ask is at or below it, a sell limit when the bid is at or above it."""
    assert order.limit_price is not None
    if order.side is Side.BUY:
        return tick.ask <= order.limit_price
    return tick.bid >= order.limit_price


def fill_cap(tick: MarketTick, max_volume_share: float) -> float | None:
    """The most all orders together may take from this quote: a share of the volume traded on it (None: no cap)."""
    if tick.volume is None:
        return None
    return floor_quantity(max(0.0, tick.volume) * max_volume_share)


def decide(order: Order, tick: MarketTick, rules: FillRules, available: float | None) -> Decision:
    """What ``order`` (working) does on ``tick``.

    Market: fills at the ask (buy) or bid (sell) with the slippage. Limit: fills only when the quote reaches the
    limit, at the quote with the slippage but never worse than the limit. Stop / stop-limit: once the quote reaches
    the stop they become market / limit orders, on the same quote. ``available`` is what is left of this quote's
    volume cap (``fill_cap``) after the orders ahead of this one (time priority); None: no cap.
    ioc: what fills on the first quote fills, the rest is canceled; fok: all of it on the first quote, or nothing
    and it is canceled.
    """
    triggered = order.triggered
    if order.type in (OrderType.STOP, OrderType.STOP_LIMIT) and not triggered:
        triggered = stop_reached(order, tick)
    once = order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
    if order.type is OrderType.MARKET or (order.type is OrderType.STOP and triggered):
        price = market_price(order.side, tick, rules.slippage_bps)
    elif order.type is OrderType.LIMIT or (order.type is OrderType.STOP_LIMIT and triggered):
        if not limit_price_reached(order, tick):
            return Decision(triggered, cancel_rest=once)
        assert order.limit_price is not None
        slipped = market_price(order.side, tick, rules.slippage_bps)
        price = min(slipped, order.limit_price) if order.side is Side.BUY else max(slipped, order.limit_price)
    else:
        return Decision(triggered, cancel_rest=once)
    if not price > 0:
        return Decision(triggered, cancel_rest=once)
    quantity = order.remaining if available is None else min(order.remaining, floor_quantity(available))
    if order.time_in_force is TimeInForce.FOK and quantity < order.remaining - EPSILON:
        return Decision(triggered, cancel_rest=True)
    if quantity <= EPSILON:
        return Decision(triggered, cancel_rest=once)
    return Decision(triggered, quantity, price, cancel_rest=once)
