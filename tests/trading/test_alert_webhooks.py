"""Webhooks delivered to a real HTTP server on 127.0.0.1: success, retries with backoff then failure, bounds."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests_support import wait_for

from feeds.bus import InProcessBus
from feeds.models import Tick
from trading.alert_service import AlertService
from trading.alert_store import AlertStore
from trading.alerts import AlertRule, Condition, Firing, Level
from trading.webhooks import WebhookJob, WebhookSender, check_webhook_url

T0 = 1_700_000_040.0


class Hook:
    """A local HTTP server answering POSTs with the statuses given, in order (the last repeats)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                hook.received.append(json.loads(self.rfile.read(length)))
                hook.headers.append(dict(self.headers))
                status = hook.statuses.pop(0) if len(hook.statuses) > 1 else hook.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def hooks() -> Iterator[list[Hook]]:
    made: list[Hook] = []
    yield made
    for hook in made:
        hook.close()


def _service(tmp_path: Path, bus: InProcessBus, sleeps: list[float]) -> AlertService:
    service = AlertService(bus, AlertStore.in_dir(tmp_path), clock=lambda: T0)
    # Backoff recorded, not slept: the test checks the delays without waiting for them.
    service.webhooks = WebhookSender(service._webhook_result, backoff=0.5, attempts=4, timeout=2.0,
                                     sleep=sleeps.append)
    service.start()
    return service


def _cross(bus: InProcessBus, symbol: str = "AAPL") -> None:
    for n, price in enumerate([99.0, 101.0]):
        bus.publish(f"ticks.{symbol}", Tick(symbol, T0 + n, price, price, price, 1.0))


def test_a_webhook_is_posted_as_json_and_recorded_delivered(tmp_path: Path, hooks: list[Hook]) -> None:
    hook = Hook(200)
    hooks.append(hook)
    bus, sleeps = InProcessBus(), list[float]()
    service = _service(tmp_path, bus, sleeps)
    try:
        service.add_rule(AlertRule("r1", Condition.PRICE_ABOVE, "AAPL", value=100.0, webhook_url=hook.url))
        _cross(bus)
        wait_for(lambda: service.history() and service.history()[0]["webhook"]["status"] == "delivered", 5,
                 message="the webhook delivered")
        (body,) = hook.received
        assert body["rule_id"] == "r1" and body["symbol"] == "AAPL" and body["condition"] == "price_above"
        assert body["message"] == "AAPL crossed above 100 (last 101)" and body["details"] == {"price": 101.0}
        assert set(body) >= {"alert_id", "rule_id", "level", "symbol", "message", "time"}
        assert hook.headers[0]["Content-Type"] == "application/json"
        assert service.history()[0]["webhook"] == {"status": "delivered", "attempts": 1, "error": None}
        assert sleeps == []
    finally:
        service.stop()


def test_a_failing_webhook_is_retried_with_backoff_then_marked_failed(tmp_path: Path, hooks: list[Hook]) -> None:
    hook = Hook(503)
    hooks.append(hook)
    bus, sleeps = InProcessBus(), list[float]()
    service = _service(tmp_path, bus, sleeps)
    try:
        service.add_rule(AlertRule("r1", Condition.PRICE_ABOVE, "AAPL", value=100.0, webhook_url=hook.url))
        _cross(bus)
        wait_for(lambda: service.history() and service.history()[0]["webhook"]["status"] == "failed", 5,
                 message="the webhook marked failed")
        assert service.history()[0]["webhook"] == {"status": "failed", "attempts": 4, "error": "HTTP 503"}
        assert len(hook.received) == 4 and sleeps == [0.5, 1.0, 2.0]
        assert service.stats()["webhooks_failed"] == 1
    finally:
        service.stop()


