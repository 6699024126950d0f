"""LogThrottle: the first record of a kind with its traceback, then one line per period with the count left out."""

from __future__ import annotations

import logging

import pytest
from tests_support import FakeClock

from feeds.log_throttle import LogThrottle


@pytest.fixture
def setup(caplog: pytest.LogCaptureFixture) -> tuple[LogThrottle, FakeClock, pytest.LogCaptureFixture]:
    clock = FakeClock(0.0)
    caplog.set_level(logging.INFO, logger="test.throttle")
    return LogThrottle(logging.getLogger("test.throttle"), period=60.0, clock=clock), clock, caplog


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "test.throttle"]


def test_once_per_kind_per_period_with_a_count(setup: tuple[LogThrottle, FakeClock, pytest.LogCaptureFixture]) -> None:
    throttle, clock, caplog = setup
    try:
        raise OSError(28, "No space left on device")
    except OSError as exc:
        error = exc
    logged = [throttle.warning("write OSError", "write of %s failed: %s", f"k{i}", error, exc_info=error)
              for i in range(92)]
    assert logged == [True] + [False] * 91
    records = _lines(caplog)
    assert len(records) == 1 and records[0].exc_info is not None and "k0" in records[0].getMessage()
    clock.advance(59.9)
    throttle.warning("write OSError", "write of %s failed", "late")
    assert len(_lines(caplog)) == 1
    clock.advance(0.1)
    throttle.warning("write OSError", "write of %s failed", "k92", exc_info=error)
    records = _lines(caplog)
    assert len(records) == 2
    assert records[1].getMessage() == "write of k92 failed (92 more like it since the previous report)"
    # Only the first record of a kind carries the traceback: the next ones are one line each.
    assert records[1].exc_info is None


def test_kinds_are_counted_apart(setup: tuple[LogThrottle, FakeClock, pytest.LogCaptureFixture]) -> None:
    throttle, _, caplog = setup
    for _ in range(5):
        throttle.error("read", "read failed")
        throttle.error("write", "write failed")
    assert [r.getMessage() for r in _lines(caplog)] == ["read failed", "write failed"]


def test_the_kinds_remembered_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test.throttle")
    throttle = LogThrottle(logging.getLogger("test.throttle"), clock=FakeClock(0.0), max_kinds=3)
    for i in range(100):
        throttle.warning(f"kind {i}", "message %d", i)
    assert len(throttle._kinds) == 3
