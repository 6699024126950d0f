"""Benchmark: paper orders/s through REST with their updates streamed to 10 WebSocket clients, p99 submit-to-
order_update, and what 1,000 working orders cost the feed's tick loop.

Usage: python bench/trading.py [--seconds 5] [--threads 4] [--clients 10] [--working 1000]

1. Orders: the app runs as a subprocess (simulated feed, 20 ticks/s, gevent server as in production) with a large
   paper account and ``TICKSTREAM_BENCH_PEER_ROUTE=1``. ``--clients`` WebSocket clients subscribe to ``orders``;
   ``--threads`` clients (a connection per request, see ``place``; the WebSocket clients each in their own
   process) POST market orders of one share (each fills
   on the next quote) for ``--seconds``. ``orders_per_s``: orders answered 201 per second. ``p99_ms``: then, at
   ``--rate`` orders/s (default 200, the target), from sending the POST to each client's receipt of that order's
   first ``order_update`` (every client's latency counts). The peer is ``POST /bench/peer-order`` on the same
   server: a bare Flask route that parses the JSON body and answers it.
2. Feed: in this process, a ``LiveFeed`` over the simulated market (20 symbols) with the paper broker's service on
   its bus runs ``run_once`` at 20 iterations/s, first with no working order, then with ``--working`` limit orders
   that never fill (spread over the symbols, so every tick of every symbol goes to the broker). The broker's worker
   runs as in production; ``feed_slowdown_pct`` compares the feed thread's median CPU time per iteration
   (alternating rounds; ``feed_wall_slowdown_pct`` the same with wall-clock times, noisier on a shared machine).

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import websocket

# Run as a script (python bench/trading.py), this folder is sys.path[0]: the shared helpers import by name.
from _support import ROOT, clean_env, free_port, start_app, stop

# This script's name would shadow the project's ``trading`` package: the repository root goes first from here on.
sys.path[:] = [str(ROOT), *(entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).parent)]


# Rounds without and with the working orders, alternated so that drift (other load, CPU frequency) hits both alike.
ALTERNATIONS = 4


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))  # nearest rank
    return ordered[index]


def listen(url: str, ready: Any, commands: Any, results: Any) -> None:
    """One WebSocket client in its own process (ten clients in one Python process measure its GIL, not the
    server): records when each order's first ``order_update`` arrives; ``"clear"`` forgets them, ``"report"``
    sends them back. perf_counter is CLOCK_MONOTONIC on Linux, the same clock in every process."""
    # Unbatched: with ?batch=1 the server gathers messages for TICKSTREAM_WS_BATCH_INTERVAL (0.1 s) per frame.
    ws = websocket.create_connection(url + "/ws", timeout=0.2)
    ws.send(json.dumps({"type": "subscribe", "data": {"channel": "orders"}}))
    ready.wait()
    arrivals: dict[str, float] = {}
    while True:
        while not commands.empty():
            command = commands.get()
            if command == "clear":
                arrivals.clear()
            elif command == "report":
                results.put(arrivals)
                ws.close()
                return
        try:
            frame = orjson.loads(ws.recv())
        except websocket.WebSocketTimeoutException:
            continue
        except (websocket.WebSocketException, OSError):
            results.put(arrivals)
            return
        for message in frame["data"] if frame.get("type") == "batch" else [frame]:
            if message.get("type") == "order_update":
                key = message["data"].get("client_order_id")
                if key and key not in arrivals:
                    arrivals[key] = time.perf_counter()


def place(port: int, path: str, seconds: float, threads: int, sent: dict[str, float] | None,
          rate: float | None = None) -> float:
    """Orders (or peer requests) answered 201 per second by ``threads`` clients in ``seconds``; with ``rate``, the
    clients together send at most that many per second (evenly spaced), else as fast as they are answered."""
    counts = [0] * threads
    failures = [0] * threads
    start = threading.Barrier(threads + 1)
    stop_at = [0.0]

    def client(i: int) -> None:
        # One connection per request (Connection: close). On a kept-alive connection every answer of the gevent
        # server waits ~40 ms: it writes the headers and the body in two segments, and Nagle's algorithm holds the
        # second until the client's delayed ACK of the first (the same for any route, the peer included).
        start.wait()
        n = 0
        gap = threads / rate if rate else 0.0
        next_at = time.perf_counter() + i * gap / threads
        while time.perf_counter() < stop_at[0]:
            if gap:
                time.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += gap
            key = f"b{i}-{n}-{path[-5:]}-{rate or 0}"
            n += 1
            body = orjson.dumps({"symbol": "AAPL", "side": "buy", "quantity": 1, "type": "market",
                                 "client_order_id": key})
            if sent is not None:
                sent[key] = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("POST", path, body, {"Content-Type": "application/json", "Connection": "close"})
            response = connection.getresponse()
            response.read()
            connection.close()
            if response.status == 201:
                counts[i] += 1
            else:
                failures[i] += 1

    workers = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start.wait()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    if sum(failures):
        raise SystemExit(f"{path}: {sum(failures)} requests failed")
    return sum(counts) / elapsed


def orders_bench(seconds: float, threads: int, clients: int, rate: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        app = start_app(port, "--interval", "0.05", "--symbols", "AAPL", "--data-dir", data_dir,
                        env=clean_env(TICKSTREAM_BENCH_PEER_ROUTE="1", TICKSTREAM_PAPER_CASH="1000000000",
                                      # Throughput from one address is what a rate limit refuses.
                                      TICKSTREAM_RATE_LIMITS="off"))
        context = multiprocessing.get_context("fork")
        ready = context.Barrier(clients + 1)
        commands = [context.Queue() for _ in range(clients)]
        results = context.Queue()
        listeners = [context.Process(target=listen, args=(f"ws://127.0.0.1:{port}", ready, commands[i], results),
                                     daemon=True) for i in range(clients)]
        try:
            for listener in listeners:
                listener.start()
            ready.wait(30)
            time.sleep(0.3)  # the subscriptions are acknowledged
            peer = place(port, "/bench/peer-order", seconds, threads, None)
            # Throughput: as fast as the orders are answered, their updates streamed to every client.
            ours = place(port, "/api/v1/orders", seconds, threads, {})
            # Latency at a set rate (default 200 orders/s, the target): at saturation every queue, the clients'
            # own included, is full, and the latency only says how long the run was.
            time.sleep(1.0)
            for queue in commands:
                queue.put("clear")
            time.sleep(0.5)
            sent: dict[str, float] = {}
            place(port, "/api/v1/orders", seconds, threads, sent, rate)
            time.sleep(2.0)  # the last updates on their way
            for queue in commands:
                queue.put("report")
            arrivals = [results.get(timeout=30) for _ in listeners]
            for listener in listeners:
                listener.join(5)
            latencies = [(a[key] - t) * 1000 for a in arrivals for key, t in sent.items() if key in a]
            missing = sum(len(sent) - sum(1 for key in sent if key in a) for a in arrivals)
        finally:
            for listener in listeners:
                if listener.is_alive():
                    listener.kill()
            stop(app)
    return {"orders_per_s": round(ours, 1), "peer_orders_per_s": round(peer, 1),
            "p50_ms": round(percentile(latencies, 50), 2), "p99_ms": round(percentile(latencies, 99), 2),
            "updates_missing": missing, "latency_orders": len(sent), "latency_rate": rate}


def feed_bench(working: int, seconds: float, symbols_count: int = 20) -> dict[str, float]:
    from feeds.bus import InProcessBus
    from feeds.live import LiveFeed
    from feeds.simulated import SimulatedSource
    from feeds.universe import first_symbols
    from trading.broker import Broker, BrokerConfig, Instrument
    from trading.orders import OrderRequest, OrderType, Side, TimeInForce
    from trading.service import TradingService
    from trading.store import TradingStore

    symbols = first_symbols(symbols_count)
    source = SimulatedSource()
    bus = InProcessBus()
    feed = LiveFeed(source, bus, symbols, interval=0.05)
    for _ in range(40):  # warm up: symbols admitted, candles started, caches filled
        feed.run_once()
    with tempfile.TemporaryDirectory() as data_dir:
        broker = Broker(TradingStore(Path(data_dir) / "t.sqlite3"),
                        BrokerConfig(starting_cash=1e12, max_open_orders=working + 10), time.time)
        service = TradingService(broker, bus, feed.latest_quote, source.quote, lambda s: Instrument(s, 0.0))
        service.start()

        def rounds(label: str, times: dict[str, list[float]]) -> None:
            end = time.perf_counter() + seconds / (2 * ALTERNATIONS)
            while time.perf_counter() < end:
                began, began_cpu = time.perf_counter(), time.thread_time()
                feed.run_once()
                spent = time.perf_counter() - began
                times[label].append(spent)
                cpu[label].append(time.thread_time() - began_cpu)
                time.sleep(max(0.0, 0.05 - spent))

        times: dict[str, list[float]] = {"none": [], "working": []}
        cpu: dict[str, list[float]] = {"none": [], "working": []}
        orders: list[str] = []
        for _ in range(ALTERNATIONS):
            for order_id in orders:
                service.cancel(order_id)
            orders.clear()
            service.drain()
            rounds("none", times)
            for n in range(working):
                symbol = symbols[n % len(symbols)]
                quote = feed.latest_quote(symbol)
                assert quote is not None
                order, _ = service.submit(OrderRequest(symbol, Side.BUY, 1.0, OrderType.LIMIT,
                                                       limit_price=round(quote.price * 0.5, 2),
                                                       time_in_force=TimeInForce.GTC))
                orders.append(order.order_id)
            rounds("working", times)
        evaluated = service.ticks_evaluated
        service.stop()
    # Medians: on a shared machine a few iterations are preempted for milliseconds, which says nothing of the feed.
    # The figure is the feed thread's own CPU time per iteration (what the orders cost it, the broker's work on the
    # feed thread included), which other processes' load does not inflate; wall times are reported beside it.
    none, loaded = statistics.median(times["none"]), statistics.median(times["working"])
    cpu_none, cpu_loaded = statistics.median(cpu["none"]), statistics.median(cpu["working"])
    return {"feed_iterations": len(times["none"]) + len(times["working"]),
            "feed_loop_ms_none": round(none * 1000, 3), "feed_loop_ms_working": round(loaded * 1000, 3),
            "feed_cpu_ms_none": round(cpu_none * 1000, 3), "feed_cpu_ms_working": round(cpu_loaded * 1000, 3),
            "feed_wall_slowdown_pct": round((loaded / none - 1) * 100, 1),
            "feed_slowdown_pct": round((cpu_loaded / cpu_none - 1) * 100, 1), "working_orders": working,
            "feed_symbols": symbols_count, "ticks_evaluated": evaluated}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of load per phase (default 5)")
    parser.add_argument("--threads", type=int, default=4, help="concurrent REST clients (default 4)")
    parser.add_argument("--clients", type=int, default=10, help="WebSocket clients streaming orders (default 10)")
    parser.add_argument("--working", type=int, default=1000, help="working orders in the feed test (default 1000)")
    parser.add_argument("--rate", type=float, default=200.0, help="orders/s of the latency phase (default 200)")
    args = parser.parse_args()

    results: dict[str, object] = {}
    results.update(orders_bench(args.seconds, args.threads, args.clients, args.rate))
    results.update(feed_bench(args.working, args.seconds))
    results.update({"threads": args.threads, "ws_clients": args.clients, "seconds": args.seconds,
                    "peer": "POST /bench/peer-order: a bare Flask route parsing and answering the JSON body, same "
                            "server, same run",
                    "reference": "Alpaca's paper API allows 200 requests per minute"})
    print(f"orders            {results['orders_per_s']:>9} /s   ({args.threads} threads, {args.clients} WS clients)")
    print(f"bare Flask POST   {results['peer_orders_per_s']:>9} /s   same server, same run")
    print(f"submit→update     p50 {results['p50_ms']} ms   p99 {results['p99_ms']} ms   at {args.rate:g} orders/s")
    print(f"feed tick loop    {results['feed_cpu_ms_none']} ms → {results['feed_cpu_ms_working']} ms CPU with "
          f"{args.working} working orders ({results['feed_slowdown_pct']} %; wall {results['feed_loop_ms_none']} → "
          f"{results['feed_loop_ms_working']} ms)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
