"""Feed statistics: what the feed fetched, what failed, and since when; read by /health and /metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FeedStats:
    """Counters written by the feed thread and read by request threads (a lock keeps multi-field reads whole)."""

    clock: Callable[[], float] = time.time
    started_at: float = field(default=0.0)
    quotes_fetched: int = 0
    errors: int = 0
    restarts: int = 0
    ticks: int = 0
    candles_closed: int = 0
    last_error: str | None = None
    last_error_time: float | None = None
    last_tick_time: float | None = None
    # Feed iterations completed, and how long the last and the slowest took (seconds): a slow iteration is what the
    # watchdog reports as a late or stalled feed.
    iterations: int = 0
    last_iteration_seconds: float | None = None
    max_iteration_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if not self.started_at:
            self.started_at = self.clock()

    def record_quote(self, tick_time: float) -> None:
        with self._lock:
            self.quotes_fetched += 1
            self.ticks += 1
            self.last_tick_time = tick_time

    def record_error(self, message: str) -> None:
        with self._lock:
            self.errors += 1
            self.last_error = message
            self.last_error_time = self.clock()

    def record_restart(self, message: str) -> None:
        with self._lock:
            self.restarts += 1
            self.errors += 1
            self.last_error = message
            self.last_error_time = self.clock()

    def record_iteration(self, seconds: float) -> None:
        with self._lock:
            self.iterations += 1
            self.last_iteration_seconds = seconds
            self.max_iteration_seconds = max(self.max_iteration_seconds, seconds)

    def record_closed(self, count: int) -> None:
        with self._lock:
            self.candles_closed += count

    @property
    def uptime(self) -> float:
        return self.clock() - self.started_at

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "quotes_fetched": self.quotes_fetched,
                "errors": self.errors,
                "restarts": self.restarts,
                "ticks": self.ticks,
                "candles_closed": self.candles_closed,
                "last_error": self.last_error,
                "last_error_time": self.last_error_time,
                "last_tick_time": self.last_tick_time,
                "iterations": self.iterations,
                "last_iteration_seconds": self.last_iteration_seconds,
                "max_iteration_seconds": round(self.max_iteration_seconds, 6),
                "uptime": round(self.clock() - self.started_at, 3),
            }
