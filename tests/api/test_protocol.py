"""Pure protocol tests: decoding every client message (good and malformed) and encoding server messages."""

from __future__ import annotations

import math

import orjson
import pytest

from api import protocol as p
from feeds.models import Candle, Quote, Timeframe

SUB = p.Subscribe


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"type":"subscribe","data":{"channel":"market_data","symbol":"AAPL"}}',
         SUB(p.Subscription(p.Channel.MARKET_DATA, "AAPL"))),
        ('{"type":"subscribe","symbol":"aapl"}', SUB(p.Subscription(p.Channel.MARKET_DATA, "AAPL"))),
        ('{"type":"subscribe","data":{"channel":"candles","symbol":"GC=F","timeframe":"60m"}}',
         SUB(p.Subscription(p.Channel.CANDLES, "GC=F", Timeframe.H1))),
        ('{"type":"subscribe","data":{"channel":"candles","symbol":"^GSPC"}}',
         SUB(p.Subscription(p.Channel.CANDLES, "^GSPC", Timeframe.M1))),
        ('{"type":"subscribe","data":{"channel":"ticks","symbol":"BTC-USD"},"extra":1}',
         SUB(p.Subscription(p.Channel.TICKS, "BTC-USD"))),
        ('{"type":"subscribe","data":{"channel":"signals"}}', SUB(p.Subscription(p.Channel.SIGNALS))),
        ('{"type":"subscribe","data":{"channel":"signals","symbol":"msft"}}',
         SUB(p.Subscription(p.Channel.SIGNALS, "MSFT"))),
        ('{"type":"subscribe","data":{"channel":"dashboard","symbol":"AAPL"}}',
         SUB(p.Subscription(p.Channel.DASHBOARD))),
        ('{"type":"unsubscribe","data":{"channel":"market_data","symbol":"AAPL"}}',
         p.Unsubscribe(p.Subscription(p.Channel.MARKET_DATA, "AAPL"))),
        ('{"type":"unsubscribe","symbol":"AAPL"}', p.Unsubscribe(p.Subscription(p.Channel.MARKET_DATA, "AAPL"))),
        ('{"type":"ping"}', p.Ping()),
        ('{"type":"ping","data":{"nonce":5}}', p.Ping()),
        ('{"type":"request","data":{"action":"agent_status"}}', p.Request("agent_status")),
        ('{"type":"auth","data":{"token":"abc"}}', p.Auth("abc")),
        # Authentication is not implemented: any auth message is accepted (and ignored by the hub).
        ('{"type":"auth","data":{"token":""}}', p.Auth(None)),
        ('{"type":"auth"}', p.Auth(None)),
        ('{"type":"subscribe","data":{"symbol":"msft"}}', SUB(p.Subscription(p.Channel.MARKET_DATA, "MSFT"))),
        ('{"type":"subscribe","data":null,"symbol":"msft"}', SUB(p.Subscription(p.Channel.MARKET_DATA, "MSFT"))),
        ('{"type":"ping","data":"anything"}', p.Ping()),
    ],
)
def test_decode_good_messages(raw: str, expected: p.ClientMessage) -> None:
    assert p.decode_client_message(raw) == expected
    assert p.decode_client_message(raw.encode()) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", p.ErrorCode.INVALID_JSON),
        ('{"type":"subscribe"', p.ErrorCode.INVALID_JSON),
        ("", p.ErrorCode.INVALID_JSON),
        ("[1,2]", p.ErrorCode.INVALID_JSON),
        ('"subscribe"', p.ErrorCode.INVALID_JSON),
        ("5", p.ErrorCode.INVALID_JSON),
        ("null", p.ErrorCode.INVALID_JSON),
        ("{}", p.ErrorCode.UNKNOWN_TYPE),
        ('{"type":5}', p.ErrorCode.UNKNOWN_TYPE),
        ('{"type":null,"data":{}}', p.ErrorCode.UNKNOWN_TYPE),
        ('{"type":"subscribe","data":"AAPL"}', p.ErrorCode.UNKNOWN_CHANNEL),
        ('{"type":"subscribe","data":[1]}', p.ErrorCode.UNKNOWN_CHANNEL),
        ('{"type":"subscribe"}', p.ErrorCode.UNKNOWN_CHANNEL),
        ('{"type":"subscribe","data":{}}', p.ErrorCode.UNKNOWN_CHANNEL),
        ('{"type":"unsubscribe","data":{"timeframe":"1m"}}', p.ErrorCode.UNKNOWN_CHANNEL),
        ('{"type":"hello"}', p.ErrorCode.UNKNOWN_TYPE),
        ('{"type":"subscribe","data":{"channel":"news","symbol":"AAPL"}}', p.ErrorCode.UNKNOWN_CHANNEL),
        ('{"type":"subscribe","data":{"channel":7,"symbol":"AAPL"}}', p.ErrorCode.UNKNOWN_CHANNEL),
        ('{"type":"subscribe","data":{"channel":"market_data"}}', p.ErrorCode.INVALID_SYMBOL),
        ('{"type":"subscribe","symbol":"A$PL"}', p.ErrorCode.INVALID_SYMBOL),
        ('{"type":"subscribe","symbol":".AAPL"}', p.ErrorCode.INVALID_SYMBOL),
        ('{"type":"subscribe","symbol":"ABCDEFGHIJKLMNOPQRSTU"}', p.ErrorCode.INVALID_SYMBOL),
        ('{"type":"subscribe","symbol":123}', p.ErrorCode.INVALID_SYMBOL),
        ('{"type":"subscribe","data":{"channel":"candles","symbol":"AAPL","timeframe":"2m"}}',
         p.ErrorCode.INVALID_TIMEFRAME),
        ('{"type":"subscribe","data":{"channel":"candles","symbol":"AAPL","timeframe":1}}',
         p.ErrorCode.INVALID_TIMEFRAME),
        ('{"type":"request","data":{}}', p.ErrorCode.UNKNOWN_TYPE),
        ('{"type":"request"}', p.ErrorCode.UNKNOWN_TYPE),
        ('{"type":"request","data":{"action":"launch"}}', p.ErrorCode.UNKNOWN_TYPE),
        ('{"type":"request","data":"agent_status"}', p.ErrorCode.UNKNOWN_TYPE),
    ],
)
def test_decode_malformed_messages(raw: str, code: p.ErrorCode) -> None:
    result = p.decode_client_message(raw)
    assert isinstance(result, p.ProtocolError)
    assert result.code is code
    assert result.message


