"""WebSocket routes (flask-sock): the hub that fans bus events out to connections, each with its own send queue."""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, request
from flask_sock import ConnectionClosed, Sock

from api import protocol as p
from feeds.bus import InProcessBus
from feeds.candles import CandleEvent
from feeds.live import LiveFeed
from feeds.models import Quote, Tick, Timeframe
from settings import Settings

log = logging.getLogger(__name__)

SignalsProvider = Callable[[str, Timeframe], dict[str, Any]]


def _no_signals(symbol: str, timeframe: Timeframe) -> dict[str, Any]:
    return {"pivot_points": [], "fvg_zones": [], "break_signals": []}


@dataclass
class WsStats:
    connections_opened: int = 0
    connections_closed: int = 0
    messages_sent: int = 0
    frames_sent: int = 0
    messages_dropped: int = 0
    slow_closes: int = 0
    errors_sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class _SerializedSocket:
    """Wraps the raw socket under a simple-websocket connection so that every write is whole and alone.

    simple-websocket writes from two threads (our sender, and its own reader answering pings and closes) with
    plain ``socket.send``, which may also write only part of a large frame. One lock and ``sendall`` keep frames
    from interleaving or being cut.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._lock = threading.Lock()

    def send(self, data: bytes) -> int:
        with self._lock:
            self._sock.sendall(data)
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class Connection:
    """One client: a bounded send queue, its own sender thread, and the subscriptions it holds.

    ``enqueue`` is called from the bus (feed thread) and the receiving thread; it never blocks. When the queue is
    full the oldest message is dropped, so the client sees a jump in ``seq``. A client that keeps the queue full for
    ``stall_seconds`` is closed with 1008.
    """

    def __init__(self, ws: Any, batch: bool, settings: Settings, stats: WsStats,
                 stall_seconds: float = 10.0) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.ws = ws
        self.batch = batch
        self.batch_interval = settings.ws_batch_interval
        self.maxlen = settings.ws_send_queue_size
        self.stats = stats
        self.stall_seconds = stall_seconds
        self.subscriptions: set[p.Subscription] = set()
        self._queue: deque[bytes] = deque()
        self._cond = threading.Condition()
        self._seq = 0
        self._full_since: float | None = None
        self.closed = False
        self._sender = threading.Thread(target=self._send_loop, name=f"ws-send-{self.id}", daemon=True)
        # Inbound rate limit: a token bucket refilled at max_messages_per_second, with a burst of twice that.
        self._rate = settings.ws_max_messages_per_second
        self._tokens = 2 * self._rate
        self._tokens_at = time.monotonic()
        self.rate_violations = 0

    def start(self) -> None:
        self._sender.start()

    def enqueue(self, body: bytes) -> None:
        with self._cond:
            if self.closed:
                return
            self._seq += 1
            if len(self._queue) >= self.maxlen:
                self._queue.popleft()
                self.stats.add(messages_dropped=1)
                now = time.monotonic()
                if self._full_since is None:
                    self._full_since = now
                elif now - self._full_since > self.stall_seconds:
                    self._close_locked(p.CloseCode.POLICY_VIOLATION, "client too slow; resubscribe")
                    self.stats.add(slow_closes=1)
                    return
            else:
                self._full_since = None
            self._queue.append(p.with_seq(body, self._seq))
            self._cond.notify()

    def send_message(self, kind: p.MessageType, data: Any, channel: p.Channel | None = None,
                     timestamp: float | None = None) -> None:
        self.enqueue(p.encode_envelope(kind, data, channel, timestamp))

    def send_error(self, code: p.ErrorCode, message: str) -> None:
        self.stats.add(errors_sent=1)
        self.send_message(p.MessageType.ERROR, p.error_data(code, message))

    def allow_inbound(self) -> bool:
        now = time.monotonic()
        self._tokens = min(2 * self._rate, self._tokens + (now - self._tokens_at) * self._rate)
        self._tokens_at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self.rate_violations += 1
        return False

    def close(self, code: p.CloseCode | None = None, reason: str = "") -> None:
        with self._cond:
            self._close_locked(code, reason)

    def _close_locked(self, code: p.CloseCode | None, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self._queue.clear()
        self._cond.notify()
        if code is not None:
            # Closing from here wakes the receiving thread (its receive() raises ConnectionClosed).
            threading.Thread(target=self._close_socket, args=(int(code), reason), daemon=True).start()

    def _close_socket(self, code: int, reason: str) -> None:
        try:
            self.ws.close(reason=code, message=reason)
        except Exception:
            log.debug("close of %s failed", self.id, exc_info=True)

    def _take(self) -> list[bytes] | None:
        with self._cond:
            self._cond.wait_for(lambda: bool(self._queue) or self.closed)
            if self.closed:
                return None
        if self.batch and self.batch_interval > 0:
            # Gather what arrives in the next batch interval into one frame: the browser component loses
            # messages that arrive in quick succession, so fewer, larger frames are safer and cheaper.
            time.sleep(self.batch_interval)
        with self._cond:
            items = list(self._queue)
            self._queue.clear()
        return items

    def _send_loop(self) -> None:
        while True:
            items = self._take()
            if items is None:
                return
            if not items:
                continue
            frames = [p.batch_frame(items)] if self.batch and len(items) > 1 else items
            try:
                for frame in frames:
                    self.ws.send(frame.decode())
            except (ConnectionClosed, OSError) as exc:
                log.debug("send to %s failed: %s", self.id, exc)
                self.close()
                return
            except Exception:
                log.exception("send to %s failed", self.id)
                self.close()
                return
            self.stats.add(messages_sent=len(items), frames_sent=len(frames))


class Hub:
    """Routes bus events to the connections subscribed to them; each event is encoded once and shared."""

    def __init__(self, bus: InProcessBus, feed: LiveFeed, settings: Settings,
                 signals_provider: SignalsProvider = _no_signals) -> None:
        self.feed = feed
        self.settings = settings
        self.signals_provider = signals_provider
        self.stats = WsStats()
        self._lock = threading.Lock()
        self._routes: dict[p.Subscription, set[Connection]] = {}
        self._connections: dict[str, Connection] = {}
        self._ids = itertools.count(1)
        self._unsubscribe_bus = bus.subscribe(self.on_event)

    # -- bus side (feed thread) -----------------------------------------------------------------------------------

    def on_event(self, topic: str, event: Any) -> None:
        if isinstance(event, CandleEvent):
            key = p.Subscription(p.Channel.CANDLES, event.symbol, event.timeframe)
            if key not in self._routes:
                return
            if event.closed:
                data = p.full_update(event.symbol, event.timeframe, event.candle,
                                     self.signals_provider(event.symbol, event.timeframe))
                body = p.encode_envelope(p.MessageType.FULL_UPDATE, data, p.Channel.CANDLES, event.event_time)
            else:
                data = p.candle_update(event.symbol, event.timeframe, event.candle)
                body = p.encode_envelope(p.MessageType.CANDLE_UPDATE, data, p.Channel.CANDLES, event.event_time)
            self._fan_out(key, body)
        elif isinstance(event, Quote):
            key = p.Subscription(p.Channel.MARKET_DATA, event.symbol)
            if key in self._routes:
                self._fan_out(key, p.encode_envelope(p.MessageType.MARKET_DATA, p.market_data(event),
                                                     p.Channel.MARKET_DATA, event.timestamp))
        elif isinstance(event, Tick):
            key = p.Subscription(p.Channel.TICKS, event.symbol)
            if key in self._routes:
                self._fan_out(key, p.encode_envelope(p.MessageType.TICK, p.tick_data(event), p.Channel.TICKS,
                                                     event.time))

    def _fan_out(self, key: p.Subscription, body: bytes) -> None:
        with self._lock:
            for connection in self._routes.get(key, ()):
                connection.enqueue(body)

    # -- connection side (request threads) ----------------------------------------------------------------------

    def open(self, ws: Any, batch: bool) -> Connection:
        connection = Connection(ws, batch, self.settings, self.stats)
        with self._lock:
            self._connections[connection.id] = connection
        self.stats.add(connections_opened=1)
        connection.start()
        connection.send_message(p.MessageType.WELCOME, {
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
            self._connections.pop(connection.id, None)
        self.stats.add(connections_closed=1)

    def handle_frame(self, connection: Connection, raw: str | bytes) -> None:
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
            self.subscribe(connection, message.subscription)
        elif isinstance(message, p.Unsubscribe):
            self.unsubscribe(connection, message.subscription)
        elif isinstance(message, p.Ping):
            connection.send_message(p.MessageType.PONG, {})
        elif isinstance(message, p.Request):
            connection.send_error(p.ErrorCode.INVALID_MESSAGE, f"unknown request action {message.action!r}")
        elif isinstance(message, p.Auth):
            # Authentication is off unless tokens are configured; a token sent anyway is accepted and ignored.
            pass

    def subscribe(self, connection: Connection, subscription: p.Subscription) -> None:
        if subscription not in connection.subscriptions:
            if len(connection.subscriptions) >= self.settings.ws_max_subscriptions:
                connection.send_error(p.ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                                      f"at most {self.settings.ws_max_subscriptions} subscriptions per connection")
                return
            if subscription.symbol is not None and not self.feed.add_symbol(subscription.symbol):
                connection.send_error(p.ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                                      f"the server tracks at most {self.feed.max_symbols} symbols")
                return
        with self._lock:
            connection.subscriptions.add(subscription)
            self._routes.setdefault(subscription, set()).add(connection)
            connection.send_message(p.MessageType.SUBSCRIBED, subscription.ack_data())
            self._send_snapshot(connection, subscription)

    def _send_snapshot(self, connection: Connection, subscription: p.Subscription) -> None:
        symbol = subscription.symbol
        if symbol is None:
            return
        if subscription.channel is p.Channel.CANDLES and subscription.timeframe is not None:
            candle = self.feed.latest_candle(symbol, subscription.timeframe)
            if candle is not None:
                data = p.full_update(symbol, subscription.timeframe, candle,
                                     self.signals_provider(symbol, subscription.timeframe))
                data["snapshot"] = True
                connection.send_message(p.MessageType.FULL_UPDATE, data, p.Channel.CANDLES)
            return
        quote = self.feed.latest_quote(symbol)
        if quote is None:
            return
        if subscription.channel is p.Channel.MARKET_DATA:
            connection.send_message(p.MessageType.MARKET_DATA, p.market_data(quote), p.Channel.MARKET_DATA,
                                    quote.timestamp)
        elif subscription.channel is p.Channel.TICKS:
            tick = Tick(symbol, quote.timestamp, quote.price, quote.bid, quote.ask, 0.0)
            connection.send_message(p.MessageType.TICK, p.tick_data(tick), p.Channel.TICKS, quote.timestamp)

    def unsubscribe(self, connection: Connection, subscription: p.Subscription) -> None:
        with self._lock:
            connection.subscriptions.discard(subscription)
            subscribers = self._routes.get(subscription)
            if subscribers is not None:
                subscribers.discard(connection)
                if not subscribers:
                    del self._routes[subscription]
            connection.send_message(p.MessageType.UNSUBSCRIBED, subscription.ack_data())

    def snapshot_stats(self) -> dict[str, Any]:
        with self._lock:
            active = len(self._connections)
            subscriptions = sum(len(c.subscriptions) for c in self._connections.values())
        counts = self.stats
        return {
            "active_connections": active,
            "subscriptions": subscriptions,
            "connections_opened": counts.connections_opened,
            "messages_sent": counts.messages_sent,
            "frames_sent": counts.frames_sent,
            "messages_dropped": counts.messages_dropped,
            "slow_closes": counts.slow_closes,
        }


def _query_subscriptions(connection: Connection, hub: Hub, values: list[str]) -> None:
    """``?subscribe=candles:AAPL:1m&subscribe=market_data:AAPL`` subscribes on connect (used by the dashboard)."""
    for value in values:
        parts = value.split(":")
        channel = parts[0] if parts else None
        symbol = parts[1] if len(parts) > 1 and parts[1] else None
        timeframe = parts[2] if len(parts) > 2 and parts[2] else None
        subscription = p.parse_subscription(channel, symbol, timeframe)
        if isinstance(subscription, p.ProtocolError):
            connection.send_error(subscription.code, subscription.message)
        else:
            hub.subscribe(connection, subscription)


def init_websocket_routes(server: Flask, hub: Hub, settings: Settings) -> Sock:
    server.config["SOCK_SERVER_OPTIONS"] = {
        "ping_interval": settings.ws_heartbeat_interval,
        "max_message_size": settings.ws_max_message_bytes,
    }
    sock = Sock(server)

    @sock.route("/ws")
    def ws_envelope(ws: Any) -> None:
        ws.sock = _SerializedSocket(ws.sock)
        hub.feed.ensure_running()
        batch = request.args.get("batch", "").lower() in ("1", "true", "yes")
        connection = hub.open(ws, batch)
        try:
            _query_subscriptions(connection, hub, request.args.getlist("subscribe"))
            while not connection.closed:
                raw = ws.receive(timeout=1.0)
                if raw is not None:
                    hub.handle_frame(connection, raw)
        except ConnectionClosed:
            pass
        finally:
            hub.close(connection)

    return sock
