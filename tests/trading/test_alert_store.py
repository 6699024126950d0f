"""The alert store on a real SQLite file: WAL, schema migration, bounded history, and a restart of the service."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from tests_support import wait_for

from api import protocol as p
from feeds.bus import InProcessBus
from feeds.models import Tick
from trading.alert_service import AlertService
from trading.alert_store import FILE_NAME, MIGRATIONS, SCHEMA_VERSION, AlertStore, NewerSchema
from trading.alerts import AlertRule, Condition, Firing, Frequency, Level

T0 = 1_700_000_040.0


def _firing(rule: AlertRule, n: int) -> Firing:
    return Firing(f"a{n}", rule.rule_id, Level.INFO, rule.symbol, f"alert {n}", T0 + n, rule.condition, rule,
                  {"price": 100.0 + n})


def test_a_new_file_is_in_wal_mode_at_the_current_schema(tmp_path: Path) -> None:
    store = AlertStore.in_dir(tmp_path)
    assert store.path == tmp_path / FILE_NAME and store.schema_version == SCHEMA_VERSION == 3
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_rules_and_history_survive_reopening(tmp_path: Path) -> None:
    store = AlertStore.in_dir(tmp_path)
    rule = AlertRule("r1", Condition.PRICE_ABOVE, "AAPL", value=100.0, created_at=T0, webhook_url="http://h/x")
    assert store.add_rule(rule, max_rules=10)
    fired = AlertRule.from_dict({**rule.to_dict(), "enabled": False, "fired_count": 1, "last_fired_at": T0 + 1})
    store.record_firing(_firing(fired, 1))
    assert store.history()[0].webhook_status == "pending"
    assert [(e.alert_id, url) for e, url in store.pending_webhooks(10)] == [("a1", "http://h/x")]
    store.record_webhook("a1", "failed", 4, "HTTP 500")
    assert store.pending_webhooks(10) == []
    store.close()

    again = AlertStore.in_dir(tmp_path)
    assert again.load_rules() == [fired]
    (entry,) = again.history()
    assert (entry.alert_id, entry.rule_id, entry.message, entry.time, entry.details) == \
        ("a1", "r1", "alert 1", T0 + 1, {"price": 101.0})
    assert (entry.webhook_status, entry.webhook_attempts, entry.webhook_error) == ("failed", 4, "HTTP 500")


def test_the_history_keeps_the_newest_firings(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "a.sqlite", max_history=5)
    rule = AlertRule("r1", Condition.ORDER_FILLED)
    for n in range(1, 9):
        store.record_firing(_firing(rule, n))
    assert store.history_count() == 5
    assert [e.alert_id for e in store.history(limit=3)] == ["a8", "a7", "a6"]
    assert [e.alert_id for e in store.history(rule_id="r1")][-1] == "a4"
    assert store.history(rule_id="other") == []


def test_the_rule_limit_is_kept_in_the_transaction(tmp_path: Path) -> None:
    store = AlertStore.in_dir(tmp_path)
    assert store.add_rule(AlertRule("r1", Condition.ORDER_FILLED), max_rules=2)
    assert store.add_rule(AlertRule("r2", Condition.ORDER_FILLED), max_rules=2)
    assert not store.add_rule(AlertRule("r3", Condition.ORDER_FILLED), max_rules=2)
    assert store.delete_rule("r1") and not store.delete_rule("r1")
    assert store.delete_all_rules() == 1 and store.load_rules() == []


def test_a_version_1_file_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    with sqlite3.connect(path) as db:
        MIGRATIONS[0](db)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO history (alert_id, rule_id, level, symbol, message, time, condition, details) "
                   "VALUES ('old', 'r0', 'info', 'AAPL', 'from v1', 1.0, 'price_above', '{}')")
    db.close()
    store = AlertStore(path)
    assert store.schema_version == 3
    (entry,) = store.history()
    assert (entry.alert_id, entry.message, entry.webhook_status, entry.webhook_attempts) == ("old", "from v1", None, 0)
    assert store.pending_webhooks(10) == []  # the v3 column is there


def test_a_version_2_file_with_a_pending_webhook_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    with sqlite3.connect(path) as db:
        for step in MIGRATIONS[:2]:
            step(db)
        db.execute("PRAGMA user_version = 2")
        db.execute("INSERT INTO history (alert_id, rule_id, level, symbol, message, time, condition, details, "
                   "webhook_status) VALUES ('v2', 'r0', 'info', 'AAPL', 'from v2', 1.0, 'price_above', '{}', "
                   "'pending')")
    db.close()
    store = AlertStore(path)
    assert store.schema_version == 3
    # Its URL was never recorded: it cannot be sent again, and it is not offered for a retry.
    assert store.history()[0].webhook_status == "pending" and store.pending_webhooks(10) == []


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(NewerSchema):
        AlertStore(path)


def _service(tmp_path: Path, bus: InProcessBus) -> AlertService:
    service = AlertService(bus, AlertStore.in_dir(tmp_path), clock=lambda: T0)
    service.start()
    return service


def test_a_restart_keeps_rules_state_and_history(tmp_path: Path) -> None:
    bus = InProcessBus()
    service = _service(tmp_path, bus)
    once = service.add_rule(AlertRule("once", Condition.PRICE_ABOVE, "AAPL", value=100.0, created_at=T0))
    every = service.add_rule(AlertRule("every", Condition.PRICE_BELOW, "AAPL", value=99.0, created_at=T0 + 1,
                                       frequency=Frequency.EVERY_TIME, cooldown_seconds=3600.0))
    for n, price in enumerate([98.0, 101.0, 98.0]):
        bus.publish("ticks.AAPL", Tick("AAPL", T0 + n, price, price, price, 1.0))
    wait_for(lambda: len(service.history()) == 2, 5, message="two firings stored")
    service.stop()

    bus = InProcessBus()
    restarted = _service(tmp_path, bus)
    try:
        rules = {r.rule_id: r for r in restarted.rules()}
        assert set(rules) == {once.rule_id, every.rule_id}
        assert not rules["once"].enabled and rules["once"].fired_count == 1
        assert rules["every"].enabled and rules["every"].last_fired_at == T0 + 2
        # The once rule stays off, the every_time rule keeps its cool-down across the restart.
        for n, price in enumerate([99.5, 101.0, 98.0]):
            bus.publish("ticks.AAPL", Tick("AAPL", T0 + 10 + n, price, price, price, 1.0))
        assert restarted.fired == 0
        assert [h["rule_id"] for h in restarted.history()] == ["every", "once"]
        # The alerts channel's snapshot comes from the stored history, oldest first.
        snapshot = restarted.snapshot(p.Subscription(p.Channel.ALERTS))
        assert [(e.data["rule_id"], e.data["snapshot"]) for e in snapshot] == [("once", True), ("every", True)]
    finally:
        restarted.stop()


def test_each_firing_is_stored_before_it_is_announced(tmp_path: Path) -> None:
    bus = InProcessBus()
    service = _service(tmp_path, bus)
    seen: list[tuple[dict[str, Any], list[str]]] = []

    def on_alert(topic: str, event: Any) -> None:
        if isinstance(event, p.ChannelEvent) and event.type is p.MessageType.ALERT:
            # What the store holds at the moment the message goes out.
            seen.append((event.data, [e.alert_id for e in service.store.history()]))

    bus.subscribe(on_alert, "alerts")
    try:
        service.add_rule(AlertRule("r1", Condition.PRICE_ABOVE, "AAPL", value=100.0, level=Level.CRITICAL,
                                   frequency=Frequency.EVERY_TIME, cooldown_seconds=1.0))
        for n, price in enumerate([99.0, 101.0, 99.0, 101.0]):
            bus.publish("ticks.AAPL", Tick("AAPL", T0 + 2 * n, price, price, price, 1.0))
        wait_for(lambda: len(seen) == 2, 5, message="two alert messages")
        for data, stored in seen:
            assert data["alert_id"] in stored
            assert set(data) == {"alert_id", "rule_id", "level", "symbol", "message", "time", "condition"}
            assert (data["rule_id"], data["level"], data["symbol"], data["condition"]) == \
                ("r1", "critical", "AAPL", "price_above")
        assert seen[0][0]["time"] == p.iso_ms(T0 + 2)
    finally:
        service.stop()