# docs/protocol.md: "`error` {code, message} with code one of ..." — the wire never carries another code.
CONTRACT_CODES = {"invalid_json", "unknown_type", "unknown_channel", "invalid_symbol", "invalid_timeframe",
                  "too_many_subscriptions", "rate_limited"}


def test_error_codes_are_exactly_the_contract() -> None:
    assert {c.value for c in p.ErrorCode} == CONTRACT_CODES


@pytest.mark.parametrize(("raw", "words"), [
    ("[1,2]", ("JSON object", "an array")),
    ('{"type":5}', ("subscribe", "unsubscribe", "ping", "request", "auth")),
    ('{"type":"request","data":{"action":"launch"}}', ("'launch'", "agent_status")),
    ('{"type":"request"}', ("data.action", "agent_status")),
    ('{"type":"subscribe","data":"AAPL"}', ("'data'", "object")),
    ('{"type":"subscribe"}', ("data.channel", "market_data", "symbol")),
])
def test_error_messages_say_what_is_expected(raw: str, words: tuple[str, ...]) -> None:
    result = p.decode_client_message(raw)
    assert isinstance(result, p.ProtocolError)
    for word in words:
        assert word in result.message


@pytest.mark.parametrize(("value", "expected"), [
    (None, False), ("", False), ("0", False), ("no", False), ("false", False), ("2", False),
    ("1", True), ("true", True), ("TRUE", True), ("yes", True), ("on", True),
])
def test_query_flag(value: str | None, expected: bool) -> None:
    assert p.query_flag(value) is expected


def test_whole_if_integral() -> None:
    assert p.whole_if_integral(30.0) == 30 and isinstance(p.whole_if_integral(30.0), int)
    assert p.whole_if_integral(0.5) == 0.5


