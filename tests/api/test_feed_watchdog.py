"""A stalled feed is visible (issue 11, point 5): /health goes starting / degraded / unhealthy and every WebSocket
dialect gets a ``status`` message when a symbol's data stops or resumes. Real sockets, a source that blocks on an
Event inside the feed loop."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import websocket
from tests_support import WsClient, wait_for

from feeds.models import Quote
from feeds.source import SourceError
from feeds.watchdog import Limits

# Short limits so the test does not wait ten seconds for "unhealthy"; the rules are the same as in production.
LIMITS = Limits(late_after=1.0, stalled_after=3.0)


class GatedSource:
    """The app's own source behind a gate: while the gate is shut, ``quote`` blocks (the feed loop is stuck, as on
    a provider that accepts connections and never answers); symbols in ``failing`` raise."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.gate = threading.Event()
        self.gate.set()
        self.stuck = threading.Event()
        self.failing: set[str] = set()

    def quote(self, symbol: str) -> Quote:
        if not self.gate.is_set():
            self.stuck.set()
            self.gate.wait(60)
        if symbol in self.failing:
            raise SourceError(f"nothing for {symbol}")
        quote: Quote = self.inner.quote(symbol)
        return quote

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def gated(inproc_server: Callable[..., Any]) -> Iterator[tuple[Any, GatedSource]]:
    """An in-process app whose feed polls a GatedSource (not started yet); the gate is opened at the end."""
    # Any ticker: the tests use made-up symbols (NODATA) that the simulated market's universe does not list.
    server = inproc_server(start_feed=False, symbols="AAPL", sim_any_symbol="1")
    feed = server.services.feed
    source = GatedSource(feed.source)
    feed.source = source
    feed.watchdog_limits = LIMITS
    yield server, source
    source.gate.set()


def health(server: Any) -> tuple[int, dict[str, Any]]:
    response = requests.get(server.base_url + "/health", timeout=5)
    return response.status_code, response.json()


def _status(message: dict[str, Any]) -> dict[str, Any] | None:
    """The status fields of a message of any dialect (envelope: in data), or None when it is no status."""
    if message.get("type") != "status":
        return None
    return message["data"] if "data" in message else message


