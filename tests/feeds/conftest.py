"""Fixtures shared by the feed tests: a hand-moved clock and a MarketCache that runs on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests_support import FakeClock

from feeds.cache import MarketCache


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(tmp_path: Path, clock: FakeClock) -> Iterator[MarketCache]:
    c = MarketCache(tmp_path / "cache", clock=clock)
    yield c
    c.close()
