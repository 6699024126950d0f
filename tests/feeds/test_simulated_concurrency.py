"""The simulated market serves quotes while a long history request is being built on another thread."""

from __future__ import annotations

import threading

from feeds.models import Period, Timeframe
from feeds.simulated import SimulatedSource


class SlowHistory(SimulatedSource):
    """Holds every history request in the middle of building its candles until the test lets it go."""

    def __init__(self) -> None:
        super().__init__(seed=5, clock=lambda: 1_763_700_000.0)
        self.building = threading.Event()
        self.release = threading.Event()

    def _complete_candles(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.building.set()
        assert self.release.wait(30)
        return super()._complete_candles(*args, **kwargs)


def test_a_history_request_does_not_hold_up_quotes() -> None:
    """The feed thread's quotes used to wait behind the source's one lock while a tracker's year of daily history
    was built (hundreds of ms each)."""
    source = SlowHistory()
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(len(source.history("AAPL", Period.parse("1y"),
                                                                              Timeframe.D1))))
    worker.start()
    try:
        assert source.building.wait(30)
        done = threading.Event()
        quotes = threading.Thread(target=lambda: (source.quote("MSFT"), source.forming_candle(
            "MSFT", Timeframe.M5, 1_763_700_000.0), done.set()))
        quotes.start()
        assert done.wait(30), "a quote waited for the history request"
    finally:
        source.release.set()
        worker.join(30)
    assert result and result[0] > 300
