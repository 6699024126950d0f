"""The paper broker at the edge: live quotes in from the bus, steps committed, events announced on the bus.

Thread rules:
- ``on_event`` runs on the publisher's thread (the feed thread). It stays cheap: a tick that could make a working
  order act (the symbol's ``Gate``, trading/broker.py: one dict lookup and four comparisons) is appended to a
  bounded queue; every other tick costs the lookup only; a
  ``prepared_payload`` is remembered in a bounded map; a consensus ``signal`` of a symbol with an auto-trading rule
  is queued. Nothing there touches SQLite or takes the broker lock.
- One worker thread (``paper-broker``) takes the queue in order: each tick is evaluated by the broker, committed,
  and only then announced. Once a second it expires ``day`` orders, rolls the UTC day, marks positions and
  publishes ``performance``/``dashboard_update`` when they changed; once a minute it samples the equity curve.
- REST calls (any thread) submit, cancel and reset under the same lock, also committing before announcing.
- Snapshots for new subscribers (called by the hub under its own lock) read only the last announced values, under a
  small lock of their own that is never held while calling out, so the hub and the broker cannot deadlock.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from api import protocol as p
from feeds.bus import EventQueue, InProcessBus
from feeds.models import Quote, Tick
from trading.broker import (
    AccountEvent,
    Broker,
    BrokerEvent,
    Instrument,
    OrderEvent,
    OrderRefused,
    PositionEvent,
    TradeEvent,
)
from trading.fills import MarketTick
from trading.orders import Order, OrderRequest, OrderStatus, OrderType, Side, TimeInForce, floor_quantity
from trading.performance import Performance
from trading.positions import TradeStatus
from trading.store import AutoRule
from trading.wire import (
    dashboard_update,
    order_update,
    performance_to_wire,
    position_to_wire,
    trade_to_wire,
)

log = logging.getLogger(__name__)

# Ticks waiting for the worker; beyond this the oldest are dropped (and counted): a stalled worker cannot grow memory.
TICK_QUEUE_SIZE = 100_000
# Prepared payloads remembered for POST /api/v1/orders/from-payload/{idea_id}.
MAX_PAYLOADS = 1000
MAX_AUTO_RULES = 200
# Half-spread assumed (in basis points of the price) for a source that gives no bid/ask (docs/trading.md).
DEFAULT_HALF_SPREAD_BPS = 1.0
PERIODIC_SECONDS = 1.0
EQUITY_SAMPLE_SECONDS = 60.0
# Orders, trades and positions a new subscriber gets first at most.
SNAPSHOT_LIMIT = 1000
TRADING_CHANNELS = frozenset({p.Channel.ORDERS, p.Channel.TRADES, p.Channel.POSITIONS, p.Channel.PERFORMANCE,
                              p.Channel.DASHBOARD})


def market_tick(symbol: str, t: float, price: float, bid: float | None, ask: float | None,
                volume: float | None) -> MarketTick:
    """The quote the broker fills against; without bid/ask, the price ± DEFAULT_HALF_SPREAD_BPS."""
    if bid is None or ask is None or not (bid > 0 and ask > 0):
        half = price * DEFAULT_HALF_SPREAD_BPS / 10_000
        bid, ask = price - half, price + half
    return MarketTick(symbol, t, bid, ask, volume)


class TradingService:
    def __init__(
        self,
        broker: Broker,
        bus: InProcessBus,
        latest_quote: Callable[[str], Quote | None],
        fetch_quote: Callable[[str], Quote],
        instrument: Callable[[str], Instrument | None],
        keep_symbol: Callable[[str], None] = lambda symbol: None,
        idea_lookup: Callable[[str], dict[str, Any] | None] = lambda idea_id: None,
        clock: Callable[[], float] = time.time,
        running: Callable[[], bool] = lambda: True,
    ) -> None:
        self.broker = broker
        self.bus = bus
        self.latest_quote = latest_quote
        self.fetch_quote = fetch_quote
        self.instrument = instrument
        self.keep_symbol = keep_symbol
        self.idea_lookup = idea_lookup
        self.clock = clock
        # Whether the feed still runs: the worker ends a few seconds after it stopped (no quotes can come).
        self.running = running
        self._lock = threading.RLock()
        self._queue = EventQueue(TICK_QUEUE_SIZE)
        self._watch: frozenset[str] = broker.symbols_with_working_orders()
        self._payloads: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._payload_lock = threading.Lock()
        self._auto: dict[tuple[str, str], AutoRule] = {(r.symbol, r.timeframe): r for r in broker.store.auto_rules()}
        self._auto_symbols = frozenset(r.symbol for r in self._auto.values() if r.enabled)
        # What was announced last, for snapshots (under _snap_lock only).
        self._snap_lock = threading.Lock()
        self._open_orders: dict[str, dict[str, Any]] = {o.order_id: order_update(o)
                                                        for o in broker.open_orders.values()}
        self._trades: OrderedDict[str, dict[str, Any]] = OrderedDict(
            (t.trade_id, trade_to_wire(t)) for t in reversed(broker.store.trades(limit=50)))
        self._positions: dict[str, dict[str, Any]] = {
            s: position_to_wire(p_, self.mark(s)) for s, p_ in broker.positions.items() if not p_.is_flat}
        # What a subscriber of performance or dashboard gets before anything happened.
        perf, _ = broker.performance(self.mark)
        self._performance: dict[str, Any] | None = performance_to_wire(perf)
        self._dashboard: dict[str, Any] | None = dashboard_update(perf)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_sample = 0.0
        self.ticks_evaluated = 0
        self.errors = 0
        self._unsubscribe = bus.subscribe(self.on_event)

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="paper-broker", daemon=True)
            self._thread.start()
        for symbol in self._watch | self.broker.held_symbols():
            self.keep_symbol(symbol)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- bus side (feed thread): cheap ----------------------------------------------------------------------

    def on_event(self, topic: str, event: Any) -> None:
        if type(event) is Tick:
            gate = self.broker.gates.get(event.symbol)
            if gate is not None and (event.bid is None or event.ask is None or gate.passes(event.bid, event.ask)):
                self._queue.put("tick", event)
            return
        if type(event) is not p.ChannelEvent:
            return
        if event.type is p.MessageType.PREPARED_PAYLOAD:
            idea_id = event.data.get("idea_id")
            if isinstance(idea_id, str):
                with self._payload_lock:
                    self._payloads[idea_id] = event.data
                    self._payloads.move_to_end(idea_id)
                    while len(self._payloads) > MAX_PAYLOADS:
                        self._payloads.popitem(last=False)
        elif event.type is p.MessageType.SIGNAL and event.symbol in self._auto_symbols:
            self._queue.put("signal", event)

    @property
    def ticks_dropped(self) -> int:
        return self._queue.dropped

    # -- worker --------------------------------------------------------------------------------------------

    def _run(self) -> None:
        next_periodic = 0.0
        stopped_since: float | None = None
        while not self._stop.is_set():
            if self.running():
                stopped_since = None
            elif stopped_since is None:
                stopped_since = time.monotonic()
            elif time.monotonic() - stopped_since > 2.0:
                return
            item = self._queue.get(timeout=0.2)
            try:
                if item is not None:
                    kind, event = item
                    if kind == "tick":
                        self._on_tick(event)
                    elif kind == "signal":
                        self._on_signal(event)
                now = time.monotonic()
                if now >= next_periodic:
                    next_periodic = now + PERIODIC_SECONDS
                    self.periodic()
            except Exception:
                self.errors += 1
                log.exception("paper broker step failed")

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until the queued ticks are processed (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while len(self._queue) and time.monotonic() < deadline:
            time.sleep(0.005)
        with self._lock:
            return not len(self._queue)

    def _tick_of(self, tick: Tick) -> MarketTick:
        quote = self.latest_quote(tick.symbol)
        # A source that reports no volume at all (day volume 0) gets no volume cap (docs/trading.md).
        reports_volume = tick.volume > 0 or (quote is not None and quote.volume > 0)
        return market_tick(tick.symbol, tick.time, tick.price, tick.bid, tick.ask,
                           tick.volume if reports_volume else None)

    def _on_tick(self, tick: Tick) -> None:
        market = self._tick_of(tick)
        with self._lock:
            events = self.broker.on_tick(market)
            self.ticks_evaluated += 1
            self._announce(events)

    def process_tick(self, tick: Tick) -> None:
        """Evaluate one tick at once on the calling thread (tests)."""
        self._on_tick(tick)

    def periodic(self) -> None:
        with self._lock:
            self._announce(self.broker.expire_due())
            self.broker.roll_day(self.mark)
            if time.monotonic() >= self._next_sample:
                self._next_sample = time.monotonic() + EQUITY_SAMPLE_SECONDS
                self.broker.sample_equity(self.mark)
                self.broker.store.prune()
                for symbol in self._watch | self.broker.held_symbols():
                    self.keep_symbol(symbol)
            self._publish_marks()

    # -- announcing (under the broker lock, after the commit) -------------------------------------------------

    def mark(self, symbol: str) -> float | None:
        quote = self.latest_quote(symbol)
        return quote.price if quote is not None else None

    def _publish(self, channel: p.Channel, kind: p.MessageType, symbol: str | None, data: dict[str, Any]) -> None:
        self.bus.publish(f"{channel.value}.{symbol}" if symbol else channel.value,
                         p.ChannelEvent(channel, kind, symbol, data, self.clock()))

    def _announce(self, events: list[BrokerEvent]) -> None:
        if not events:
            return
        for event in events:
            if isinstance(event, OrderEvent):
                data = order_update(event.order)
                with self._snap_lock:
                    if event.order.status.is_open:
                        self._open_orders[event.order.order_id] = data
                    else:
                        self._open_orders.pop(event.order.order_id, None)
                self._publish(p.Channel.ORDERS, p.MessageType.ORDER_UPDATE, event.order.symbol, data)
            elif isinstance(event, TradeEvent):
                data = trade_to_wire(event.trade)
                with self._snap_lock:
                    self._trades[event.trade.trade_id] = data
                    self._trades.move_to_end(event.trade.trade_id)
                    while len(self._trades) > SNAPSHOT_LIMIT:
                        self._trades.popitem(last=False)
                self._publish(p.Channel.TRADES, p.MessageType.TRADE, event.trade.symbol, data)
            elif isinstance(event, PositionEvent):
                data = position_to_wire(event.position, self.mark(event.position.symbol))
                with self._snap_lock:
                    if event.position.is_flat:
                        self._positions.pop(event.position.symbol, None)
                    else:
                        self._positions[event.position.symbol] = data
                self._publish(p.Channel.POSITIONS, p.MessageType.POSITION, event.position.symbol, data)
            elif isinstance(event, AccountEvent):
                with self._snap_lock:
                    self._positions.clear()
                    self._trades.clear()
        self._watch = self.broker.symbols_with_working_orders()
        # Placing, canceling or expiring an order changes no figure; a fill or a reset does.
        if any(isinstance(e, (PositionEvent, AccountEvent)) for e in events):
            self._publish_performance()

    def _publish_marks(self) -> None:
        """Positions marked to the live price, sent when their market price moved."""
        for position in list(self.broker.positions.values()):
            if position.is_flat:
                continue
            data = position_to_wire(position, self.mark(position.symbol))
            with self._snap_lock:
                same = self._positions.get(position.symbol) == data
                self._positions[position.symbol] = data
            if not same:
                self._publish(p.Channel.POSITIONS, p.MessageType.POSITION, position.symbol, data)
        self._publish_performance()

    def _publish_performance(self) -> None:
        perf, _ = self.broker.performance(self.mark)
        data = performance_to_wire(perf)
        dash = dashboard_update(perf)
        with self._snap_lock:
            perf_changed = data != self._performance
            dash_changed = self._dashboard is None or {k: v for k, v in dash.items() if k != "values"} != \
                {k: v for k, v in self._dashboard.items() if k != "values"}
            self._performance = data
            if dash_changed:
                self._dashboard = dash
        if perf_changed:
            self._publish(p.Channel.PERFORMANCE, p.MessageType.PERFORMANCE, None, data)
        if dash_changed:
            # Only when a shown value changed (docs/protocol.md): the page writes these strings as they come.
            self._publish(p.Channel.DASHBOARD, p.MessageType.DASHBOARD_UPDATE, None, dash)

    # -- snapshots (the hub, under its lock) ------------------------------------------------------------------

    def snapshot(self, subscription: p.Subscription) -> list[p.ChannelEvent]:
        now = self.clock()
        channel = subscription.channel
        with self._snap_lock:
            if channel is p.Channel.ORDERS:
                items = [(p.MessageType.ORDER_UPDATE, d) for d in list(self._open_orders.values())[:SNAPSHOT_LIMIT]]
            elif channel is p.Channel.TRADES:
                items = [(p.MessageType.TRADE, d) for d in self._trades.values()]
            elif channel is p.Channel.POSITIONS:
                items = [(p.MessageType.POSITION, d) for d in self._positions.values()]
            elif channel is p.Channel.PERFORMANCE:
                items = [(p.MessageType.PERFORMANCE, self._performance)] if self._performance else []
            elif channel is p.Channel.DASHBOARD:
                items = [(p.MessageType.DASHBOARD_UPDATE, self._dashboard)] if self._dashboard else []
            else:
                return []
        return [p.ChannelEvent(channel, kind, data.get("symbol"), {**data, "snapshot": True}, now)
                for kind, data in items]

    # -- REST side (any thread) ------------------------------------------------------------------------------

    def resolve(self, symbol: str) -> tuple[Instrument | None, MarketTick | None]:
        """The instrument and the current quote of ``symbol``: the feed's latest, else one fetched from the source
        (which raises for an unknown symbol)."""
        quote = self.latest_quote(symbol)
        if quote is None:
            quote = self.fetch_quote(symbol)
        instrument = self.instrument(symbol)
        if instrument is None and quote is not None:
            instrument = Instrument(symbol, 0.0)
        tick = market_tick(symbol, quote.timestamp, quote.price, quote.bid, quote.ask, None) if quote else None
        return instrument, tick

    def submit(self, request: OrderRequest) -> tuple[Order, bool]:
        """Place an order; returns it and whether it is new (False: the ``client_order_id`` existed)."""
        if request.client_order_id:
            found = self.broker.store.order_by_client_id(request.client_order_id)
            if found is not None:
                return found, False
        instrument, quote = self.resolve(request.symbol)
        with self._lock:
            order, events = self.broker.submit(request, instrument, quote, self.mark)
            self._announce(events)
        if events and order.status is OrderStatus.ACCEPTED:
            self.keep_symbol(order.symbol)
        return order, bool(events)

    def cancel(self, order_id: str) -> Order | None:
        with self._lock:
            order, events = self.broker.cancel(order_id)
            self._announce(events)
        return order

    def reset(self, cash: float | None = None) -> None:
        with self._lock:
            events = self.broker.reset(cash)
            self._next_sample = 0.0
            with self._snap_lock:
                self._open_orders.clear()
            self._announce(events)
            self._announce_all_positions_cleared()

    def _announce_all_positions_cleared(self) -> None:
        self._publish_performance()

    def positions(self) -> list[dict[str, Any]]:
        with self._lock:
            held = list(self.broker.positions.values())
        return [position_to_wire(p_, self.mark(p_.symbol)) for p_ in held if not p_.is_flat]

    def performance(self) -> tuple[Performance, list[tuple[float, float]]]:
        with self._lock:
            return self.broker.performance(self.mark)

    def account(self) -> dict[str, Any]:
        with self._lock:
            account = self.broker.account
            perf, _ = self.broker.performance(self.mark)
            reserved = self.broker.reserved(marks=self.mark)
            power = self.broker.buying_power(self.mark)
            open_orders = len(self.broker.open_orders)
        return {"cash": round(account.cash, 6), "starting_cash": account.starting_cash,
                "total_value": round(perf.total_value, 6), "buying_power": round(power, 6),
                "reserved": round(reserved, 6), "open_orders": open_orders,
                "max_open_orders": self.broker.config.max_open_orders,
                "allow_short": self.broker.config.allow_short,
                "created_at": p.iso_ms(account.created_at)}

    # -- ideas and auto-trading --------------------------------------------------------------------------------

    def payload(self, idea_id: str) -> dict[str, Any] | None:
        with self._payload_lock:
            found = self._payloads.get(idea_id)
        return found if found is not None else self.idea_lookup(idea_id)

    def from_payload(self, idea_id: str, quantity: float | None = None,
                     time_in_force: TimeInForce | None = None) -> tuple[Order, bool]:
        payload = self.payload(idea_id)
        if payload is None:
            raise OrderRefused(404, "unknown_idea", f"no prepared payload for idea {idea_id!r} (ideas are kept while "
                                                    f"the signal engine holds them, the latest {MAX_PAYLOADS})")
        symbol = str(payload["symbol"])
        instrument = self.instrument(symbol)
        step = instrument.tick_size if instrument is not None else 0.0

        def on_grid(value: Any) -> float | None:
            # Ideas place stops and targets off the price grid (a fraction of the ATR); orders must be on it.
            if value is None:
                return None
            number = float(value)
            return round(round(number / step) * step, 10) if step > 0 else number

        request = OrderRequest(
            symbol=symbol, side=Side(str(payload["side"])),
            quantity=float(quantity if quantity is not None else payload["quantity"]),
            type=OrderType(str(payload.get("order_type", "limit"))),
            limit_price=on_grid(payload.get("limit_price")), stop_price=on_grid(payload.get("stop_price")),
            time_in_force=time_in_force or TimeInForce(str(payload.get("time_in_force", "gtc"))),
            take_profit=on_grid(payload.get("take_profit")), stop_loss=on_grid(payload.get("stop_loss")),
            client_order_id=f"idea:{idea_id}", idea_id=idea_id)
        return self.submit(request)

    def auto_rules(self) -> list[AutoRule]:
        return list(self._auto.values())

    def set_auto_rule(self, rule: AutoRule) -> AutoRule:
        key = (rule.symbol, rule.timeframe)
        if key not in self._auto and len(self._auto) >= MAX_AUTO_RULES:
            raise OrderRefused(429, "too_many_rules", f"at most {MAX_AUTO_RULES} auto-trading rules")
        self.broker.store.save_auto_rule(rule)
        self._auto = {**self._auto, key: rule}
        self._auto_symbols = frozenset(r.symbol for r in self._auto.values() if r.enabled)
        if rule.enabled:
            self.keep_symbol(rule.symbol)
        return rule

    def _on_signal(self, event: p.ChannelEvent) -> None:
        data = event.data
        rule = self._auto.get((event.symbol or "", str(data.get("timeframe"))))
        action = data.get("signal_type")
        price = data.get("price")
        if rule is None or not rule.enabled or action not in ("BUY", "SELL") or not isinstance(price, int | float) \
                or not price > 0:
            return
        request = auto_order(rule, action, float(price), self.broker.positions.get(rule.symbol),
                             self.broker.config.allow_short, str(data.get("signal_id")))
        if request is not None:
            try:
                self.submit(request)
            except OrderRefused as exc:
                log.info("auto-trading order for %s refused: %s", rule.symbol, exc.message)


def auto_order(rule: AutoRule, action: str, price: float, position: Any, allow_short: bool,
               signal_id: str) -> OrderRequest | None:
    """The market order that follows a consensus ``action`` under ``rule``: BUY goes long ``notional`` worth
    (covering a short first), SELL closes a long (and goes short as much when shorting is on)."""
    size = floor_quantity(rule.notional / price)
    if size >= 1:
        size = float(math.floor(size))  # whole units when the notional buys at least one
    held = position.quantity if position is not None else 0.0
    if action == "BUY":
        if held > 0:
            return None
        quantity = -held + size
        side = Side.BUY
    else:
        if held <= 0 and not allow_short:
            return None
        if held < 0:
            return None
        quantity = held + (size if allow_short else 0.0)
        side = Side.SELL
    if quantity <= 0:
        return None
    return OrderRequest(rule.symbol, side, quantity, OrderType.MARKET, time_in_force=TimeInForce.DAY,
                        client_order_id=f"auto:{signal_id}"[:64])


__all__ = ["TRADING_CHANNELS", "TradingService", "TradeStatus", "auto_order", "market_tick"]
