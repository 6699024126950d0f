"""New-symbol limits per connection and per client address: the quota's rules, then real WebSockets."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import websocket
from tests_support import WsClient, wait_for

from api.symbol_quota import SymbolQuota

# -- the rules (no sockets) -------------------------------------------------------------------------------------


def test_a_connection_and_an_address_bring_in_at_most_their_limits() -> None:
    quota = SymbolQuota(per_connection=2, per_address=3)
    quota.open("a", "10.0.0.1")
    quota.open("b", "10.0.0.1")
    quota.open("c", "10.0.0.2")
    assert quota.hold("a", "NVDA") is None and quota.hold("a", "TSLA") is None
    assert "per connection" in (quota.hold("a", "AMZN") or "")
    assert quota.hold("a", "NVDA") is None, "held already: nothing new"
    assert quota.hold("a", "AAPL", shared=True) is None, "a start-up symbol is never new"
    assert quota.hold("b", "TSLA") is None, "streamed already for a: not new"
    assert quota.hold("b", "AMZN") is None
    assert "per client address" in (quota.hold("b", "META") or "")
    assert quota.hold("c", "META") is None, "another address is not affected"
    assert (quota.charged("a"), quota.charged("b"), quota.address_count("10.0.0.1")) == (2, 1, 3)
    assert quota.refusals == 2


def test_a_charge_passes_to_the_next_holder_and_goes_with_the_last() -> None:
    """Handing symbols to a second connection frees nothing: the charge follows the symbol."""
    quota = SymbolQuota(per_connection=1, per_address=5)
    quota.open("a", "x")
    quota.open("b", "x")
    assert quota.hold("a", "NVDA") is None
    assert quota.hold("b", "NVDA") is None
    quota.drop("a", "NVDA")
    assert (quota.charged("a"), quota.charged("b")) == (0, 1)
    assert "per connection" in (quota.hold("b", "TSLA") or "")
    assert quota.hold("a", "TSLA") is None
    quota.close("b")
    assert quota.address_count("x") == 1
    quota.close("a")
    assert quota.address_count("x") == 0 and quota.stats()["symbols_charged"] == 0


def test_rest_leases_count_per_address_until_they_expire() -> None:
    quota = SymbolQuota(per_connection=5, per_address=2, max_leases=3)
    quota.open("a", "x")
    assert quota.hold("a", "NVDA") is None
    assert quota.lease("x", "TSLA", until=10.0)
    assert quota.lease("x", "TSLA", until=20.0), "renewed, not counted twice"
    assert not quota.lease("x", "AMZN", until=20.0)
    assert "per client address" in (quota.hold("a", "AMZN") or "")
    assert quota.lease("y", "AMZN", until=21.0) and quota.lease("z", "AMZN", until=21.0)
    assert not quota.lease("w", "AMZN", until=21.0), "the lease table is bounded"
    quota.expire(15.0)
    assert quota.stats()["leases"] == 3 and quota.address_count("x") == 2
    quota.expire(20.0)
    assert quota.stats()["leases"] == 2 and quota.address_count("x") == 1
    assert quota.hold("a", "AMZN") is None


# -- real WebSockets ----------------------------------------------------------------------------------------------


def subscribe(client: WsClient, symbol: str, channel: str = "market_data") -> dict[str, Any]:
    client.send({"type": "subscribe", "data": {"channel": channel, "symbol": symbol}})
    return client.recv_until(lambda m: m["type"] in ("subscribed", "error"))


def client_from(url: str, source: str) -> WsClient:
    """A client whose connection comes from ``source`` (another loopback address): another client address."""
    parts = urlsplit(url)
    sock = socket.socket()
    sock.bind((source, 0))
    sock.connect((parts.hostname, parts.port))
    client = WsClient.__new__(WsClient)
    client.ws = websocket.create_connection(url, timeout=10, socket=sock)
    client.last_seq, client.buffer, client.check_seq = 0, [], True
    return client


def test_new_symbol_limits_per_connection_and_address_over_websockets(inproc_server) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(symbols="AAPL", max_new_symbols_per_connection="3", max_new_symbols_per_address="5")
    hub = server.services.hub
    first, second = WsClient(server.ws_url + "/ws"), WsClient(server.ws_url + "/ws")
    third = elsewhere = None
    try:
        first_id = first.recv()["data"]["connection_id"]
        second_id = second.recv()["data"]["connection_id"]
        for symbol in ("NVDA", "TSLA", "AMZN"):
            assert subscribe(first, symbol)["type"] == "subscribed"
        refusal = subscribe(first, "META")
        assert refusal["data"]["code"] == "too_many_subscriptions" and "per connection" in refusal["data"]["message"]
        assert subscribe(first, "NVDA", "ticks")["type"] == "subscribed", "a symbol it brought in already"
        assert subscribe(first, "AAPL")["type"] == "subscribed", "a start-up symbol"
        for symbol in ("GOOGL", "NFLX"):
            assert subscribe(second, symbol)["type"] == "subscribed"
        refusal = subscribe(second, "ORCL")
        assert refusal["data"]["code"] == "too_many_subscriptions"
        assert "per client address" in refusal["data"]["message"]
        assert subscribe(second, "NVDA")["type"] == "subscribed", "streamed already: not new"
        assert "ORCL" not in server.services.feed.symbols and "META" not in server.services.feed.symbols
        # Another address is not limited by this one's symbols.
        elsewhere = client_from(server.ws_url + "/ws", "127.0.0.2")
        elsewhere.recv()
        assert subscribe(elsewhere, "ORCL")["type"] == "subscribed"
        # A third connection of the full address is still served: symbols already streamed, with their data.
        third = WsClient(server.ws_url + "/ws")
        third.recv()
        assert subscribe(third, "TSLA")["type"] == "subscribed"
        assert third.recv_until(lambda m: m["type"] == "market_data")["data"]["symbol"] == "TSLA"
        assert subscribe(third, "META")["data"]["code"] == "too_many_subscriptions"
        # The refusals touched nobody else: the first connection still streams.
        assert first.recv_until(lambda m: m["type"] == "market_data")["type"] == "market_data"
        # Symbols stop counting with their subscriptions: an unsubscribe frees one for the address.
        first.send({"type": "unsubscribe", "data": {"channel": "market_data", "symbol": "AMZN"}})
        first.recv_until(lambda m: m["type"] == "unsubscribed")
        assert subscribe(second, "META")["type"] == "subscribed"
        # Closing the first connection passes NVDA (held by the second) and TSLA (held by the third) on.
        first.close()
        wait_for(lambda: hub.quota.charged(first_id) == 0 and hub.quota.charged(second_id) == 4, 5,
                 message="the first connection's charges gone or passed on")
        assert hub.quota.address_count("127.0.0.1") == 5
    finally:
        for client in (first, second, third, elsewhere):
            if client is not None:
                client.close()
    wait_for(lambda: hub.quota.address_count("127.0.0.1") == 0 and hub.quota.address_count("127.0.0.2") == 0, 5,
             message="every charge released with its connection")