def test_envelope_with_seq_and_batch() -> None:
    body = p.encode_envelope(p.MessageType.PONG, {}, timestamp=1_705_314_600.123)
    first = orjson.loads(p.with_seq(body, 1))
    assert first == {"seq": 1, "type": "pong", "timestamp": "2024-01-15T10:30:00.123Z", "data": {}}
    second = orjson.loads(p.with_seq(body, 42))
    assert second["seq"] == 42 and second["type"] == "pong"
    frame = orjson.loads(p.batch_frame([p.with_seq(body, 3), p.with_seq(body, 4)]))
    assert frame["type"] == "batch"
    assert [m["seq"] for m in frame["data"]] == [3, 4]


def test_channel_is_added_to_messages_that_belong_to_one() -> None:
    candle = Candle(1_705_314_600, 1.0, 2.0, 0.5, 1.5, 10.0)
    body = p.encode_envelope(p.MessageType.CANDLE_UPDATE, p.candle_update("AAPL", Timeframe.M5, candle),
                             p.Channel.CANDLES, 1_705_314_601.0)
    message = orjson.loads(p.with_seq(body, 1))
    assert message["channel"] == "candles"
    assert message["data"] == {
        "symbol": "AAPL", "timeframe": "5m",
        "candle": {"time": 1_705_314_600, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 10.0},
    }


def test_market_data_shape_and_nan_becomes_null() -> None:
    quote = Quote("AAPL", 101.0, 100.9, 101.1, 5000.0, 100.0, 1_705_314_600.0, "sim")
    data = p.market_data(quote)
    assert set(data) >= {"symbol", "price", "bid", "ask", "spread", "volume", "change", "change_percent"}
    assert data["change"] == pytest.approx(1.0)
    assert data["change_percent"] == pytest.approx(1.0)
    assert data["spread"] == pytest.approx(0.2)
    broken = Quote("AAPL", 101.0, math.nan, None, 5000.0, None, 1_705_314_600.0, "sim")
    encoded = orjson.loads(p.encode_envelope(p.MessageType.MARKET_DATA, p.market_data(broken)))
    assert encoded["data"]["bid"] is None and encoded["data"]["ask"] is None and encoded["data"]["change"] is None


def test_iso_ms() -> None:
    assert p.iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert p.iso_ms(1_705_314_600.1239) == "2024-01-15T10:30:00.123Z"


def test_flat_dialect_messages() -> None:
    quote = Quote("AAPL", 101.0, 100.9, 101.1, 5000.0, 100.0, 1_705_314_600.0, "sim")
    assert orjson.loads(p.flat_price(quote)) == {"type": "price", "symbol": "AAPL", "price": 101.0,
                                                 "volume": 5000.0, "timestamp": "2024-01-15T10:30:00.000Z"}
    event = p.ChannelEvent(p.Channel.SIGNALS, p.MessageType.SIGNAL, "AAPL",
                           {"side": "SELL", "confidence": 0.6}, 1_705_314_600.5)
    assert orjson.loads(p.flat_signal(event)) == {"type": "signal", "symbol": "AAPL", "action": "SELL",
                                                  "confidence": 0.6, "timestamp": "2024-01-15T10:30:00.500Z"}
    candle = Candle(1_705_314_600, 1.0, 2.0, 0.5, 1.5, 10.0)
    full = orjson.loads(p.flat_candle(p.MessageType.FULL_UPDATE, "AAPL", Timeframe.M1, candle, 1_705_314_660.0,
                                      {"pivot_points": [], "fvg_zones": [], "break_signals": []}))
    assert full["type"] == "full_update" and full["timeframe"] == "1m" and full["candle"]["close"] == 1.5
    assert full["signals"] == {"pivot_points": [], "fvg_zones": [], "break_signals": []}
    assert "seq" not in full and full["timestamp"] == "2024-01-15T10:31:00.000Z"
    update = orjson.loads(p.flat_candle(p.MessageType.CANDLE_UPDATE, "AAPL", Timeframe.M1, candle, 1_705_314_601.0))
    assert update["type"] == "candle_update" and "signals" not in update


@pytest.mark.parametrize(("size", "header"), [(5, b"\x81\x05"), (125, b"\x81\x7d"), (126, b"\x81\x7e\x00\x7e"),
                                              (65_535, b"\x81\x7e\xff\xff"),
                                              (65_536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00")])
def test_text_frame_headers(size: int, header: bytes) -> None:
    payload = b"x" * size
    frame = p.text_frame(payload)
    assert frame == header + payload
