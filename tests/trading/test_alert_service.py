"""The alert service on a real bus and a real SQLite file: each kind of bus event fires its rules, and the alerts
channel's snapshot holds the recent history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests_support import wait_for

from api import protocol as p
from feeds.bus import InProcessBus
from feeds.candles import CandleEvent
from feeds.models import Candle, OptionChain, OptionContract, Timeframe
from signals.enums import Direction
from signals.structure import BreakKind, StructureBreak
from signals.tracker import SignalTracker, TrackerSnapshot
from trading.alert_service import SNAPSHOT_SIZE, AlertService, tracker_snapshots
from trading.alert_store import AlertStore
from trading.alerts import AlertRule, Condition, Frequency

T0 = 1_700_000_040.0


class Alerts:
    """The ``alert`` events the bus carries."""

    def __init__(self, bus: InProcessBus) -> None:
        self.events: list[p.ChannelEvent] = []
        bus.subscribe(self._on, "alerts")

    def _on(self, topic: str, event: Any) -> None:
        assert isinstance(event, p.ChannelEvent) and event.channel is p.Channel.ALERTS
        self.events.append(event)

    def wait(self, count: int) -> list[dict[str, Any]]:
        wait_for(lambda: len(self.events) >= count, 5, message=f"{count} alert events")
        return [e.data for e in self.events]


class Trackers:
    def __init__(self) -> None:
        self.trackers: dict[tuple[str, Timeframe], Any] = {}

    def tracker(self, symbol: str, timeframe: Timeframe) -> Any:
        return self.trackers.get((symbol, timeframe))


@pytest.fixture
def bus() -> InProcessBus:
    return InProcessBus()


@pytest.fixture
def trackers() -> Trackers:
    return Trackers()


@pytest.fixture
def chains() -> dict[str, OptionChain]:
    return {}


@pytest.fixture
def service(tmp_path: Path, bus: InProcessBus, trackers: Trackers,
            chains: dict[str, OptionChain]) -> Iterator[AlertService]:
    kept: list[str] = []
    alerts = AlertService(bus, AlertStore.in_dir(tmp_path), tracker=tracker_snapshots(trackers),
                          options=lambda symbol: chains[symbol], keep_symbol=kept.append,
                          options_interval=3600.0, clock=lambda: T0)
    alerts.kept = kept  # type: ignore[attr-defined]
    alerts.start()
    yield alerts
    alerts.stop()


def _signal(symbol: str, timeframe: str, action: str, at: float) -> p.ChannelEvent:
    return p.ChannelEvent(p.Channel.SIGNALS, p.MessageType.SIGNAL, symbol, {
        "signal_id": f"{symbol}-{timeframe}-{int(at)}", "symbol": symbol, "signal_type": action,
        "side": action.lower(), "confidence": 0.8, "timeframe": timeframe, "price": 190.0}, at)


def test_consensus_signals_on_the_bus_fire_consensus_rules(bus: InProcessBus, service: AlertService) -> None:
    alerts = Alerts(bus)
    service.add_rule(AlertRule("c1", Condition.CONSENSUS, "AAPL", timeframe=Timeframe.H1, action="SELL"))
    bus.publish("signals.AAPL", _signal("AAPL", "5m", "SELL", T0))
    bus.publish("signals.AAPL", _signal("AAPL", "1h", "BUY", T0 + 1))
    bus.publish("signals.AAPL", _signal("AAPL", "1h", "SELL", T0 + 2))
    bus.publish("signals.AAPL", _signal("AAPL", "1h", "SELL", T0 + 3))  # once: already off
    (data,) = alerts.wait(1)
    assert data["message"] == "AAPL 1h consensus SELL at 190 (80% confidence)"
    assert data["time"] == p.iso_ms(T0 + 2)
    wait_for(lambda: service.fired == 1, 5)
    assert service.kept == ["AAPL"]  # type: ignore[attr-defined]


def _order(status: str, symbol: str = "AAPL", order_id: str = "o-1") -> p.ChannelEvent:
    return p.ChannelEvent(p.Channel.ORDERS, p.MessageType.ORDER_UPDATE, symbol, {
        "order_id": order_id, "symbol": symbol, "side": "buy", "status": status, "volume": 10, "price": 190.5,
        "filled_quantity": 10 if status == "filled" else 4, "last_fill_quantity": 6, "last_fill_price": 190.5}, T0)


def test_filled_orders_fire_order_filled_rules(bus: InProcessBus, service: AlertService) -> None:
    alerts = Alerts(bus)
    service.add_rule(AlertRule("o1", Condition.ORDER_FILLED, None, frequency=Frequency.EVERY_TIME,
                               cooldown_seconds=1.0))
    for status in ("new", "accepted", "partially_filled"):
        bus.publish("orders", _order(status))
    bus.publish("orders", _order("filled"))
    (data,) = alerts.wait(1)
    assert (data["symbol"], data["rule_id"], data["condition"]) == ("AAPL", "o1", "order_filled")
    assert data["message"] == "order o-1 filled: buy 10 AAPL at 190.5"
    (entry,) = service.history()
    assert entry["details"] == {"order_id": "o-1", "side": "buy", "quantity": 10.0, "price": 190.5}


def test_a_new_fair_value_gap_on_candle_close_fires(bus: InProcessBus, service: AlertService,
                                                   trackers: Trackers) -> None:
    alerts = Alerts(bus)
    tracker = SignalTracker("AAPL", Timeframe.M1)
    trackers.trackers[("AAPL", Timeframe.M1)] = tracker
    service.add_rule(AlertRule("f1", Condition.NEW_FVG, "AAPL", timeframe=Timeframe.M1, direction="bullish",
                               frequency=Frequency.EVERY_TIME, cooldown_seconds=1.0))
    # h[0] = 101 < l[2] = 102 with candle 1 closing up: a bullish gap 101-102, confirmed when candle 2 closes.
    bars = [(100, 101, 99, 100.5), (100.5, 104, 100.4, 103.8), (103.8, 106, 102, 105), (105, 107, 104, 106)]
    for n, (o, h, lo, c) in enumerate(bars):
        candle = Candle(int(T0) + 60 * n, o, h, lo, c, 1000.0)
        tracker.on_candle_closed(candle)  # the listener first, as feeds/live.py does
        bus.publish("candles.AAPL.1m", CandleEvent("AAPL", Timeframe.M1, candle, True, T0 + 60 * (n + 1)))
        bus.publish("candles.AAPL.1m", CandleEvent("AAPL", Timeframe.M1, candle, False, T0 + 60 * (n + 1)))
    (data,) = alerts.wait(1)
    assert data["message"] == "AAPL 1m: new bullish fair value gap 101–102"
    assert data["time"] == p.iso_ms(T0 + 180)


def test_a_structure_break_on_candle_close_fires(bus: InProcessBus, service: AlertService,
                                                trackers: Trackers) -> None:
    alerts = Alerts(bus)
    candle = Candle(int(T0), 100, 101, 99, 100.5, 10.0)
    brk = StructureBreak(int(T0), 41, Direction.BEARISH, BreakKind.CHOCH, 99.5, 30, int(T0) - 660)

    class Holder:
        snapshot = TrackerSnapshot("AAPL", "5m", candle_count=42, last_candle=candle, breaks=(brk,))

    trackers.trackers[("AAPL", Timeframe.M5)] = Holder()
    service.add_rule(AlertRule("b1", Condition.STRUCTURE_BREAK, "AAPL", timeframe=Timeframe.M5))
    # A candle the tracker has not taken (another time) is not read; the one it took is.
    bus.publish("candles.AAPL.5m", CandleEvent("AAPL", Timeframe.M5, Candle(int(T0) - 300, 1, 1, 1, 1, 1), True, T0))
    bus.publish("candles.AAPL.5m", CandleEvent("AAPL", Timeframe.M5, candle, True, T0 + 300))
    (data,) = alerts.wait(1)
    assert data["message"] == "AAPL 5m: bearish CHOCH through 99.5"


def _contract(name: str, unusual: bool) -> OptionContract:
    return OptionContract(name, 190.0, 1.0, 0.9, 1.1, 900 if unusual else 5, 100, 0.3, 0.5, 0.1, -0.05, 0.2,
                          unusual)


def test_option_chains_are_refreshed_for_unusual_options_rules(service: AlertService, bus: InProcessBus,
                                                              chains: dict[str, OptionChain]) -> None:
    alerts = Alerts(bus)
    chains["AAPL"] = OptionChain("AAPL", 190.0, "2024-01-19", ("2024-01-19",),
                                 (_contract("AAPL240119C00190000", True), _contract("AAPL240119C00195000", False)),
                                 (_contract("AAPL240119P00185000", False),))
    assert service.refresh_options() == 0  # no rule: no chain read
    # Adding the rule wakes the watch thread, which reads the chain at once (the interval here is an hour).
    service.add_rule(AlertRule("u1", Condition.UNUSUAL_OPTIONS, "AAPL", frequency=Frequency.EVERY_TIME,
                               cooldown_seconds=1.0))
    (data,) = alerts.wait(1)
    assert data["message"] == ("AAPL unusual options activity: AAPL240119C00190000 (volume 900, "
                               "open interest 100)")
    assert service.refresh_options() == 1
    assert len(alerts.events) == 1  # the same contract again is not news


def test_the_refresh_reads_a_bounded_number_of_chains(service: AlertService, chains: dict[str, OptionChain]) -> None:
    service.max_option_symbols = 2
    for symbol in ("AAPL", "MSFT", "NVDA"):
        chains[symbol] = OptionChain(symbol, 1.0, "2024-01-19", (), (), ())
        service.add_rule(AlertRule(f"u-{symbol}", Condition.UNUSUAL_OPTIONS, symbol))
    assert service.refresh_options() == 2


def test_the_alerts_snapshot_is_the_recent_history_oldest_first(bus: InProcessBus, service: AlertService) -> None:
    alerts = Alerts(bus)
    service.add_rule(AlertRule("o1", Condition.ORDER_FILLED, None, frequency=Frequency.EVERY_TIME,
                               cooldown_seconds=1.0))
    count = SNAPSHOT_SIZE + 3
    for n in range(count):
        event = _order("filled", order_id=f"o-{n}")
        bus.publish("orders", p.ChannelEvent(event.channel, event.type, event.symbol, event.data, T0 + 2 * n))
    alerts.wait(count)
    snapshot = service.snapshot(p.Subscription(p.Channel.ALERTS))
    assert [e.data["message"].split()[1] for e in snapshot] == [f"o-{n}" for n in range(3, count)]
    assert all(e.data["snapshot"] is True and e.type is p.MessageType.ALERT for e in snapshot)
    # Other channels go to the fallback provider.
    fallback = service.snapshot_provider(lambda s: [_signal("AAPL", "1h", "BUY", T0)])
    assert fallback(p.Subscription(p.Channel.SIGNALS))[0].type is p.MessageType.SIGNAL
    assert len(fallback(p.Subscription(p.Channel.ALERTS))) == SNAPSHOT_SIZE


def test_a_symbol_without_rules_costs_no_evaluation(bus: InProcessBus, service: AlertService) -> None:
    from feeds.models import Tick

    service.add_rule(AlertRule("r1", Condition.PRICE_ABOVE, "AAPL", value=100.0))
    for n in range(100):
        bus.publish("ticks.MSFT", Tick("MSFT", T0 + n, 100.0 + n, None, None, 1.0))
    assert service.engine._last_price == {}


def test_deleting_the_last_rule_of_a_symbol_releases_it(service: AlertService) -> None:
    released: list[str] = []
    service.release_symbol = released.append
    service.add_rule(AlertRule("a", Condition.PRICE_ABOVE, "AAPL", value=1.0))
    service.add_rule(AlertRule("b", Condition.PRICE_BELOW, "AAPL", value=1.0))
    service.add_rule(AlertRule("c", Condition.PRICE_BELOW, "MSFT", value=1.0))
    service.add_rule(AlertRule("d", Condition.ORDER_FILLED, "NVDA"))  # needs no market data: not streamed
    assert service.kept == ["AAPL", "AAPL", "MSFT"]  # type: ignore[attr-defined]
    assert service.delete_rule("d") is not None and released == []
    assert service.delete_rule("a") is not None and released == []  # rule b still watches AAPL
    assert service.delete_rule("b") is not None and released == ["AAPL"]
    assert service.delete_rule("b") is None
    assert service.delete_all() == 1 and released == ["AAPL", "MSFT"]


def test_firings_beyond_the_dispatch_queue_are_dropped_and_counted(tmp_path: Path) -> None:
    from feeds.models import Tick

    bus = InProcessBus()
    service = AlertService(bus, AlertStore(tmp_path / "q.sqlite"), queue_size=3, clock=lambda: T0)
    service._unsubscribe = bus.subscribe(service.on_event)  # listening, but nothing dispatches yet
    service.add_rule(AlertRule("r1", Condition.PRICE_ABOVE, "AAPL", value=100.0, frequency=Frequency.EVERY_TIME,
                               cooldown_seconds=1.0))
    for n in range(10):
        price = 99.0 if n % 2 == 0 else 101.0
        bus.publish("ticks.AAPL", Tick("AAPL", T0 + 5 * n, price, None, None, 1.0))
    assert (service.dropped, service._queue.qsize()) == (2, 3)
    service.start()
    try:
        wait_for(lambda: service.fired == 3, 5)
        assert len(service.history()) == 3
    finally:
        service.stop()


def test_an_invalid_rule_is_neither_stored_nor_armed(service: AlertService) -> None:
    from trading.alerts import InvalidRule

    with pytest.raises(InvalidRule):
        service.add_rule(AlertRule("bad", Condition.PRICE_ABOVE, "AAPL"))
    assert service.rules() == [] and service.store.load_rules() == []
