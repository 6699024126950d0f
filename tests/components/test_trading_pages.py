"""The portfolio and alerts pages' pure builders: drawdowns and the equity figure worked out by hand, grid columns that
name fields the API really sends, and the alert form's fields per condition as docs/alerts.md lists them (and as
the API accepts them)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from api.alert_routes import create_alert_blueprint
from api.errors import init_error_handlers
from components.alerts_view import (
    CONDITION_HELP,
    CONDITIONS,
    FIELDS,
    FREQUENCIES,
    field_id,
    history_column_defs,
    rule_column_defs,
    rule_form,
    visible_fields,
    visible_table,
)
from components.portfolio import (
    PERFORMANCE_METRICS,
    drawdowns,
    equity_figure,
    money_tick_format,
    order_column_defs,
    position_column_defs,
    trade_column_defs,
)
from trading.orders import Order, OrderStatus, OrderType, Side, TimeInForce
from trading.performance import Performance
from trading.positions import Position
from trading.wire import order_update, performance_to_wire, position_to_wire

START = 1_700_000_000


def test_drawdowns_by_hand() -> None:
    # Peak 100 (the starting cash), then 120: 90 is 25 % under it, 96 is 20 % under it.
    assert drawdowns([100, 120, 90, 96, 130], start_peak=100) == [0.0, 0.0, 0.25, 0.2, 0.0]
    # Below the starting cash from the first sample.
    assert drawdowns([80], start_peak=100) == [0.2]
    # Without a starting peak the first value is the peak.
    assert drawdowns([80, 60]) == [0.0, 0.25]
    assert drawdowns([]) == []


def test_equity_figure_has_the_curve_and_its_drawdown_below_zero() -> None:
    curve = [(START, 100_000.0), (START + 60, 110_000.0), (START + 120, 99_000.0)]
    figure = equity_figure(curve, start_peak=100_000, now=(START + 150, 104_500.0))
    equity, drawdown = figure.data
    assert list(equity.y) == [100_000.0, 110_000.0, 99_000.0, 104_500.0]
    assert equity.x[0] == "2023-11-14 22:13:20" and len(equity.x) == 4
    assert [round(v, 6) for v in drawdown.y] == [0.0, 0.0, -10.0, -5.0]
    assert drawdown.yaxis == "y2" and drawdown.fill == "tozeroy"
    # The drawdown axis reaches a little below the deepest drawdown; the equity pane sits above it.
    assert figure.layout.yaxis2.range == (-11.5, 0.0)
    assert figure.layout.yaxis.domain[0] > figure.layout.yaxis2.domain[1]
    assert figure.layout.yaxis.tickformat == ",.0f"
    assert not figure.layout.annotations


def test_equity_figure_of_a_new_account() -> None:
    # No samples yet: the current value alone, a note, a 1 % drawdown scale and cents on the value axis.
    figure = equity_figure([], start_peak=100_000, now=(START, 100_000.0))
    assert list(figure.data[0].y) == [100_000.0]
    assert figure.layout.annotations and "first samples" in figure.layout.annotations[0].text
    assert figure.layout.yaxis2.range == (-1.0, 0.0)
    assert figure.layout.yaxis.tickformat == ",.2f"
    # A "now" older than the last sample is not added.
    assert len(equity_figure([(START, 1.0), (START + 60, 2.0)], now=(START + 30, 3.0)).data[0].y) == 2


def test_money_tick_format() -> None:
    assert money_tick_format(0) == ",.2f"
    assert money_tick_format(49.99) == ",.2f"
    assert money_tick_format(50) == ",.0f"


def _fields(columns: list[dict[str, Any]]) -> set[str]:
    return {column["field"] for column in columns}


def test_grid_columns_name_fields_of_the_wire_shapes() -> None:
    position = position_to_wire(Position("AAPL", quantity=10, avg_price=100.0), 101.0)
    assert _fields(position_column_defs()) <= set(position)
    order = Order("o-1", None, "AAPL", Side.BUY, OrderType.LIMIT, 1.0, 99.0, None, TimeInForce.GTC,
                  OrderStatus.ACCEPTED, START, START)
    update = order_update(order)
    # The grid shows an order_update's `volume` as `quantity` (pages_portfolio.js orderRow), as REST names it.
    assert _fields(order_column_defs()) - {"quantity"} <= set(update)
    trade_fields = {"trade_id", "symbol", "side", "status", "quantity", "entry_price", "exit_quantity", "exit_price",
                    "realized_pnl", "commission", "opened_at", "closed_at", "fills"}
    assert _fields(trade_column_defs()) <= trade_fields
    perf = performance_to_wire(Performance(1.0, 1.0, 0.0, 0, None, None, 0.0, None, 0.0, 0.0, 0))
    assert {key for key, _ in PERFORMANCE_METRICS} <= set(perf)


@pytest.mark.parametrize(("condition", "frequency", "expected"), [
    ("price_above", "once", {"symbol", "value"}),
    ("price_below", "every_time", {"symbol", "value", "cooldown_seconds"}),
    ("percent_move", "once", {"symbol", "value", "window", "move_direction"}),
    ("consensus", "once", {"symbol", "timeframe", "action"}),
    ("new_fvg", "once", {"symbol", "timeframe", "trend_direction"}),
    ("structure_break", "once_per_bar", {"symbol", "timeframe", "trend_direction"}),
    ("unusual_options", "once", {"symbol"}),
    ("order_filled", "once_per_bar", {"symbol", "timeframe"}),
])
def test_visible_fields_per_condition(condition: str, frequency: str, expected: set[str]) -> None:
    assert visible_fields(condition, frequency) == expected
    assert visible_table()[condition][frequency] == sorted(expected)


def test_every_condition_of_the_api_is_offered() -> None:
    from api.alert_routes import AlertRuleBody

    offered = {condition for condition, _ in CONDITIONS}
    accepted = set(AlertRuleBody.model_fields["condition"].annotation.__args__)  # type: ignore[union-attr]
    assert offered == accepted == set(CONDITION_HELP)
    assert {f for f, _ in FREQUENCIES} == set(AlertRuleBody.model_fields["frequency"].annotation.__args__)  # type: ignore[union-attr]


def _styles(component: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if node is None or isinstance(node, (str, int, float)):
            return
        if isinstance(node, (list, tuple)):
            for child in node:
                walk(child)
            return
        node_id = getattr(node, "id", None)
        if isinstance(node_id, str) and node_id.startswith("alerts-field-"):
            found[node_id] = getattr(node, "style", None)
        walk(getattr(node, "children", None))

    walk(component)
    return found


def test_the_form_hides_what_the_condition_does_not_use() -> None:
    styles = _styles(rule_form("percent_move", "once"))
    assert set(styles) == {field_id(name) for name in FIELDS}
    shown = {name for name in FIELDS if styles[field_id(name)] is None}
    assert shown == visible_fields("percent_move", "once")


def test_bodies_of_the_shown_fields_are_accepted_by_the_api() -> None:
    """A body with exactly the fields ``visible_fields`` shows (as pages_rules.js builds it) is a valid rule."""
    created: list[Any] = []

    class Service:
        """What the blueprint's create route uses of the alert service."""

        def new_rule_id(self) -> str:
            return f"r{len(created)}"

        def clock(self) -> float:
            return float(START)

        def add_rule(self, rule: Any) -> Any:
            created.append(rule)
            return rule

    server = Flask(__name__)
    init_error_handlers(server)
    server.register_blueprint(create_alert_blueprint(Service(), None))  # type: ignore[arg-type]
    client = server.test_client()
    samples = {"symbol": "AAPL", "value": 1.5, "window": 60, "move_direction": "up", "timeframe": "1h",
               "action": "BUY", "trend_direction": "bullish", "cooldown_seconds": 30}
    for condition, _ in CONDITIONS:
        for frequency, _ in FREQUENCIES:
            body: dict[str, Any] = {"condition": condition, "frequency": frequency, "level": "info"}
            for name in visible_fields(condition, frequency):
                key = "direction" if name.endswith("_direction") else name
                body[key] = samples[name]
            response = client.post("/api/v1/alerts", json=body)
            assert response.status_code == 201, (body, response.get_json())
    assert len(created) == len(CONDITIONS) * len(FREQUENCIES)


def test_history_and_rule_columns() -> None:
    assert _fields(history_column_defs()) <= {"alert_id", "rule_id", "level", "symbol", "message", "time",
                                              "condition", "details", "webhook"}
    assert "rule_id" in _fields(rule_column_defs())


def test_a_long_curve_is_drawn_with_a_bounded_number_of_points() -> None:
    from components.portfolio import MAX_EQUITY_POINTS

    # 50,000 minutes (the curve's bound) with one deep dip in the middle: at most MAX_EQUITY_POINTS are drawn, and
    # the dip (its value and its drawdown, measured against the peak before it) is among them.
    values = [100_000.0 + i for i in range(50_000)]
    values[25_000] = 60_000.0
    figure = equity_figure([(START + 60 * i, v) for i, v in enumerate(values)], start_peak=100_000)
    equity, drawdown = figure.data
    assert len(equity.y) <= MAX_EQUITY_POINTS
    assert min(equity.y) == 60_000.0 and equity.y[-1] == values[-1]
    assert round(min(drawdown.y), 6) == round(-(1 - 60_000 / 124_999) * 100, 6)
