"""Candle events waiting for the feed thread's listener work, handled within a time budget per feed iteration."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from feeds.candles import CandleEvent
from feeds.models import Timeframe

Key = tuple[str, Timeframe]


class CloseQueue:
    """Spreads the work of many candles closing at the same instant (every tracker recomputes then) over several
    feed iterations, so the ticks of the iteration at a minute's or an hour's edge are not held up behind it.

    A closed candle waits here; so do the later events of its (symbol, timeframe) until it has been handled, so
    their order is kept (the next candle's updates never overtake the close). Of those later updates only the
    newest waits: each carries the whole forming candle. Nothing is ever recomputed or dropped, only delayed.
    (symbol, timeframe) pairs are served in turn, oldest waiting first.

    ``drain`` handles at least one event and then goes on while ``budget`` seconds have not passed, and always
    until at most ``max_waiting`` events wait (the bound; reaching it means the budget is too small for the load).
    Feed thread only; no locks.
    """

    def __init__(self, max_waiting: int) -> None:
        self.max_waiting = max_waiting
        self._waiting: OrderedDict[Key, deque[CandleEvent]] = OrderedDict()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def waiting(self, key: Key) -> bool:
        return key in self._waiting

    def push(self, event: CandleEvent) -> None:
        key = (event.symbol, event.timeframe)
        queue = self._waiting.get(key)
        if queue is None:
            queue = self._waiting[key] = deque()
        elif not event.closed and not queue[-1].closed:
            queue[-1] = event  # a newer state of the same forming candle
            return
        queue.append(event)
        self._count += 1

    def drain(self, handle: Callable[[CandleEvent], None], budget: float,
              clock: Callable[[], float] = time.perf_counter) -> int:
        """Hand waiting events to ``handle`` in order per (symbol, timeframe) within ``budget`` seconds (see the
        class docstring); returns how many were handled."""
        deadline = clock() + budget
        handled = 0
        while self._waiting and (handled == 0 or self._count > self.max_waiting or clock() < deadline):
            key, queue = next(iter(self._waiting.items()))
            event = queue.popleft()
            self._count -= 1
            if queue:
                self._waiting.move_to_end(key)
            else:
                del self._waiting[key]
            handle(event)
            handled += 1
        return handled

    def forget(self, symbols: Iterable[str]) -> None:
        """Throw away what waits for ``symbols`` (the feed stopped tracking them)."""
        gone = set(symbols)
        for key in [k for k in self._waiting if k[0] in gone]:
            self._count -= len(self._waiting.pop(key))
