"""Per-source guards: the hard limit runs from the start of a call, local queueing ends in SourceBusy (never a
time-out), and a skipped call hands a half-open probe back."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from tests_support import FakeClock, wait_for

from feeds.breaker import BreakerState, CircuitBreaker, DeadlineCaller
from feeds.errors import SourceBusy, SourceTimeout
from feeds.source import SourceError


@pytest.fixture
def one_worker() -> Iterator[tuple[DeadlineCaller, threading.Event]]:
    """A caller whose only worker is kept busy until the event is set."""
    caller = DeadlineCaller("t", max_workers=1, max_queued=2)
    release, taken = threading.Event(), threading.Event()

    def occupy() -> bool:
        taken.set()
        return release.wait(10)

    holder = threading.Thread(target=lambda: caller.call(occupy, timeout=10))
    holder.start()
    taken.wait(5)
    yield caller, release
    release.set()
    holder.join(5)
    caller.close()


def test_time_limit_starts_when_a_worker_takes_the_call(
    one_worker: tuple[DeadlineCaller, threading.Event],
) -> None:
    caller, release = one_worker
    # The call waits ~0.75 s for the worker, longer than its 0.25 s limit, then runs at once: no time-out.
    timer = threading.Timer(0.75, release.set)
    timer.start()
    try:
        assert caller.call(lambda: 7, timeout=0.25, queue_timeout=5) == 7
    finally:
        timer.cancel()
    assert caller.lingering == 0


def test_no_free_worker_is_busy_and_the_call_is_never_made(
    one_worker: tuple[DeadlineCaller, threading.Event],
) -> None:
    caller, release = one_worker
    made: list[int] = []
    with pytest.raises(SourceBusy, match="not made") as info:
        caller.call(lambda: made.append(1), timeout=5, queue_timeout=0.05)
    assert not isinstance(info.value, SourceTimeout) and isinstance(info.value, SourceError)
    assert caller.lingering == 0
    release.set()
    # Calls run in order, so once this one has run the given-up one was dropped, not made.
    assert caller.call(lambda: 2, timeout=5) == 2
    assert made == [] and caller.waiting == 0


def test_the_wait_for_a_worker_is_bounded(one_worker: tuple[DeadlineCaller, threading.Event]) -> None:
    caller, release = one_worker
    waiters = [threading.Thread(target=lambda: caller.call(lambda: 1, timeout=5, queue_timeout=5)) for _ in range(2)]
    for waiter in waiters:
        waiter.start()
    wait_for(lambda: caller.waiting == 2, 5, message="two calls waiting for the worker")
    with pytest.raises(SourceBusy, match="already wait"):
        caller.call(lambda: 3, timeout=5, queue_timeout=5)
    release.set()
    for waiter in waiters:
        waiter.join(5)
    assert caller.waiting == 0


def test_a_skipped_call_hands_the_half_open_probe_back(clock: FakeClock) -> None:
    b = CircuitBreaker(clock, failure_threshold=1, base_backoff=5.0)
    b.record_failure(SourceError("down"))
    clock.advance(5)
    assert b.allow() and b.state is BreakerState.HALF_OPEN
    assert not b.allow()  # one probe at a time
    b.record_skipped()  # the probe never reached the provider
    snap = b.snapshot()
    assert snap["state"] == "half_open" and snap["consecutive_failures"] == 1 and snap["skipped"] == 1
    assert b.allow()  # the next call may probe
    b.record_success()
    assert b.state is BreakerState.CLOSED


def test_skipped_calls_never_open_a_closed_breaker(clock: FakeClock) -> None:
    b = CircuitBreaker(clock, failure_threshold=2)
    for _ in range(10):
        assert b.allow()
        b.record_skipped()
    snap = b.snapshot()
    assert snap["state"] == "closed" and snap["consecutive_failures"] == 0 and snap["total_failures"] == 0
