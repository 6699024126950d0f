"""P&L, win rate, profit factor, drawdown and Sharpe worked out by hand; positions at average cost; the store."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trading import performance as perf
from trading.broker import Broker, BrokerConfig, Instrument
from trading.fills import FillRules, MarketTick
from trading.orders import OrderRequest, Side
from trading.positions import Position, TradeSide, TradeStatus, apply_fill
from trading.store import MIGRATIONS, SCHEMA_VERSION, TradingStore

DAY = 86_400
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("pnls", "rate", "factor"), [
    ([], None, None),
    ([100.0, -50.0, 200.0], 2 / 3, 6.0),
    ([10.0, 0.0], 0.5, None),  # a break-even trade is no win; no loss, no profit factor
    ([-1.0, -3.0], 0.0, 0.0),
])
def test_win_rate_and_profit_factor(pnls: list[float], rate: float | None, factor: float | None) -> None:
    assert perf.win_rate(pnls) == rate
    assert perf.profit_factor(pnls) == factor


@pytest.mark.parametrize(("values", "expected"), [
    ([100.0, 110.0, 121.0], 0.0),
    ([100.0, 80.0, 120.0, 90.0, 130.0], 0.25),  # 120 → 90
    ([100.0, 50.0, 200.0, 150.0], 0.5),  # 100 → 50 is worse than 200 → 150
])
def test_max_drawdown_is_the_largest_fall_from_a_running_peak(values: list[float], expected: float) -> None:
    assert perf.max_drawdown(values) == pytest.approx(expected)


def test_sharpe_on_daily_returns_by_hand() -> None:
    # Returns 1 %, -0.5 %, 2 %: mean 0.8333 %, deviations 0.1667, -1.3333, 1.1667 (%), squares sum 3.1667e-4,
    # sample variance 1.5833e-4, std 1.2583 %; 0.8333 / 1.2583 = 0.66227; × √252 = 10.513; × √365 = 12.653.
    returns = [0.01, -0.005, 0.02]
    assert perf.sharpe(returns, 252) == pytest.approx(10.513, abs=1e-3)
    assert perf.sharpe(returns, 365) == pytest.approx(12.653, abs=1e-3)
    assert perf.sharpe([0.01]) is None and perf.sharpe([0.01, 0.01]) is None


def test_daily_returns_use_the_last_value_of_each_utc_day() -> None:
    curve = [(T0, 100.0), (T0 + 60, 101.0), (T0 + DAY, 99.0), (T0 + DAY + 60, 102.01), (T0 + 2 * DAY, 102.01)]
    assert perf.daily_closes(curve) == [100.0, 101.0, 102.01, 102.01]
    assert perf.daily_returns(curve) == pytest.approx([0.01, 0.01, 0.0])


@pytest.mark.parametrize(("value", "text"), [(50_000, "$50,000.00"), (-1200.5, "-$1,200.50"), (0.001, "$0.00"),
                                             (1234567.891, "$1,234,567.89")])
def test_money_display(value: float, text: str) -> None:
    assert perf.money(value) == text


def test_percent_display() -> None:
    assert perf.percent(0.583) == "58.3%" and perf.percent(None) == "—" and perf.percent(1.0) == "100.0%"


def test_positions_at_average_cost_and_round_trips() -> None:
    pos = Position("X")
    r = apply_fill(pos, None, Side.BUY, 10, 100.0, 1.0, T0, "t1")
    assert (r.position.quantity, r.position.avg_price, r.trade.side) == (10, 100.0, TradeSide.LONG)
    r = apply_fill(r.position, r.trade, Side.BUY, 10, 110.0, 1.0, T0 + 1, "t2")
    assert r.position.avg_price == 105.0 and r.trade.entry_quantity == 20
    # Sell 25: 20 close at 120 (+15 each = 300), 5 open a short at 120; the commission 2.5 is shared 20:5.
    r = apply_fill(r.position, r.trade, Side.SELL, 25, 120.0, 2.5, T0 + 2, "t3")
    assert r.trade.status is TradeStatus.CLOSED and r.trade.realized_pnl == pytest.approx(300 - 1 - 1 - 2.0)
    assert r.opened is not None and r.opened.side is TradeSide.SHORT and r.opened.entry_quantity == 5
    assert r.position.quantity == -5 and r.position.avg_price == 120.0
    # Cover at 100: a short gains (120 - 100) × 5 = 100, less its 0.5 opening share of the commission.
    r2 = apply_fill(r.position, r.opened, Side.BUY, 5, 100.0, 0.0, T0 + 3, "t4")
    assert r2.trade.realized_pnl == pytest.approx(100 - 0.5) and r2.position.is_flat
    assert Position("X", -5, 120.0).unrealized(110.0) == pytest.approx(50.0)


def test_broker_performance_by_hand(tmp_path: Path) -> None:
    clock = [T0]
    broker = Broker(TradingStore(tmp_path / "p.sqlite3"), BrokerConfig(starting_cash=10_000.0, rules=FillRules()),
                    lambda: clock[0])
    aapl = Instrument("AAPL", 0.01)
    price = {"AAPL": 100.0}

    def mark(symbol: str) -> float | None:
        return price.get(symbol)

    def trade(buy_at: float, sell_at: float, t: float) -> None:
        clock[0] = t
        tick = MarketTick("AAPL", t, buy_at - 0.01, buy_at, None)
        broker.submit(OrderRequest("AAPL", Side.BUY, 10.0), aapl, tick, mark)
        broker.on_tick(tick)
        broker.submit(OrderRequest("AAPL", Side.SELL, 10.0), aapl, tick, mark)
        broker.on_tick(MarketTick("AAPL", t + 1, sell_at, sell_at + 0.01, None))

    # Day 1: +100 (10 × 100 → 110); equity 10,100 at the day's end.
    broker.sample_equity(mark, T0)
    trade(100.0, 110.0, T0 + 10)
    broker.sample_equity(mark, T0 + 20)
    # Day 2: -50 (10 × 100 → 95): 10,050.
    trade(100.0, 95.0, T0 + DAY)
    broker.sample_equity(mark, T0 + DAY + 20)
    # Day 3: +200 (10 × 100 → 120), then 10 more held at 100 marked to 90 (-100): 10,150.
    trade(100.0, 120.0, T0 + 2 * DAY)
    clock[0] = T0 + 2 * DAY + 30
    tick = MarketTick("AAPL", clock[0], 99.99, 100.0, None)
    broker.submit(OrderRequest("AAPL", Side.BUY, 10.0), aapl, tick, mark)
    broker.on_tick(tick)
    price["AAPL"] = 90.0
    result, curve = broker.performance(mark)
    assert result.total_value == pytest.approx(10_150.0)
    assert result.cash == pytest.approx(10_250.0 - 1000.0)
    assert result.open_positions == 1
    assert result.closed_trades == 3
    assert result.win_rate == pytest.approx(2 / 3) and result.profit_factor == pytest.approx(6.0)
    assert result.unrealized_pnl == pytest.approx(-100.0)
    assert result.realized_pnl == pytest.approx(250.0)
    # Day 3 started at 10,050 (the first call of the day rolls it; here by hand).
    assert result.daily_pnl == pytest.approx(10_150.0 - 10_000.0)  # no roll yet: the account's start day value
    broker.roll_day(mark, T0 + 2 * DAY)
    assert broker.performance(mark)[0].daily_pnl == pytest.approx(0.0)
    # Curve 10,000 → 10,100 → 10,050, now 10,150: the largest fall 10,100 → 10,050.
    assert result.max_drawdown == pytest.approx(1 - 10_050 / 10_100)
    # Daily closes 10,000 (start), 10,100, 10,050, 10,150: returns 1 %, -0.4950 %, 0.99502 %.
    returns = [10_100 / 10_000 - 1, 10_050 / 10_100 - 1, 10_150 / 10_050 - 1]
    mean = sum(returns) / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 2)
    assert result.sharpe == pytest.approx(mean / std * math.sqrt(252))
    assert [v for _, v in curve] == pytest.approx([10_000.0, 10_100.0, 10_050.0])


def test_the_store_migrates_a_version_1_file_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.execute("INSERT INTO account VALUES (1, 5000, 5000, 0, 0, 5000)")
    db.commit()
    db.close()
    store = TradingStore(path)
    assert store.schema_version() == SCHEMA_VERSION == 2
    loaded = store.load()
    assert loaded.account is not None and loaded.account.cash == 5000
    assert store.auto_rules() == []
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_newer_than_the_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    TradingStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(RuntimeError, match="newer"):
        TradingStore(path)


def test_prune_keeps_open_orders_and_the_newest_closed_ones(tmp_path: Path) -> None:
    from trading.orders import Order, OrderStatus, OrderType, TimeInForce
    from trading.store import Changes, Fill

    store = TradingStore(tmp_path / "prune.sqlite3")
    orders = {f"o{i}": Order(f"o{i}", None, "X", Side.BUY, OrderType.MARKET, 1.0, None, None, TimeInForce.GTC,
                             OrderStatus.FILLED if i < 8 else OrderStatus.ACCEPTED, T0 + i, T0 + i)
              for i in range(10)}
    store.commit(Changes(orders=orders, fills=[Fill(f"o{i}", "X", Side.BUY, 1.0, 1.0, 0.0, T0 + i)
                                               for i in range(8)]))
    assert store.prune(max_orders=3) == 5
    kept = {o.order_id for o in store.orders(None, 100)}
    assert kept == {"o5", "o6", "o7", "o8", "o9"}
    assert [f.order_id for f in store.fills()] == ["o5", "o6", "o7"]


def test_sharpe_annualises_with_365_days_when_everything_held_trades_every_day(tmp_path: Path) -> None:
    clock = [T0]
    broker = Broker(TradingStore(tmp_path / "c.sqlite3"), BrokerConfig(starting_cash=10_000.0), lambda: clock[0],
                    every_day=lambda symbol: symbol == "BTC-USD")
    price = {"BTC-USD": 100.0}

    def mark(symbol: str) -> float | None:
        return price.get(symbol)

    broker.sample_equity(mark, T0)
    tick = MarketTick("BTC-USD", T0, 99.99, 100.0, None)
    broker.submit(OrderRequest("BTC-USD", Side.BUY, 10.0), Instrument("BTC-USD", 0.01, True), tick, mark)
    broker.on_tick(tick)
    for day, value in ((1, 110.0), (2, 105.0)):
        price["BTC-USD"] = value
        broker.sample_equity(mark, T0 + day * DAY)
    clock[0] = T0 + 3 * DAY
    price["BTC-USD"] = 120.0
    result, _ = broker.performance(mark)
    # Closes: the start 10,000; day 0 10,000 (bought at the ask, no gain yet); days 1, 2: 10,100, 10,050; now 10,200.
    closes = [10_000.0, 10_000.0, 10_100.0, 10_050.0, 10_200.0]
    returns = [b / a - 1 for a, b in zip(closes, closes[1:], strict=False)]
    assert result.sharpe == pytest.approx(perf.sharpe(returns, 365))
    assert result.sharpe == pytest.approx(perf.sharpe(returns, 252) * math.sqrt(365 / 252))


def test_a_day_order_placed_at_midnight_lives_the_whole_day() -> None:
    from trading.orders import day_end

    midnight = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
    assert day_end(midnight) == midnight + DAY
    assert day_end(midnight - 0.001) == midnight
