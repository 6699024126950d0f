"""WebSocket routes (flask-sock): /ws and the seed dialects, each a thin session over the same hub."""

from __future__ import annotations

import logging
import select
import time
from typing import Any

from flask import Flask, Response, g, request
from flask_sock import ConnectionClosed, Sock

from api import protocol as p
from api.connection import CLOSE_TIMEOUT_SECONDS, Connection
from api.errors import error_response, init_upgrade_required
from api.frame_guard import InboundFrameScanner
from api.hub import Hub
from api.profiles import Defaults, connection_defaults
from api.socket_writer import SerializedSocket
from feeds.models import InvalidInput, Timeframe, parse_symbol
from settings import Settings

log = logging.getLogger(__name__)

# How long the server waits for the client's reply to its close frame before it cuts the connection.
CLOSE_HANDSHAKE_SECONDS = 3.0
# Retry-After of a WebSocket upgrade refused for the connection caps.
REFUSED_RETRY_AFTER_SECONDS = 5


def is_websocket_upgrade() -> bool:
    path = request.path
    return (path == "/ws" or path.startswith("/ws/")) and request.headers.get("Upgrade", "").lower() == "websocket"


def _client_address() -> str:
    # remote_addr is the client's own address, or the one trusted proxies name (api/client_address.py).
    return request.remote_addr or ""


def timeframe_of(subscription: p.Subscription) -> Timeframe:
    return subscription.timeframe or Timeframe.M1


def _query_subscriptions(connection: Connection, hub: Hub, values: list[str]) -> None:
    """``?subscribe=candles:AAPL:1m&subscribe=market_data:AAPL`` subscribes on connect (used by the dashboard)."""
    for value in values:
        channel, _, rest = value.partition(":")
        symbol, _, timeframe = rest.partition(":")
        subscription = p.parse_subscription(channel or None, symbol or None, timeframe or None)
        if isinstance(subscription, p.ProtocolError):
            connection.send_error(subscription.code, subscription.message)
        else:
            hub.subscribe(connection, subscription)


def _batch() -> bool:
    return p.query_flag(request.args.get("batch"))


def _defaults(settings: Settings) -> Defaults | str:
    """``/ws?channels=a,b`` (repeatable) and ``?profile=aria``: what the connection receives before it subscribes
    (api/profiles.py); a string is the reason to refuse it."""
    channels = request.args.getlist("channels")
    profile = request.args.get("profile") or None
    return connection_defaults(",".join(channels) if channels else None, profile, settings)


def _serve(hub: Hub, ws: Any, connection: Connection) -> None:
    """Read client frames until the client leaves or the connection is closed; always release the connection."""
    try:
        while not connection.closed:
            raw = ws.receive(timeout=1.0)
            if raw is not None:
                hub.handle_frame(connection, raw)
    except ConnectionClosed:
        pass
    finally:
        hub.close(connection)
        _finish(ws, connection)


def _finish(ws: Any, connection: Connection | None = None) -> None:
    """End the session so that nothing but whole WebSocket frames ever reaches the client, then cut the TCP
    connection before the handler returns.

    What happens after the handler returns depends on the server: flask-sock sends a close frame if none was
    sent, then under Werkzeug the server writes an HTTP response (``HTTP/1.1 200 OK…``) onto the same socket, and
    under gunicorn (gevent) the worker closes the socket without writing. Werkzeug's bytes would land after the
    last frame, or inside one still half written to a slow client. So here: the sender finishes (its close frame
    written, or the connection cut when it could not be), a close frame is sent if nobody sent one, the client
    gets a moment to answer it, and the socket is shut down both ways: later writes fail instead of reaching the
    client (Werkzeug treats that as a dropped connection).
    """
    sock: SerializedSocket = ws.sock
    if connection is not None:
        connection.join_sender(connection.close_timeout + 2.0)
    if ws.connected and not sock.shut:
        try:
            ws.close()
        except Exception:  # ConnectionClosed, or wsproto refusing in a closing state
            log.debug("close at the end of the session failed", exc_info=True)
    if sock.drain(time.monotonic() + CLOSE_TIMEOUT_SECONDS):
        _await_close_handshake(ws, connection.inbound if connection is not None else None)
    sock.shutdown()


def _await_close_handshake(ws: Any, inbound: InboundFrameScanner | None,
                           timeout: float = CLOSE_HANDSHAKE_SECONDS) -> None:
    """After the server's close frame went out, let the client answer it: simple-websocket's reader ends when the
    reply arrives, or when the client goes. When the reader has already stopped (the server closed first, e.g.
    with 1009 at the header of a frame too large), read and drop what the client still sends until its close
    frame, so a client still sending the rest of a frame is closed, not reset."""
    deadline = time.monotonic() + timeout
    reader = getattr(ws, "thread", None)
    if reader is not None and reader.is_alive():
        reader.join(timeout)
        return
    if inbound is None or inbound.close_received:
        return
    try:
        poller = select.poll()
        poller.register(ws.sock.fileno(), select.POLLIN)
        while not inbound.close_received:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poller.poll(remaining * 1000):
                return
            data = ws.sock.recv(65_536)
            if not data:
                return
            inbound.feed(data)
    except OSError:
        return


