"""Broker rules on hand-made quote sequences: each order type and time in force, the volume cap, brackets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from trading.broker import Broker, BrokerConfig, Instrument, OrderEvent, OrderRefused
from trading.fills import FillRules, MarketTick
from trading.orders import Leg, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from trading.store import TradingStore

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC).timestamp()
AAPL = Instrument("AAPL", 0.01)


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make(tmp_path: Path, clock: Clock | None = None, **config: object) -> Broker:
    rules = config.pop("rules", FillRules())
    cfg = BrokerConfig(rules=rules, **config)  # type: ignore[arg-type]
    return Broker(TradingStore(tmp_path / "t.sqlite3"), cfg, clock or Clock())


def q(bid: float, ask: float, volume: float | None = 1_000_000, t: float = T0 + 1, symbol: str = "AAPL") -> MarketTick:
    return MarketTick(symbol, t, bid, ask, volume)


def marks(symbol: str) -> float | None:
    return None


def place(broker: Broker, quote: MarketTick | None = None, **fields: object):  # type: ignore[no-untyped-def]
    fields.setdefault("symbol", "AAPL")
    fields.setdefault("side", Side.BUY)
    fields.setdefault("quantity", 10.0)
    order, events = broker.submit(OrderRequest(**fields), AAPL, quote or q(99.99, 100.01), marks)  # type: ignore
    return order


def statuses(events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.order.status.value for e in events if isinstance(e, OrderEvent)]


def test_market_buy_fills_at_the_ask_plus_slippage_on_the_next_quote(tmp_path: Path) -> None:
    broker = make(tmp_path, rules=FillRules(slippage_bps=10))
    order = place(broker)
    assert order.status is OrderStatus.ACCEPTED and order.filled_quantity == 0
    events = broker.on_tick(q(100.00, 100.10))
    assert statuses(events) == ["filled"]
    filled = events[0].order
    assert filled.avg_fill_price == pytest.approx(100.10 * 1.001)
    assert broker.account.cash == pytest.approx(100_000 - 10 * 100.10 * 1.001)
    assert broker.positions["AAPL"].quantity == 10


def test_market_sell_fills_at_the_bid_minus_slippage(tmp_path: Path) -> None:
    broker = make(tmp_path, rules=FillRules(slippage_bps=10))
    place(broker)
    broker.on_tick(q(100.00, 100.10))
    place(broker, side=Side.SELL)
    events = broker.on_tick(q(101.00, 101.20, t=T0 + 2))
    assert events[0].order.avg_fill_price == pytest.approx(101.00 * 0.999)
    assert "AAPL" not in broker.positions


@pytest.mark.parametrize(("side", "limit", "quotes", "fill_at"), [
    # Buy limit 100: the last price may cross it, but only an ask at or below 100 fills, at that ask.
    (Side.BUY, 100.0, [(99.95, 100.05), (99.98, 100.02), (99.90, 99.97)], 99.97),
    # Sell limit 101: only a bid at or above it fills, at the bid.
    (Side.SELL, 101.0, [(100.97, 101.03), (101.02, 101.06)], 101.02),
])
def test_a_limit_fills_only_when_the_quote_reaches_it_and_never_through_it(
        tmp_path: Path, side: Side, limit: float, quotes: list[tuple[float, float]], fill_at: float) -> None:
    broker = make(tmp_path, allow_short=True)
    order = place(broker, side=side, type=OrderType.LIMIT, limit_price=limit)
    for i, (bid, ask) in enumerate(quotes[:-1]):
        assert broker.on_tick(q(bid, ask, t=T0 + 1 + i)) == []
    bid, ask = quotes[-1]
    events = broker.on_tick(q(bid, ask, t=T0 + 10))
    assert statuses(events) == ["filled"]
    assert events[0].order.avg_fill_price == fill_at
    assert broker.store.order(order.order_id).status is OrderStatus.FILLED  # type: ignore[union-attr]


def test_limit_slippage_never_makes_the_fill_worse_than_the_limit(tmp_path: Path) -> None:
    broker = make(tmp_path, rules=FillRules(slippage_bps=50))
    place(broker, type=OrderType.LIMIT, limit_price=100.0)
    events = broker.on_tick(q(99.90, 99.98))
    assert events[0].order.avg_fill_price == 100.0  # 99.98 × 1.005 would be 100.48


def test_buy_stop_triggers_when_the_ask_reaches_it_and_fills_at_the_ask(tmp_path: Path) -> None:
    broker = make(tmp_path)
    order = place(broker, type=OrderType.STOP, stop_price=101.0)
    assert broker.on_tick(q(100.90, 100.99)) == []
    events = broker.on_tick(q(101.00, 101.05, t=T0 + 2))
    assert statuses(events) == ["filled"] and events[0].order.avg_fill_price == 101.05
    assert events[0].order.triggered and events[0].order.order_id == order.order_id


def test_sell_stop_triggers_on_the_bid(tmp_path: Path) -> None:
    broker = make(tmp_path)
    place(broker)
    broker.on_tick(q(100.0, 100.02))
    place(broker, side=Side.SELL, type=OrderType.STOP, stop_price=95.0)
    assert broker.on_tick(q(95.01, 95.03, t=T0 + 2)) == []
    events = broker.on_tick(q(94.90, 94.95, t=T0 + 3))
    assert events[0].order.avg_fill_price == 94.90


def test_stop_limit_triggers_then_waits_for_its_limit_and_remembers_the_trigger(tmp_path: Path) -> None:
    broker = make(tmp_path)
    order = place(broker, type=OrderType.STOP_LIMIT, stop_price=101.0, limit_price=101.10)
    assert broker.on_tick(q(101.10, 101.20)) == []  # triggered (ask ≥ 101), but the ask is above the limit
    stored = broker.store.order(order.order_id)
    assert stored is not None and stored.triggered and stored.status is OrderStatus.ACCEPTED
    # Restarted: the trigger survives, so a quote back under the stop still fills at the limit rule.
    broker = Broker(TradingStore(tmp_path / "t.sqlite3"), broker.config, Clock())
    events = broker.on_tick(q(100.90, 100.95, t=T0 + 3))
    assert statuses(events) == ["filled"] and events[0].order.avg_fill_price == 100.95


def test_the_volume_cap_fills_a_large_order_over_several_quotes_in_time_priority(tmp_path: Path) -> None:
    broker = make(tmp_path, rules=FillRules(max_volume_share=0.5))
    first = place(broker, quantity=50.0)
    second = place(broker, quantity=10.0)
    seen = []
    for i in range(4):
        for e in broker.on_tick(q(99.99, 100.01, volume=40, t=T0 + 1 + i)):
            if isinstance(e, OrderEvent):
                seen.append((e.order.order_id, e.order.status.value, e.fill.quantity if e.fill else None))
    # 20 per quote (half of 40), shared: the first order takes all of it until it is done.
    assert seen == [
        (first.order_id, "partially_filled", 20.0),
        (first.order_id, "partially_filled", 20.0),
        (first.order_id, "filled", 10.0), (second.order_id, "filled", 10.0),
    ]


def test_a_quote_with_no_volume_fills_nothing_and_a_source_without_volumes_is_not_capped(tmp_path: Path) -> None:
    broker = make(tmp_path, rules=FillRules(max_volume_share=0.1))
    place(broker, quantity=10.0)
    assert broker.on_tick(q(99.99, 100.01, volume=0)) == []
    events = broker.on_tick(q(99.99, 100.01, volume=None, t=T0 + 2))
    assert statuses(events) == ["filled"]


def test_ioc_fills_what_the_first_quote_can_and_cancels_the_rest(tmp_path: Path) -> None:
    broker = make(tmp_path, rules=FillRules(max_volume_share=1.0))
    place(broker, quantity=10.0, time_in_force=TimeInForce.IOC)
    events = broker.on_tick(q(99.99, 100.01, volume=4))
    assert statuses(events) == ["partially_filled", "canceled"]
    assert events[-1].order.filled_quantity == 4 and "ioc" in (events[-1].order.reason or "")


def test_ioc_limit_not_reached_is_canceled_on_the_first_quote(tmp_path: Path) -> None:
    broker = make(tmp_path)
    place(broker, type=OrderType.LIMIT, limit_price=99.0, time_in_force=TimeInForce.IOC)
    assert statuses(broker.on_tick(q(99.99, 100.01))) == ["canceled"]


@pytest.mark.parametrize(("volume", "expected"), [(9, ["canceled"]), (10, ["filled"])])
def test_fok_fills_all_at_once_or_nothing(tmp_path: Path, volume: float, expected: list[str]) -> None:
    broker = make(tmp_path)
    place(broker, quantity=10.0, time_in_force=TimeInForce.FOK)
    events = broker.on_tick(q(99.99, 100.01, volume=volume))
    assert statuses(events) == expected
    last = [e for e in events if isinstance(e, OrderEvent)][-1]
    assert last.order.filled_quantity == (10 if expected == ["filled"] else 0)


def test_day_orders_expire_at_midnight_utc_and_gtc_orders_do_not(tmp_path: Path) -> None:
    clock = Clock()
    broker = make(tmp_path, clock)
    day = place(broker, type=OrderType.LIMIT, limit_price=90.0)
    gtc = place(broker, type=OrderType.LIMIT, limit_price=90.0, time_in_force=TimeInForce.GTC)
    midnight = datetime(2026, 3, 3, tzinfo=UTC).timestamp()
    assert day.expires_at == midnight and gtc.expires_at is None
    assert broker.expire_due(midnight - 0.001) == []
    events = broker.expire_due(midnight)
    assert [(e.order.order_id, e.order.status.value) for e in events] == [(day.order_id, "expired")]
    # A quote after midnight expires a day order before it could fill.
    day2 = place(broker, type=OrderType.LIMIT, limit_price=100.0)
    events = broker.on_tick(q(99.0, 99.5, t=datetime(2026, 3, 4, tzinfo=UTC).timestamp()))
    assert (day2.order_id, "expired") in [(e.order.order_id, e.order.status.value) for e in events]
    assert broker.store.order(gtc.order_id).status is OrderStatus.ACCEPTED  # type: ignore[union-attr]


def test_bracket_exits_work_after_the_entry_fills_and_cancel_each_other(tmp_path: Path) -> None:
    broker = make(tmp_path)
    entry = place(broker, type=OrderType.LIMIT, limit_price=100.0, take_profit=105.0, stop_loss=97.0,
                  time_in_force=TimeInForce.GTC)
    legs = {o.leg: o for o in broker.open_orders.values() if o.parent_id == entry.order_id}
    assert {leg: o.status for leg, o in legs.items()} == {Leg.TAKE_PROFIT: OrderStatus.NEW,
                                                          Leg.STOP_LOSS: OrderStatus.NEW}
    # A quote that would hit the target does nothing while the entry is unfilled.
    assert broker.on_tick(q(105.5, 105.6)) == []
    events = broker.on_tick(q(99.95, 100.0, t=T0 + 2))
    assert [(e.order.leg.value, e.order.status.value) for e in events if isinstance(e, OrderEvent)] == [
        ("entry", "filled"), ("take_profit", "accepted"), ("stop_loss", "accepted")]
    events = broker.on_tick(q(105.0, 105.1, t=T0 + 3))
    assert [(e.order.leg.value, e.order.status.value) for e in events if isinstance(e, OrderEvent)] == [
        ("take_profit", "filled"), ("stop_loss", "canceled")]
    assert "AAPL" not in broker.positions
    assert broker.closed_pnls.count == 1 and broker.closed_pnls.total == pytest.approx(50.0)


def test_a_partial_exit_shrinks_the_other_exit(tmp_path: Path) -> None:
    broker = make(tmp_path, rules=FillRules(max_volume_share=1.0))
    entry = place(broker, type=OrderType.LIMIT, limit_price=100.0, take_profit=105.0, stop_loss=97.0)
    broker.on_tick(q(99.95, 100.0))
    broker.on_tick(q(105.0, 105.1, volume=4, t=T0 + 2))
    stop = next(o for o in broker.open_orders.values() if o.leg is Leg.STOP_LOSS and o.parent_id == entry.order_id)
    assert stop.quantity == 6 and stop.status is OrderStatus.ACCEPTED
    events = broker.on_tick(q(96.9, 97.0, t=T0 + 3))
    assert statuses(events) == ["filled", "canceled"]  # the stop sells the 6 left; the target's rest ends
    assert "AAPL" not in broker.positions


def test_canceling_an_unfilled_bracket_entry_cancels_its_exits(tmp_path: Path) -> None:
    broker = make(tmp_path)
    entry = place(broker, type=OrderType.LIMIT, limit_price=100.0, take_profit=105.0, stop_loss=97.0)
    order, events = broker.cancel(entry.order_id)
    assert order is not None and order.status is OrderStatus.CANCELED
    assert statuses(events) == ["canceled", "canceled", "canceled"]
    assert broker.open_orders == {}


@pytest.mark.parametrize(("fields", "reason"), [
    ({"type": OrderType.LIMIT, "limit_price": 100.005}, "tick size"),
    ({"type": OrderType.LIMIT}, "needs limit_price"),
    ({"type": OrderType.MARKET, "limit_price": 100.0}, "takes no limit_price"),
    ({"quantity": 2000.0}, "insufficient buying power"),
    ({"side": Side.SELL}, "insufficient position"),
    ({"type": OrderType.LIMIT, "limit_price": 100.0, "take_profit": 99.0}, "take_profit 99 must be above"),
    ({"type": OrderType.LIMIT, "limit_price": 100.0, "stop_loss": 101.0}, "stop_loss 101 must be below"),
    ({"type": OrderType.STOP_LIMIT, "stop_price": 101.0, "limit_price": 100.0}, "limit_price at or above"),
])
def test_invalid_orders_are_rejected_with_a_reason(tmp_path: Path, fields: dict[str, object], reason: str) -> None:
    broker = make(tmp_path)
    order = place(broker, **fields)
    assert order.status is OrderStatus.REJECTED and reason in (order.reason or ""), order.reason
    assert broker.store.order(order.order_id) is not None and broker.open_orders == {}


def test_open_orders_reserve_buying_power(tmp_path: Path) -> None:
    broker = make(tmp_path, starting_cash=10_000.0)
    assert place(broker, type=OrderType.LIMIT, limit_price=100.0, quantity=60.0).status is OrderStatus.ACCEPTED
    second = place(broker, type=OrderType.LIMIT, limit_price=100.0, quantity=60.0)
    assert second.status is OrderStatus.REJECTED and "4,000.00 is available" in (second.reason or "")


def test_short_selling_needs_the_setting(tmp_path: Path) -> None:
    assert place(make(tmp_path / "a"), side=Side.SELL).status is OrderStatus.REJECTED
    broker = make(tmp_path / "b", allow_short=True)
    assert place(broker, side=Side.SELL).status is OrderStatus.ACCEPTED
    broker.on_tick(q(100.0, 100.02))
    assert broker.positions["AAPL"].quantity == -10


def test_a_repeated_client_order_id_returns_the_existing_order(tmp_path: Path) -> None:
    broker = make(tmp_path)
    first = place(broker, client_order_id="abc")
    again, events = broker.submit(OrderRequest("AAPL", Side.BUY, 99.0, client_order_id="abc"), AAPL,
                                  q(99.99, 100.01), marks)
    assert again.order_id == first.order_id and events == [] and again.quantity == 10


def test_unknown_symbols_and_full_books_are_refused_without_an_order(tmp_path: Path) -> None:
    broker = make(tmp_path, max_open_orders=2)
    with pytest.raises(OrderRefused) as unknown:
        broker.submit(OrderRequest("ZZZZ", Side.BUY, 1.0), None, None, marks)
    assert unknown.value.status == 404
    place(broker, type=OrderType.LIMIT, limit_price=90.0)
    place(broker, type=OrderType.LIMIT, limit_price=90.0)
    with pytest.raises(OrderRefused) as full:
        place(broker, type=OrderType.LIMIT, limit_price=90.0)
    assert full.value.status == 429 and "at most 2 open orders" in full.value.message


def test_commissions_per_order_and_per_share(tmp_path: Path) -> None:
    broker = make(tmp_path, rules=FillRules(commission_per_order=1.0, commission_per_share=0.01,
                                            max_volume_share=1.0))
    place(broker, quantity=10.0)
    broker.on_tick(q(99.99, 100.0, volume=4))
    broker.on_tick(q(99.99, 100.0, volume=10, t=T0 + 2))
    # 1 per order once, 0.01 × 10 shares over both fills.
    assert broker.account.cash == pytest.approx(100_000 - 1000 - 1.0 - 0.10)


def test_a_restart_restores_cash_positions_and_working_orders_without_filling_them(tmp_path: Path) -> None:
    broker = make(tmp_path)
    place(broker)
    broker.on_tick(q(100.0, 100.02))
    working = place(broker, type=OrderType.LIMIT, limit_price=90.0, time_in_force=TimeInForce.GTC)
    cash = broker.account.cash
    broker.store.close()
    again = Broker(TradingStore(tmp_path / "t.sqlite3"), broker.config, Clock())
    assert again.account.cash == cash
    assert again.positions["AAPL"].quantity == 10 and again.positions["AAPL"].avg_price == 100.02
    restored = again.open_orders[working.order_id]
    assert restored.status is OrderStatus.ACCEPTED and restored.filled_quantity == 0
    assert again.symbols_with_working_orders() == {"AAPL"}
    assert again.open_trades["AAPL"].entry_quantity == 10