class Reader:
    """Reads one connection of any dialect and finds status messages in it."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=10)
        self.seen: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def recv(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.ws.recv())
        self.seen.append(message)
        return message

    def until(self, predicate: Callable[[dict[str, Any]], bool], limit: int = 2000) -> dict[str, Any]:
        for _ in range(limit):
            message = self.recv()
            if predicate(message):
                return message
        raise AssertionError(f"no such message among {self.seen[-5:]}")

    def status(self, state: str, symbol: str = "AAPL") -> dict[str, Any]:
        message = self.until(lambda m: (s := _status(m)) is not None and s["state"] == state
                             and s["symbol"] == symbol)
        found = _status(message)
        assert found is not None
        return found

    def close(self) -> None:
        self.ws.close()


def _connect_every_dialect(base: str) -> dict[str, Reader]:
    readers: dict[str, Reader] = {}
    envelope = readers["/ws"] = Reader(base + "/ws")
    envelope.send({"type": "subscribe", "data": {"channel": "market_data", "symbol": "AAPL"}})
    envelope.until(lambda m: m["type"] == "subscribed")
    flat = readers["/ws/market-data"] = Reader(base + "/ws/market-data")
    flat.send({"type": "subscribe", "symbol": "AAPL"})
    flat.until(lambda m: m["type"] == "subscribed")
    readers["/ws/market/AAPL"] = Reader(base + "/ws/market/AAPL")
    readers["/ws/market/AAPL"].until(lambda m: m["type"] == "subscribed")
    readers["/ws/market/AAPL/1m"] = Reader(base + "/ws/market/AAPL/1m")
    readers["/ws/market/AAPL/1m"].until(lambda m: m["type"] == "full_update")
    readers["/ws/signals"] = Reader(base + "/ws/signals")
    readers["/ws/signals"].until(lambda m: m["type"] == "subscribed")
    return readers


def test_a_stall_inside_the_feed_loop_is_reported_and_so_is_the_recovery(gated: tuple[Any, GatedSource]) -> None:
    server, source = gated
    server.services.feed.start()
    wait_for(lambda: health(server)[0] == 200, 20, 0.05, "the first feed iteration")
    assert health(server)[1]["status"] == "healthy"
    readers = _connect_every_dialect(server.ws_url)
    try:
        source.gate.clear()
        assert source.stuck.wait(10), "the feed never reached the gate"
        code, body = wait_for(lambda: (h := health(server))[1]["status"] != "healthy" and h, 10, 0.05, "degraded")
        assert (code, body["status"], body["live_data"]["feed_state"]) == (200, "degraded", "late")
        code, body = wait_for(lambda: (h := health(server))[0] == 503 and h, 10, 0.05, "unhealthy")
        assert body["status"] == "unhealthy" and body["live_data"]["feed_state"] == "stalled"
        assert any("no update for" in reason for reason in body["reasons"])

        for route, reader in readers.items():
            stalled = reader.status("stalled")
            assert stalled["reason"].startswith("the feed has completed no update"), route
            assert stalled["since"].endswith("Z"), route

        # A new subscriber of the stuck symbol is not left in silence: ack, snapshot, then the status at once.
        late = WsClient(server.ws_url + "/ws")
        try:
            assert late.recv()["type"] == "welcome"
            late.send({"type": "subscribe", "data": {"channel": "market_data", "symbol": "AAPL"}})
            assert [late.recv()["type"] for _ in range(2)] == ["subscribed", "market_data"]
            current = late.recv()
            assert current["type"] == "status" and current["data"]["state"] == "stalled"
            assert "channel" not in current
        finally:
            late.close()

        source.gate.set()
        for route, reader in readers.items():
            live = reader.status("live")
            assert live["symbol"] == "AAPL", route
        wait_for(lambda: health(server)[0] == 200, 10, 0.05, "healthy again")
        # And data flows again on every dialect.
        readers["/ws/market/AAPL/1m"].until(lambda m: m["type"] == "candle_update")
        readers["/ws/market-data"].until(lambda m: m["type"] == "price")
    finally:
        source.gate.set()
        for reader in readers.values():
            reader.close()


def test_starting_until_the_first_iteration_completes(gated: tuple[Any, GatedSource]) -> None:
    server, source = gated
    source.gate.clear()  # blocks from the very first quote
    server.services.feed.start()
    assert source.stuck.wait(10)
    code, body = health(server)
    assert (code, body["status"], body["live_data"]["feed_state"]) == (503, "starting", "starting")
    assert any("first update" in reason for reason in body["reasons"])
    # Starting stays starting (still 503) however long the first iteration takes.
    code, body = wait_for(lambda: (h := health(server))[1]["live_data"]["seconds_since_update"] > LIMITS.stalled_after
                          and h, 10, 0.05, "a long start")
    assert (code, body["status"]) == (503, "starting")

    # The candle dialect, which owes its first full_update, says why nothing comes instead of staying silent.
    candles = Reader(server.ws_url + "/ws/market/AAPL/1m")
    try:
        stalled = candles.status("stalled")
        assert "first update" in stalled["reason"]
        source.gate.set()
        wait_for(lambda: health(server)[0] == 200, 10, 0.05, "the first iteration")
        # The owed snapshot comes with the first candle (feed thread), ``live`` with the next check: either first.
        candles.status("live")
        if not any(m["type"] == "full_update" for m in candles.seen):
            candles.until(lambda m: m["type"] == "full_update")
        assert [m["type"] for m in candles.seen if m["type"] != "status"][0] == "full_update"
    finally:
        source.gate.set()
        candles.close()


def test_no_data_and_stale_symbols(gated: tuple[Any, GatedSource]) -> None:
    server, source = gated
    source.failing.add("NODATA")
    server.services.feed.start()
    wait_for(lambda: health(server)[0] == 200, 20, 0.05, "the first feed iteration")
    client = Reader(server.ws_url + "/ws")
    try:
        client.send({"type": "subscribe", "data": {"channel": "market_data", "symbol": "NODATA"}})
        client.send({"type": "subscribe", "data": {"channel": "candles", "symbol": "AAPL"}})
        no_data = client.status("no_data", "NODATA")
        assert "nothing for NODATA" in no_data["reason"]

        source.failing.add("AAPL")
        assert "stale" in client.status("stale")["state"]
        source.failing.discard("AAPL")
        client.status("live")

        source.failing.discard("NODATA")  # the feed retries it (1 s backoff) and starts it
        client.status("live", "NODATA")
    finally:
        client.close()


def test_a_provider_that_accepts_connections_and_never_answers(inproc_server: Callable[..., Any]) -> None:
    """The audit's case: a provider that completes the TCP handshake and never answers. Before, /health said
    healthy for the first 10-20 s; now it is starting (503) until the first iteration gives up on the provider, and
    a subscriber hears why nothing comes."""
    from feeds.failover import FailoverSource
    from feeds.polygon import PolygonSource

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)  # the kernel accepts the connections; nobody ever reads or answers them
    port = listener.getsockname()[1]
    server = inproc_server(start_feed=False, symbols="AAPL")
    feed = server.services.feed
    silent = PolygonSource("key", base_url=f"http://127.0.0.1:{port}", timeout=(1.0, 6.0))
    feed.source = FailoverSource([silent], None, call_timeout=4.0)
    feed.watchdog_limits = LIMITS
    client = Reader(server.ws_url + "/ws/market/AAPL")
    try:
        feed.start()
        code, body = health(server)
        assert (code, body["status"]) == (503, "starting")
        assert client.status("stalled")["reason"].startswith("the feed has not completed its first update")
        # The failover gives up after its call limit: the first iteration completes with no price at all.
        code, body = wait_for(lambda: (h := health(server))[1]["status"] != "starting" and h, 20, 0.05,
                              "the first iteration")
        assert (code, body["status"]) == (503, "unhealthy")
        assert any("no source could give a first quote" in reason for reason in body["reasons"])
        no_data = client.status("no_data")
        assert no_data["symbol"] == "AAPL" and "no source has data for it yet" in no_data["reason"]
    finally:
        client.close()
        feed.stop()
        listener.close()
        feed.source.close()