def _reject(ws: Any, message: str) -> None:
    """Refuse a seed-dialect connection whose URL names a bad symbol or timeframe (close 1008 with the reason)."""
    try:
        ws.close(reason=int(p.CloseCode.POLICY_VIOLATION), message=message[:120])
    except ConnectionClosed:
        pass
    _finish(ws)


def _refuse(hub: Hub, ws: Any, connection: Connection, refusal: p.ProtocolError) -> None:
    """A seed-dialect connection whose subscription the server refuses (its symbol limit): close 1008 with the
    reason, as for a bad URL, rather than an open connection that carries nothing."""
    connection.close(p.CloseCode.POLICY_VIOLATION, refusal.message[:120])
    _serve(hub, ws, connection)


def init_websocket_routes(server: Flask, hub: Hub, settings: Settings) -> Sock:
    # The hub runs the heartbeat itself (ping every interval, close after three silent ones), so simple-websocket's
    # own ping, which closes after a single missed pong, stays off.
    server.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": None,
                                            "max_message_size": settings.ws_max_message_bytes}
    sock = Sock(server)

    @server.before_request
    def admit_websocket() -> Response | None:
        """The connection caps, checked before the upgrade so a refusal is a plain HTTP answer with a reason."""
        if not is_websocket_upgrade():
            return None
        address = _client_address()
        refusal = hub.admit(address)
        if refusal is not None:
            return error_response(503, "too_many_connections", refusal,
                                  {"Retry-After": str(REFUSED_RETRY_AFTER_SECONDS)})
        g.ws_admitted = address
        return None

    @server.teardown_request
    def release_websocket(_exc: BaseException | None) -> None:
        # The whole WebSocket session runs inside its request: this is when it is over.
        if "ws_admitted" in g:
            hub.release(g.pop("ws_admitted"))

    def prepare(ws: Any) -> None:
        ws.sock = SerializedSocket(ws.sock)
        hub.feed.ensure_running()

    @sock.route("/ws")
    def ws_envelope(ws: Any) -> None:
        prepare(ws)
        defaults = _defaults(settings)
        if isinstance(defaults, str):
            _reject(ws, defaults)
            return
        connection = hub.open(ws, p.ENVELOPE, batch=_batch(), address=_client_address())
        hub.start_defaults(connection, defaults)
        _query_subscriptions(connection, hub, request.args.getlist("subscribe"))
        _serve(hub, ws, connection)

    @sock.route("/ws/market-data")
    def ws_market_data(ws: Any) -> None:
        prepare(ws)
        _serve(hub, ws, hub.open(ws, p.FLAT_PRICE, address=_client_address()))

    @sock.route("/ws/signals")
    def ws_signals(ws: Any) -> None:
        prepare(ws)
        connection = hub.open(ws, p.ENVELOPE, batch=_batch(), address=_client_address())
        hub.subscribe(connection, p.Subscription(p.Channel.SIGNALS))
        _serve(hub, ws, connection)

    @sock.route("/ws/market/<symbol>")
    def ws_market_symbol(ws: Any, symbol: str) -> None:
        prepare(ws)
        try:
            parsed = parse_symbol(symbol)
        except InvalidInput as exc:
            _reject(ws, exc.message)
            return
        connection = hub.open(ws, p.ENVELOPE, batch=_batch(), address=_client_address())
        refusal = hub.try_subscribe(connection, p.Subscription(p.Channel.MARKET_DATA, parsed))
        if refusal is not None:
            _refuse(hub, ws, connection, refusal)
            return
        _serve(hub, ws, connection)

    @sock.route("/ws/market/<symbol>/<timeframe>")
    def ws_market_candles(ws: Any, symbol: str, timeframe: str) -> None:
        prepare(ws)
        try:
            subscription = p.Subscription(p.Channel.CANDLES, parse_symbol(symbol), Timeframe.parse(timeframe))
        except InvalidInput as exc:
            _reject(ws, exc.message)
            return
        # This dialect promises a full_update first: for a symbol the feed is only starting, the hub sends it
        # when the first candle exists (an owed snapshot), so nothing waits here.
        connection = hub.open(ws, p.FLAT_CANDLES, address=_client_address())
        refusal = hub.try_subscribe(connection, subscription, ack=False)
        if refusal is not None:
            _refuse(hub, ws, connection, refusal)
            return
        _serve(hub, ws, connection)

    init_upgrade_required(server)
    return sock
