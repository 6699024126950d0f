"""A small real Tickstream WebSocket client: subscribes, prints, checks seq and reconnects with backoff.

    python examples/ws_client.py --url ws://127.0.0.1:8000/ws --symbol AAPL --timeframe 1m [--count 20]

Needs only ``websocket-client`` (pip install websocket-client).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

import websocket


def subscriptions(symbol: str, timeframe: str) -> list[dict[str, object]]:
    return [
        {"type": "subscribe", "data": {"channel": "market_data", "symbol": symbol}},
        {"type": "subscribe", "data": {"channel": "candles", "symbol": symbol, "timeframe": timeframe}},
        {"type": "subscribe", "data": {"channel": "signals", "symbol": symbol}},
    ]


def messages(frame: str) -> list[dict[str, object]]:
    """Unwrap a frame: a single message, or a batch of them (?batch=1)."""
    message = json.loads(frame)
    return message["data"] if message.get("type") == "batch" else [message]


def describe(message: dict[str, object]) -> str | None:
    kind = message["type"]
    data = message.get("data") or {}
    assert isinstance(data, dict)
    if kind == "market_data":
        return f"{data['symbol']:>8} {data['price']:>12} bid {data['bid']} ask {data['ask']}"
    if kind in ("candle_update", "full_update"):
        c = data["candle"]
        mark = "closed" if kind == "full_update" else "      "
        prices = f"O {c['open']} H {c['high']} L {c['low']} C {c['close']}"
        return f"{data['symbol']:>8} {data['timeframe']:>3} {mark} {prices}"
    if kind == "signal":
        return f"{data['symbol']:>8} SIGNAL {data['side']} {data['confidence']:.2f} ({data['timeframe']})"
    if kind == "error":
        return f"error {data['code']}: {data['message']}"
    return None


def run(url: str, symbol: str, timeframe: str, count: int | None) -> int:
    """Stream until ``count`` messages were printed (or forever); reconnect with backoff when the link drops."""
    printed = 0
    attempt = 0
    while count is None or printed < count:
        try:
            ws = websocket.create_connection(url, timeout=60)
        except OSError as exc:
            delay = min(30.0, 0.5 * 2**attempt) * random.uniform(0.75, 1.25)
            attempt += 1
            print(f"connect failed ({exc}); retrying in {delay:.1f} s", file=sys.stderr)
            time.sleep(delay)
            continue
        attempt = 0
        last_seq = 0
        try:
            for message in subscriptions(symbol, timeframe):
                ws.send(json.dumps(message))
            while count is None or printed < count:
                for message in messages(ws.recv()):
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
        except (websocket.WebSocketException, OSError) as exc:
            print(f"connection lost ({exc}); reconnecting", file=sys.stderr)
        finally:
            ws.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="ws://127.0.0.1:8000/ws")
    parser.add_argument("--symbol", default="AAPL")
    parser.add_argument("--timeframe", default="1m")
    parser.add_argument("--count", type=int, default=None, help="stop after this many printed messages")
    args = parser.parse_args()
    return run(args.url, args.symbol, args.timeframe, args.count)


if __name__ == "__main__":
    sys.exit(main())
