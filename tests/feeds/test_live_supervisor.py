"""The feed supervisor's restart back-off: doubling for crashes in a row, reset after a healthy period (fake clock,
no real waiting), and one traceback per kind of crash rather than one per crash."""

from __future__ import annotations

import logging
import threading

import pytest
from tests_support import FakeClock

from feeds.breaker import RestartBackoff
from feeds.bus import InProcessBus
from feeds.live import LiveFeed
from feeds.simulated import SimulatedSource


def test_backoff_doubles_and_resets_after_a_healthy_period() -> None:
    clock = FakeClock(0.0)
    backoff = RestartBackoff(clock)
    delays = []
    for _ in range(9):
        backoff.started()
        clock.advance(1)
        delays.append(backoff.crashed())
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    backoff.started()
    clock.advance(59.9)
    assert backoff.crashed() == 5.0  # not healthy long enough
    backoff.started()
    clock.advance(60)
    assert backoff.crashed() == 0.1 and backoff.failures == 1


class RecordingStop(threading.Event):
    """The feed's stop event: ``wait`` records the supervisor's delay and moves the clock instead of sleeping."""

    def __init__(self, clock: FakeClock, stop_after: int) -> None:
        super().__init__()
        self.clock = clock
        self.stop_after = stop_after
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(float(timeout or 0))
        self.clock.advance(float(timeout or 0))
        if len(self.waits) >= self.stop_after:
            self.set()
        return self.is_set()


def test_the_feed_supervisor_forgets_old_crashes(monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(0.0)
    feed = LiveFeed(SimulatedSource(seed=1), InProcessBus(), ["AAPL"], interval=1.0)
    feed.supervisor_clock = clock  # type: ignore[method-assign]
    stop = RecordingStop(clock, stop_after=12)
    feed._stop = stop
    runs = {"count": 0}

    def run_once() -> None:
        runs["count"] += 1
        # Eight crashes in a row, then the feed runs well for two minutes before crashing again, twice.
        if runs["count"] in (9, 10):
            clock.advance(120)
        raise RuntimeError("boom")

    monkeypatch.setattr(feed, "run_once", run_once)
    caplog.set_level(logging.ERROR, logger="feeds.live")
    feed._supervise()  # on this thread: returns once the stop event is set
    assert stop.waits[:8] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    # Each crash after a healthy period is the first of a new series: a short pause, not the 5 s cap.
    assert stop.waits[8:10] == [0.1, 0.1]
    assert stop.waits[10:] == [0.2, 0.4]
    assert feed.stats.snapshot()["restarts"] == 12
    # One traceback for this kind of crash; the others within the minute are counted, not printed.
    records = [r for r in caplog.records if r.name == "feeds.live"]
    assert records[0].exc_info is not None and all(r.exc_info is None for r in records[1:])
    assert len(records) < 12
