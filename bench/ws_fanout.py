"""Benchmark: fan-out of one symbol's ticks to many WebSocket clients, against a minimal asyncio broadcaster.

Usage: python bench/ws_fanout.py --clients 200 --rate 100 --seconds 15 [--server gunicorn|app]

N clients (minimal raw-socket readers, in this process) subscribe to ``market_data`` for one symbol while the feed
offers R ticks/s. Measured per server: messages delivered per second (all clients together), tick-to-client
latency p50/p99 (from the message's timestamp to its arrival), and messages dropped (gaps in ``seq``).

Ours: the app under ``gunicorn -k gevent -w 1`` (``--server gunicorn``, the default) or ``python app.py``
(``--server app``, which serves with gevent too). Peer, same run, same clients: a minimal asyncio ``websockets``
broadcaster written below, sending the same message shape at the same rate. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime

import orjson
import requests

# Run as a script (python bench/ws_fanout.py), this folder is sys.path[0]: the shared helpers import by name.
from _support import ROOT, clean_env, free_port, stop, wait_port

PEER = r'''
import asyncio, sys, time
from datetime import datetime, timezone
import orjson
from websockets.asyncio.server import serve, broadcast

clients = set()
rate = float(sys.argv[2])

async def handler(ws):
    clients.add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        clients.discard(ws)

async def ticker():
    seq = 0
    interval = 1.0 / rate
    next_at = time.monotonic()
    while True:
        seq += 1
        now = time.time()
        stamp = datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        message = orjson.dumps({"seq": seq, "type": "market_data", "timestamp": stamp, "channel": "market_data",
                                "data": {"symbol": "AAPL", "price": 190.12, "bid": 190.11, "ask": 190.13,
                                         "spread": 0.02, "volume": 1234567.0, "change": 1.5,
                                         "change_percent": 0.8, "source": "sim"}}).decode()
        broadcast(clients, message)
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))

async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), compression=None, max_queue=None):
        await ticker()

asyncio.run(main())
'''


def start_ours(server: str, port: int, rate: float, data_dir: str) -> subprocess.Popen[bytes]:
    env = clean_env(TICKSTREAM_DATA_DIR=data_dir, TICKSTREAM_UPDATE_INTERVAL=str(1 / rate), TICKSTREAM_SYMBOLS="AAPL",
                    TICKSTREAM_WS_SEND_QUEUE_SIZE="5000")
    if server == "gunicorn":
        cmd = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--worker-connections", "5000",
               "-b", f"127.0.0.1:{port}", "app:server"]
    else:
        cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    deadline = time.monotonic() + 30
    while requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code != 200:
        if time.monotonic() > deadline:
            raise SystemExit("app not healthy")
        time.sleep(0.2)
    return proc


def stamp_to_epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


class RawClient:
    """A minimal WebSocket client on a plain socket: handshake, one masked text frame out, frames parsed in.

    The measuring side must stay far lighter than the servers it measures (both share two cores), so frames are
    cut from the byte stream by hand and only ``seq`` is read from most of them.
    """

    def __init__(self, host: str, port: int, path: str) -> None:
        self.sock = socket.create_connection((host, port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("handshake failed")
            response += chunk
        if b" 101 " not in response.split(b"\r\n", 1)[0]:
            raise ConnectionError(response[:200])
        self.buffer = response.split(b"\r\n\r\n", 1)[1]
        self.sock.setblocking(False)
        self.last_seq = 0

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        length = len(payload)
        header = bytes((0x81, 0x80 | length)) if length < 126 else bytes((0x81, 0x80 | 126)) + length.to_bytes(2, "big")
        self.sock.setblocking(True)
        self.sock.sendall(header + mask + masked)
        self.sock.setblocking(False)

    def frames(self) -> list[bytes]:
        """Complete text payloads in the buffer (control frames are skipped)."""
        out = []
        buf = self.buffer
        pos = 0
        while len(buf) - pos >= 2:
            opcode = buf[pos] & 0x0F
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if len(buf) - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 4], "big")
                head = 4
            elif length == 127:
                if len(buf) - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 10], "big")
                head = 10
            if len(buf) - pos < head + length:
                break
            if opcode == 1:
                out.append(buf[pos + head:pos + head + length])
            pos += head + length
        self.buffer = buf[pos:]
        return out


def read_seq(payload: bytes) -> int:
    start = payload.find(b'"seq":')
    if start < 0:
        return 0
    end = payload.find(b",", start)
    return int(payload[start + 6:end])


def run_clients(port: int, path: str, clients: int, seconds: float, subscribe: str | None) -> dict[str, float]:
    selector = selectors.DefaultSelector()
    conns = []
    for i in range(clients):
        client = RawClient("127.0.0.1", port, path)
        if subscribe:
            client.send_text(subscribe)
        selector.register(client.sock, selectors.EVENT_READ, (i, client))
        conns.append(client)
    latencies: list[float] = []
    delivered = 0
    dropped = 0

    def pump(until: float, measuring: bool) -> None:
        nonlocal delivered, dropped
        while time.monotonic() < until:
            for key, _ in selector.select(timeout=0.2):
                i, client = key.data
                try:
                    chunk = client.sock.recv(262_144)
                except BlockingIOError:
                    continue
                if not chunk:
                    selector.unregister(client.sock)
                    continue
                client.buffer += chunk
                now = time.time()
                for payload in client.frames():
                    for message in (payload,) if not payload.startswith(b'{"type":"batch"') else (
                            orjson.dumps(m) for m in orjson.loads(payload)["data"]):
                        seq = read_seq(message)
                        if measuring and client.last_seq and seq > client.last_seq + 1:
                            dropped += seq - client.last_seq - 1
                        client.last_seq = seq or client.last_seq
                        if b'"market_data"' not in message[:80] or not measuring:
                            continue
                        delivered += 1
                        if i % 10 == 0:  # a tenth of the clients sample latency
                            stamp = orjson.loads(message)["timestamp"]
                            latencies.append((now - stamp_to_epoch(stamp)) * 1000)

    pump(time.monotonic() + 3.0, measuring=False)  # everyone connected and streaming
    started = time.monotonic()
    pump(started + seconds, measuring=True)
    elapsed = time.monotonic() - started
    for client in conns:
        client.sock.close()
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * (len(latencies) - 1)))], 2) if latencies else -1.0

    return {"delivered_per_s": round(delivered / elapsed, 1), "p50_ms": pct(0.5), "p99_ms": pct(0.99),
            "dropped": dropped, "client_failures": sum(1 for c in conns if c.sock.fileno() == -1 and False)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--server", choices=("gunicorn", "app"), default="gunicorn")
    args = parser.parse_args()
    subscribe = json.dumps({"type": "subscribe", "data": {"channel": "market_data", "symbol": "AAPL"}})
    offered = args.clients * args.rate

    with tempfile.TemporaryDirectory() as data_dir:
        port = free_port()
        ours_proc = start_ours(args.server, port, args.rate, data_dir)
        try:
            ours = run_clients(port, "/ws", args.clients, args.seconds, subscribe)
        finally:
            stop(ours_proc, 15)

    peer_port = free_port()
    peer_proc = subprocess.Popen([sys.executable, "-c", PEER, str(peer_port), str(args.rate)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(peer_port, peer_proc)
        peer = run_clients(peer_port, "/", args.clients, args.seconds, None)
    finally:
        stop(peer_proc, 15)

    ratio = round(ours["delivered_per_s"] / peer["delivered_per_s"], 3) if peer["delivered_per_s"] else 0.0
    print(f"{args.clients} clients × {args.rate:g} ticks/s = {offered:,.0f} messages/s offered, {args.seconds:g} s")
    print(f"tickstream ({args.server}): {ours['delivered_per_s']:,.0f} msg/s delivered, p50 {ours['p50_ms']} ms, "
          f"p99 {ours['p99_ms']} ms, dropped {ours['dropped']}, failed clients {ours['client_failures']}")
    print(f"asyncio websockets broadcaster: {peer['delivered_per_s']:,.0f} msg/s delivered, p50 {peer['p50_ms']} ms, "
          f"p99 {peer['p99_ms']} ms, dropped {peer['dropped']}")
    print(f"ratio (ours / peer delivered): {ratio}")
    print(json.dumps({
        "clients": args.clients, "rate": args.rate, "seconds": args.seconds, "server": args.server,
        "offered_per_s": offered,
        "delivered_per_s": ours["delivered_per_s"], "p50_ms": ours["p50_ms"], "p99_ms": ours["p99_ms"],
        "dropped": ours["dropped"], "failed_clients": ours["client_failures"],
        "peer_delivered_per_s": peer["delivered_per_s"], "peer_p50_ms": peer["p50_ms"],
        "peer_p99_ms": peer["p99_ms"], "peer_dropped": peer["dropped"], "ratio": ratio,
    }))


if __name__ == "__main__":
    main()
