"""The paper broker's rules: validation, order life cycle, fills against quotes, brackets, cash and positions.

Pure in the sense that matters: no threads, sockets or wall clock. The store and the clock are injected, every step
(``submit``, ``cancel``, ``on_tick``, ``expire_due``, ``reset``, ``sample_equity``) is committed to the store in one
transaction *before* it returns its events, and the caller announces the events only after that (commit before
announce: a crash can never lose something a client was told). Not thread-safe: the caller serialises calls
(trading/service.py holds one lock around each).
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from trading.fills import Decision, FillRules, MarketTick, decide, fill_cap
from trading.orders import (
    EPSILON,
    Leg,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    day_end,
    floor_quantity,
    round_quantity,
    utc_day,
)
from trading.performance import CALENDAR_DAYS_PER_YEAR, TRADING_DAYS_PER_YEAR, Performance, sharpe
from trading.positions import Position, Trade, apply_fill
from trading.store import MAX_EQUITY_SAMPLES, Account, Changes, Fill, TradingStore

MAX_QUANTITY = 1e9
MAX_PRICE = 1e9
DEFAULT_MAX_OPEN_ORDERS = 1000


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    starting_cash: float = 100_000.0
    rules: FillRules = field(default_factory=FillRules)
    allow_short: bool = False
    max_open_orders: int = DEFAULT_MAX_OPEN_ORDERS


@dataclass(frozen=True, slots=True)
class Instrument:
    """What the broker needs to know of a symbol: its price step, and whether it trades every day (crypto)."""

    symbol: str
    tick_size: float
    every_day: bool = False


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """An order changed state (or filled); ``fill`` is the fill that caused it, if any."""

    order: Order
    fill: Fill | None = None


@dataclass(frozen=True, slots=True)
class TradeEvent:
    trade: Trade


@dataclass(frozen=True, slots=True)
class PositionEvent:
    position: Position


@dataclass(frozen=True, slots=True)
class AccountEvent:
    """Cash changed outside of fills (a reset)."""

    account: Account


BrokerEvent = OrderEvent | TradeEvent | PositionEvent | AccountEvent


@dataclass(frozen=True, slots=True)
class Gate:
    """The quotes that can make a symbol's working orders do anything: a buy limit needs ask ≤ its limit, a sell
    limit bid ≥ its limit, a buy stop ask ≥ its stop, a sell stop bid ≤ its stop; market orders and ioc/fok orders
    not yet evaluated act on any quote. A quote that passes none of the bounds changes nothing (``day`` expiry is
    swept once a second apart from quotes), so the feed thread does not even queue it."""

    always: bool = False
    buy_limit: float = -math.inf
    sell_limit: float = math.inf
    buy_stop: float = math.inf
    sell_stop: float = -math.inf

    def passes(self, bid: float, ask: float) -> bool:
        return self.always or ask <= self.buy_limit or bid >= self.sell_limit or ask >= self.buy_stop \
            or bid <= self.sell_stop

    @classmethod
    def of(cls, orders: Iterable[Order]) -> Gate:
        always = False
        buy_limit, sell_limit, buy_stop, sell_stop = -math.inf, math.inf, math.inf, -math.inf
        for o in orders:
            if o.type is OrderType.MARKET or (o.type is OrderType.STOP and o.triggered) or \
                    (not o.evaluated and o.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)):
                always = True
                break
            if o.type is OrderType.LIMIT or (o.type is OrderType.STOP_LIMIT and o.triggered):
                assert o.limit_price is not None
                if o.side is Side.BUY:
                    buy_limit = max(buy_limit, o.limit_price)
                else:
                    sell_limit = min(sell_limit, o.limit_price)
            else:
                assert o.stop_price is not None
                if o.side is Side.BUY:
                    buy_stop = min(buy_stop, o.stop_price)
                else:
                    sell_stop = max(sell_stop, o.stop_price)
        return cls(always, buy_limit, sell_limit, buy_stop, sell_stop)


class OrderRefused(Exception):
    """Input that is not an order at all (unknown symbol, too many open orders): no order is made."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# Ids: a random part drawn once per process and a counter. Unique across restarts without a call to the system's
