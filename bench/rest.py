"""Benchmark: cached quote requests/s against a bare Flask JSON route on the same server, and history p99 latency.

Usage: python bench/rest.py [--seconds 6] [--threads 4] [--requests 200]

The app runs as a subprocess on a free port (simulated feed, 20 ticks/s, AAPL tracked) with
``TICKSTREAM_BENCH_PEER_ROUTE=1``, which adds ``GET /bench/peer``: a bare Flask route returning a constant
quote-shaped JSON object. The peer is therefore the same Flask app on the same Werkzeug threaded server in the same
process (feed thread included), measured in the same run: the ratio is what the quote route costs on top of Flask.

1. Throughput: ``--threads`` client threads, each with its own ``requests.Session`` (keep-alive), call
   ``/api/v1/market-data/AAPL`` (answered from the feed's snapshot, no source call) and, in alternating rounds,
   the peer route; requests/s of each and ``ratio`` = quote / peer.
2. Latency: one client calls ``history?period=1y&interval=1d`` and ``history?period=5d&interval=1m`` (365 and 7200
   candles) ``--requests`` times each; p50 and p99 in milliseconds, with the peer's as a reference.

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time

import requests

# Run as a script (python bench/rest.py), this folder is sys.path[0]: the shared helpers import by name.
from _support import clean_env, free_port, start_app, stop

QUOTE = "/api/v1/market-data/AAPL"
PEER = "/bench/peer"
HISTORIES = {
    "history_1y_1d": "/api/v1/market-data/AAPL/history?period=1y&interval=1d",
    "history_5d_1m": "/api/v1/market-data/AAPL/history?period=5d&interval=1m",
}


def hammer(url: str, seconds: float, threads: int) -> float:
    """Requests/s that ``threads`` keep-alive clients get from ``url`` in ``seconds`` (only 200s count)."""
    counts = [0] * threads
    failures = [0] * threads
    start = threading.Barrier(threads + 1)
    stop_at = [0.0]

    def client(i: int) -> None:
        with requests.Session() as session:
            session.get(url, timeout=10)  # connect before the clock starts
            start.wait()
            while time.perf_counter() < stop_at[0]:
                if session.get(url, timeout=10).status_code == 200:
                    counts[i] += 1
                else:
                    failures[i] += 1

    workers = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    # Set before the barrier opens, so every client reads the final deadline.
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start.wait()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    if sum(failures):
        raise SystemExit(f"{url}: {sum(failures)} requests failed")
    return sum(counts) / elapsed


def latencies(url: str, count: int) -> tuple[list[float], int]:
    """Milliseconds of ``count`` sequential requests (after two warm-ups) and the candle count of the last one."""
    times: list[float] = []
    size = 0
    with requests.Session() as session:
        for _ in range(2):
            session.get(url, timeout=30).raise_for_status()
        for _ in range(count):
            began = time.perf_counter()
            response = session.get(url, timeout=30)
            times.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
            body = response.json()
            size = len(body["data"]) if "data" in body else 0
    return times, size


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))  # nearest rank
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds of load per route (default 6)")
    parser.add_argument("--threads", type=int, default=4, help="concurrent client threads (default 4)")
    parser.add_argument("--requests", type=int, default=200, help="history requests per window (default 200)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        app = start_app(port, "--interval", "0.05", "--symbols", "AAPL", "--data-dir", data_dir,
                        env=clean_env(TICKSTREAM_BENCH_PEER_ROUTE="1",
                                      # Throughput from one address is what a rate limit refuses.
                                      TICKSTREAM_RATE_LIMITS="off"))
        base = f"http://127.0.0.1:{port}"
        try:
            quote = requests.get(base + QUOTE, timeout=5).json()
            assert quote["source"] == "sim" and quote["stale"] is False, quote
            # Alternate the two routes in rounds so that drift (CPU frequency, other load) hits both alike.
            rounds = 2
            ours, peer = [], []
            for _ in range(rounds):
                ours.append(hammer(base + QUOTE, args.seconds / rounds, args.threads))
                peer.append(hammer(base + PEER, args.seconds / rounds, args.threads))
            quote_rps, peer_rps = statistics.fmean(ours), statistics.fmean(peer)
            results: dict[str, float | int | str] = {
                "quote_rps": round(quote_rps, 1),
                "peer_rps": round(peer_rps, 1),
                "ratio": round(quote_rps / peer_rps, 3) if peer_rps else 0.0,
            }
            peer_ms, _ = latencies(base + PEER, args.requests)
            results["peer_p50_ms"] = round(percentile(peer_ms, 50), 2)
            results["peer_p99_ms"] = round(percentile(peer_ms, 99), 2)
            worst = 0.0
            for name, path in HISTORIES.items():
                ms, candles = latencies(base + path, args.requests)
                results[f"{name}_candles"] = candles
                results[f"{name}_p50_ms"] = round(percentile(ms, 50), 2)
                results[f"{name}_p99_ms"] = round(percentile(ms, 99), 2)
                worst = max(worst, percentile(ms, 99))
            results["p99_ms"] = round(worst, 2)
        finally:
            stop(app)

    results.update({"threads": args.threads, "seconds": args.seconds, "history_requests": args.requests,
                    "feed": "sim", "peer": "bare Flask JSON route on the same server (TICKSTREAM_BENCH_PEER_ROUTE)"})
    print(f"cached quote      {results['quote_rps']:>9} req/s   ({args.threads} threads, {args.seconds:g} s)")
    print(f"bare Flask route  {results['peer_rps']:>9} req/s   same server, same run")
    print(f"ratio             {results['ratio']:>9}")
    print(f"peer latency      p50 {results['peer_p50_ms']} ms   p99 {results['peer_p99_ms']} ms")
    for name in HISTORIES:
        print(f"{name:<17} p50 {results[f'{name}_p50_ms']} ms   p99 {results[f'{name}_p99_ms']} ms   "
              f"({results[f'{name}_candles']} candles, {args.requests} requests)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
