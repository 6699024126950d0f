"""The wire protocol: message and channel names, client-message decoding, and server-message encoding (orjson)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from feeds.models import Candle, InvalidInput, Quote, Tick, Timeframe, parse_symbol
from feeds.watchdog import SymbolStatus

# 2: signal_type is the action, side lower case, strength a number (docs/protocol.md "Changelog").
PROTOCOL_VERSION = 2

# Dialects: how one connection's messages are shaped (docs/protocol.md "The envelope dialect" and "The flat dialects").
ENVELOPE = "envelope"  # {"type", "timestamp", "seq", "data", "channel"}
FLAT_PRICE = "flat_price"  # /ws/market-data: {"type": "price"|"signal", "symbol", ..., "timestamp"}
FLAT_CANDLES = "flat_candles"  # /ws/market/{symbol}/{timeframe}: {"type": "full_update"|"candle_update", ...}


class MessageType(str, Enum):
    # client → server
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    PING = "ping"
    REQUEST = "request"
    AUTH = "auth"
    # server → client
    WELCOME = "welcome"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    PONG = "pong"
    ERROR = "error"
    BATCH = "batch"
    MARKET_DATA = "market_data"
    TICK = "tick"
    CANDLE_UPDATE = "candle_update"
    FULL_UPDATE = "full_update"
    SIGNAL = "signal"
    IDEA = "idea"
    PREPARED_PAYLOAD = "prepared_payload"
    ORDER_UPDATE = "order_update"
    TRADE = "trade"
    POSITION = "position"
    PERFORMANCE = "performance"
    DASHBOARD_UPDATE = "dashboard_update"
    ALERT = "alert"
    AGENT_STATUS = "agent_status"
    # A symbol's data stopped or resumed: {state: live|stale|no_data|stalled, symbol, since, reason}; every
    # dialect, clients may ignore it.
    STATUS = "status"


class Channel(str, Enum):
    MARKET_DATA = "market_data"
    TICKS = "ticks"
    CANDLES = "candles"
    SIGNALS = "signals"
    IDEAS = "ideas"
    PAYLOADS = "payloads"
    ORDERS = "orders"
    TRADES = "trades"
    POSITIONS = "positions"
    PERFORMANCE = "performance"
    DASHBOARD = "dashboard"
    ALERTS = "alerts"


# Channels that carry one symbol's data and cannot be subscribed without one.
SYMBOL_CHANNELS = frozenset({Channel.MARKET_DATA, Channel.TICKS, Channel.CANDLES})
# Channels that take an optional symbol filter (none = all symbols).
OPTIONAL_SYMBOL_CHANNELS = frozenset({Channel.SIGNALS, Channel.IDEAS, Channel.PAYLOADS})


class ErrorCode(str, Enum):
    INVALID_JSON = "invalid_json"
    UNKNOWN_TYPE = "unknown_type"
    UNKNOWN_CHANNEL = "unknown_channel"
    INVALID_SYMBOL = "invalid_symbol"
    INVALID_TIMEFRAME = "invalid_timeframe"
    TOO_MANY_SUBSCRIPTIONS = "too_many_subscriptions"
    RATE_LIMITED = "rate_limited"


class CloseCode(int, Enum):
    GOING_AWAY = 1001
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009


# -- client messages ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProtocolError:
    code: ErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscription key: the channel, and the symbol/timeframe where the channel takes them."""

    channel: Channel
    symbol: str | None = None
    timeframe: Timeframe | None = None

    def ack_data(self) -> dict[str, Any]:
        return {
            "channel": self.channel.value,
            "symbol": self.symbol,
            "timeframe": self.timeframe.value if self.timeframe else None,
        }


# Ticks of every symbol the feed streams, now or later: a route of /ws default channels (api/profiles.py), not
# something a client can subscribe to (``ticks`` needs a symbol), so it never brings a symbol into the feed.
ALL_TICKS = Subscription(Channel.TICKS)


@dataclass(frozen=True, slots=True)
class Subscribe:
    subscription: Subscription


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    subscription: Subscription


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Request:
    action: str


@dataclass(frozen=True, slots=True)
class Auth:
    """An ``auth`` message; ``token`` is None when it carries none. Accepted and ignored until authentication is
    configured (then a missing or failed token will close the connection with 1008)."""

    token: str | None


ClientMessage = Subscribe | Unsubscribe | Ping | Request | Auth

