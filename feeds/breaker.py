"""Per-source guards: a hard wall-clock limit on each call, a circuit breaker with growing back-off, and the back-off
of a supervisor restarting a crashed loop."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from enum import Enum
from typing import Any, TypeVar

from feeds.errors import SourceBusy, SourceTimeout
from feeds.source import SourceError

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_CALL_TIMEOUT = 10.0


# ---------------------------------------------------------------------------------------------------------------
# Hard wall-clock limit on calls


class _Job:
    """One call handed to a worker; ``started`` is set when a worker takes it, so waiting for a free worker and
    waiting for the call itself can be limited separately."""

    __slots__ = ("fn", "future", "started")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.future: Future[Any] = Future()
        self.started = threading.Event()


class DeadlineCaller:
    """Runs calls on a few daemon worker threads and stops waiting for one after a hard wall-clock limit.

    Python cannot kill a thread, so a call that overruns keeps running in its worker ("lingers") until it returns
    by itself — yfinance's cookie/crumb requests ignore their timeout and can block for minutes. The caller gets
    :class:`SourceTimeout` at the limit and is free; the worker is busy until the call ends. When every worker is
    lingering, new calls fail at once instead of queueing behind stuck ones.

    The limit runs from the moment a worker starts the call: time spent waiting for a free worker is our own
    queueing, not the provider's slowness. That wait is limited on its own (``queue_timeout``) and ends in
    :class:`SourceBusy` with the call never made, which callers must not count as a provider failure. At most
    ``max_queued`` calls wait for a worker; beyond that a call is refused at once with SourceBusy.

    Daemon threads are used instead of ``concurrent.futures.ThreadPoolExecutor`` because the executor's workers
    are joined at interpreter exit: one hung provider call would delay shutdown by as long as it hangs.
    """

    def __init__(self, name: str, max_workers: int = 4, max_queued: int = 32) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        if max_queued < 1:
            raise ValueError("max_queued must be at least 1")
        self.name = name
        self.max_workers = max_workers
        self.max_queued = max_queued
        # Bounded by max_queued: a job is counted from put() until a worker takes it (cancelled ones included).
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._queued = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._abandoned: set[Future[Any]] = set()
        self._closed = False

    @property
    def lingering(self) -> int:
        """Calls that overran their limit and are still running."""
        with self._lock:
            return len(self._abandoned)

    @property
    def waiting(self) -> int:
        """Calls handed over that no worker has taken yet (given-up ones included until a worker drops them)."""
        with self._lock:
            return self._queued

    def _start_workers(self) -> None:
        # Called with the lock held; workers start on first use so that constructing a source starts nothing.
        while len(self._threads) < self.max_workers:
            thread = threading.Thread(
                target=self._work, name=f"{self.name}-call-{len(self._threads)}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                self._queued -= 1
            future = job.future
            if not future.set_running_or_notify_cancel():
                continue
            job.started.set()
            try:
                result = job.fn()
            except BaseException as exc:  # noqa: BLE001 - every outcome, even SystemExit, belongs to the caller
                future.set_exception(exc)
            else:
                future.set_result(result)
            finally:
                with self._lock:
                    if future in self._abandoned:
                        self._abandoned.discard(future)
                        log.info("%s: a call that overran its time limit has finished", self.name)

    def call(self, fn: Callable[[], T], timeout: float, queue_timeout: float | None = None) -> T:
        """``fn()`` on a worker; its result or exception, SourceTimeout when it runs longer than ``timeout``
        seconds, or SourceBusy (``fn`` never called) when no worker took it within ``queue_timeout`` seconds
        (default: ``timeout``)."""
        job = _Job(fn)
        with self._lock:
            if self._closed:
                raise SourceError(f"{self.name}: closed")
            if len(self._abandoned) >= self.max_workers:
                raise SourceTimeout(
                    f"{self.name}: all {self.max_workers} workers are still stuck in calls that timed out"
                )
            if self._queued >= self.max_queued:
                raise SourceBusy(f"{self.name}: {self._queued} calls already wait for a worker; this one was not made")
            self._queued += 1
            self._start_workers()
        self._queue.put(job)
        wait = timeout if queue_timeout is None else queue_timeout
        # A cancel that fails means a worker took the call at that very moment: it runs, and is waited for.
        if not job.started.wait(wait) and job.future.cancel():
            raise SourceBusy(
                f"{self.name}: all {self.max_workers} workers stayed busy for {wait:g} s; the call was not made",
                retry_after=wait,
            )
        future: Future[T] = job.future
        try:
            return future.result(timeout=timeout)
        except (FutureTimeout, CancelledError):
            with self._lock:
                if not future.done():
                    self._abandoned.add(future)
            raise SourceTimeout(
                f"{self.name}: no answer within {timeout:g} s (the worker thread may linger until the call returns)"
            ) from None

    def close(self) -> None:
        """Let idle workers exit; lingering ones end when their call returns (they are daemons)."""
        with self._lock:
            self._closed = True
            count = len(self._threads)
        for _ in range(count):
            self._queue.put(None)


# ---------------------------------------------------------------------------------------------------------------
# Circuit breaker


class BreakerState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Per-source breaker: closed → open after ``failure_threshold`` consecutive failures → one half-open probe
    after a backoff → closed on success, open again on failure with the backoff × ``backoff_factor``
    (5 s → 7.5 s → 11.25 s … capped at ``max_backoff`` 30 s). Success resets the backoff. Thread-safe.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        failure_threshold: int = 3,
        base_backoff: float = 5.0,
        backoff_factor: float = 1.5,
        max_backoff: float = 30.0,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self._clock = clock
        self.failure_threshold = failure_threshold
        self.base_backoff = base_backoff
        self.backoff_factor = backoff_factor
        self.max_backoff = max_backoff
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._total_failures = 0
        self._backoff = base_backoff
        self._retry_at: float | None = None
        self._probe_in_flight = False
        self._last_error: str | None = None
        self._last_failure: float | None = None
        self._last_success: float | None = None
        self._skipped = 0

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state

    @property
    def backoff(self) -> float:
        """The wait before the next probe once open."""
        with self._lock:
            return self._backoff

    def allow(self) -> bool:
        """May a call go to the source now? In half-open state only one probe at a time is let through."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                if self._retry_at is not None and self._clock() >= self._retry_at:
                    self._state = BreakerState.HALF_OPEN
                    self._probe_in_flight = True
                    return True
                return False
            if not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            if self._state is not BreakerState.CLOSED:
                log.info("circuit closed again after a successful call")
            self._state = BreakerState.CLOSED
            self._consecutive_failures = 0
            self._backoff = self.base_backoff
            self._retry_at = None
            self._probe_in_flight = False
            self._last_success = self._clock()

    def record_skipped(self) -> None:
        """The call let through was not made after all (the source throttled it locally, SourceBusy): neither a
        success nor a failure. A half-open probe is handed back, so that the next call may probe instead."""
        with self._lock:
            self._skipped += 1
            if self._state is BreakerState.HALF_OPEN:
                self._probe_in_flight = False

    def record_failure(self, error: BaseException | str) -> None:
        with self._lock:
            now = self._clock()
            self._consecutive_failures += 1
            self._total_failures += 1
            self._last_error = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
            self._last_failure = now
            if self._state is BreakerState.HALF_OPEN:
                # The probe failed: wait longer before the next one.
                self._backoff = min(self._backoff * self.backoff_factor, self.max_backoff)
                self._open(now)
            elif self._state is BreakerState.CLOSED and self._consecutive_failures >= self.failure_threshold:
                self._backoff = min(self.base_backoff, self.max_backoff)
                self._open(now)

    def _open(self, now: float) -> None:
        self._state = BreakerState.OPEN
        self._retry_at = now + self._backoff
        self._probe_in_flight = False

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "state": self._state.value,
                "consecutive_failures": self._consecutive_failures,
                "total_failures": self._total_failures,
                "backoff": self._backoff,
                "retry_at": self._retry_at,
                "last_error": self._last_error,
                "last_failure": self._last_failure,
                "last_success": self._last_success,
                "skipped": self._skipped,
            }


# ---------------------------------------------------------------------------------------------------------------
# Restarting a crashed loop


class RestartBackoff:
    """How long a supervisor waits before restarting a loop that crashed: ``base`` doubling with each crash in a
    row up to ``cap``; a loop that ran for ``healthy_after`` seconds before crashing starts the series again.

    Without the reset, a process that had crashed seven times in its life would pause the feed for the cap after
    every later crash, however rare. Not thread-safe: one supervisor thread owns it. The clock is injected.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, base: float = 0.1, cap: float = 5.0,
                 healthy_after: float = 60.0) -> None:
        self._clock = clock
        self.base = base
        self.cap = cap
        self.healthy_after = healthy_after
        self.failures = 0
        self._started: float | None = None

    def started(self) -> None:
        """The loop (re)starts now."""
        self._started = self._clock()

    def crashed(self) -> float:
        """The loop crashed: count it and return the seconds to wait before restarting it."""
        if self._started is not None and self._clock() - self._started >= self.healthy_after:
            self.failures = 0
        self.failures += 1
        return min(self.cap, self.base * 2.0 ** min(self.failures - 1, 32))
