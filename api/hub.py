"""The WebSocket hub: routes bus events to subscribed connections, encoding each event once per dialect."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from api import protocol as p
from api.connection import Connection, WsStats
from feeds.bus import InProcessBus
from feeds.candles import CandleEvent
from feeds.live import LiveFeed
from feeds.models import Quote, Tick, Timeframe
from settings import Settings

log = logging.getLogger(__name__)

SignalsProvider = Callable[[str, Timeframe], dict[str, Any]]
SnapshotProvider = Callable[[p.Subscription], list[p.ChannelEvent]]
AgentStatusProvider = Callable[[], dict[str, Any]]


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
    (``subscribe``, ``handle_frame``…) run on each connection's receiving thread. One lock guards the routing table;
    a subscribe's ack and snapshot are queued under it, so no update can overtake them.
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
    ) -> None:
        self.feed = feed
        self.slow_client_seconds = slow_client_seconds
        self.settings = settings
        self.signals_provider = signals_provider
        self.snapshot_provider = snapshot_provider
        self.agent_status = agent_status
        self.stats = WsStats()
        self._lock = threading.Lock()
        self._routes: dict[p.Subscription, set[Connection]] = {}
        self._connections: dict[str, Connection] = {}
        self._heartbeat: threading.Thread | None = None
        self._unsubscribe_bus = bus.subscribe(self.on_event)

    # -- bus side (feed thread) ---------------------------------------------------------------------------------

    def on_event(self, topic: str, event: Any) -> None:
        if isinstance(event, CandleEvent):
            self._on_candle(event)
        elif isinstance(event, Quote):
            self._on_quote(event)
        elif isinstance(event, Tick):
            key = p.Subscription(p.Channel.TICKS, event.symbol)
            if key in self._routes:
                body = p.encode_envelope(p.MessageType.TICK, p.tick_data(event), p.Channel.TICKS, event.time)
                self._fan_out((key,), lambda dialect: body if dialect == p.ENVELOPE else None)
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

        self._fan_out((key,), encode)

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

    def _fan_out(self, keys: Iterable[p.Subscription], encode: Callable[[str], bytes | None]) -> None:
        encoded: dict[str, bytes | None] = {}
        with self._lock:
            for key in keys:
                for connection in self._routes.get(key, ()):
                    if connection.dialect not in encoded:
                        encoded[connection.dialect] = encode(connection.dialect)
                    body = encoded[connection.dialect]
                    if body is not None:
                        connection.enqueue(body)

    # -- connection side (request threads) ----------------------------------------------------------------------

    def open(self, ws: Any, dialect: str = p.ENVELOPE, batch: bool = False, welcome: bool = True) -> Connection:
        connection = Connection(ws, dialect, self.settings, self.stats, batch=batch,
                                stall_seconds=self.slow_client_seconds)
        with self._lock:
            self._connections[connection.id] = connection
            if self._heartbeat is None or not self._heartbeat.is_alive():
                self._heartbeat = threading.Thread(target=self._heartbeat_loop, name="ws-heartbeat", daemon=True)
                self._heartbeat.start()
        self.stats.add(connections_opened=1)
        connection.start()
        if welcome and dialect == p.ENVELOPE:
            connection.send(p.MessageType.WELCOME, {
                "connection_id": connection.id,
                "protocol_version": p.PROTOCOL_VERSION,
                "channels": [c.value for c in p.Channel],
                "heartbeat_interval": self.settings.ws_heartbeat_interval,
            })
        return connection

    def close(self, connection: Connection) -> None:
        connection.close()
        with self._lock:
            for key in connection.subscriptions:
                subscribers = self._routes.get(key)
                if subscribers is not None:
                    subscribers.discard(connection)
                    if not subscribers:
                        del self._routes[key]
            connection.subscriptions.clear()
            if self._connections.pop(connection.id, None) is not None:
                self.stats.add(connections_closed=1, messages_sent=connection.messages_sent,
                               frames_sent=connection.frames_sent, bytes_sent=connection.bytes_sent,
                               messages_dropped=connection.dropped)

    def handle_frame(self, connection: Connection, raw: str | bytes) -> None:
        """Decode and act on one client frame; every problem is answered with an ``error``, never an exception."""
        if not connection.allow_inbound():
            connection.send_error(p.ErrorCode.RATE_LIMITED,
                                  f"more than {self.settings.ws_max_messages_per_second:g} messages per second")
            if connection.rate_violations > 100:
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
            if message.action == "agent_status":
                connection.send(p.MessageType.AGENT_STATUS, self.agent_status())
            else:
                connection.send_error(p.ErrorCode.INVALID_MESSAGE,
                                      f"unknown request action {message.action!r}; known: agent_status")
        elif isinstance(message, p.Auth):
            # With authentication off a token is accepted and ignored; the auth issue checks it.
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
        if subscription not in connection.subscriptions:
            if len(connection.subscriptions) >= self.settings.ws_max_subscriptions:
                connection.send_error(p.ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                                      f"at most {self.settings.ws_max_subscriptions} subscriptions per connection")
                return False
            if subscription.symbol is not None and subscription.channel in p.SYMBOL_CHANNELS \
                    and not self.feed.add_symbol(subscription.symbol):
                connection.send_error(p.ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                                      f"the server tracks at most {self.feed.max_symbols} symbols")
                return False
        with self._lock:
            connection.subscriptions.add(subscription)
            self._routes.setdefault(subscription, set()).add(connection)
            if ack:
                self._ack(connection, p.MessageType.SUBSCRIBED, subscription)
            self._send_snapshot(connection, subscription)
        return True

    def unsubscribe(self, connection: Connection, subscription: p.Subscription) -> None:
        with self._lock:
            connection.subscriptions.discard(subscription)
            subscribers = self._routes.get(subscription)
            if subscribers is not None:
                subscribers.discard(connection)
                if not subscribers:
                    del self._routes[subscription]
            self._ack(connection, p.MessageType.UNSUBSCRIBED, subscription)

    @staticmethod
    def _ack(connection: Connection, kind: p.MessageType, subscription: p.Subscription) -> None:
        if connection.dialect == p.ENVELOPE:
            connection.send(kind, subscription.ack_data())
        elif connection.dialect == p.FLAT_PRICE and subscription.channel is p.Channel.MARKET_DATA:
            connection.send(kind, {"symbol": subscription.symbol})

    def _send_snapshot(self, connection: Connection, subscription: p.Subscription) -> None:
        symbol = subscription.symbol
        if subscription.channel is p.Channel.CANDLES and symbol is not None and subscription.timeframe:
            candle = self.feed.latest_candle(symbol, subscription.timeframe)
            if candle is None:
                return
            signals = self.signals_provider(symbol, subscription.timeframe)
            if connection.dialect == p.FLAT_CANDLES:
                connection.enqueue(p.flat_candle(p.MessageType.FULL_UPDATE, symbol, subscription.timeframe, candle,
                                                 time.time(), signals))
            else:
                data = p.full_update(symbol, subscription.timeframe, candle, signals)
                data["snapshot"] = True
                connection.send(p.MessageType.FULL_UPDATE, data, p.Channel.CANDLES)
            return
        if subscription.channel in (p.Channel.MARKET_DATA, p.Channel.TICKS) and symbol is not None:
            quote = self.feed.latest_quote(symbol)
            if quote is None:
                return
            if connection.dialect == p.FLAT_PRICE:
                connection.enqueue(p.flat_price(quote))
            elif subscription.channel is p.Channel.MARKET_DATA:
                connection.send(p.MessageType.MARKET_DATA, p.market_data(quote), p.Channel.MARKET_DATA,
                                quote.timestamp)
            else:
                tick = Tick(symbol, quote.timestamp, quote.price, quote.bid, quote.ask, 0.0)
                connection.send(p.MessageType.TICK, p.tick_data(tick), p.Channel.TICKS, quote.timestamp)
            return
        for event in self.snapshot_provider(subscription):
            if connection.dialect == p.ENVELOPE:
                connection.enqueue(p.encode_envelope(event.type, event.data, event.channel, event.time))
            elif connection.dialect == p.FLAT_PRICE and event.type is p.MessageType.SIGNAL:
                connection.enqueue(p.flat_signal(event))

    # -- heartbeat ---------------------------------------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        interval = self.settings.ws_heartbeat_interval
        while True:
            time.sleep(interval)
            with self._lock:
                connections = list(self._connections.values())
            if not connections:
                continue
            now = time.monotonic()
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
            "heartbeat_closes": s.heartbeat_closes,
            "errors_sent": s.errors_sent,
        }
