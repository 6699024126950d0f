"""Memory of a real server process stays flat while anonymous clients bring symbols in and out over WebSocket."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from tests_support import WsClient, wait_for

CYCLES = 10
SYMBOLS_PER_CYCLE = 195
# /ws takes at most 100 subscriptions per connection.
PER_CONNECTION = 98


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS line")


def cycle_symbols(cycle: int) -> list[str]:
    """Ticker-like names no other cycle uses (``ZBAA``, ``ZBAB``…)."""
    return [f"Z{chr(65 + cycle)}{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(SYMBOLS_PER_CYCLE)]


class Reader:
    """Reads a connection on a thread (a client that stops reading is closed as slow), noting the symbols it got
    candles of and any error."""

    def __init__(self, client: WsClient) -> None:
        self.client = client
        # Under load the server may drop updates for this client; that is not what this test is about.
        client.check_seq = False
        self.symbols: set[str] = set()
        self.errors: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while True:
                message = self.client.recv()
                data = message.get("data") or {}
                if message["type"] == "error":
                    self.errors.append(data)
                elif message["type"] in ("full_update", "candle_update"):
                    self.symbols.add(data["symbol"])
        except Exception:  # the test closed the connection
            return


def run_cycle(server: Any, cycle: int) -> None:
    """Subscribe to candles of the cycle's symbols on two connections until each has data, close them, and wait
    until the server has let every one of them go."""
    names = cycle_symbols(cycle)
    readers = []
    for start in range(0, len(names), PER_CONNECTION):
        client = WsClient(server.ws_url + "/ws?batch=1")
        for symbol in names[start:start + PER_CONNECTION]:
            client.send({"type": "subscribe", "channel": "candles", "symbol": symbol, "timeframe": "1m"})
        readers.append(Reader(client))
    wanted = set(names)
    wait_for(lambda: set().union(*(r.symbols for r in readers)) >= wanted or any(r.errors for r in readers),
             120, 0.1, f"candles of the {SYMBOLS_PER_CYCLE} symbols of cycle {cycle}")
    assert [r.errors for r in readers] == [[] for _ in readers]
    for reader in readers:
        reader.client.close()
        reader.thread.join(10)

    def released() -> bool:
        live = requests.get(server.base_url + "/metrics/live-data", timeout=5).json()
        ws = live["websocket"]
        return bool(live["symbols"] == ["AAPL"] and ws["routes"] == 0 and ws["symbols_awaiting_release"] == 0)

    # The hub lets a symbol go 10 s after its last subscriber; the feed drops it at its next iteration.
    wait_for(released, 60, 0.2, f"the symbols of cycle {cycle} to be released")


@pytest.mark.slow
def test_ten_cycles_of_195_symbols_leave_rss_flat(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server("--interval", "0.05", "--symbols", "AAPL", env={
        # The limits on new symbols per connection and address would refuse most of them; this test is about what
        # the server keeps once they are gone.
        "TICKSTREAM_MAX_NEW_SYMBOLS_PER_CONNECTION": "1000",
        "TICKSTREAM_MAX_NEW_SYMBOLS_PER_ADDRESS": "1000",
        "TICKSTREAM_SIM_ANY_SYMBOL": "1",
        "TICKSTREAM_WS_MAX_MESSAGES_PER_SECOND": "1000",
    })
    assert server.proc is not None
    rss: list[int] = []
    for cycle in range(1, CYCLES + 1):
        run_cycle(server, cycle)
        rss.append(rss_kib(server.proc.pid))
    # Before, each cycle kept every symbol's anchors and hour caches: RSS grew by tens of MB a cycle.
    assert rss[-1] <= rss[0] * 1.10, f"RSS after each cycle (KiB): {rss}"
