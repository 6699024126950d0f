"""The WebSocket hub: routes bus events to subscribed connections, encoding each event once per dialect."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from api import protocol as p
from api.connection import CLOSE_TIMEOUT_SECONDS, Connection, WsStats
from api.profiles import Defaults, check_settings
from api.symbol_quota import SymbolQuota
from feeds.bus import InProcessBus
from feeds.candles import CandleEvent
from feeds.live import LiveFeed
from feeds.models import Candle, Quote, Tick, Timeframe
from feeds.watchdog import StatusBook, SymbolStatus
from settings import Settings

log = logging.getLogger(__name__)

SignalsProvider = Callable[[str, Timeframe], dict[str, Any]]
SnapshotProvider = Callable[[p.Subscription], list[p.ChannelEvent]]
AgentStatusProvider = Callable[[], dict[str, Any]]

# Seconds a symbol no subscription uses any more stays in the feed before it is released.
RELEASE_GRACE_SECONDS = 10.0
# A symbol only REST asked about stays this long after its last request: pollers ask every few seconds or minutes.
REQUEST_LEASE_SECONDS = 300.0
# Channels whose subscribers are told when a symbol's data stops or resumes (a ``status`` message); a subscription
# to one of them without a symbol watches every symbol the feed streams.
STATUS_CHANNELS = p.SYMBOL_CHANNELS | p.OPTIONAL_SYMBOL_CHANNELS


def no_signals(symbol: str, timeframe: Timeframe) -> dict[str, Any]:
    return {"pivot_points": [], "fvg_zones": [], "break_signals": []}


def no_snapshot(subscription: p.Subscription) -> list[p.ChannelEvent]:
    return []


def no_agents() -> dict[str, Any]:
    return {"agents": []}


class Hub:
    """Fan-out of bus events to connections.

    Thread rules: ``on_event`` runs on the publisher's thread (the feed thread); it encodes an event at most once per
    dialect and only appends to connection queues, so it never waits on a client. Connection methods
    (``subscribe``, ``handle_frame``…) run on each connection's receiving thread. One lock guards the routing table,
    the snapshots still owed and the symbol references; a subscribe's ack and snapshot are queued under it, so no
    update can overtake them. One housekeeping thread pings clients and releases symbols.

    Snapshots: a subscription to candles of a symbol the feed has no candle for yet (a symbol it is only starting)
    is remembered, and the first candle event for it is sent to that connection as the snapshot (a ``full_update``
    with ``"snapshot": true``) instead of the live update, so a snapshot is always the first data of a subscription.

    Symbols: the hub counts the routes of the symbol channels per symbol. When the last one goes, a symbol that is
    not one of the start-up symbols (``settings.symbols``) is released from the feed after ``release_grace_seconds``
    unless a subscription takes it again meanwhile (a reconnecting dashboard does not churn the feed).

    Data status: a watchdog thread of its own (``ws-status-watch``, running while connections are open; never the
    feed thread, which is the one that may be stuck) checks the feed every quarter of its late limit (0.05-0.5 s)
    and sends each subscriber of a symbol a ``status`` message when that symbol's data stops (stalled, stale,
    no_data) or resumes (live): once per connection, whichever of its subscriptions carry the symbol. A new
    subscription to a symbol that is not live gets the current status right after its ack and snapshot.
    New symbols: ``quota`` (api/symbol_quota.py, under the same lock) limits the symbols one connection and one
    client address may bring into the feed (``max_new_symbols_per_connection``, ``max_new_symbols_per_address``),
    REST leases included, so no anonymous client can fill the feed's symbol table for everybody.
    """

    def __init__(
        self,
        bus: InProcessBus,
        feed: LiveFeed,
        settings: Settings,
        signals_provider: SignalsProvider = no_signals,
        snapshot_provider: SnapshotProvider = no_snapshot,
        agent_status: AgentStatusProvider = no_agents,
        slow_client_seconds: float = 5.0,
        release_grace_seconds: float = RELEASE_GRACE_SECONDS,
        close_timeout_seconds: float = CLOSE_TIMEOUT_SECONDS,
    ) -> None:
        self.feed = feed
        self.slow_client_seconds = slow_client_seconds
        self.release_grace_seconds = release_grace_seconds
        self.close_timeout_seconds = close_timeout_seconds
        self.settings = settings
        self.signals_provider = signals_provider
        self.snapshot_provider = snapshot_provider
        self.agent_status = agent_status
        self.stats = WsStats()
        self._lock = threading.Lock()
        self._routes: dict[p.Subscription, set[Connection]] = {}
        self._connections: dict[str, Connection] = {}
        # Candle subscriptions whose snapshot is owed: the feed had no candle for them yet.
        self._awaiting: dict[p.Subscription, set[Connection]] = {}
        # Routes of symbol channels per symbol, and symbols no route uses any more → when to release them.
        self._symbol_routes: dict[str, int] = {}
        self._release_due: dict[str, float] = {}
        self.symbols_released = 0
        self.quota = SymbolQuota(settings.max_new_symbols_per_connection, settings.max_new_symbols_per_address)
        self._housekeeping: threading.Thread | None = None
        self._housekeeping_wake = threading.Event()
        # WebSocket requests admitted and not yet ended, in all and per client address (the connection caps), and
        # whether new ones are still admitted.
        self._admitted = 0
        self._per_address: dict[str, int] = {}
        self.accepting = True
        # /ws connections still on their default channels (api/profiles.py), until their first subscribe.
        check_settings(settings)
        self._defaults: weakref.WeakKeyDictionary[Connection, frozenset[p.Subscription]] = \
            weakref.WeakKeyDictionary()
        # Data states of the watched symbols (under the lock) and the thread that checks them.
        self._status_book = StatusBook()
        self._status_thread: threading.Thread | None = None
        self._unsubscribe_bus = bus.subscribe(self.on_event)

    # -- bus side (feed thread) ---------------------------------------------------------------------------------

    def on_event(self, topic: str, event: Any) -> None:
        if isinstance(event, CandleEvent):
            self._on_candle(event)
        elif isinstance(event, Quote):
            self._on_quote(event)
        elif isinstance(event, Tick):
            keys = [k for k in (p.Subscription(p.Channel.TICKS, event.symbol), p.ALL_TICKS) if k in self._routes]
            if keys:
                body = p.encode_envelope(p.MessageType.TICK, p.tick_data(event), p.Channel.TICKS, event.time)
                self._fan_out(keys, lambda dialect: body if dialect == p.ENVELOPE else None)
        elif isinstance(event, p.ChannelEvent):
            self._on_channel_event(event)

    def _on_candle(self, event: CandleEvent) -> None:
        key = p.Subscription(p.Channel.CANDLES, event.symbol, event.timeframe)
        if key not in self._routes:
            return
        kind = p.MessageType.FULL_UPDATE if event.closed else p.MessageType.CANDLE_UPDATE
        signals = self.signals_provider(event.symbol, event.timeframe) if event.closed else None

        def encode(dialect: str) -> bytes | None:
            if dialect == p.ENVELOPE:
                if signals is not None:
                    data = p.full_update(event.symbol, event.timeframe, event.candle, signals)
                else:
                    data = p.candle_update(event.symbol, event.timeframe, event.candle)
                return p.encode_envelope(kind, data, p.Channel.CANDLES, event.event_time)
            if dialect == p.FLAT_CANDLES:
                return p.flat_candle(kind, event.symbol, event.timeframe, event.candle, event.event_time, signals)
            return None

        overlays: list[dict[str, Any]] = []

        def snapshot(connection: Connection) -> None:
            if not overlays:
                overlays.append(signals if signals is not None
                                else self.signals_provider(event.symbol, event.timeframe))
            self._send_candle_snapshot(connection, key, event.candle, event.event_time, overlays[0])

        self._fan_out((key,), encode, snapshot)

    def _on_quote(self, quote: Quote) -> None:
        key = p.Subscription(p.Channel.MARKET_DATA, quote.symbol)
        if key not in self._routes:
            return

        def encode(dialect: str) -> bytes | None:
            if dialect == p.ENVELOPE:
                return p.encode_envelope(p.MessageType.MARKET_DATA, p.market_data(quote), p.Channel.MARKET_DATA,
                                         quote.timestamp)
            if dialect == p.FLAT_PRICE:
                return p.flat_price(quote)
            return None

        self._fan_out((key,), encode)

    def _on_channel_event(self, event: p.ChannelEvent) -> None:
        keys = [p.Subscription(event.channel)]
        if event.symbol is not None and event.channel in p.OPTIONAL_SYMBOL_CHANNELS:
            keys.append(p.Subscription(event.channel, event.symbol))
        if not any(key in self._routes for key in keys):
            return

        def encode(dialect: str) -> bytes | None:
            if dialect == p.ENVELOPE:
                return p.encode_envelope(event.type, event.data, event.channel, event.time)
            if dialect == p.FLAT_PRICE and event.type is p.MessageType.SIGNAL:
                return p.flat_signal(event)
            return None

        self._fan_out(keys, encode)

    def _fan_out(self, keys: Sequence[p.Subscription], encode: Callable[[str], bytes | None],
                 snapshot: Callable[[Connection], None] | None = None) -> None:
        """Queue the event for every connection routed by ``keys``, once per connection (a connection subscribed
        to both ``signals`` and ``signals``+AAPL gets an AAPL signal once), encoded once per dialect. Connections
        owed a snapshot for ``keys[0]`` get ``snapshot(connection)`` instead."""
        encoded: dict[str, bytes | None] = {}
        with self._lock:
            # Looked up under the lock: a subscribe that has just registered its owed snapshot is seen here.
            owed = self._awaiting.pop(keys[0], None) if snapshot is not None and self._awaiting else None
            if len(keys) == 1:
                targets: Iterable[Connection] = self._routes.get(keys[0], ())
            else:
                targets = {c: None for key in keys for c in self._routes.get(key, ())}
            for connection in targets:
                if owed and connection in owed:
                    assert snapshot is not None
                    snapshot(connection)
                    continue
                if connection.dialect not in encoded:
                    encoded[connection.dialect] = encode(connection.dialect)
                body = encoded[connection.dialect]
                if body is not None:
                    connection.enqueue(body)

    # -- connection side (request threads) ----------------------------------------------------------------------

    def admit(self, address: str) -> str | None:
        """Count a WebSocket request from ``address`` before its upgrade, or say why it is refused (None: admitted).
        Every admitted request is ended by ``release`` when its session is over, however it ends."""
        if not self.accepting:
            return "the server is shutting down"
        limit, per_address = self.settings.max_connections, self.settings.max_connections_per_address
        with self._lock:
            if self._admitted >= limit:
                return f"the server holds its maximum of {limit} WebSocket connections; retry later"
            held = self._per_address.get(address, 0)
            if held >= per_address:
                return f"at most {per_address} WebSocket connections per client address"
            self._admitted += 1
            self._per_address[address] = held + 1
        return None

    def release(self, address: str) -> None:
        with self._lock:
            self._admitted = max(0, self._admitted - 1)
            left = self._per_address.get(address, 1) - 1
            if left > 0:
                self._per_address[address] = left
            else:
                self._per_address.pop(address, None)

    def open(self, ws: Any, dialect: str = p.ENVELOPE, batch: bool = False, welcome: bool = True,
             address: str | None = None) -> Connection:
        connection = Connection(ws, dialect, self.settings, self.stats, batch=batch,
                                stall_seconds=self.slow_client_seconds, close_timeout=self.close_timeout_seconds)
        # The client's address (the connection caps and the new-symbol limits count per address).
        address = address or "unknown"
        connection.address = address
        with self._lock:
            self._connections[connection.id] = connection
            self.quota.open(connection.id, address)
            if self._housekeeping is None or not self._housekeeping.is_alive():
                self._housekeeping = threading.Thread(target=self._housekeeping_loop, name="ws-housekeeping",
                                                      daemon=True)
                self._housekeeping.start()
        self._start_status_watch()
        self.stats.add(connections_opened=1)
        connection.start()
        if welcome and dialect == p.ENVELOPE:
            connection.send(p.MessageType.WELCOME, {
                "connection_id": connection.id,
                "protocol_version": p.PROTOCOL_VERSION,
                "channels": [c.value for c in p.Channel],
                "heartbeat_interval": p.whole_if_integral(self.settings.ws_heartbeat_interval),
            })
        return connection

    def close(self, connection: Connection) -> None:
        connection.close()
        with self._lock:
            for key in connection.subscriptions:
                self._remove_route(key, connection)
            connection.subscriptions.clear()
            self.quota.close(connection.id)
            if self._connections.pop(connection.id, None) is not None:
                self.stats.add(connections_closed=1, messages_sent=connection.messages_sent,
                               frames_sent=connection.frames_sent, bytes_sent=connection.bytes_sent,
                               messages_dropped=connection.dropped)

    def shutdown(self, timeout: float = 3.0) -> None:
        """Refuse new connections and close every open one with 1001 ("going away"), waiting at most ``timeout``
        seconds in all for their close frames to be written."""
        self.accepting = False
        with self._lock:
            connections = list(self._connections.values())
        for connection in connections:
            connection.close(p.CloseCode.GOING_AWAY, "server shutting down")
        deadline = time.monotonic() + timeout
        for connection in connections:
            connection.join_sender(max(0.0, deadline - time.monotonic()))

    def handle_frame(self, connection: Connection, raw: str | bytes) -> None:
        """Decode and act on one client frame; every problem is answered with an ``error``, never an exception."""
        if not connection.allow_inbound():
            connection.send_error(p.ErrorCode.RATE_LIMITED,
                                  f"more than {self.settings.ws_max_messages_per_second:g} messages per second")
            if connection.flooding:
                connection.close(p.CloseCode.POLICY_VIOLATION, "rate limit exceeded repeatedly")
            return
        message = p.decode_client_message(raw)
        if isinstance(message, p.ProtocolError):
            connection.send_error(message.code, message.message)
        elif isinstance(message, p.Subscribe):
            for subscription in self._dialect_subscriptions(connection, message.subscription):
                self.subscribe(connection, subscription)
        elif isinstance(message, p.Unsubscribe):
            for subscription in self._dialect_subscriptions(connection, message.subscription):
                self.unsubscribe(connection, subscription)
        elif isinstance(message, p.Ping):
            connection.send(p.MessageType.PONG, {})
        elif isinstance(message, p.Request):
            # The decoder accepts only known actions (p.REQUEST_ACTIONS); agent_status is the only one.
            if message.action == "agent_status":
                connection.send(p.MessageType.AGENT_STATUS, self.agent_status())
        elif isinstance(message, p.Auth):
            # Authentication is not implemented yet: a token is accepted and ignored (docs/websocket.md).
            pass

    @staticmethod
    def _dialect_subscriptions(connection: Connection, subscription: p.Subscription) -> list[p.Subscription]:
        """/ws/market-data's ``subscribe`` to a symbol means its prices and its signals.

        Signals first: the prices' snapshot is the client's sign that it is subscribed, so by then both must be.
        """
        if connection.dialect == p.FLAT_PRICE and subscription.symbol is not None:
            return [p.Subscription(p.Channel.SIGNALS, subscription.symbol),
                    p.Subscription(p.Channel.MARKET_DATA, subscription.symbol)]
        return [subscription]

    def subscribe(self, connection: Connection, subscription: p.Subscription, ack: bool = True) -> bool:
        """Subscribe, answering a refusal with an ``error``; False when refused. The first ends the defaults."""
        self._end_defaults(connection, subscription)
        refusal = self.try_subscribe(connection, subscription, ack)
        if refusal is not None:
            connection.send_error(refusal.code, refusal.message)
            return False
        return True

    def try_subscribe(self, connection: Connection, subscription: p.Subscription,
                      ack: bool = True) -> p.ProtocolError | None:
        """Subscribe (ack and snapshot queued), or the reason it cannot be, with nothing sent."""
        with self._lock:
            if subscription not in connection.subscriptions:
                if len(connection.subscriptions) >= self.settings.ws_max_subscriptions:
                    return p.ProtocolError(p.ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                                           f"at most {self.settings.ws_max_subscriptions} subscriptions per "
                                           "connection")
                symbol = subscription.symbol
                if symbol is not None and subscription.channel in p.SYMBOL_CHANNELS:
                    refusal = self._take_symbol(connection, symbol)
                    if refusal is not None:
                        return refusal
                connection.subscriptions.add(subscription)
                self._add_route(subscription, connection)
            if ack:
                self._ack(connection, p.MessageType.SUBSCRIBED, subscription)
            self._send_snapshot(connection, subscription)
            self._send_current_status(connection, subscription)
        return None

    def start_defaults(self, connection: Connection, defaults: Defaults) -> None:
        """Route a /ws connection to its default channels (snapshots as for a subscribe, no ``subscribed``) and
        apply its profile's shapes, until its first subscribe (``_end_defaults``)."""
        connection.adapt = defaults.adapt
        for error in defaults.errors:
            connection.send_error(error.code, error.message)
        taken = []
        for subscription in defaults.subscriptions:
            refusal = self.try_subscribe(connection, subscription, ack=False)
            if refusal is None:
                taken.append(subscription)
            else:
                connection.send_error(refusal.code, refusal.message)
        if taken:
            with self._lock:
                self._defaults[connection] = frozenset(taken)

    def _end_defaults(self, connection: Connection, keep: p.Subscription) -> None:
        """The client subscribed: from now on it receives what it asked for. Its default routes go silently
        (``keep``, the one it is subscribing to, stays); its profile's shapes stay."""
        if connection not in self._defaults:
            return
        with self._lock:
            defaults = self._defaults.pop(connection, None)
            for subscription in defaults or ():
                if subscription != keep and subscription in connection.subscriptions:
                    connection.subscriptions.discard(subscription)
                    self._remove_route(subscription, connection)

    def _take_symbol(self, connection: Connection, symbol: str) -> p.ProtocolError | None:
        """Have the feed stream ``symbol`` for ``connection`` within its new-symbol limits (under the lock, so a
        release of the symbol by housekeeping cannot slip in between)."""
        # A source that can tell at once (the simulated market's universe) refuses an unknown symbol here, rather than
        # the feed retrying it in vain while it holds a place in the client's quota.
        knows = getattr(self.feed.source, "knows", None)
        if knows is not None and not knows(symbol):
            # invalid_symbol: the contract's codes are a closed set that clients of the original designs switch on.
            return p.ProtocolError(p.ErrorCode.INVALID_SYMBOL, f"unknown symbol: the simulated market has no symbol "
                                   f"{symbol} (GET /api/v1/symbols?q=... lists its symbols)")
        held = self.quota.holds(connection.id, symbol)
        reason = self.quota.hold(connection.id, symbol, shared=symbol in self.settings.symbols)
        if reason is not None:
            return p.ProtocolError(p.ErrorCode.TOO_MANY_SUBSCRIPTIONS, reason)
        if not self.feed.add_symbol(symbol):
            if not held:
                self.quota.drop(connection.id, symbol)
            return p.ProtocolError(p.ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                                   f"the server tracks at most {self.feed.max_symbols} symbols")
        return None

    def unsubscribe(self, connection: Connection, subscription: p.Subscription) -> None:
        with self._lock:
            if subscription in connection.subscriptions:
                connection.subscriptions.discard(subscription)
                self._remove_route(subscription, connection)
                symbol = subscription.symbol
                if symbol is not None and subscription.channel in p.SYMBOL_CHANNELS and not any(
                        s.symbol == symbol and s.channel in p.SYMBOL_CHANNELS for s in connection.subscriptions):
                    self.quota.drop(connection.id, symbol)
            self._ack(connection, p.MessageType.UNSUBSCRIBED, subscription)

    def _add_route(self, subscription: p.Subscription, connection: Connection) -> None:
        subscribers = self._routes.get(subscription)
        if subscribers is None:
            subscribers = self._routes[subscription] = set()
            symbol = subscription.symbol
            if symbol is not None and subscription.channel in p.SYMBOL_CHANNELS:
                self._symbol_routes[symbol] = self._symbol_routes.get(symbol, 0) + 1
                self._release_due.pop(symbol, None)
        subscribers.add(connection)

    def _remove_route(self, subscription: p.Subscription, connection: Connection) -> None:
        owed = self._awaiting.get(subscription)
        if owed is not None:
            owed.discard(connection)
            if not owed:
                del self._awaiting[subscription]
        subscribers = self._routes.get(subscription)
        if subscribers is None:
            return
        subscribers.discard(connection)
        if subscribers:
            return
        del self._routes[subscription]
        symbol = subscription.symbol
        if symbol is None or subscription.channel not in p.SYMBOL_CHANNELS:
            return
        left = self._symbol_routes.get(symbol, 0) - 1
        if left > 0:
            self._symbol_routes[symbol] = left
            return
        self._symbol_routes.pop(symbol, None)
        if symbol not in self.settings.symbols:
            self._release_due[symbol] = time.monotonic() + self.release_grace_seconds
            self._housekeeping_wake.set()

    @staticmethod
    def _ack(connection: Connection, kind: p.MessageType, subscription: p.Subscription) -> None:
        if connection.dialect == p.ENVELOPE:
            connection.send(kind, subscription.ack_data())
        elif connection.dialect == p.FLAT_PRICE and subscription.channel is p.Channel.MARKET_DATA:
            connection.send(kind, {"symbol": subscription.symbol})

    @staticmethod
    def _send_candle_snapshot(connection: Connection, subscription: p.Subscription, candle: Candle, at: float,
                              signals: dict[str, Any]) -> None:
        assert subscription.symbol is not None and subscription.timeframe is not None
        if connection.dialect == p.FLAT_CANDLES:
            connection.enqueue(p.flat_candle(p.MessageType.FULL_UPDATE, subscription.symbol, subscription.timeframe,
                                             candle, at, signals))
        elif connection.dialect == p.ENVELOPE:
            data = p.full_update(subscription.symbol, subscription.timeframe, candle, signals)
            data["snapshot"] = True
            connection.send(p.MessageType.FULL_UPDATE, data, p.Channel.CANDLES)

    def _send_snapshot(self, connection: Connection, subscription: p.Subscription) -> None:
        if connection.dialect == p.FLAT_PRICE:
            self._send_flat_price_snapshot(connection, subscription)
            return
        symbol = subscription.symbol
        if subscription.channel is p.Channel.CANDLES and symbol is not None and subscription.timeframe:
            candle = self.feed.latest_candle(symbol, subscription.timeframe)
            if candle is None:
                # The feed is only starting this symbol: its first candle event becomes the snapshot (_fan_out).
                self._awaiting.setdefault(subscription, set()).add(connection)
                return
            self._send_candle_snapshot(connection, subscription, candle, time.time(),
                                       self.signals_provider(symbol, subscription.timeframe))
            return
        if subscription.channel in (p.Channel.MARKET_DATA, p.Channel.TICKS) and symbol is not None:
            # No quote yet (a symbol the feed is only starting): its first live message carries exactly what a
            # snapshot would, the latest quote.
            quote = self.feed.latest_quote(symbol)
            if quote is None:
                return
            if subscription.channel is p.Channel.MARKET_DATA:
                connection.send(p.MessageType.MARKET_DATA, p.market_data(quote), p.Channel.MARKET_DATA,
                                quote.timestamp)
            else:
                tick = Tick(symbol, quote.timestamp, quote.price, quote.bid, quote.ask, 0.0)
                connection.send(p.MessageType.TICK, p.tick_data(tick), p.Channel.TICKS, quote.timestamp)
            return
        for event in self.snapshot_provider(subscription):
            if connection.dialect == p.ENVELOPE:
                connection.enqueue(p.encode_envelope(event.type, event.data, event.channel, event.time))

    def _send_flat_price_snapshot(self, connection: Connection, subscription: p.Subscription) -> None:
        """/ws/market-data: right after ``subscribed`` (the ack of its ``market_data`` half), the latest signal of
        the default timeframe, stamped with the signal's own time and carrying its timeframe, then the latest price.

        Nothing for the ``signals`` half: a signal per timeframe at once, stamped with the trackers' update time,
        made a "latest wins" client show a week-old daily signal as the current one.
        """
        symbol = subscription.symbol
        if subscription.channel is not p.Channel.MARKET_DATA or symbol is None:
            return
        timeframe = self.settings.default_timeframe.value
        for event in self.snapshot_provider(p.Subscription(p.Channel.SIGNALS, symbol)):
            if event.type is p.MessageType.SIGNAL and event.data.get("timeframe") == timeframe:
                connection.enqueue(p.flat_signal(event, p.signal_time(event.data, event.time)))
                break
        quote = self.feed.latest_quote(symbol)
        if quote is not None:
            connection.enqueue(p.flat_price(quote))

    # -- data status: the feed watchdog's verdicts, per symbol, to its subscribers ---------------------------------

    def _start_status_watch(self) -> None:
        with self._lock:
            if self._status_thread is None or not self._status_thread.is_alive():
                self._status_thread = threading.Thread(target=self._status_loop, name="ws-status-watch",
                                                       daemon=True)
                self._status_thread.start()

    def _status_loop(self) -> None:
        while True:
            limits = self.feed.watchdog_limits
            time.sleep(max(0.05, min(0.5, limits.late_after / 4)))
            with self._lock:
                if not self._connections:
                    # Started again by the next open(); under the lock, so that open() cannot miss the exit. What
                    # the book knew may be out of date by then: the next subscriber must not be told an old state.
                    self._status_thread = None
                    self._status_book = StatusBook()
                    return
            try:
                self.check_statuses()
            except Exception:
                log.exception("checking the data status of the subscribed symbols failed")

    def check_statuses(self) -> list[SymbolStatus]:
        """One watchdog round (the status thread, or a test): send ``status`` to the subscribers of every symbol
        whose data state changed, and return those changes."""
        check = self.feed.watchdog_check()
        with self._lock:
            symbols, everything = self._watched_symbols()
        if everything:
            symbols.update(self.feed.symbols)
        observations = self.feed.observe(symbols)
        now, wall = self.feed.monotonic(), time.time()
        with self._lock:
            changes = self._status_book.update(now, wall, check, observations)
            if changes:
                self._announce_statuses(changes, wall)
        return changes

    def _watched_symbols(self) -> tuple[set[str], bool]:
        """Symbols some subscription carries, and whether one subscription watches them all (under the lock)."""
        symbols: set[str] = set()
        everything = False
        for key in self._routes:
            if key.channel in STATUS_CHANNELS:
                if key.symbol is None:
                    everything = True
                else:
                    symbols.add(key.symbol)
        return symbols, everything

    def _announce_statuses(self, changes: list[SymbolStatus], wall: float) -> None:
        """Queue each status once per connection watching its symbol, encoded once per dialect (under the lock)."""
        by_symbol: dict[str, dict[Connection, None]] = {}
        everyone: dict[Connection, None] = {}
        for key, connections in self._routes.items():
            if key.channel in STATUS_CHANNELS:
                targets = everyone if key.symbol is None else by_symbol.setdefault(key.symbol, {})
                targets.update(dict.fromkeys(connections))
        for status in changes:
            encoded: dict[str, bytes] = {}
            for connection in {**by_symbol.get(status.symbol, {}), **everyone}:
                body = encoded.get(connection.dialect)
                if body is None:
                    body = encoded[connection.dialect] = p.encode_status(connection.dialect, status, wall)
                connection.enqueue(body)

    def _send_current_status(self, connection: Connection, subscription: p.Subscription) -> None:
        """After a subscribe's ack and snapshot (under the lock): the status of each symbol it brings to this
        connection that is not live, so a subscriber of a stuck symbol is never left in silence."""
        if subscription.channel not in STATUS_CHANNELS:
            return
        others = [s for s in connection.subscriptions if s != subscription and s.channel in STATUS_CHANNELS]
        if any(s.symbol is None for s in others):
            return  # the connection already watches every symbol
        wall = time.time()
        if subscription.symbol is not None:
            if any(s.symbol == subscription.symbol for s in others):
                return
            statuses = [self._status_book.current(subscription.symbol, wall)]
        else:
            known = {s.symbol for s in others}
            statuses = [self._status_book.current(symbol, wall) for symbol in self.feed.symbols
                        if symbol not in known]
        for status in statuses:
            if status is not None:
                connection.enqueue(p.encode_status(connection.dialect, status, wall))

    # -- housekeeping: heartbeat and symbol release ------------------------------------------------------------

    def _housekeeping_loop(self) -> None:
        interval = self.settings.ws_heartbeat_interval
        next_beat = time.monotonic() + interval
        while True:
            with self._lock:
                due = min(self._release_due.values(), default=next_beat)
            self._housekeeping_wake.wait(max(0.0, min(next_beat, due) - time.monotonic()))
            self._housekeeping_wake.clear()
            now = time.monotonic()
            try:
                self.release_unused_symbols(now)
            except Exception:
                log.exception("releasing symbols failed")
            if now >= next_beat:
                self._heartbeat_all(now, interval)
                next_beat = now + interval

    def lease_symbol(self, symbol: str, address: str | None = None, seconds: float = REQUEST_LEASE_SECONDS) -> bool:
        """A request (REST) from ``address`` used ``symbol``: keep it in the feed at least ``seconds`` more, then
        release it unless a subscription has taken it meanwhile. Start-up symbols are never released. The lease
        counts against the address's new-symbol limit while it lasts; False (no lease) when the address is at it."""
        if symbol in self.settings.symbols:
            return True
        with self._lock:
            now = time.monotonic()
            self.quota.expire(now)
            if address is not None and not self.quota.lease(address, symbol, now + seconds):
                return False
            if self._symbol_routes.get(symbol):
                return True
            due = now + seconds
            self._release_due[symbol] = max(due, self._release_due.get(symbol, due))
        self._housekeeping_wake.set()
        return True

    def release_unused_symbols(self, now: float | None = None) -> list[str]:
        """Release from the feed the symbols whose grace period has run out with no route using them."""
        now = time.monotonic() if now is None else now
        released: list[str] = []
        with self._lock:
            self.quota.expire(now)
            for symbol, due in list(self._release_due.items()):
                if due > now:
                    continue
                del self._release_due[symbol]
                if self._symbol_routes.get(symbol) or symbol in self.settings.symbols:
                    continue
                self.feed.remove_symbol(symbol)
                released.append(symbol)
            self.symbols_released += len(released)
        if released:
            log.info("released symbols no subscription uses: %s", ", ".join(released))
        return released

    def _heartbeat_all(self, now: float, interval: float) -> None:
        with self._lock:
            connections = list(self._connections.values())
        for connection in connections:
            try:
                alive = connection.heartbeat(now, interval)
            except Exception:
                log.exception("heartbeat of %s failed", connection.id)
                continue
            if not alive:
                self.stats.add(heartbeat_closes=1)
                connection.close(p.CloseCode.POLICY_VIOLATION, "heartbeat timeout: no pong for three intervals")

    def snapshot_stats(self) -> dict[str, Any]:
        with self._lock:
            live = list(self._connections.values())
            subscriptions = sum(len(c.subscriptions) for c in live)
            routes = len(self._routes)
            awaiting_release = len(self._release_due)
            quota = self.quota.stats()
        s = self.stats
        return {
            "active_connections": len(live),
            "subscriptions": subscriptions,
            "routes": routes,
            "connections_opened": s.connections_opened,
            "connections_closed": s.connections_closed,
            "messages_sent": s.messages_sent + sum(c.messages_sent for c in live),
            "frames_sent": s.frames_sent + sum(c.frames_sent for c in live),
            "bytes_sent": s.bytes_sent + sum(c.bytes_sent for c in live),
            "messages_dropped": s.messages_dropped + sum(c.dropped for c in live),
            "slow_closes": s.slow_closes,
            "aborted_connections": s.aborted_connections,
            "heartbeat_closes": s.heartbeat_closes,
            "errors_sent": s.errors_sent,
            "symbols_awaiting_release": awaiting_release,
            "symbols_released": self.symbols_released,
            **quota,
        }