CLIENT_TYPES = (MessageType.SUBSCRIBE, MessageType.UNSUBSCRIBE, MessageType.PING, MessageType.REQUEST,
                MessageType.AUTH)
# Actions of a ``request`` and the message type that answers each.
REQUEST_ACTIONS = {"agent_status": MessageType.AGENT_STATUS}


class _Envelope(BaseModel):
    """Outer shape of any client message; unknown fields are ignored as docs/protocol.md requires."""

    model_config = ConfigDict(extra="ignore")

    type: str
    data: Any = None
    channel: Any = None
    symbol: Any = None
    timeframe: Any = None


def parse_subscription(channel: Any, symbol: Any, timeframe: Any,
                       default_timeframe: Timeframe = Timeframe.M1) -> Subscription | ProtocolError:
    """Validate the (channel, symbol, timeframe) of a subscribe/unsubscribe; channel defaults to market_data."""
    if channel is None:
        channel = Channel.MARKET_DATA.value
    try:
        parsed_channel = Channel(channel) if isinstance(channel, str) else None
    except ValueError:
        parsed_channel = None
    if parsed_channel is None:
        names = ", ".join(c.value for c in Channel)
        return ProtocolError(ErrorCode.UNKNOWN_CHANNEL, f"unknown channel {channel!r}; channels: {names}")
    parsed_symbol: str | None = None
    if symbol is not None or parsed_channel in SYMBOL_CHANNELS:
        if parsed_channel not in SYMBOL_CHANNELS and parsed_channel not in OPTIONAL_SYMBOL_CHANNELS:
            parsed_symbol = None  # channels without symbols ignore one, as unknown fields are ignored
        elif symbol is None:
            return ProtocolError(ErrorCode.INVALID_SYMBOL, f"channel {parsed_channel.value!r} needs a symbol")
        else:
            try:
                parsed_symbol = parse_symbol(symbol)
            except InvalidInput as exc:
                return ProtocolError(ErrorCode.INVALID_SYMBOL, exc.message)
    parsed_timeframe: Timeframe | None = None
    if parsed_channel is Channel.CANDLES:
        try:
            parsed_timeframe = default_timeframe if timeframe is None else Timeframe.parse(timeframe)
        except InvalidInput as exc:
            return ProtocolError(ErrorCode.INVALID_TIMEFRAME, exc.message)
    return Subscription(parsed_channel, parsed_symbol, parsed_timeframe)


def decode_client_message(raw: str | bytes) -> ClientMessage | ProtocolError:
    """Decode one client frame into a typed message, or the error to send back. Never raises.

    Every refusal carries one of docs/protocol.md's codes: not JSON, or JSON that is not an object → ``invalid_json``;
    no string ``type``, an unknown one, or a ``request`` without a known action → ``unknown_type``; a subscribe
    whose ``data`` is not an object, or that names neither a channel nor a symbol → ``unknown_channel``.
    """
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return ProtocolError(ErrorCode.INVALID_JSON, f"not valid JSON: {exc}")
    if not isinstance(payload, dict):
        return ProtocolError(ErrorCode.INVALID_JSON,
                             f"a message must be a JSON object such as {{\"type\": \"ping\"}}, not "
                             f"{_json_kind(payload)}")
    known = ", ".join(t.value for t in CLIENT_TYPES)
    kind = payload.get("type")
    if not isinstance(kind, str):
        return ProtocolError(ErrorCode.UNKNOWN_TYPE, f"a message needs a string 'type', one of: {known}")
    try:
        envelope = _Envelope.model_validate(payload)
    except ValidationError as exc:  # not expected: every field but 'type' takes any value
        return ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unreadable message: {exc.errors()[0]['msg']}")
    data = envelope.data
    if kind in (MessageType.SUBSCRIBE.value, MessageType.UNSUBSCRIBE.value):
        if data is not None and not isinstance(data, dict):
            return ProtocolError(ErrorCode.UNKNOWN_CHANNEL,
                                 f"{kind} needs 'data' to be an object such as "
                                 '{"channel": "market_data", "symbol": "AAPL"}')
        data = data or {}
        # Fields may sit in "data" (envelope form) or at the top level (flat form); data wins.
        channel = data.get("channel", envelope.channel)
        symbol = data.get("symbol", envelope.symbol)
        if channel is None and symbol is None:
            names = ", ".join(c.value for c in Channel)
            return ProtocolError(ErrorCode.UNKNOWN_CHANNEL, f"{kind} needs data.channel (one of: {names}) or a symbol")
        subscription = parse_subscription(channel, symbol, data.get("timeframe", envelope.timeframe))
        if isinstance(subscription, ProtocolError):
            return subscription
        return Subscribe(subscription) if kind == MessageType.SUBSCRIBE.value else Unsubscribe(subscription)
    fields = data if isinstance(data, dict) else {}
    if kind == MessageType.PING.value:
        return Ping()
    if kind == MessageType.REQUEST.value:
        action = fields.get("action", payload.get("action"))
        actions = ", ".join(REQUEST_ACTIONS)
        if not isinstance(action, str) or not action:
            return ProtocolError(ErrorCode.UNKNOWN_TYPE, f"request needs data.action, one of: {actions}")
        if action not in REQUEST_ACTIONS:
            return ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown request action {action!r}; known actions: {actions}")
        return Request(action)
    if kind == MessageType.AUTH.value:
        token = fields.get("token", payload.get("token"))
        return Auth(token if isinstance(token, str) and token else None)
    return ProtocolError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r}; client types: {known}")


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def query_flag(value: str | None) -> bool:
    """A yes/no query parameter (``?batch=1``, ``true``, ``yes``, ``on``), the same on every route."""
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on")