def test_a_webhook_that_recovers_is_delivered_on_a_retry(tmp_path: Path, hooks: list[Hook]) -> None:
    hook = Hook(500, 429, 204)
    hooks.append(hook)
    bus, sleeps = InProcessBus(), list[float]()
    service = _service(tmp_path, bus, sleeps)
    try:
        service.add_rule(AlertRule("r1", Condition.PRICE_ABOVE, "AAPL", value=100.0, webhook_url=hook.url))
        _cross(bus)
        wait_for(lambda: service.history() and service.history()[0]["webhook"]["status"] == "delivered", 5)
        assert service.history()[0]["webhook"]["attempts"] == 3 and sleeps == [0.5, 1.0]
    finally:
        service.stop()


def test_a_webhook_left_pending_by_a_stopped_process_is_sent_after_the_restart(tmp_path: Path,
                                                                              hooks: list[Hook]) -> None:
    hook = Hook(200)
    hooks.append(hook)
    rule = AlertRule("r1", Condition.PRICE_ABOVE, "AAPL", value=100.0, webhook_url=hook.url)
    # Stored and announced, and then the process died before the webhook's outcome was written.
    store = AlertStore.in_dir(tmp_path)
    store.record_firing(Firing("a1", "r1", Level.INFO, "AAPL", "m", T0, rule.condition, rule, {"price": 101.0}))
    store.close()
    bus, sleeps = InProcessBus(), list[float]()
    service = _service(tmp_path, bus, sleeps)
    try:
        wait_for(lambda: service.history()[0]["webhook"]["status"] == "delivered", 5)
        assert [(b["alert_id"], b["message"], b["details"]) for b in hook.received] == [("a1", "m", {"price": 101.0})]
    finally:
        service.stop()


def test_a_client_error_is_not_retried(hooks: list[Hook]) -> None:
    hook = Hook(404)
    hooks.append(hook)
    results: list[tuple[str, str, int, str | None]] = []
    sender = WebhookSender(lambda *r: results.append(r), sleep=lambda s: None)
    sender.start()
    try:
        assert sender.submit(WebhookJob("a1", hook.url, {"x": 1}))
        wait_for(lambda: results, 5)
        assert results == [("a1", "failed", 1, "HTTP 404")] and len(hook.received) == 1
    finally:
        sender.stop()


def test_an_unreachable_webhook_fails_after_every_attempt() -> None:
    from tests_support import free_port

    results: list[tuple[str, str, int, str | None]] = []
    sender = WebhookSender(lambda *r: results.append(r), attempts=2, sleep=lambda s: None, timeout=1.0)
    sender.start()
    try:
        sender.submit(WebhookJob("a1", f"http://127.0.0.1:{free_port()}/", {}))
        wait_for(lambda: results, 10)
        ((alert_id, status, attempts, error),) = results
        assert (alert_id, status, attempts) == ("a1", "failed", 2) and error and "ConnectionError" in error
    finally:
        sender.stop()


def test_the_queue_is_bounded() -> None:
    results: list[tuple[str, str, int, str | None]] = []
    sender = WebhookSender(lambda *r: results.append(r), queue_size=2)  # not started: nothing leaves the queue
    assert sender.submit(WebhookJob("a1", "http://127.0.0.1:9/", {}))
    assert sender.submit(WebhookJob("a2", "http://127.0.0.1:9/", {}))
    assert not sender.submit(WebhookJob("a3", "http://127.0.0.1:9/", {}))
    assert results == [("a3", "dropped", 0, "webhook queue full")] and sender.pending() == 2


@pytest.mark.parametrize("url", ["ftp://example.test/x", "example.test/hook", "http://", "javascript:alert(1)",
                                 "http://host:99999/", "https://x/" + "a" * 2000])
def test_webhook_urls_must_be_http(url: str) -> None:
    with pytest.raises(ValueError):
        check_webhook_url(url)


def test_good_webhook_urls_pass() -> None:
    for url in ("http://127.0.0.1:8080/hook", "https://hooks.example.test/services/T0/B0?x=1"):
        assert check_webhook_url(url) == url
