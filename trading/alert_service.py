"""The alerts edge: listens on the bus, evaluates the rules (trading/alerts.py), persists, announces, calls webhooks.

Flow of one firing: the engine decides on the publisher's thread (the feed thread for prices, candles and signals;
whichever thread publishes ``order_update``); the firing goes to a bounded queue; the ``alert-dispatch`` thread
commits it to the store (trading/alert_store.py), then publishes the ``alert`` message on the bus (topic ``alerts``,
channel ``alerts``), then hands the rule's webhook, if any, to the webhook sender (trading/webhooks.py), whose
result is written into the same history row. So the feed thread never waits on the disk or the network, and
nothing is announced before it is stored.

Thread rules: every public method may be called from any thread; the engine is touched only under ``_lock``, held
for the evaluation alone. Two threads of its own (greenlets under gevent): ``alert-dispatch`` and ``alert-watch``,
which refreshes the option chains of symbols with ``unusual_options`` rules every ``options_interval`` seconds (at
most ``max_option_symbols`` chains a round) and keeps the symbols of the rules streamed by the feed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from api import protocol as p
from feeds.bus import InProcessBus
from feeds.candles import CandleEvent
from feeds.models import OptionChain, Tick, Timeframe
from signals.tracker import SignalTracker, TrackerSnapshot
from trading.alert_store import AlertStore, HistoryEntry
from trading.alerts import (
    SYMBOL_CONDITIONS,
    AlertEngine,
    AlertRule,
    Condition,
    Firing,
    OrderFill,
    UnusualContract,
    check_rule,
    price_text,
)
from trading.webhooks import WebhookJob, WebhookSender

log = logging.getLogger(__name__)

DEFAULT_MAX_RULES = 500
DEFAULT_OPTIONS_INTERVAL = 60.0  # seconds: the designs' options refresh interval
DEFAULT_MAX_OPTION_SYMBOLS = 20
DISPATCH_QUEUE_SIZE = 1_000
# Firings a new subscriber of the ``alerts`` channel gets first, oldest first, marked ``"snapshot": true``.
SNAPSHOT_SIZE = 20
# How often the watch thread makes sure the rules' symbols are streamed.
KEEP_SYMBOLS_SECONDS = 5.0
ALERTS_TOPIC = "alerts"

TrackerLookup = Callable[[str, Timeframe], TrackerSnapshot | None]
OptionsLookup = Callable[[str], OptionChain]


class RuleLimitReached(Exception):
    pass


class _Trackers(Protocol):
    def tracker(self, symbol: str, timeframe: Timeframe) -> SignalTracker | None: ...


def tracker_snapshots(engine: _Trackers) -> TrackerLookup:
    """The tracker snapshot of (symbol, timeframe) from the signal engine (api/signal_bridge.py), None without one."""

    def lookup(symbol: str, timeframe: Timeframe) -> TrackerSnapshot | None:
        tracker = engine.tracker(symbol, timeframe)
        return tracker.snapshot if tracker is not None else None

    return lookup


def _market_symbol(rule: AlertRule) -> str | None:
    """The symbol whose market data ``rule`` needs streamed (an order_filled rule needs none)."""
    return rule.symbol if rule.condition in SYMBOL_CONDITIONS else None


def alert_data(alert_id: str, rule_id: str, level: str, symbol: str | None, message: str, time_: float,
               condition: str) -> dict[str, Any]:
    """The ``data`` of an ``alert`` message (docs/protocol.md): the designs' six fields, plus ``condition``."""
    return {"alert_id": alert_id, "rule_id": rule_id, "level": level, "symbol": symbol, "message": message,
            "time": p.iso_ms(time_), "condition": condition}


def history_to_wire(entry: HistoryEntry) -> dict[str, Any]:
    """A row of ``GET /api/v1/alerts/history``."""
    return {**alert_data(entry.alert_id, entry.rule_id, entry.level, entry.symbol, entry.message, entry.time,
                         entry.condition),
            "details": entry.details,
            "webhook": None if entry.webhook_status is None else {
                "status": entry.webhook_status, "attempts": entry.webhook_attempts, "error": entry.webhook_error}}


