"""Memory per symbol cycle: subscribe N new symbols over WebSocket (and quote N more over REST), release them, repeat.

Runs the app in this process with tracemalloc on and prints, after each cycle, the RSS and the allocation sites that
grew most since the previous cycle, so what really grows is named by file and line. Not part of CI.

    python bench/memory_cycles.py --cycles 4 --symbols 195 --rest 195
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import websocket  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from settings import load_settings  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _drain(ws: websocket.WebSocket) -> None:
    try:
        while ws.recv():
            pass
    except Exception:  # the connection closed: the cycle is over
        return


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=4)
    parser.add_argument("--symbols", type=int, default=195)
    parser.add_argument("--rest", type=int, default=0, help="distinct symbols quoted over REST per cycle")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds the symbols stay subscribed")
    parser.add_argument("--frames", type=int, default=1,
                        help="traceback depth of the tracemalloc diff; 0: no tracemalloc (RSS alone)")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if args.frames:
        tracemalloc.start(args.frames)
    with TemporaryDirectory() as data_dir:
        settings = load_settings({}, data_dir=data_dir, update_interval="0.05", symbols="AAPL,MSFT",
                                 sim_any_symbol="1", max_new_symbols_per_connection="1000",
                                 max_new_symbols_per_address="1000")
        app = create_app(settings)
        services = app.server.extensions["tickstream"]
        services.hub.release_grace_seconds = 0.0
        server = make_server("127.0.0.1", 0, app.server, threaded=True)
        port = server.server_port
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = set(services.feed.symbols)
        previous = None
        first_rss = None
        for cycle in range(1, args.cycles + 1):
            names = [f"Q{cycle}X{i}" for i in range(args.symbols)]
            sockets = []
            for start in range(0, len(names), 95):
                ws = websocket.create_connection(f"ws://127.0.0.1:{port}/ws", timeout=30)
                for symbol in names[start:start + 95]:
                    ws.send(json.dumps({"type": "subscribe", "channel": "candles", "symbol": symbol,
                                        "timeframe": "1m"}))
                threading.Thread(target=_drain, args=(ws,), daemon=True).start()
                sockets.append(ws)
            _wait(lambda names=names: all(services.feed.latest_quote(s) for s in names), 120,
                  "the symbols to be tracked")
            for i in range(args.rest):
                requests.get(f"http://127.0.0.1:{port}/api/v1/market-data/R{cycle}X{i}", timeout=30)
            time.sleep(args.hold)
            for ws in sockets:
                ws.close()
            _wait(lambda: set(services.feed.symbols) == base and not services.feed._quotes.keys() - base, 120,
                  "the symbols to be released")
            gc.collect()
            rss = rss_mb()
            first_rss = first_rss or rss
            print(f"cycle {cycle}: RSS {rss:.1f} MB ({(rss / first_rss - 1) * 100:+.1f} % of cycle 1), "
                  f"simulated source caches {services.source.cache_bytes() / 2**20:.1f} MB; "
                  f"{len(services.signals.trackers())} trackers, {len(services.feed._candles)} feed candles, "
                  f"{len(services.feed._builder._current)} builder candles, "
                  f"{services.hub.snapshot_stats()['routes']} hub routes", flush=True)
            if not args.frames:
                continue
            snapshot = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)])
            print(f"  traced {sum(s.size for s in snapshot.statistics('filename')) / 2**20:.1f} MB")
            if previous is not None:
                key = "traceback" if args.frames > 1 else "lineno"
                for stat in snapshot.compare_to(previous, key)[:args.top]:
                    if stat.size_diff <= 0:
                        continue
                    print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
                          f"{stat.traceback.format()[-1].strip() if args.frames > 1 else stat.traceback}")
                    if args.frames > 1:
                        for line in stat.traceback.format()[:-1]:
                            print("        " + line.strip())
            previous = snapshot
        print(json.dumps({"rss_first_mb": round(first_rss or 0, 1), "rss_last_mb": round(rss_mb(), 1)}))
        server.shutdown()
        services.feed.stop()


if __name__ == "__main__":
    main()
