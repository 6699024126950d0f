"""Alert rules (trading/alerts.py) on scripted observations with hand-made times: every condition, every frequency."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

import pytest

from feeds.models import Timeframe
from trading.alerts import (
    MAX_MESSAGE_LENGTH,
    PRICE_SAMPLES,
    AlertEngine,
    AlertRule,
    Condition,
    Firing,
    Frequency,
    InvalidRule,
    Level,
    OrderFill,
    UnusualContract,
    check_rule,
)

T0 = 1_700_000_040.0  # a minute boundary: bucket_start(T0) == T0 for 1m


def _engine(*rules: AlertRule) -> AlertEngine:
    counter = itertools.count(1)
    engine = AlertEngine(ids=lambda: f"a{next(counter)}")
    for rule in rules:
        engine.add(rule)
    return engine


def _path(engine: AlertEngine, symbol: str, path: Sequence[tuple[float, float]]) -> list[Firing]:
    """Feed (seconds after T0, price) pairs; all firings in order."""
    firings: list[Firing] = []
    for dt, price in path:
        firings += engine.on_price(symbol, price, T0 + dt)
    return firings


def _above(frequency: Frequency = Frequency.ONCE, **fields: object) -> AlertRule:
    return AlertRule("r1", Condition.PRICE_ABOVE, "AAPL", value=100.0, frequency=frequency, **fields)  # type: ignore[arg-type]


# -- crossing --------------------------------------------------------------------------------------------------


def test_price_above_fires_on_the_crossing_and_once_disables_the_rule() -> None:
    engine = _engine(_above())
    firings = _path(engine, "AAPL", [(0, 99.0), (1, 99.5), (2, 100.0), (3, 99.0), (4, 101.0)])
    assert [(f.time - T0, f.details["price"]) for f in firings] == [(2, 100.0)]
    fired = firings[0]
    assert (fired.alert_id, fired.rule_id, fired.symbol, fired.level) == ("a1", "r1", "AAPL", Level.INFO)
    assert fired.message == "AAPL crossed above 100 (last 100)"
    rule = engine.get("r1")
    assert rule is not None and not rule.enabled and rule.fired_count == 1 and rule.last_fired_at == T0 + 2


def test_a_price_already_beyond_the_level_is_not_a_crossing() -> None:
    engine = _engine(_above())
    # The first price has no previous one; prices staying above never cross; falling below then up does.
    assert _path(engine, "AAPL", [(0, 105.0), (1, 106.0), (2, 104.0)]) == []
    assert len(_path(engine, "AAPL", [(3, 99.0), (4, 100.5)])) == 1


def test_price_below_mirrors_price_above() -> None:
    engine = _engine(AlertRule("r1", Condition.PRICE_BELOW, "AAPL", value=100.0))
    firings = _path(engine, "AAPL", [(0, 101.0), (1, 100.5), (2, 100.0), (3, 99.0)])
    assert [f.time - T0 for f in firings] == [2]
    assert firings[0].message == "AAPL crossed below 100 (last 100)"


def test_other_symbols_do_not_touch_a_rule() -> None:
    engine = _engine(_above())
    assert _path(engine, "MSFT", [(0, 99.0), (1, 101.0)]) == []
    assert _path(engine, "AAPL", [(2, 99.0), (3, 101.0)]) != []


# -- frequencies -----------------------------------------------------------------------------------------------


def test_every_time_waits_for_the_cool_down() -> None:
    engine = _engine(_above(Frequency.EVERY_TIME, cooldown_seconds=60.0))
    # Crossings at 1, 11, 61 and 121 s: 11 is within 60 s of 1, 61 is exactly 60 s after 1, 121 is 60 s after 61.
    path = [(0, 99.0), (1, 101.0), (10, 99.0), (11, 101.0), (60, 99.0), (61, 101.0), (120, 99.0), (121, 101.0)]
    assert [f.time - T0 for f in _path(engine, "AAPL", path)] == [1, 61, 121]
    rule = engine.get("r1")
    assert rule is not None and rule.enabled and rule.fired_count == 3


def test_once_per_bar_fires_at_most_once_per_candle_of_the_rule_timeframe() -> None:
    engine = _engine(_above(Frequency.ONCE_PER_BAR, timeframe=Timeframe.M1))
    # Crossings at 1 and 30 s (same minute), 65 s (next minute), 70 s (same), 125 s (third minute).
    path = [(0, 99.0), (1, 101.0), (29, 99.0), (30, 101.0), (64, 99.0), (65, 101.0), (69, 99.0), (70, 101.0),
            (124, 99.0), (125, 101.0)]
    firings = _path(engine, "AAPL", path)
    assert [f.time - T0 for f in firings] == [1, 65, 125]
    assert [f.rule.last_bar for f in firings] == [T0, T0 + 60, T0 + 120]


def test_once_per_bar_on_a_longer_timeframe() -> None:
    engine = _engine(_above(Frequency.ONCE_PER_BAR, timeframe=Timeframe.M5))
    bar = Timeframe.M5.bucket_start(T0)
    start = bar - T0  # seconds from T0 to the 5-minute bar holding T0
    path = [(start + 1, 99.0), (start + 2, 101.0), (start + 200, 99.0), (start + 201, 101.0),
            (start + 300, 99.0), (start + 301, 101.0)]
    assert [f.time - T0 - start for f in _path(engine, "AAPL", path)] == [2, 301]


def test_a_disabled_rule_stays_silent() -> None:
    engine = _engine(replace(_above(), enabled=False))
    assert _path(engine, "AAPL", [(0, 99.0), (1, 101.0)]) == []


# -- percent move ----------------------------------------------------------------------------------------------


def _move(value: float, window: float, direction: str | None = None,
          frequency: Frequency = Frequency.ONCE) -> AlertRule:
    return AlertRule("m1", Condition.PERCENT_MOVE, "AAPL", value=value, window=window, direction=direction,
                     frequency=frequency, cooldown_seconds=30.0)


def test_percent_move_compares_with_the_price_window_seconds_ago() -> None:
    engine = _engine(_move(2.0, 60.0))
    # At 90 s the price 60 s ago (the last at or before 30 s) is 101: 103 is +1.98 %. At 120 s it is the price at
    # 59 s, 102.5: 104.6 is +2.05 %.
    path = [(0, 100.0), (30, 101.0), (59, 102.5), (90, 103.0), (120, 104.6)]
    firings = _path(engine, "AAPL", path)
    assert [f.time - T0 for f in firings] == [120]
    assert firings[0].details == {"price": 104.6, "reference_price": 102.5,
                                  "percent": pytest.approx(2.0488, abs=1e-4)}
    assert firings[0].message == "AAPL moved +2.05% in 60 s (102.5 → 104.6)"


def test_percent_move_needs_a_whole_window_of_prices() -> None:
    engine = _engine(_move(1.0, 60.0))
    # A 10 % jump inside the first minute: nothing to compare with yet.
    assert _path(engine, "AAPL", [(0, 100.0), (30, 110.0), (59, 111.0)]) == []
    assert [f.time - T0 for f in _path(engine, "AAPL", [(60, 110.0)])] == [60]


@pytest.mark.parametrize(("direction", "fires"), [(None, [60, 120]), ("up", [120]), ("down", [60])])
def test_percent_move_direction(direction: str | None, fires: list[int]) -> None:
    engine = _engine(_move(5.0, 60.0, direction, Frequency.EVERY_TIME))
    path = [(0, 100.0), (60, 94.0), (61, 94.0), (120, 100.0)]  # -6 % then +6.4 % (against 94 at 60 s)
    assert [f.time - T0 for f in _path(engine, "AAPL", path)] == fires


def test_percent_move_of_zero_fires_once_the_window_is_covered() -> None:
    engine = _engine(_move(0.0, 1.0))
    assert [f.time - T0 for f in _path(engine, "AAPL", [(0, 100.0), (0.5, 100.0), (1.0, 100.0), (2, 100.0)])] == [1]


def test_the_price_window_is_bounded() -> None:
    engine = _engine(_move(50.0, 86_400.0))
    for n in range(20_000):
        engine.on_price("AAPL", 100.0, T0 + n * 5.0)
    window = engine._windows["AAPL"]
    assert len(window.times) <= PRICE_SAMPLES + 2
    # The reference of the one-day window is at most one sample spacing older than a day ago.
    newest = T0 + 19_999 * 5.0
    assert newest - 86_400 - window.spacing <= window.times[0] <= newest - 86_400


# -- events: consensus, structure, options, orders -------------------------------------------------------------


def test_consensus_matches_timeframe_and_action() -> None:
    engine = _engine(AlertRule("c1", Condition.CONSENSUS, "AAPL", timeframe=Timeframe.H1, action="BUY",
                               frequency=Frequency.EVERY_TIME, cooldown_seconds=1.0),
                     AlertRule("c2", Condition.CONSENSUS, "AAPL", timeframe=Timeframe.H1,
                               frequency=Frequency.EVERY_TIME, cooldown_seconds=1.0))
    assert engine.on_signal("AAPL", Timeframe.M5, "BUY", T0) == []
    assert engine.on_signal("AAPL", Timeframe.H1, "HOLD", T0 + 1) == []
    assert [f.rule_id for f in engine.on_signal("AAPL", Timeframe.H1, "SELL", T0 + 2)] == ["c2"]
    buy = engine.on_signal("AAPL", Timeframe.H1, "BUY", T0 + 3, price=190.12, confidence=0.71, signal_id="x")
    assert [f.rule_id for f in buy] == ["c1", "c2"]
    assert buy[0].message == "AAPL 1h consensus BUY at 190.12 (71% confidence)"
    assert buy[0].details["signal_id"] == "x"
    assert engine.on_signal("MSFT", Timeframe.H1, "BUY", T0 + 4) == []


@pytest.mark.parametrize("condition", [Condition.NEW_FVG, Condition.STRUCTURE_BREAK])
def test_structure_rules_match_timeframe_and_direction(condition: Condition) -> None:
    engine = _engine(AlertRule("s1", condition, "AAPL", timeframe=Timeframe.M5, direction="bullish",
                               frequency=Frequency.ONCE_PER_BAR))
    assert engine.on_structure("AAPL", Timeframe.M1, condition, "bullish", T0, "x") == []
    assert engine.on_structure("AAPL", Timeframe.M5, condition, "bearish", T0, "x") == []
    fired = engine.on_structure("AAPL", Timeframe.M5, condition, "bullish", T0, "new gap", {"top": 2.0})
    assert [(f.rule_id, f.message, f.details["top"]) for f in fired] == [("s1", "AAPL 5m: new gap", 2.0)]
    # Same 5-minute bar (T0 is 4 minutes into one): once per bar; the next bar fires again.
    assert engine.on_structure("AAPL", Timeframe.M5, condition, "bullish", T0 + 30, "again") == []
    assert len(engine.on_structure("AAPL", Timeframe.M5, condition, "bullish", T0 + 60, "next bar")) == 1
    other = Condition.NEW_FVG if condition is Condition.STRUCTURE_BREAK else Condition.STRUCTURE_BREAK
    assert engine.on_structure("AAPL", Timeframe.M5, other, "bullish", T0 + 900, "other kind") == []



def test_unusual_options_fire_on_newly_flagged_contracts_only() -> None:
    engine = _engine(AlertRule("u1", Condition.UNUSUAL_OPTIONS, "AAPL", frequency=Frequency.EVERY_TIME,
                               cooldown_seconds=1.0))
    a = UnusualContract("AAPL240119C00190000", 900, 120)
    b = UnusualContract("AAPL240119P00180000", 500, None)
    first = engine.on_options("AAPL", [a], T0)
    assert [f.message for f in first] == [
        "AAPL unusual options activity: AAPL240119C00190000 (volume 900, open interest 120)"]
    assert engine.on_options("AAPL", [a], T0 + 60) == []  # still flagged: not news
    again = engine.on_options("AAPL", [a, b], T0 + 120)
    assert [f.details["contracts"] for f in again] == [["AAPL240119P00180000"]]
    assert engine.on_options("AAPL", [], T0 + 180) == []
    assert len(engine.on_options("AAPL", [a], T0 + 240)) == 1  # flagged again after a quiet refresh


def test_unusual_options_names_a_few_contracts() -> None:
    engine = _engine(AlertRule("u1", Condition.UNUSUAL_OPTIONS, "AAPL"))
    contracts = [UnusualContract(f"C{n}", 100 + n, 1) for n in range(5)]
    (fired,) = engine.on_options("AAPL", contracts, T0)
    assert fired.message.endswith("and 2 more") and "C2" in fired.message and "C3" not in fired.message
    assert engine.symbols(Condition.UNUSUAL_OPTIONS) == []  # a once rule that fired is off: no more chains


def test_order_filled_for_one_symbol_or_any() -> None:
    engine = _engine(AlertRule("o1", Condition.ORDER_FILLED, "AAPL", frequency=Frequency.EVERY_TIME,
                               cooldown_seconds=1.0),
                     AlertRule("o2", Condition.ORDER_FILLED, None, level=Level.WARNING, message="Filled",
                               frequency=Frequency.EVERY_TIME, cooldown_seconds=1.0))
    fill = OrderFill("ord-1", "MSFT", "buy", 10.0, 412.5)
    (only,) = engine.on_order_filled(fill, T0)
    assert (only.rule_id, only.symbol, only.level) == ("o2", "MSFT", Level.WARNING)
    assert only.message == "Filled: order ord-1 filled: buy 10 MSFT at 412.5"
    both = engine.on_order_filled(replace(fill, symbol="AAPL"), T0 + 5)
    assert sorted(f.rule_id for f in both) == ["o1", "o2"]


# -- rules ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "field"), [
    (AlertRule("x", Condition.PRICE_ABOVE, None, value=1.0), "symbol"),
    (AlertRule("x", Condition.PRICE_ABOVE, "AAPL"), "value"),
    (AlertRule("x", Condition.PRICE_BELOW, "AAPL", value=-1.0), "value"),
    (AlertRule("x", Condition.PERCENT_MOVE, "AAPL", value=1.0), "window"),
    (AlertRule("x", Condition.PERCENT_MOVE, "AAPL", value=-1.0, window=60.0), "value"),
    (AlertRule("x", Condition.PERCENT_MOVE, "AAPL", value=1.0, window=90_000.0), "window"),
    (AlertRule("x", Condition.PERCENT_MOVE, "AAPL", value=1.0, window=60.0, direction="bullish"), "direction"),
    (AlertRule("x", Condition.CONSENSUS, "AAPL", action="HOLD"), "action"),
    (AlertRule("x", Condition.PRICE_ABOVE, "AAPL", value=1.0, action="BUY"), "action"),
    (AlertRule("x", Condition.PRICE_ABOVE, "AAPL", value=1.0, direction="up"), "direction"),
    (AlertRule("x", Condition.NEW_FVG, "AAPL", direction="up"), "direction"),
    (AlertRule("x", Condition.PRICE_ABOVE, "AAPL", value=1.0, frequency=Frequency.EVERY_TIME,
               cooldown_seconds=0.0), "cooldown_seconds"),
    (AlertRule("x", Condition.PRICE_ABOVE, "AAPL", value=1.0, message="m" * 201), "message"),
])
def test_check_rule_names_the_wrong_field(rule: AlertRule, field: str) -> None:
    with pytest.raises(InvalidRule) as caught:
        check_rule(rule)
    assert caught.value.field == field


def test_rules_round_trip_through_their_dict() -> None:
    rule = AlertRule("r9", Condition.PERCENT_MOVE, "BTC-USD", value=1.5, window=300.0, timeframe=Timeframe.H4,
                     direction="down", frequency=Frequency.EVERY_TIME, cooldown_seconds=120.0, level=Level.CRITICAL,
                     message="dip", webhook_url="https://example.test/hook", created_at=T0, enabled=False,
                     fired_count=3, last_fired_at=T0 + 5, last_bar=int(T0))
    assert AlertRule.from_dict(rule.to_dict()) == rule


def test_long_messages_are_cut() -> None:
    engine = _engine(AlertRule("u1", Condition.UNUSUAL_OPTIONS, "AAPL", message="m" * 200))
    (fired,) = engine.on_options("AAPL", [UnusualContract("C" * 190, 1, 1), UnusualContract("D" * 190, 1, 1)], T0)
    assert len(fired.message) == MAX_MESSAGE_LENGTH and fired.message.endswith("…")


def test_removing_a_rule_forgets_its_symbol_state() -> None:
    engine = _engine(_move(1.0, 60.0))
    _path(engine, "AAPL", [(0, 100.0)])
    assert "AAPL" in engine._windows
    assert engine.remove("m1") is not None and engine.remove("m1") is None
    assert engine._windows == {} and engine._last_price == {}
    assert engine.on_price("AAPL", 1.0, T0) == []