class AlertService:
    def __init__(self, bus: InProcessBus, store: AlertStore, *, tracker: TrackerLookup | None = None,
                 options: OptionsLookup | None = None, keep_symbol: Callable[[str], object] | None = None,
                 webhooks: WebhookSender | None = None, max_rules: int = DEFAULT_MAX_RULES,
                 options_interval: float = DEFAULT_OPTIONS_INTERVAL,
                 max_option_symbols: int = DEFAULT_MAX_OPTION_SYMBOLS, queue_size: int = DISPATCH_QUEUE_SIZE,
                 clock: Callable[[], float] = time.time) -> None:
        self.bus = bus
        self.store = store
        self.tracker = tracker
        self.options = options
        self.keep_symbol = keep_symbol
        # Told of a symbol no rule watches any more (app.py: the hub lets it go unless a subscription holds it).
        self.release_symbol: Callable[[str], object] | None = None
        self.max_rules = max_rules
        self.options_interval = options_interval
        self.max_option_symbols = max_option_symbols
        self.clock = clock
        self.webhooks = webhooks or WebhookSender(self._webhook_result)
        self.engine = AlertEngine(store.load_rules())
        # The newest firings (alert data, time), oldest first: the alerts channel's snapshot.
        self._recent: deque[tuple[dict[str, Any], float]] = deque(
            ((alert_data(e.alert_id, e.rule_id, e.level, e.symbol, e.message, e.time, e.condition), e.time)
             for e in reversed(store.history(SNAPSHOT_SIZE))), maxlen=SNAPSHOT_SIZE)
        self._recent_lock = threading.Lock()
        self._lock = threading.Lock()
        self._queue: queue.Queue[Firing | None] = queue.Queue(maxsize=queue_size)
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self.fired = 0
        self.dropped = 0
        self.errors = 0
        self.options_refreshed = 0

    # -- life cycle --------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        self._unsubscribe = self.bus.subscribe(self.on_event)
        self.webhooks.start()
        self.resume_webhooks()
        for name, target in (("alert-dispatch", self._dispatch_loop), ("alert-watch", self._watch_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 2.0) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._stop.set()
        self._wake.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []
        self.webhooks.stop(timeout)

    # -- rules (REST) ------------------------------------------------------------------------------------------

    def new_rule_id(self) -> str:
        return uuid.uuid4().hex[:16]

    def add_rule(self, rule: AlertRule) -> AlertRule:
        """Store and arm ``rule``; InvalidRule when its fields do not fit together, RuleLimitReached when
        ``max_rules`` exist."""
        check_rule(rule)
        with self._lock:
            if len(self.engine) >= self.max_rules or not self.store.add_rule(rule, self.max_rules):
                raise RuleLimitReached(f"at most {self.max_rules} alert rules; delete some first")
            self.engine.add(rule)
        market = _market_symbol(rule)
        if market is not None and self.keep_symbol is not None:
            self.keep_symbol(market)
        if rule.condition is Condition.UNUSUAL_OPTIONS:
            self._wake.set()  # its first chain now, not in a minute
        return rule

    def rules(self) -> list[AlertRule]:
        with self._lock:
            return self.engine.rules()

    def rule(self, rule_id: str) -> AlertRule | None:
        with self._lock:
            return self.engine.get(rule_id)

    def delete_rule(self, rule_id: str) -> AlertRule | None:
        watched = False
        with self._lock:
            rule = self.engine.remove(rule_id)
            if rule is not None:
                self.store.delete_rule(rule_id)
                watched = any(_market_symbol(r) == rule.symbol for r in self.engine.rules())
        if rule is not None and not watched and (market := _market_symbol(rule)) is not None:
            self._release({market})
        return rule

    def delete_all(self) -> int:
        with self._lock:
            symbols = {s for r in self.engine.rules() if (s := _market_symbol(r)) is not None}
            count = self.store.delete_all_rules()
            self.engine.clear()
        self._release(symbols)
        return count

    def _release(self, symbols: set[str]) -> None:
        if self.release_symbol is not None:
            for symbol in sorted(symbols):
                self.release_symbol(symbol)

    def history(self, limit: int = 100, rule_id: str | None = None) -> list[dict[str, Any]]:
        return [history_to_wire(entry) for entry in self.store.history(limit, rule_id)]

    def snapshot(self, subscription: p.Subscription) -> list[p.ChannelEvent]:
        """The ``alerts`` channel's snapshot: the newest firings, oldest first, each marked ``"snapshot": true`` (a
        page lists them but does not pop a toast for them)."""
        if subscription.channel is not p.Channel.ALERTS:
            return []
        # From memory: the hub asks under its routing lock, which must not wait on the disk.
        with self._recent_lock:
            recent = list(self._recent)
        return [p.ChannelEvent(p.Channel.ALERTS, p.MessageType.ALERT, data["symbol"], {**data, "snapshot": True},
                               time_) for data, time_ in recent]

    def snapshot_provider(self, fallback: Callable[[p.Subscription], list[p.ChannelEvent]]
                          ) -> Callable[[p.Subscription], list[p.ChannelEvent]]:
        """The hub's snapshot provider: this service's for ``alerts``, ``fallback``'s for the other channels."""

        def provide(subscription: p.Subscription) -> list[p.ChannelEvent]:
            if subscription.channel is p.Channel.ALERTS:
                return self.snapshot(subscription)
            return fallback(subscription)

        return provide

    def stats(self) -> dict[str, Any]:
        with self._lock:
            rules = len(self.engine)
        return {"rules": rules, "fired": self.fired, "dropped": self.dropped, "errors": self.errors,
                "webhooks_delivered": self.webhooks.delivered, "webhooks_failed": self.webhooks.failed,
                "webhooks_dropped": self.webhooks.dropped, "options_refreshed": self.options_refreshed}

    # -- bus side (publisher's thread) -------------------------------------------------------------------------

    def on_event(self, topic: str, event: Any) -> None:
        if isinstance(event, Tick):
            if not self.engine.has_price_rules(event.symbol):
                return  # the common case on the feed path: no lock, no work
            with self._lock:
                firings = self.engine.on_price(event.symbol, event.price, event.time)
        elif isinstance(event, CandleEvent):
            if not event.closed:
                return
            firings = self._on_candle_closed(event)
        elif isinstance(event, p.ChannelEvent):
            if event.type is p.MessageType.SIGNAL:
                firings = self._on_signal(event)
            elif event.type is p.MessageType.ORDER_UPDATE:
                firings = self._on_order_update(event)
            else:
                return
        else:
            return
        for firing in firings:
            self._enqueue(firing)

    def _on_signal(self, event: p.ChannelEvent) -> list[Firing]:
        data = event.data
        try:
            timeframe = Timeframe.parse(data.get("timeframe"))
        except ValueError:
            return []
        action = data.get("signal_type") or str(data.get("side") or "").upper()
        symbol = event.symbol or data.get("symbol")
        if not isinstance(symbol, str) or not isinstance(action, str):
            return []
        price, confidence = data.get("price"), data.get("confidence")
        with self._lock:
            return self.engine.on_signal(symbol, timeframe, action, event.time,
                                         price if isinstance(price, int | float) else None,
                                         confidence if isinstance(confidence, int | float) else None,
                                         data.get("signal_id"))

    def _on_order_update(self, event: p.ChannelEvent) -> list[Firing]:
        data = event.data
        if data.get("status") != "filled":
            return []
        symbol = data.get("symbol") or event.symbol
        if not isinstance(symbol, str):
            return []
        quantity = data.get("filled_quantity", data.get("volume"))
        price = data.get("last_fill_price", data.get("price"))
        fill = OrderFill(str(data.get("order_id")), symbol, str(data.get("side") or ""),
                         float(quantity) if isinstance(quantity, int | float) else None,
                         float(price) if isinstance(price, int | float) else None)
        with self._lock:
            return self.engine.on_order_filled(fill, event.time)

    def _on_candle_closed(self, event: CandleEvent) -> list[Firing]:
        """New gaps and breaks this candle confirmed, read from the tracker (which took the candle before the bus
        carried it: feeds/live.py runs the listener first)."""
        with self._lock:
            wanted = [c for c in (Condition.NEW_FVG, Condition.STRUCTURE_BREAK)
                      if self.engine.watches(c, event.symbol, event.timeframe)]
        if not wanted or self.tracker is None:
            return []
        snapshot = self.tracker(event.symbol, event.timeframe)
        if snapshot is None or snapshot.last_candle is None or snapshot.last_candle.time != event.candle.time:
            return []
        last = snapshot.candle_count - 1
        firings: list[Firing] = []
        with self._lock:
            if Condition.NEW_FVG in wanted:
                for gap in snapshot.fvgs:
                    if gap.confirmed_index == last:
                        direction = gap.direction.value
                        firings += self.engine.on_structure(
                            event.symbol, event.timeframe, Condition.NEW_FVG, direction, event.event_time,
                            f"new {direction} fair value gap {price_text(gap.bottom)}–{price_text(gap.top)}",
                            {"top": gap.top, "bottom": gap.bottom, "gap_time": gap.time})
            if Condition.STRUCTURE_BREAK in wanted:
                for brk in snapshot.breaks:
                    if brk.index == last:
                        direction = brk.direction.value
                        firings += self.engine.on_structure(
                            event.symbol, event.timeframe, Condition.STRUCTURE_BREAK, direction, event.event_time,
                            f"{direction} {brk.kind.value} through {price_text(brk.level)}",
                            {"kind": brk.kind.value, "level": brk.level, "break_time": brk.time})
        return firings

    def _enqueue(self, firing: Firing) -> None:
        try:
            self._queue.put_nowait(firing)
        except queue.Full:
            self.dropped += 1
            log.warning("alert dispatch queue full: firing of rule %s dropped", firing.rule_id)

    # -- option chains (watch thread) --------------------------------------------------------------------------

    def refresh_options(self) -> int:
        """Fetch the chain of every symbol with an unusual_options rule (at most ``max_option_symbols``) and
        evaluate the rules; returns the chains read."""
        if self.options is None:
            return 0
        with self._lock:
            symbols = self.engine.symbols(Condition.UNUSUAL_OPTIONS)[:self.max_option_symbols]
        read = 0
        for symbol in symbols:
            try:
                chain = self.options(symbol)
            except Exception as exc:
                log.warning("option chain of %s for alerts failed: %s", symbol, exc)
                continue
            read += 1
            unusual = [UnusualContract(c.contract_symbol, c.volume, c.open_interest)
                       for c in (*chain.calls, *chain.puts) if c.unusual]
            with self._lock:
                firings = self.engine.on_options(symbol, unusual, self.clock())
            for firing in firings:
                self._enqueue(firing)
        self.options_refreshed += read
        return read

    def keep_symbols(self) -> None:
        if self.keep_symbol is None:
            return
        with self._lock:
            symbols = {s for r in self.engine.rules() if r.enabled and (s := _market_symbol(r)) is not None}
        for symbol in sorted(symbols):
            self.keep_symbol(symbol)

    def _watch_loop(self) -> None:
        next_options = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                self.keep_symbols()
                if now >= next_options or self._wake.is_set():
                    self._wake.clear()
                    self.refresh_options()
                    next_options = now + self.options_interval
            except Exception:
                self.errors += 1
                log.exception("alert watch round failed")
            self._wake.wait(min(KEEP_SYMBOLS_SECONDS, max(0.0, next_options - time.monotonic())))

    # -- dispatch (dispatch thread) ----------------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        while True:
            firing = self._queue.get()
            if firing is None:
                return
            try:
                self.dispatch(firing)
            except Exception:
                self.errors += 1
                log.exception("dispatching alert %s failed", firing.alert_id)

    def dispatch(self, firing: Firing) -> None:
        """Store, then announce, then hand to the webhook sender."""
        url = firing.rule.webhook_url
        self.store.record_firing(firing)
        self.fired += 1
        data = alert_data(firing.alert_id, firing.rule_id, firing.level.value, firing.symbol, firing.message,
                          firing.time, firing.condition.value)
        with self._recent_lock:
            self._recent.append((data, firing.time))
        self.bus.publish(ALERTS_TOPIC, p.ChannelEvent(p.Channel.ALERTS, p.MessageType.ALERT, firing.symbol, data,
                                                      firing.time))
        if url:
            self.webhooks.submit(WebhookJob(firing.alert_id, url, {**data, "details": firing.details}))

    def resume_webhooks(self) -> int:
        """Queue again the webhooks a stopped process left pending (their alert was announced, their outcome never
        written); returns how many."""
        pending = self.store.pending_webhooks(self.webhooks.queue_size)
        for entry, url in pending:
            data = alert_data(entry.alert_id, entry.rule_id, entry.level, entry.symbol, entry.message, entry.time,
                              entry.condition)
            self.webhooks.submit(WebhookJob(entry.alert_id, url, {**data, "details": entry.details}))
        return len(pending)

    def _webhook_result(self, alert_id: str, status: str, attempts: int, error: str | None) -> None:
        self.store.record_webhook(alert_id, status, attempts, error)