# random source per order (os.urandom cost milliseconds on a loaded machine, measured with bench/trading.py).
_ID_PREFIX = uuid.uuid4().hex[:12]
_ids = itertools.count(1)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{_ID_PREFIX}{next(_ids):08x}"


def on_tick_grid(price: float, tick_size: float) -> bool:
    """Whether ``price`` is a whole number of ``tick_size`` (within float noise)."""
    if tick_size <= 0:
        return True
    steps = price / tick_size
    return abs(steps - round(steps)) <= 1e-6 * max(1.0, abs(steps)) ** 0.5 + 1e-7


class Broker:
    def __init__(self, store: TradingStore, config: BrokerConfig, clock: Callable[[], float],
                 every_day: Callable[[str], bool] = lambda symbol: False) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.every_day = every_day
        self._load()

    # -- state -------------------------------------------------------------------------------------------------

    def _load(self) -> None:
        loaded = self.store.load()
        now = self.clock()
        account = loaded.account
        if account is None:
            account = Account(self.config.starting_cash, self.config.starting_cash, now, utc_day(now),
                              self.config.starting_cash)
            self.store.commit(Changes(account=account))
        self.account = account
        self.open_orders: dict[str, Order] = {o.order_id: o for o in loaded.open_orders}
        self.positions: dict[str, Position] = {p.symbol: p for p in loaded.positions}
        self.open_trades: dict[str, Trade] = {t.symbol: t for t in loaded.open_trades}
        self.closed_pnls = TradeTally()
        for pnl in loaded.closed_trade_pnls:
            self.closed_pnls.add(pnl)
        # The equity curve, oldest first (the store keeps the same bounded history), and what performance needs of
        # it kept up as samples come, so that figures cost the same after a month as after a minute.
        self.curve: deque[tuple[float, float]] = deque(maxlen=MAX_EQUITY_SAMPLES)
        self._peak = self.account.starting_cash
        self._drawdown = 0.0
        self._closes: list[tuple[int, float]] = []
        for point in self.store.equity_curve():
            self._add_point(point)
        self._reindex()

    def _add_point(self, point: tuple[float, float]) -> None:
        t, value = point
        self.curve.append(point)
        self._peak = max(self._peak, value)
        if self._peak > 0:
            self._drawdown = max(self._drawdown, 1 - value / self._peak)
        day = utc_day(t)
        if not self._closes:
            self._closes.append((day - 1, value))  # the start: the first return covers the first day
        if self._closes[-1][0] == day:
            self._closes[-1] = (day, value)
        else:
            self._closes.append((day, value))

    def _reindex(self) -> None:
        # Working orders per symbol in time priority: the tick path looks only at its symbol's orders.
        index: dict[str, dict[str, Order]] = {}
        for order in sorted(self.open_orders.values(), key=lambda o: o.created_at):
            if order.status.is_working:
                index.setdefault(order.symbol, {})[order.order_id] = order
        self.working: dict[str, dict[str, Order]] = index
        # Per symbol, the quotes that could make any of its working orders act (see Gate). Read without a lock by
        # the feed thread (one dict lookup, values immutable); rebuilt for the symbols a step changed.
        self.gates: dict[str, Gate] = {symbol: Gate.of(book.values()) for symbol, book in index.items()}
        self._dirty: set[str] = set()

    def _refresh_gates(self) -> None:
        for symbol in self._dirty:
            book = self.working.get(symbol)
            if book:
                self.gates[symbol] = Gate.of(book.values())
            else:
                self.gates.pop(symbol, None)
        self._dirty.clear()

    def symbols_with_working_orders(self) -> frozenset[str]:
        return frozenset(self.working)

    def held_symbols(self) -> frozenset[str]:
        return frozenset(s for s, p in self.positions.items() if not p.is_flat)

    def _put(self, order: Order, changes: Changes) -> None:
        changes.orders[order.order_id] = order
        self._dirty.add(order.symbol)
        if order.status.is_open:
            self.open_orders[order.order_id] = order
        else:
            self.open_orders.pop(order.order_id, None)
        book = self.working.get(order.symbol)
        if order.status.is_working:
            if book is None:
                book = self.working[order.symbol] = {}
            book[order.order_id] = order
        elif book is not None and order.order_id in book:
            del book[order.order_id]
            if not book:
                del self.working[order.symbol]

    def _commit(self, changes: Changes) -> None:
        """Commit, or on failure reload the last committed state (memory never runs ahead of the store)."""
        try:
            self.store.commit(changes)
        except BaseException:
            self._load()
            raise
        self._refresh_gates()

    # -- money -------------------------------------------------------------------------------------------------

    def reserved(self, exclude: str | None = None, marks: Callable[[str], float | None] | None = None) -> float:
        """Cash the open orders hold back: a buy its limit (or stop, or the mark) × rest, a sell that would open a
        short likewise; bracket exits hold nothing (they close what their entry opened)."""
        total = 0.0
        pending_sells: dict[str, float] = {}
        for order in self.open_orders.values():
            if order.order_id == exclude or order.leg is not Leg.ENTRY:
                continue
            price = order.limit_price or order.stop_price or (marks(order.symbol) if marks else None) or 0.0
            if order.side is Side.BUY:
                total += price * order.remaining
            else:
                held = max(0.0, self.positions.get(order.symbol, Position(order.symbol)).quantity)
                before = pending_sells.get(order.symbol, 0.0)
                pending_sells[order.symbol] = before + order.remaining
                short = max(0.0, before + order.remaining - held) - max(0.0, before - held)
                total += price * short
        return total

    def buying_power(self, marks: Callable[[str], float | None]) -> float:
        """Cash, less the value of short positions (their proceeds are in the cash), less what open orders hold."""
        shorts = sum(-p.quantity * (marks(p.symbol) or p.avg_price) for p in self.positions.values()
                     if p.quantity < -EPSILON)
        return self.account.cash - shorts - self.reserved(marks=marks)

    def sellable(self, symbol: str) -> float:
        """The long quantity not already promised to open sell orders."""
        held = max(0.0, self.positions.get(symbol, Position(symbol)).quantity)
        promised = sum(o.remaining for o in self.open_orders.values()
                       if o.symbol == symbol and o.side is Side.SELL and o.leg is Leg.ENTRY)
        return max(0.0, held - promised)

    # -- submit ------------------------------------------------------------------------------------------------

    def existing(self, client_order_id: str) -> Order | None:
        for order in self.open_orders.values():
            if order.client_order_id == client_order_id:
                return order
        return self.store.order_by_client_id(client_order_id)

    def submit(self, request: OrderRequest, instrument: Instrument | None, quote: MarketTick | None,
               marks: Callable[[str], float | None]) -> tuple[Order, list[BrokerEvent]]:
        """Place an order: ``accepted`` (working from the next quote on), or ``rejected`` with its reason (both
        stored and announced). An unknown symbol or a full order book raises OrderRefused (nothing stored). A
        repeated ``client_order_id`` returns the existing order and changes nothing."""
        if request.client_order_id:
            found = self.existing(request.client_order_id)
            if found is not None:
                return found, []
        if instrument is None:
            raise OrderRefused(404, "unknown_symbol", f"unknown symbol {request.symbol}")
        entries = sum(1 for o in self.open_orders.values() if o.leg is Leg.ENTRY)
        if entries >= self.config.max_open_orders:
            raise OrderRefused(429, "too_many_orders",
                               f"at most {self.config.max_open_orders} open orders; cancel some first")
        now = self.clock()
        order = Order(order_id=_new_id("ord"), client_order_id=request.client_order_id, symbol=request.symbol,
                      side=request.side, type=request.type, quantity=round_quantity(request.quantity),
                      limit_price=request.limit_price, stop_price=request.stop_price,
                      time_in_force=request.time_in_force, status=OrderStatus.NEW, created_at=now, updated_at=now,
                      expires_at=day_end(now) if request.time_in_force is TimeInForce.DAY else None,
                      take_profit=request.take_profit, stop_loss=request.stop_loss, idea_id=request.idea_id)
        reason = self.validate(order, instrument, quote, marks)
        changes = Changes()
        events: list[BrokerEvent] = []
        if reason is not None:
            rejected = order.with_status(OrderStatus.REJECTED, now, reason)
            changes.orders[rejected.order_id] = rejected
            self._commit(changes)
            return rejected, [OrderEvent(rejected)]
        accepted = order.with_status(OrderStatus.ACCEPTED, now)
        self._put(accepted, changes)
        events.append(OrderEvent(accepted))
        for leg, price in ((Leg.TAKE_PROFIT, order.take_profit), (Leg.STOP_LOSS, order.stop_loss)):
            if price is None:
                continue
            # The exits wait in ``new`` until the entry fills; then they work for what the entry filled (gtc).
            exit_order = Order(order_id=_new_id("ord"), client_order_id=None, symbol=order.symbol,
                               side=order.side.opposite,
                               type=OrderType.LIMIT if leg is Leg.TAKE_PROFIT else OrderType.STOP,
                               quantity=order.quantity,
                               limit_price=price if leg is Leg.TAKE_PROFIT else None,
                               stop_price=price if leg is Leg.STOP_LOSS else None,
                               time_in_force=TimeInForce.GTC, status=OrderStatus.NEW, created_at=now, updated_at=now,
                               leg=leg, parent_id=order.order_id, idea_id=order.idea_id)
            self._put(exit_order, changes)
            events.append(OrderEvent(exit_order))
        self._commit(changes)
        return accepted, events

    def validate(self, order: Order, instrument: Instrument, quote: MarketTick | None,
                 marks: Callable[[str], float | None]) -> str | None:
        """Why ``order`` cannot be accepted, or None."""
        if not (math.isfinite(order.quantity) and 0 < order.quantity <= MAX_QUANTITY):
            return f"quantity must be above 0 and at most {MAX_QUANTITY:g}"
        needs_limit = order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = order.type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_limit != (order.limit_price is not None):
            return f"a {order.type.value} order {'needs' if needs_limit else 'takes no'} limit_price"
        if needs_stop != (order.stop_price is not None):
            return f"a {order.type.value} order {'needs' if needs_stop else 'takes no'} stop_price"
        for name in ("limit_price", "stop_price", "take_profit", "stop_loss"):
            price = getattr(order, name)
            if price is None:
                continue
            if not (math.isfinite(price) and 0 < price <= MAX_PRICE):
                return f"{name} must be above 0 and at most {MAX_PRICE:g}"
            if not on_tick_grid(price, instrument.tick_size):
                return f"{name} {price:g} is not a multiple of {order.symbol}'s tick size {instrument.tick_size:g}"
        if quote is None:
            return f"no quote for {order.symbol} yet; retry in a moment"
        market = quote.ask if order.side is Side.BUY else quote.bid
        entry = order.limit_price or order.stop_price or market
        if order.type is OrderType.STOP_LIMIT:
            assert order.limit_price is not None and order.stop_price is not None
            if order.side is Side.BUY and order.limit_price < order.stop_price:
                return "a buy stop_limit needs limit_price at or above stop_price"
            if order.side is Side.SELL and order.limit_price > order.stop_price:
                return "a sell stop_limit needs limit_price at or below stop_price"
        sign = order.side.sign
        if order.take_profit is not None and (order.take_profit - entry) * sign <= 0:
            return (f"take_profit {order.take_profit:g} must be {'above' if sign > 0 else 'below'} the entry "
                    f"{entry:g}")
        if order.stop_loss is not None and (entry - order.stop_loss) * sign <= 0:
            return f"stop_loss {order.stop_loss:g} must be {'below' if sign > 0 else 'above'} the entry {entry:g}"
        rules = self.config.rules
        if order.side is Side.BUY:
            price = max(entry, market) if order.type is OrderType.STOP else entry
            if order.type is OrderType.MARKET or order.type is OrderType.STOP:
                price *= 1 + rules.slippage_bps / 10_000
            cost = price * order.quantity + rules.commission_per_order + rules.commission_per_share * order.quantity
            power = self.buying_power(marks)
            if cost > power + EPSILON:
                return f"insufficient buying power: the order needs {cost:,.2f}, {max(0.0, power):,.2f} is available"
        else:
            sellable = self.sellable(order.symbol)
            short = max(0.0, order.quantity - sellable)
            if short > EPSILON:
                if not self.config.allow_short:
                    return (f"insufficient position: {sellable:g} {order.symbol} can be sold (short selling is off: "
                            "TICKSTREAM_PAPER_ALLOW_SHORT=1 allows it)")
                cost = entry * short
                power = self.buying_power(marks)
                if cost > power + EPSILON:
                    return f"insufficient buying power for the short sale: it needs {cost:,.2f}, " \
                           f"{max(0.0, power):,.2f} is available"
        return None

    # -- cancel ------------------------------------------------------------------------------------------------

    def cancel(self, order_id: str, reason: str = "canceled by the client") -> tuple[Order | None, list[BrokerEvent]]:
        """Cancel an open order (and the waiting exits of a bracket entry). Returns the order as it now is (None if
        unknown); a closed order is returned unchanged."""
        order = self.open_orders.get(order_id)
        if order is None:
            return self.store.order(order_id), []
        now = self.clock()
        changes = Changes()
        events: list[BrokerEvent] = []
        self._end(order, OrderStatus.CANCELED, now, reason, changes, events)
        self._commit(changes)
        return changes.orders[order_id], events

    def _end(self, order: Order, status: OrderStatus, now: float, reason: str, changes: Changes,
             events: list[BrokerEvent]) -> None:
        """Close an open order; an entry's exits follow (activated for what filled, else canceled)."""
        ended = order.with_status(status, now, reason)
        self._put(ended, changes)
        events.append(OrderEvent(ended))
        if order.leg is Leg.ENTRY:
            for child in self._children(order.order_id):
                if child.status is OrderStatus.NEW:
                    if ended.filled_quantity > EPSILON:
                        self._activate(child, ended.filled_quantity, now, changes, events)
                    else:
                        self._end(child, OrderStatus.CANCELED, now, f"its entry {order.order_id} ended unfilled",
                                  changes, events)

    def _children(self, parent_id: str) -> list[Order]:
        return [o for o in self.open_orders.values() if o.parent_id == parent_id]

    def _activate(self, child: Order, quantity: float, now: float, changes: Changes,
                  events: list[BrokerEvent]) -> None:
        active = replace(child, quantity=round_quantity(quantity), status=OrderStatus.ACCEPTED, updated_at=now)
        self._put(active, changes)
        events.append(OrderEvent(active))

    # -- quotes ------------------------------------------------------------------------------------------------

    def on_tick(self, tick: MarketTick) -> list[BrokerEvent]:
        """Evaluate the symbol's working orders against one quote, in time priority, sharing its volume cap."""
        book = self.working.get(tick.symbol)
        if not book:
            return []
        now = tick.time
        changes = Changes()
        events: list[BrokerEvent] = []
        available = fill_cap(tick, self.config.rules.max_volume_share)
        activated: set[str] = set()
        for order in list(book.values()):
            if order.order_id in activated or order.order_id not in self.open_orders:
                continue  # an exit activated on this quote works from the next; a sibling canceled on this one
            order = self.open_orders[order.order_id]
            if order.expires_at is not None and now >= order.expires_at:
                self._end(order, OrderStatus.EXPIRED, now, "day order: the UTC day ended", changes, events)
                continue
            decision = decide(order, tick, self.config.rules, available)
            if decision.quantity > EPSILON and order.side is Side.SELL and not self.config.allow_short:
                # Never sell what is not held when shorting is off (an exit whose position was closed by hand).
                held = floor_quantity(max(0.0, self.positions.get(order.symbol, Position(order.symbol)).quantity))
                if held <= EPSILON:
                    self._end(order, OrderStatus.CANCELED, now, "no position left to sell", changes, events)
                    continue
                if decision.quantity > held:
                    decision = replace(decision, quantity=held)
            if decision.triggered and not order.triggered:
                order = replace(order, triggered=True, updated_at=now)
                self._put(order, changes)
            if not order.evaluated:
                order = replace(order, evaluated=True)
                self._put(order, changes)
            if decision.quantity > EPSILON:
                assert decision.price is not None
                if available is not None:
                    available = max(0.0, available - decision.quantity)
                order = self._fill(order, decision, now, changes, events, activated)
            if decision.cancel_rest and order.status.is_open:
                tif = order.time_in_force.value
                self._end(order, OrderStatus.CANCELED, now,
                          f"{tif}: the unfilled {order.remaining:g} canceled" if tif == "ioc"
                          else "fok: the quote could not fill all of it at once", changes, events)
        if changes:
            self._commit(changes)
        return events

    def _fill(self, order: Order, decision: Decision, now: float, changes: Changes, events: list[BrokerEvent],
              activated: set[str]) -> Order:
        assert decision.price is not None
        quantity = decision.quantity
        price = round(decision.price, 10)
        commission = self.config.rules.commission(order, quantity)
        filled = order.with_fill(quantity, price, commission, now)
        fill = Fill(order.order_id, order.symbol, order.side, quantity, price, commission, now)
        self._put(filled, changes)
        changes.fills.append(fill)
        events.append(OrderEvent(filled, fill))
        # Cash, position and round trip.
        value = price * quantity
        cash = self.account.cash - value - commission if order.side is Side.BUY else \
            self.account.cash + value - commission
        self.account = replace(self.account, cash=cash)
        changes.account = self.account
        position = self.positions.get(order.symbol, Position(order.symbol))
        result = apply_fill(position, self.open_trades.get(order.symbol), order.side, quantity, price, commission,
                            now, _new_id("trd"))
        self.positions[order.symbol] = result.position
        changes.positions[order.symbol] = result.position
        events.append(PositionEvent(result.position))
        for trade in (result.trade, result.opened):
            if trade is None:
                continue
            changes.trades[trade.trade_id] = trade
            events.append(TradeEvent(trade))
            if trade.status.value == "closed":
                self.open_trades.pop(trade.symbol, None)
                self.closed_pnls.add(trade.realized_pnl)
            else:
                self.open_trades[trade.symbol] = trade
        if result.position.is_flat:
            self.positions.pop(order.symbol, None)
        # Brackets: an entry's exits start working once it is filled; the exits cancel each other (OCO).
        if order.leg is Leg.ENTRY and filled.status is OrderStatus.FILLED:
            for child in self._children(order.order_id):
                if child.status is OrderStatus.NEW:
                    self._activate(child, filled.filled_quantity, now, changes, events)
                    activated.add(child.order_id)
        elif order.leg is not Leg.ENTRY:
            for sibling in self._children(order.parent_id or ""):
                if sibling.order_id == order.order_id or not sibling.status.is_open:
                    continue
                if filled.status is OrderStatus.FILLED:
                    self._end(sibling, OrderStatus.CANCELED, now, f"oco: the {order.leg.value} exit filled",
                              changes, events)
                else:
                    # A partial exit shrinks the other exit by as much: together they never exceed the position.
                    smaller = round_quantity(sibling.quantity - quantity)
                    if smaller <= sibling.filled_quantity + EPSILON:
                        self._end(sibling, OrderStatus.CANCELED, now, f"oco: the {order.leg.value} exit filled",
                                  changes, events)
                    else:
                        self._put(replace(sibling, quantity=smaller, updated_at=now), changes)
        return filled

    def expire_due(self, now: float | None = None) -> list[BrokerEvent]:
        """Expire the ``day`` orders whose day has ended, whether or not their symbol ticked since."""
        now = self.clock() if now is None else now
        due = [o for o in self.open_orders.values() if o.expires_at is not None and now >= o.expires_at]
        if not due:
            return []
        changes = Changes()
        events: list[BrokerEvent] = []
        for order in due:
            if order.order_id in self.open_orders and self.open_orders[order.order_id].status.is_open:
                self._end(self.open_orders[order.order_id], OrderStatus.EXPIRED, now, "day order: the UTC day ended",
                          changes, events)
        self._commit(changes)
        return events

    # -- account -----------------------------------------------------------------------------------------------

    def reset(self, cash: float | None = None) -> list[BrokerEvent]:
        """Start over: open orders canceled (announced), positions, trades, fills and the equity curve cleared."""
        now = self.clock()
        starting = self.config.starting_cash if cash is None else cash
        events: list[BrokerEvent] = []
        for order in self.open_orders.values():
            events.append(OrderEvent(order.with_status(OrderStatus.CANCELED, now, "account reset")))
        for position in self.positions.values():
            events.append(PositionEvent(replace(position, quantity=0.0, avg_price=0.0, realized_pnl=0.0,
                                                updated_at=now)))
        account = Account(starting, starting, now, utc_day(now), starting)
        self.store.commit(Changes(reset=True, account=account))
        self._load()
        events.append(AccountEvent(account))
        return events

    def total_value(self, marks: Callable[[str], float | None]) -> float:
        return self.account.cash + sum(p.quantity * (marks(p.symbol) or p.avg_price)
                                       for p in self.positions.values())

    def roll_day(self, marks: Callable[[str], float | None], now: float | None = None) -> bool:
        """At the first call of a new UTC day, remember the total value then (daily P&L counts from it)."""
        now = self.clock() if now is None else now
        if utc_day(now) == self.account.day:
            return False
        self.account = replace(self.account, day=utc_day(now), day_start_value=self.total_value(marks))
        self._commit(Changes(account=self.account))
        return True

    def sample_equity(self, marks: Callable[[str], float | None], now: float | None = None) -> tuple[float, float]:
        """Add a point to the equity curve (the service calls this every minute)."""
        now = self.clock() if now is None else now
        point = (now, self.total_value(marks))
        self._commit(Changes(equity=[point]))
        self._add_point(point)
        return point

    def performance(self, marks: Callable[[str], float | None]) -> tuple[Performance, list[tuple[float, float]]]:
        """The figures of docs/trading.md, marked to ``marks``, and the equity curve they come from."""
        total = self.total_value(marks)
        # √365 when everything the account holds trades every day (crypto), else √252 (docs/trading.md).
        held = {*self.positions, *self.open_trades}
        periods = CALENDAR_DAYS_PER_YEAR if held and all(self.every_day(s) for s in held) else TRADING_DAYS_PER_YEAR
        unrealized = sum(p.unrealized(marks(p.symbol)) for p in self.positions.values())
        tally = self.closed_pnls
        realized = tally.total + sum(t.realized_pnl for t in self.open_trades.values())
        peak = max(self._peak, total)
        drawdown = max(self._drawdown, 1 - total / peak if peak > 0 else 0.0)
        closes = [v for _, v in self._closes]
        today = utc_day(self.clock())
        if self._closes and self._closes[-1][0] == today:
            closes[-1] = total
        else:
            closes.append(total)
        returns = [b / a - 1 for a, b in zip(closes, closes[1:], strict=False) if a > 0]
        perf = Performance(
            total_value=total,
            cash=self.account.cash,
            daily_pnl=total - self.account.day_start_value,
            open_positions=sum(1 for p in self.positions.values() if not p.is_flat),
            win_rate=tally.win_rate,
            profit_factor=tally.profit_factor,
            max_drawdown=drawdown,
            sharpe=sharpe(returns, periods),
            realized_pnl=realized,
            unrealized_pnl=unrealized,
            closed_trades=tally.count,
        )
        return perf, list(self.curve)


class TradeTally:
    """Running sums of the closed trades' P&L: win rate and profit factor in O(1) however many trades closed
    (the same definitions as trading/performance.py's ``win_rate`` and ``profit_factor``)."""

    __slots__ = ("count", "wins", "gains", "losses", "total")

    def __init__(self) -> None:
        self.count = 0
        self.wins = 0
        self.gains = 0.0
        self.losses = 0.0
        self.total = 0.0

    def add(self, pnl: float) -> None:
        self.count += 1
        self.total += pnl
        if pnl > 0:
            self.wins += 1
            self.gains += pnl
        elif pnl < 0:
            self.losses -= pnl

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.count if self.count else None

    @property
    def profit_factor(self) -> float | None:
        return self.gains / self.losses if self.losses > 0 else None