def whole_if_integral(value: float) -> float | int:
    """30.0 → 30 on the wire; 0.5 stays 0.5."""
    return int(value) if float(value).is_integer() else value


# -- server messages ------------------------------------------------------------------------------------------------


def iso_ms(t: float) -> str:
    """ISO-8601 UTC with milliseconds and Z, as every timestamp on the wire."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clean(value: float | None) -> float | None:
    # NaN is not JSON; docs/protocol.md says missing values are null.
    if value is None or math.isnan(value):
        return None
    return value


def _volume(value: float | None) -> float | int | None:
    # A count of shares or contracts is a JSON integer (1234, not 1234.0) whichever source or sum produced it.
    value = _clean(value)
    return None if value is None else whole_if_integral(value)


def candle_to_wire(candle: Candle) -> dict[str, Any]:
    return {
        "time": candle.time,
        "open": candle.open,
        "high": candle.high,
        "low": candle.low,
        "close": candle.close,
        "volume": _volume(candle.volume),
    }


def quote_to_rest(quote: Quote) -> dict[str, Any]:
    body: dict[str, Any] = {
        "symbol": quote.symbol,
        "price": _clean(quote.price),
        "change": _clean(quote.change),
        "change_percent": _clean(quote.change_percent),
        "volume": _volume(quote.volume),
        "bid": _clean(quote.bid),
        "ask": _clean(quote.ask),
        "timestamp": iso_ms(quote.timestamp),
        "source": quote.source,
    }
    if quote.stale:
        body["stale"] = True
    return body


def market_data(quote: Quote) -> dict[str, Any]:
    return {
        "symbol": quote.symbol,
        "price": _clean(quote.price),
        "bid": _clean(quote.bid),
        "ask": _clean(quote.ask),
        "spread": _clean(quote.spread),
        "volume": _volume(quote.volume),
        "change": _clean(quote.change),
        "change_percent": _clean(quote.change_percent),
        "source": quote.source,
    }


def tick_data(tick: Tick) -> dict[str, Any]:
    return {"symbol": tick.symbol, "bid": tick.bid, "ask": tick.ask, "spread": tick.spread, "price": tick.price,
            "volume": _volume(tick.volume)}


def candle_update(symbol: str, timeframe: Timeframe, candle: Candle) -> dict[str, Any]:
    return {"symbol": symbol, "timeframe": timeframe.value, "candle": candle_to_wire(candle)}


def full_update(symbol: str, timeframe: Timeframe, candle: Candle, signals: dict[str, Any]) -> dict[str, Any]:
    return {"symbol": symbol, "timeframe": timeframe.value, "candle": candle_to_wire(candle), "signals": signals}


def error_data(code: ErrorCode, message: str) -> dict[str, Any]:
    return {"code": code.value, "message": message}


def encode_envelope(
    kind: MessageType,
    data: Any,
    channel: Channel | None = None,
    timestamp: float | None = None,
    **extra: Any,
) -> bytes:
    """One envelope message without its ``seq`` (added per connection by ``with_seq``)."""
    message: dict[str, Any] = {
        "type": kind.value,
        "timestamp": iso_ms(time.time() if timestamp is None else timestamp),
        "data": data,
    }
    if channel is not None:
        message["channel"] = channel.value
    message.update(extra)
    return orjson.dumps(message)


def with_seq(body: bytes, seq: int) -> bytes:
    """Insert ``"seq": N`` into an encoded envelope, so one encoding is shared by every connection."""
    return b'{"seq":%d,%s' % (seq, body[1:])


def batch_frame(messages: list[bytes]) -> bytes:
    return b'{"type":"batch","data":[' + b",".join(messages) + b"]}"


def encode_flat(message: dict[str, Any]) -> bytes:
    """A message of the flat seed dialects (no envelope, no seq)."""
    return orjson.dumps(message)


def flat_price(quote: Quote) -> bytes:
    """/ws/market-data ``price`` message."""
    return orjson.dumps({"type": "price", "symbol": quote.symbol, "price": _clean(quote.price),
                         "volume": _volume(quote.volume), "timestamp": iso_ms(quote.timestamp)})


def flat_signal(event: ChannelEvent, timestamp: float | None = None) -> bytes:
    """/ws/market-data ``signal`` message, from an envelope ``signal`` event's data; stamped with ``timestamp``
    (default: the event's time), and with the signal's ``timeframe`` when it has one."""
    # This dialect's action is upper case (BUY), as the envelope's ``signal_type``; ``side`` is lower case.
    side = event.data.get("side")
    action = event.data.get("signal_type") or (side.upper() if isinstance(side, str) else None)
    message: dict[str, Any] = {"type": "signal", "symbol": event.symbol, "action": action,
                               "confidence": event.data.get("confidence")}
    if event.data.get("timeframe") is not None:
        message["timeframe"] = event.data["timeframe"]
    message["timestamp"] = iso_ms(event.time if timestamp is None else timestamp)
    return orjson.dumps(message)


def signal_time(data: dict[str, Any], default: float) -> float:
    """When a ``signal`` was made: its own ``timestamp`` (the close of the candle it was made on), else ``default``."""
    stamp = data.get("timestamp")
    if isinstance(stamp, str):
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return default


def flat_candle(kind: MessageType, symbol: str, timeframe: Timeframe, candle: Candle, time_: float,
                signals: dict[str, Any] | None = None) -> bytes:
    """/ws/market/{symbol}/{timeframe} ``full_update`` (with signals) or ``candle_update`` message."""
    message: dict[str, Any] = {"type": kind.value, "symbol": symbol, "timeframe": timeframe.value,
                               "candle": candle_to_wire(candle)}
    if signals is not None:
        message["signals"] = signals
    message["timestamp"] = iso_ms(time_)
    return orjson.dumps(message)


def status_data(status: SymbolStatus) -> dict[str, Any]:
    """The fields of a ``status`` message (the envelope's ``data``; top-level fields in the flat dialects)."""
    return {"state": status.state.value, "symbol": status.symbol, "since": iso_ms(status.since),
            "reason": status.reason}


def encode_status(dialect: str, status: SymbolStatus, time_: float) -> bytes:
    """A ``status`` message in ``dialect``: an envelope without ``channel`` (it concerns a symbol, whichever
    channels carry it), or flat ``{"type": "status", state, symbol, since, reason, timestamp}``."""
    if dialect == ENVELOPE:
        return encode_envelope(MessageType.STATUS, status_data(status), None, time_)
    return orjson.dumps({"type": MessageType.STATUS.value, **status_data(status), "timestamp": iso_ms(time_)})


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """A ready-to-send event of one channel (signals, ideas, orders, alerts…) as producers publish it on the bus.

    ``data`` is already the wire ``data`` object; ``symbol`` is None for channels without symbols.
    """

    channel: Channel
    type: MessageType
    symbol: str | None
    data: dict[str, Any]
    time: float


def text_frame(payload: bytes) -> bytes:
    """A final, unmasked WebSocket text frame (RFC 6455 §5.2) carrying ``payload`` (UTF-8 JSON).

    Servers never mask, so the same payload gives the same frame for every client; permessage-deflate allows
    uncompressed messages (RFC 7692 §6), so this is valid whatever extension the client negotiated.
    """
    length = len(payload)
    if length < 126:
        header = bytes((0x81, length))
    elif length < 65_536:
        header = bytes((0x81, 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + length.to_bytes(8, "big")
    return header + payload
