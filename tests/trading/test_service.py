"""The service at the edge: commit before announce, the feed thread's gate, snapshots, idea lookup."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from api import protocol as p
from feeds.bus import InProcessBus
from feeds.models import Quote, Tick
from trading.broker import Broker, BrokerConfig, Gate, Instrument
from trading.orders import Order, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from trading.service import TradingService, auto_order
from trading.store import AutoRule, TradingStore

T0 = 1_772_460_000.0


class Market:
    def __init__(self) -> None:
        self.quotes: dict[str, Quote] = {}

    def set(self, symbol: str, bid: float, ask: float, t: float = T0) -> Tick:
        price = (bid + ask) / 2
        self.quotes[symbol] = Quote(symbol, price, bid, ask, 1e6, price, t, "test")
        return Tick(symbol, t, price, bid, ask, 100.0)

    def latest(self, symbol: str) -> Quote | None:
        return self.quotes.get(symbol)

    def fetch(self, symbol: str) -> Quote:
        return self.quotes[symbol]


@pytest.fixture
def setup(tmp_path: Path) -> tuple[TradingService, InProcessBus, Market, Path]:
    bus = InProcessBus()
    market = Market()
    market.set("AAPL", 99.99, 100.01)
    path = tmp_path / "t.sqlite3"
    broker = Broker(TradingStore(path), BrokerConfig(), lambda: T0)
    service = TradingService(broker, bus, market.latest, market.fetch, lambda s: Instrument(s, 0.01),
                             clock=lambda: T0)
    return service, bus, market, path


def test_every_announcement_is_already_in_the_store(setup: Any) -> None:
    service, bus, market, path = setup
    reader = sqlite3.connect(path)  # another connection: sees only what is committed
    checked: list[str] = []

    def check(topic: str, event: Any) -> None:
        if isinstance(event, p.ChannelEvent) and event.type is p.MessageType.ORDER_UPDATE:
            row = reader.execute("SELECT status, filled_quantity FROM orders WHERE order_id = ?",
                                 (event.data["order_id"],)).fetchone()
            assert row == (event.data["status"], event.data["filled_quantity"]), event.data
            checked.append(event.data["status"])
        if isinstance(event, p.ChannelEvent) and event.type is p.MessageType.TRADE:
            row = reader.execute("SELECT status FROM trades WHERE trade_id = ?", (event.data["trade_id"],)).fetchone()
            assert row == (event.data["status"],)

    bus.subscribe(check, "orders")
    bus.subscribe(check, "trades")
    service.submit(OrderRequest("AAPL", Side.BUY, 10.0))
    service.process_tick(market.set("AAPL", 100.0, 100.02, T0 + 1))
    order, _ = service.submit(OrderRequest("AAPL", Side.SELL, 10.0, OrderType.LIMIT, limit_price=105.0,
                                           time_in_force=TimeInForce.GTC))
    service.cancel(order.order_id)
    service.submit(OrderRequest("AAPL", Side.SELL, 50.0))  # rejected: 10 held
    assert checked == ["accepted", "filled", "accepted", "canceled", "rejected"]


def test_the_feed_thread_queues_only_ticks_that_could_act(setup: Any) -> None:
    service, bus, market, _ = setup
    bus.publish("ticks.AAPL", market.set("AAPL", 99.0, 99.02))
    assert len(service._queue) == 0  # no working order
    service.submit(OrderRequest("AAPL", Side.BUY, 1.0, OrderType.LIMIT, limit_price=95.0,
                                time_in_force=TimeInForce.GTC))
    service.submit(OrderRequest("AAPL", Side.BUY, 1.0, OrderType.STOP, stop_price=105.0,
                                time_in_force=TimeInForce.GTC))
    bus.publish("ticks.AAPL", market.set("AAPL", 99.0, 99.02))
    bus.publish("ticks.MSFT", market.set("MSFT", 10.0, 10.02))
    assert len(service._queue) == 0  # between the limit and the stop, and another symbol
    bus.publish("ticks.AAPL", market.set("AAPL", 94.9, 94.95))
    bus.publish("ticks.AAPL", market.set("AAPL", 105.0, 105.05))
    assert len(service._queue) == 2


@pytest.mark.parametrize(("orders", "quote", "passes"), [
    ([], (100.0, 100.02), False),
    ([("buy", "limit", 100.0)], (99.99, 100.0), True),
    ([("buy", "limit", 100.0)], (99.99, 100.01), False),
    ([("sell", "limit", 100.0)], (100.0, 100.02), True),
    ([("buy", "stop", 101.0)], (100.98, 101.0), True),
    ([("sell", "stop", 99.0)], (99.01, 99.03), False),
    ([("buy", "market", None)], (1.0, 1.01), True),
])
def test_gate(orders: list[tuple[str, str, float | None]], quote: tuple[float, float], passes: bool) -> None:
    made = [Order(f"o{i}", None, "X", Side(side), OrderType(kind), 1.0,
                  price if kind == "limit" else None, price if kind == "stop" else None, TimeInForce.GTC,
                  OrderStatus.ACCEPTED, T0, T0, evaluated=True)
            for i, (side, kind, price) in enumerate(orders)]
    assert Gate.of(made).passes(*quote) is passes


def test_snapshots_give_the_last_announced_state(setup: Any) -> None:
    service, _, market, _ = setup
    order, _ = service.submit(OrderRequest("AAPL", Side.BUY, 2.0, OrderType.LIMIT, limit_price=90.0))
    service.submit(OrderRequest("AAPL", Side.BUY, 1.0))
    service.process_tick(market.set("AAPL", 100.0, 100.02, T0 + 1))
    orders = service.snapshot(p.Subscription(p.Channel.ORDERS))
    assert [(e.type, e.data["order_id"], e.data["snapshot"]) for e in orders] == [
        (p.MessageType.ORDER_UPDATE, order.order_id, True)]
    positions = service.snapshot(p.Subscription(p.Channel.POSITIONS))
    assert positions[0].data["quantity"] == 1 and positions[0].data["symbol"] == "AAPL"
    cards = service.snapshot(p.Subscription(p.Channel.DASHBOARD))[0].data
    assert cards["open_positions"] == 1 and cards["total_value"].startswith("$")
    assert service.snapshot(p.Subscription(p.Channel.SIGNALS)) == []


def test_payloads_seen_on_the_bus_are_kept_bounded(setup: Any) -> None:
    service, bus, _, _ = setup
    for i in range(1005):
        bus.publish("payloads.AAPL", p.ChannelEvent(p.Channel.PAYLOADS, p.MessageType.PREPARED_PAYLOAD, "AAPL",
                                                    {"idea_id": f"i{i}", "symbol": "AAPL"}, T0))
    assert service.payload("i0") is None and service.payload("i1004") is not None
    assert len(service._payloads) == 1000


@pytest.mark.parametrize(("action", "held", "short", "expected"), [
    ("BUY", 0.0, False, ("buy", 9.0)),  # 1000 / 105 → 9 whole shares
    ("BUY", 5.0, False, None),  # already long
    ("BUY", -4.0, True, ("buy", 13.0)),  # cover 4, then 9
    ("SELL", 5.0, False, ("sell", 5.0)),  # close the long
    ("SELL", 5.0, True, ("sell", 14.0)),  # close and go short 9
    ("SELL", 0.0, False, None),
])
def test_auto_trading_size_rule(action: str, held: float, short: bool, expected: tuple[str, float] | None) -> None:
    from trading.positions import Position

    request = auto_order(AutoRule("AAPL", "1h", True, 1000.0), action, 105.0,
                         Position("AAPL", held, 100.0) if held else None, short, "s1")
    assert (None if request is None else (request.side.value, request.quantity)) == expected
