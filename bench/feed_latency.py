"""Benchmark: ticks/s through feed → bus → one WebSocket client, and tick-to-browser latency of the chart page.

Usage: python bench/feed_latency.py [--seconds 10] [--rate 20]

1. Throughput: the app runs its feed as fast as it can (interval 10 µs) on one symbol; one client subscribed
   to its ``ticks``
   channel counts messages per second. Peer, same run: a bare flask-sock route on the same Werkzeug server type
   that sends a pre-encoded tick as fast as it can (the transport's ceiling).
2. Latency at ``--rate`` ticks/s: the chart page in headless Chromium records, for every candle message, the time
   from the tick to the redraw that shows it. Peer, same run: a plain Python WebSocket client on the same server
   and stream, unbatched (tick to client, no browser).

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import requests
import websocket

# Run as a script (python bench/feed_latency.py), this folder is sys.path[0]: the shared helpers import by name.
from _support import free_port, start_app, stop, wait_port


def start_feed_app(port: int, interval: float, symbols: str, data_dir: str) -> subprocess.Popen[bytes]:
    return start_app(port, "--interval", str(interval), "--symbols", symbols, "--data-dir", data_dir)


def count_messages(url: str, seconds: float, subscribe: str | None) -> tuple[float, int]:
    ws = websocket.create_connection(url, timeout=10)
    if subscribe:
        ws.send(subscribe)
    # Let the stream settle, then count.
    settle = time.monotonic() + 1.0
    while time.monotonic() < settle:
        ws.recv()
    count = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        frame = json.loads(ws.recv())
        count += len(frame["data"]) if frame.get("type") == "batch" else 1
    elapsed = time.monotonic() - started
    ws.close()
    return count / elapsed, count


PEER_SERVER = r'''
import sys, orjson, time
from flask import Flask
from flask_sock import Sock
app = Flask(__name__)
sock = Sock(app)
tick = orjson.dumps({"seq": 1, "type": "tick", "timestamp": "2024-01-15T10:30:00.123Z", "channel": "ticks",
                     "data": {"symbol": "AAPL", "bid": 189.99, "ask": 190.01, "spread": 0.02, "price": 190.0,
                              "volume": 1200.0}}).decode()
@sock.route("/ws")
def feed(ws):
    ws.receive()
    while True:
        ws.send(tick)
app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
'''


def throughput(seconds: float, data_dir: str) -> dict[str, float]:
    port = free_port()
    app = start_feed_app(port, 0.00001, "AAPL", data_dir)
    try:
        ours, _ = count_messages(f"ws://127.0.0.1:{port}/ws", seconds,
                                 json.dumps({"type": "subscribe", "data": {"channel": "ticks", "symbol": "AAPL"}}))
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics/live-data", timeout=5).json()
    finally:
        stop(app)
    peer_port = free_port()
    peer = subprocess.Popen([sys.executable, "-c", PEER_SERVER, str(peer_port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(peer_port, peer, timeout=20)
        peer_rate, _ = count_messages(f"ws://127.0.0.1:{peer_port}/ws", seconds, "go")
    finally:
        stop(peer)
    return {"ticks_per_s": round(ours, 1), "peer_ticks_per_s": round(peer_rate, 1),
            "throughput_ratio": round(ours / peer_rate, 3) if peer_rate else 0.0,
            "dropped": metrics["websocket"]["messages_dropped"]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def python_client_latency(url: str, seconds: float, out: list[float]) -> None:
    ws = websocket.create_connection(url, timeout=10)
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        frame = json.loads(ws.recv())
        for message in frame["data"] if frame.get("type") == "batch" else [frame]:
            if message["type"] == "candle_update":
                sent = time.mktime(time.strptime(message["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
                sent += int(message["timestamp"][20:23]) / 1000
                out.append((time.time() - sent) * 1000)
    ws.close()


def browser_latency(seconds: float, rate: float, data_dir: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    app = start_feed_app(port, 1 / rate, "AAPL", data_dir)
    peer: list[float] = []
    try:
        peer_thread = threading.Thread(
            target=python_client_latency,
            args=(f"ws://127.0.0.1:{port}/ws?subscribe=candles:AAPL:1m", seconds + 3, peer),
        )
        peer_thread.start()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"http://127.0.0.1:{port}/chart/AAPL")
            page.wait_for_function("window.tickstream && window.tickstream.stats.applied > 0", timeout=30_000)
            page.evaluate("window.tickstream.stats.latencies.length = 0")
            page.wait_for_timeout(seconds * 1000)
            latencies = page.evaluate("window.tickstream.stats.latencies.slice()")
            stats = page.evaluate("Object.assign({}, window.tickstream.stats, {latencies: undefined})")
            browser.close()
        peer_thread.join()
    finally:
        stop(app)
    return {
        "browser_p50_ms": round(percentile(latencies, 0.5), 1),
        "browser_p99_ms": round(percentile(latencies, 0.99), 1),
        "browser_samples": len(latencies),
        "browser_gaps": stats["gaps"],
        "browser_duplicates": stats["duplicates"],
        "peer_client_p50_ms": round(percentile(peer, 0.5), 1),
        "peer_client_p99_ms": round(percentile(peer, 0.99), 1),
        "rate_ticks_per_s": rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        result = throughput(args.seconds, data_dir)
        print(f"feed → bus → 1 WebSocket client: {result['ticks_per_s']:,.0f} ticks/s "
              f"(bare flask-sock sender: {result['peer_ticks_per_s']:,.0f} msg/s, ratio {result['throughput_ratio']})")
        result.update(browser_latency(args.seconds, args.rate, data_dir))
    print(f"tick → chart redraw at {args.rate:g} ticks/s: p50 {result['browser_p50_ms']} ms, "
          f"p99 {result['browser_p99_ms']} ms over {result['browser_samples']} updates "
          f"(gaps {result['browser_gaps']}, duplicates {result['browser_duplicates']})")
    print(f"tick → plain Python client, same server: p50 {result['peer_client_p50_ms']} ms, "
          f"p99 {result['peer_client_p99_ms']} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
