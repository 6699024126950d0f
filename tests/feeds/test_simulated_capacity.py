"""The simulated market's caches hold what a feed of 200 symbols needs, whatever history is asked for meanwhile."""

from __future__ import annotations

from collections import Counter

import numpy as np

from feeds.models import Period, Timeframe
from feeds.simulated import SimulatedSource
from feeds.universe import first_symbols

NOW = 1_763_700_030.0
# 200 real tickers: the simulated market answers its universe only.
SYMBOLS = first_symbols(200)


class CountingSource(SimulatedSource):
    """Counts the random generators it makes, by level (2: a day's minutes, 3: a minute's path): each one is a
    piece of the path built (again)."""

    def __init__(self) -> None:
        super().__init__(seed=9, clock=lambda: NOW)
        self.built: Counter[int] = Counter()

    def _rng(self, symbol: str, level: int, index: int) -> np.random.Generator:
        self.built[level] += 1
        return super()._rng(symbol, level, index)


def test_quotes_of_200_symbols_reuse_their_minute_paths() -> None:
    source = CountingSource()
    for symbol in SYMBOLS:
        source.quote(symbol)
    source.built.clear()
    for symbol in SYMBOLS:
        source.quote(symbol)
    assert source.built[3] == 0, "every quote rebuilt its minute's path"


def test_a_long_hourly_history_does_not_push_the_live_days_out() -> None:
    source = CountingSource()
    for symbol in SYMBOLS:
        source.quote(symbol)
    source.history("SPY", Period.parse("1y"), Timeframe.D1)
    source.history("SPY", Period.parse("3mo"), Timeframe.H4)
    source.built.clear()
    for symbol in SYMBOLS:
        source.quote(symbol)
    assert source.built[2] == 0, "the streamed symbols' days were built again"
