"""WebSocket routes (flask-sock): /ws and the seed dialects, each a thin session over the same hub."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, request
from flask_sock import ConnectionClosed, Sock

from api import protocol as p
from api.connection import Connection, SerializedSocket
from api.hub import Hub
from feeds.models import InvalidInput, Timeframe, parse_symbol
from settings import Settings

log = logging.getLogger(__name__)


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
        _await_close_handshake(ws)


def _await_close_handshake(ws: Any, timeout: float = 3.0) -> None:
    """After the server closed, let the client answer before the handler returns.

    Under Werkzeug, flask-sock's handler return writes an HTTP response onto the socket; arriving before the
    client's close reply, those bytes would look like a broken frame to the client instead of a clean close.
    """
    reader = getattr(ws, "thread", None)
    if reader is not None and reader.is_alive():
        reader.join(timeout)


def _reject(ws: Any, message: str) -> None:
    """Refuse a seed-dialect connection whose URL names a bad symbol or timeframe (close 1008 with the reason)."""
    try:
        ws.close(reason=int(p.CloseCode.POLICY_VIOLATION), message=message[:120])
    except ConnectionClosed:
        pass
    _await_close_handshake(ws)


def init_websocket_routes(server: Flask, hub: Hub, settings: Settings) -> Sock:
    # The hub runs the heartbeat itself (ping every interval, close after three silent ones), so simple-websocket's
    # own ping, which closes after a single missed pong, stays off.
    server.config["SOCK_SERVER_OPTIONS"] = {"ping_interval": None,
                                            "max_message_size": settings.ws_max_message_bytes}
    sock = Sock(server)

    def prepare(ws: Any) -> None:
        ws.sock = SerializedSocket(ws.sock)
        hub.feed.ensure_running()

    @sock.route("/ws")
    def ws_envelope(ws: Any) -> None:
        prepare(ws)
        batch = request.args.get("batch", "").lower() in ("1", "true", "yes")
        connection = hub.open(ws, p.ENVELOPE, batch=batch)
        _query_subscriptions(connection, hub, request.args.getlist("subscribe"))
        _serve(hub, ws, connection)

    @sock.route("/ws/market-data")
    def ws_market_data(ws: Any) -> None:
        prepare(ws)
        _serve(hub, ws, hub.open(ws, p.FLAT_PRICE))

    @sock.route("/ws/signals")
    def ws_signals(ws: Any) -> None:
        prepare(ws)
        connection = hub.open(ws, p.ENVELOPE, batch=request.args.get("batch") == "1")
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
        connection = hub.open(ws, p.ENVELOPE, batch=request.args.get("batch") == "1")
        hub.subscribe(connection, p.Subscription(p.Channel.MARKET_DATA, parsed))
        _serve(hub, ws, connection)

    @sock.route("/ws/market/<symbol>/<timeframe>")
    def ws_market_candles(ws: Any, symbol: str, timeframe: str) -> None:
        prepare(ws)
        try:
            subscription = p.Subscription(p.Channel.CANDLES, parse_symbol(symbol), Timeframe.parse(timeframe))
        except InvalidInput as exc:
            _reject(ws, exc.message)
            return
        # This dialect promises a full_update first: let the feed start the symbol before subscribing.
        if subscription.symbol is not None and hub.feed.add_symbol(subscription.symbol):
            deadline = time.monotonic() + max(5.0, 3 * hub.feed.interval)
            while hub.feed.latest_candle(subscription.symbol, timeframe_of(subscription)) is None \
                    and time.monotonic() < deadline:
                time.sleep(0.02)
        connection = hub.open(ws, p.FLAT_CANDLES)
        if not hub.subscribe(connection, subscription, ack=False):
            hub.close(connection)
            return
        _serve(hub, ws, connection)

    return sock
