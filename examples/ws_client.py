"""A small real Tickstream WebSocket client: subscribes, prints, checks seq and reconnects with backoff.

    python examples/ws_client.py --url ws://127.0.0.1:8000/ws --symbol AAPL --timeframe 1m [--count 20]

Needs only ``simple-websocket``, which the server itself runs on: after ``pip install -r requirements.txt`` there is
nothing more to install (on its own: ``pip install simple-websocket``).

Reconnecting: after any end of a connection (refused, dropped, or closed by the server) the client waits 0.5 s,
1 s, 2 s … up to 30 s (with jitter) before the next attempt. The delay starts again from 0.5 s only after a
connection has stayed up for a good minute, so a server that accepts and at once closes is not hammered.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
import threading
import time
from typing import Any

import simple_websocket
from wsproto.utilities import ProtocolError

# A connection that lasted this long was a good one: the next reconnect starts the backoff from the beginning.
GOOD_CONNECTION_SECONDS = 60.0
# What a failed connect raises: refused or unreachable (OSError), an HTTP answer instead of the upgrade
# (simple-websocket's ConnectionError, with the status), a peer that hangs up during the handshake (ProtocolError).
CONNECT_ERRORS = (OSError, simple_websocket.errors.SimpleWebsocketError, ProtocolError)
# The close code of a connection that ended without a close frame (RFC 6455 §7.1.5).
NO_STATUS = 1005
# simple-websocket reads on a thread of its own; a daemon thread never keeps the program alive after Ctrl-C.
DAEMON_THREAD = functools.partial(threading.Thread, daemon=True)


class Client(simple_websocket.Client):
    """simple-websocket's client, also reading the frames that came in with the handshake answer.

    simple-websocket 1.1 reads the handshake answer and starts its reader thread, which waits for more data before
    it looks at what wsproto already holds. A server that answers the upgrade and closes at once (a refused URL)
    sends its close frame in that same read: without this the close code would be lost.
    """

    def _thread(self) -> None:
        self.connected = self._handle_events()
        super()._thread()


def subscriptions(symbol: str, timeframe: str) -> list[dict[str, object]]:
    return [
        {"type": "subscribe", "data": {"channel": "market_data", "symbol": symbol}},
        {"type": "subscribe", "data": {"channel": "candles", "symbol": symbol, "timeframe": timeframe}},
        {"type": "subscribe", "data": {"channel": "signals", "symbol": symbol}},
    ]


def messages(frame: str | bytes) -> list[dict[str, Any]]:
    """Unwrap a frame: a single message, or a batch of them (?batch=1). ValueError if it is not a message."""
    message = json.loads(frame)
    if not isinstance(message, dict):
        raise ValueError("not a JSON object")
    items = message["data"] if message.get("type") == "batch" else [message]
    return [m for m in items if isinstance(m, dict)]


def _number(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else str(value)


def describe(message: dict[str, Any]) -> str | None:
    """One printable line for the messages this client shows; None for the others (acks, pongs, unknown types)."""
    kind = message.get("type")
    data = message.get("data")
    if not isinstance(data, dict):
        return None
    if kind == "market_data":
        return f"{data.get('symbol'):>8} {data.get('price'):>12} bid {data.get('bid')} ask {data.get('ask')}"
    if kind in ("candle_update", "full_update"):
        c = data.get("candle") or {}
        if data.get("snapshot"):
            mark = "snapshot"  # the state right after subscribing, not a candle that just closed
        elif kind == "full_update":
            mark = "closed  "
        else:
            mark = "        "
        prices = f"O {c.get('open')} H {c.get('high')} L {c.get('low')} C {c.get('close')}"
        return f"{data.get('symbol'):>8} {data.get('timeframe'):>3} {mark} {prices}"
    if kind == "signal":
        # signal_type is the action (BUY, SELL, HOLD); confidence and strength are numbers in [0, 1].
        return (f"{data.get('symbol'):>8} SIGNAL {data.get('signal_type')} confidence "
                f"{_number(data.get('confidence'))} strength {_number(data.get('strength'))} "
                f"({data.get('timeframe')})")
    if kind == "error":
        return f"error {data.get('code')}: {data.get('message')}"
    return None


def close_reason(code: int | None, message: str | None) -> str:
    """``1008 invalid symbol`` for a close frame; ``no close frame`` when the connection just ended."""
    if code is None or int(code) == NO_STATUS:
        return "no close frame"
    return f"{int(code)} {message or ''}".strip()


def stream(ws: Client, symbol: str, timeframe: str, count: int | None,
           printed: int) -> tuple[int, str]:
    """Subscribe and print until ``count`` lines were printed or the connection ends; returns the new number of
    printed lines and why the connection ended."""
    last_seq = 0
    try:
        for message in subscriptions(symbol, timeframe):
            ws.send(json.dumps(message))
        while count is None or printed < count:
            payload = ws.receive()
            if not isinstance(payload, str):
                continue  # a binary frame is not part of the protocol
            try:
                batch = messages(payload)
            except (ValueError, KeyError):
                print(f"ignoring a frame that is not a message: {payload[:80]!r}", file=sys.stderr)
                continue
            for message in batch:
                seq = message.get("seq")
                if isinstance(seq, int):
                    if last_seq and seq != last_seq + 1:
                        print(f"missed {seq - last_seq - 1} messages; resubscribing", file=sys.stderr)
                        for sub in subscriptions(symbol, timeframe):
                            ws.send(json.dumps(sub))
                    last_seq = seq
                line = describe(message)
                if line:
                    print(line, flush=True)
                    printed += 1
                    if count is not None and printed >= count:
                        break
    except simple_websocket.ConnectionClosed as exc:
        reason = close_reason(exc.reason, exc.message)
        if reason == "no close frame":
            return printed, "connection lost (no close frame)"
        return printed, f"server closed the connection ({reason})"
    return printed, "done"


def backoff(attempt: int) -> float:
    """0.5 s, 1 s, 2 s … capped at 30 s, each ±25 % so that many clients do not come back at the same instant."""
    return min(30.0, 0.5 * 2**attempt) * random.uniform(0.75, 1.25)


def run(url: str, symbol: str, timeframe: str, count: int | None, max_reconnects: int | None = None) -> int:
    """Stream until ``count`` messages were printed (or forever); reconnect with backoff whenever the connection
    ends. With ``max_reconnects``, give up (exit status 1) after that many reconnects."""
    printed = 0
    attempt = 0
    reconnects = 0
    while True:
        try:
            ws = Client.connect(url, thread_class=DAEMON_THREAD)
        except CONNECT_ERRORS as exc:
            reason, verb = f"connect failed ({exc})", "retrying"
        else:
            connected_at = time.monotonic()
            try:
                printed, reason = stream(ws, symbol, timeframe, count, printed)
            except OSError as exc:
                reason = f"connection lost ({exc})"
            finally:
                try:
                    ws.close()
                except (simple_websocket.errors.SimpleWebsocketError, OSError):
                    pass  # already closed, by the server or the network
            if count is not None and printed >= count:
                return 0
            verb = "reconnecting"
            if time.monotonic() - connected_at >= GOOD_CONNECTION_SECONDS:
                attempt = 0
        if max_reconnects is not None and reconnects >= max_reconnects:
            print(f"{reason}; giving up after {reconnects} reconnects", file=sys.stderr)
            return 1
        delay = backoff(attempt)
        attempt += 1
        reconnects += 1
        print(f"{reason}; {verb} in {delay:.1f} s", file=sys.stderr)
        time.sleep(delay)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8000/ws")
    parser.add_argument("--symbol", default="AAPL")
    parser.add_argument("--timeframe", default="1m")
    parser.add_argument("--count", type=int, default=None, help="stop after this many printed messages")
    parser.add_argument("--max-reconnects", type=int, default=None,
                        help="give up (exit status 1) after this many reconnects")
    args = parser.parse_args()
    try:
        return run(args.url, args.symbol, args.timeframe, args.count, args.max_reconnects)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
