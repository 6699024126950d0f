"""Benchmark: does the feed keep its interval with 200 symbols? Tick gaps at --interval 0.1 vs the same feed with 5.

Usage: python bench/feed_capacity.py [--symbols 200] [--interval 0.1] [--seconds 70] [--warmup 900]

The app runs the simulated market with ``--symbols`` start-up symbols (real tickers of the shipped universe) at
``--interval``. A WebSocket client subscribes to the ``ticks`` of five of them and records, per symbol, the gap
between the timestamps of consecutive ticks: the feed stamps each tick when it samples the symbol in an iteration,
so the gaps are the feed's iteration spacing, whatever the delivery does. Two phases: while the signal trackers are
being seeded (``warmup``: until /ws/status counts one per symbol and timeframe, or ``--warmup`` seconds), then
``--seconds`` of steady state, long enough to take in a minute's edge where every 1-minute tracker recomputes.
Peer, same run, one after the other: the same feed with 5 symbols. Target: steady p99 gap under two intervals.

The last line printed is one JSON object; ``p99_tick_gap_ms`` is the steady state with ``--symbols`` symbols.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from datetime import datetime

import requests
import websocket

# Run as a script (python bench/feed_capacity.py), this folder is sys.path[0]: the shared helpers import by name.
from _support import clean_env, free_port, start_app, stop

from feeds.universe import first_symbols

# Real tickers, so the simulated market's symbol universe knows them.
TICKERS = first_symbols(200)
TIMEFRAMES = 7
WATCHED = 5


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def parse_time(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class TickWatcher:
    """Reads the ticks of a few symbols on a thread; gaps (ms) between a symbol's consecutive ticks, by phase."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=10)
        self.phase = "warmup"
        self.gaps: dict[str, list[float]] = {"warmup": [], "steady": []}
        self.ticks: dict[str, int] = {"warmup": 0, "steady": 0}
        self._last: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self.ws.recv()
            except (websocket.WebSocketException, OSError):
                return
            if not raw:  # the connection closed
                return
            frame = json.loads(raw)
            for message in frame["data"] if frame.get("type") == "batch" else [frame]:
                if message.get("type") != "tick":
                    continue
                symbol, at = message["data"]["symbol"], parse_time(message["timestamp"])
                phase = self.phase
                previous = self._last.get(symbol)
                self._last[symbol] = at
                self.ticks[phase] += 1
                if previous is not None:
                    self.gaps[phase].append((at - previous) * 1000)

    def close(self) -> None:
        self._stop.set()
        self.ws.close()
        self._thread.join(5)


def summary(gaps: list[float], ticks: int, seconds: float) -> dict[str, float]:
    return {
        "p50_tick_gap_ms": round(percentile(gaps, 0.5), 1),
        "p99_tick_gap_ms": round(percentile(gaps, 0.99), 1),
        "max_tick_gap_ms": round(max(gaps), 1) if gaps else float("nan"),
        "ticks_per_s_per_symbol": round(ticks / WATCHED / seconds, 2) if seconds else 0.0,
    }


def measure(symbols: tuple[str, ...], interval: float, seconds: float, warmup: float) -> dict[str, object]:
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        app = start_app(port, "--interval", str(interval), "--symbols", ",".join(symbols), "--data-dir", data_dir,
                        env=clean_env(TICKSTREAM_SIM_ANY_SYMBOL="1"))
        try:
            step = max(1, len(symbols) // WATCHED)
            watched = symbols[::step][:WATCHED]
            query = "&".join(f"subscribe=ticks:{s}" for s in watched)
            watcher = TickWatcher(f"ws://127.0.0.1:{port}/ws?{query}")
            started = time.monotonic()
            trackers = 0
            while time.monotonic() - started < warmup:
                trackers = requests.get(f"http://127.0.0.1:{port}/ws/status", timeout=30).json()["active_trackers"]
                if trackers >= len(symbols) * TIMEFRAMES:
                    break
                time.sleep(2)
            warmup_seconds = time.monotonic() - started
            watcher.phase = "steady"
            time.sleep(seconds)
            watcher.close()
        finally:
            stop(app)
    result: dict[str, object] = summary(watcher.gaps["steady"], watcher.ticks["steady"], seconds)
    warm = summary(watcher.gaps["warmup"], watcher.ticks["warmup"], warmup_seconds)
    result.update({f"seeding_{key}": value for key, value in warm.items()})
    result.update({"symbols": len(symbols), "watched": list(watched), "trackers": trackers,
                   "seeding_seconds": round(warmup_seconds, 1)})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--seconds", type=float, default=70)
    parser.add_argument("--warmup", type=float, default=900)
    args = parser.parse_args()
    if not WATCHED <= args.symbols <= len(TICKERS):
        parser.error(f"--symbols must be in {WATCHED}..{len(TICKERS)}")
    ours = measure(TICKERS[:args.symbols], args.interval, args.seconds, args.warmup)
    peer = measure(TICKERS[:WATCHED], args.interval, args.seconds, args.warmup)
    interval_ms = args.interval * 1000
    for label, result in ((f"{args.symbols} symbols", ours), (f"{WATCHED} symbols (peer)", peer)):
        print(f"{label} at {interval_ms:g} ms: steady tick gap p50 {result['p50_tick_gap_ms']} ms, "
              f"p99 {result['p99_tick_gap_ms']} ms, max {result['max_tick_gap_ms']} ms, "
              f"{result['ticks_per_s_per_symbol']} ticks/s per symbol; while {result['trackers']} trackers seeded "
              f"({result['seeding_seconds']} s): p99 {result['seeding_p99_tick_gap_ms']} ms, "
              f"max {result['seeding_max_tick_gap_ms']} ms")
    target = 2 * interval_ms
    verdict = "keeps" if float(ours["p99_tick_gap_ms"]) < target else "does NOT keep"  # type: ignore[arg-type]
    print(f"target p99 < {target:g} ms (two intervals): the feed {verdict} its interval with {args.symbols} symbols")
    print(json.dumps({**ours, "peer": peer, "interval_ms": interval_ms}))


if __name__ == "__main__":
    main()
