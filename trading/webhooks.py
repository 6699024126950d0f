"""Webhook delivery: a JSON POST per alert, retried with exponential backoff on a bounded queue and worker threads.

A delivery succeeds on any 2xx answer. A connection error, a timeout, 408, 429 or a 5xx answer is retried after
``backoff`` seconds, doubling each time, up to ``attempts`` tries in all; any other answer (a 3xx — redirects are
not followed —, a 4xx) fails at once. Each job's outcome goes to ``on_result(alert_id, status, attempts, error)``
with status ``delivered`` or ``failed``; a job refused because the queue is full is reported ``dropped`` at once.

Thread rules: ``submit`` from any thread, never blocks; ``workers`` threads (greenlets under gevent) deliver.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 1_000
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF_SECONDS = 1.0
DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_URL_LENGTH = 2_000
RETRY_STATUSES = frozenset({408, 429})

ResultCallback = Callable[[str, str, int, str | None], None]


def check_webhook_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host, else ValueError saying why."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an absolute http:// or https:// URL with a host")
    return url


@dataclass(frozen=True, slots=True)
class WebhookJob:
    alert_id: str
    url: str
    payload: dict[str, Any]


class WebhookSender:
    def __init__(self, on_result: ResultCallback, *, queue_size: int = DEFAULT_QUEUE_SIZE,
                 attempts: int = DEFAULT_ATTEMPTS, backoff: float = DEFAULT_BACKOFF_SECONDS,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, workers: int = 2,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.on_result = on_result
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep
        self.workers = workers
        self.queue_size = queue_size
        self._queue: queue.Queue[WebhookJob | None] = queue.Queue(maxsize=queue_size)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    def start(self) -> None:
        with self._lock:
            if self._threads:
                return
            for n in range(self.workers):
                thread = threading.Thread(target=self._run, name=f"alert-webhook-{n}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self, timeout: float = 2.0) -> None:
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
        for thread in threads:
            thread.join(timeout)

    def submit(self, job: WebhookJob) -> bool:
        """Queue ``job``; False (and a ``dropped`` result) when the queue is full."""
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.dropped += 1
            self._report(job.alert_id, "dropped", 0, "webhook queue full")
            return False
        return True

    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        session = requests.Session()
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                status, attempts, error = self.deliver(session, job)
            except Exception as exc:  # a bug, not a delivery failure: keep the worker alive
                log.exception("webhook delivery of %s failed unexpectedly", job.alert_id)
                status, attempts, error = "failed", 0, f"internal error: {exc}"
            if status == "delivered":
                self.delivered += 1
            else:
                self.failed += 1
            self._report(job.alert_id, status, attempts, error)

    def deliver(self, session: requests.Session, job: WebhookJob) -> tuple[str, int, str | None]:
        """Try ``job`` up to ``attempts`` times; (status, attempts made, last error)."""
        error: str | None = None
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                response = session.post(job.url, json=job.payload, timeout=self.timeout, allow_redirects=False,
                                         headers={"User-Agent": "Tickstream-alerts/1"})
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= response.status_code < 300:
                    return "delivered", attempt, None
                error = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in RETRY_STATUSES:
                    return "failed", attempt, error
            if attempt < self.attempts:
                self.sleep(delay)
                delay *= 2
        return "failed", self.attempts, error

    def _report(self, alert_id: str, status: str, attempts: int, error: str | None) -> None:
        try:
            self.on_result(alert_id, status, attempts, error)
        except Exception:
            log.exception("recording the webhook result of %s failed", alert_id)
