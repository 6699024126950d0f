"""Soak: ten minutes of mixed load on ``python app.py``; memory growth, messages lost and the longest tick gap.

Usage: python bench/soak.py [--seconds 600] [--clients 50] [--interval 0.1]   (not part of the test suite)

Load, all at once: ``--clients`` WebSocket clients (four in five watch the start-up symbols' prices and 1-minute
candles; the others cycle symbols in and out: each subscribes a few new tickers, holds them a while, unsubscribes,
and takes others), and a burst of REST requests (quotes, history, signals) every few seconds. Measured: the server's
RSS after warm-up (the first fifth of the run, at least 30 s) and at the end, messages lost (gaps in ``seq`` seen
by the envelope clients), and the longest gap between two price ticks of one symbol seen by a watcher. Targets:
RSS growth < 5 % after warm-up, 0 lost.

Peer, same run: the RSS growth of the same server left idle for the same time with one client, so growth that any
long-running Python process shows (allocator, caches warming) is told apart from growth that comes with the load.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from pathlib import Path

import requests
import websocket

# Run as a script (python bench/soak.py), this folder is sys.path[0]: the shared helpers import by name.
from _support import clean_env, free_port, start_app, stop

START_SYMBOLS = ("AAPL", "MSFT", "GC=F", "BTC-USD", "^GSPC")
# Real tickers the cyclers take in and out (all in the simulated market's universe).
CYCLE_SYMBOLS = ("AMZN", "GOOGL", "META", "NVDA", "TSLA", "JPM", "V", "JNJ", "WMT", "PG", "MA", "HD", "DIS", "KO",
                 "PEP", "CSCO", "INTC", "ORCL", "CRM", "ADBE", "NFLX", "AMD", "QCOM", "TXN", "IBM", "BA", "CAT",
                 "GE", "MMM", "NKE", "MCD", "SBUX", "T", "VZ", "XOM", "CVX", "PFE", "MRK", "ABT", "TMO", "UNH",
                 "LLY", "COST", "LOW", "GS", "MS", "C", "BAC", "WFC", "SPY")
SYMBOLS_PER_CYCLER = 4


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit("no VmRSS")


class Client(threading.Thread):
    """One envelope client on its own thread: counts seq gaps, and (watchers) the longest gap between ticks."""

    def __init__(self, url: str, stop_at: float, cycler: bool, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.url, self.stop_at, self.cycler, self.rng = url, stop_at, cycler, rng
        self.lost = 0
        self.messages = 0
        self.errors: list[str] = []
        self.max_tick_gap = 0.0
        self._last_tick: dict[str, float] = {}

    def run(self) -> None:
        try:
            ws = websocket.create_connection(self.url, timeout=10)
        except Exception as exc:
            self.errors.append(f"connect: {exc}")
            return
        last_seq = 0
        held: list[str] = []
        next_cycle = time.monotonic()
        if not self.cycler:
            for symbol in START_SYMBOLS:
                ws.send(json.dumps({"type": "subscribe", "channel": "market_data", "symbol": symbol}))
            ws.send(json.dumps({"type": "subscribe", "channel": "candles", "symbol": "AAPL", "timeframe": "1m"}))
        ws.settimeout(1.0)
        while time.monotonic() < self.stop_at:
            if self.cycler and time.monotonic() >= next_cycle:
                for symbol in held:
                    ws.send(json.dumps({"type": "unsubscribe", "channel": "market_data", "symbol": symbol}))
                held = self.rng.sample(CYCLE_SYMBOLS, SYMBOLS_PER_CYCLER)
                for symbol in held:
                    ws.send(json.dumps({"type": "subscribe", "channel": "market_data", "symbol": symbol}))
                next_cycle = time.monotonic() + self.rng.uniform(5, 15)
            try:
                frame = json.loads(ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            except Exception as exc:
                self.errors.append(f"recv: {exc}")
                return
            for message in frame["data"] if frame.get("type") == "batch" else [frame]:
                self.messages += 1
                seq = message.get("seq", 0)
                if last_seq and seq > last_seq + 1:
                    self.lost += seq - last_seq - 1
                last_seq = seq
                if message["type"] == "error" and message["data"]["code"] not in ("too_many_subscriptions",):
                    self.errors.append(str(message["data"]))
                if message["type"] == "market_data" and not self.cycler:
                    symbol, now = message["data"]["symbol"], time.monotonic()
                    previous = self._last_tick.get(symbol)
                    if previous is not None:
                        self.max_tick_gap = max(self.max_tick_gap, now - previous)
                    self._last_tick[symbol] = now
        ws.close()


def rest_bursts(base: str, stop_at: float, rng: random.Random, counts: dict[str, int]) -> None:
    session = requests.Session()
    paths = ["/api/v1/market-data/{s}", "/api/v1/market-data/{s}/history?period=1d&interval=1m",
             "/api/v1/signals/symbol/{s}?limit=20", "/health"]
    while time.monotonic() < stop_at:
        for _ in range(50):
            path = rng.choice(paths).format(s=rng.choice(START_SYMBOLS + CYCLE_SYMBOLS[:10]))
            try:
                status = session.get(base + path, timeout=10).status_code
            except requests.RequestException:
                status = 0
            key = "ok" if status == 200 else f"http_{status}"
            counts[key] = counts.get(key, 0) + 1
        time.sleep(3)


def run_server(seconds: float, clients: int, interval: float, loaded: bool) -> dict[str, float]:
    port = free_port()
    data = tempfile.mkdtemp(prefix="soak-")
    env = clean_env(TICKSTREAM_SYMBOLS=",".join(START_SYMBOLS), TICKSTREAM_UPDATE_INTERVAL=str(interval),
                    TICKSTREAM_DATA_DIR=data)
    proc = start_app(port, env=env)
    rng = random.Random(7)
    try:
        stop_at = time.monotonic() + seconds
        url = f"ws://127.0.0.1:{port}/ws"
        count = clients if loaded else 1
        threads = [Client(url, stop_at, cycler=loaded and i % 5 == 4, rng=random.Random(i)) for i in range(count)]
        for thread in threads:
            thread.start()
        counts: dict[str, int] = {}
        if loaded:
            threading.Thread(target=rest_bursts, args=(f"http://127.0.0.1:{port}", stop_at, rng, counts),
                             daemon=True).start()
        warm_up = max(30.0, seconds / 5)
        time.sleep(warm_up)
        rss_warm = rss_kb(proc.pid)
        samples = [rss_warm]
        while time.monotonic() < stop_at:
            time.sleep(min(10.0, max(0.0, stop_at - time.monotonic())))
            samples.append(rss_kb(proc.pid))
        for thread in threads:
            thread.join(15)
        rss_end = rss_kb(proc.pid)
        return {
            "rss_warm_mb": round(rss_warm / 1024, 1),
            "rss_end_mb": round(rss_end / 1024, 1),
            "rss_peak_mb": round(max(samples) / 1024, 1),
            "rss_growth_pct": round(100 * (rss_end - rss_warm) / rss_warm, 2),
            "messages": sum(t.messages for t in threads),
            "lost": sum(t.lost for t in threads),
            "max_tick_gap_ms": round(1000 * max((t.max_tick_gap for t in threads), default=0.0), 1),
            "client_errors": sum(len(t.errors) for t in threads),
            "rest_ok": counts.get("ok", 0),
            "rest_other": sum(v for k, v in counts.items() if k != "ok"),
        }
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.1)
    args = parser.parse_args()
    print(f"soak: {args.clients} clients, {args.seconds:g} s, ticks every {args.interval:g} s (python app.py)")
    ours = run_server(args.seconds, args.clients, args.interval, loaded=True)
    print(f"  loaded: RSS {ours['rss_warm_mb']} MB after warm-up -> {ours['rss_end_mb']} MB at the end "
          f"({ours['rss_growth_pct']:+.2f} %, peak {ours['rss_peak_mb']} MB); {ours['messages']} messages, "
          f"{ours['lost']} lost; longest tick gap {ours['max_tick_gap_ms']} ms; REST {ours['rest_ok']} ok, "
          f"{ours['rest_other']} other; {ours['client_errors']} client errors")
    peer = run_server(args.seconds, args.clients, args.interval, loaded=False)
    print(f"  idle (peer): RSS {peer['rss_warm_mb']} MB -> {peer['rss_end_mb']} MB ({peer['rss_growth_pct']:+.2f} %)")
    print(json.dumps({**ours, "peer": {"rss_growth_pct": peer["rss_growth_pct"], "rss_end_mb": peer["rss_end_mb"]},
                      "targets": {"rss_growth_pct": 5, "lost": 0}}))


if __name__ == "__main__":
    main()
