"""Pure candle aggregation: ticks in, "candle updated" and "candle closed" events out, per symbol and timeframe."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from feeds.models import ALL_TIMEFRAMES, Candle, Tick, Timeframe


@dataclass(frozen=True, slots=True)
class CandleEvent:
    """A candle of (symbol, timeframe) changed: ``closed`` is True once, when its bucket ends."""

    symbol: str
    timeframe: Timeframe
    candle: Candle
    closed: bool
    # Time of the tick (or clock reading) that caused the event, for latency measurement downstream.
    event_time: float


class CandleBuilder:
    """Turns ticks into candles for several timeframes.

    Not thread-safe by design: it lives on the feed thread. A tick older than the newest tick already seen for
    its symbol is ignored (returns no events), so a source that repeats or reorders quotes cannot corrupt a candle.
    """

    def __init__(self, timeframes: Iterable[Timeframe] = ALL_TIMEFRAMES) -> None:
        self.timeframes: tuple[Timeframe, ...] = tuple(timeframes)
        self._current: dict[tuple[str, Timeframe], Candle] = {}
        self._last_tick_time: dict[str, float] = {}
        self.ignored_ticks = 0

    def seed(self, symbol: str, timeframe: Timeframe, candle: Candle, as_of: float) -> None:
        """Start from a partial candle taken from history, so the live candle continues it."""
        self._current[(symbol, timeframe)] = candle
        self._last_tick_time[symbol] = max(self._last_tick_time.get(symbol, as_of), as_of)

    def current(self, symbol: str, timeframe: Timeframe) -> Candle | None:
        return self._current.get((symbol, timeframe))

    def apply(self, tick: Tick) -> list[CandleEvent]:
        last = self._last_tick_time.get(tick.symbol)
        if last is not None and tick.time < last:
            self.ignored_ticks += 1
            return []
        self._last_tick_time[tick.symbol] = tick.time
        events: list[CandleEvent] = []
        for timeframe in self.timeframes:
            key = (tick.symbol, timeframe)
            bucket = timeframe.bucket_start(tick.time)
            candle = self._current.get(key)
            if candle is not None and candle.time < bucket:
                events.append(CandleEvent(tick.symbol, timeframe, candle, True, tick.time))
                candle = None
            if candle is None:
                candle = Candle(bucket, tick.price, tick.price, tick.price, tick.price, tick.volume)
            else:
                # Built directly rather than with dataclasses.replace, which costs half of this loop.
                candle = Candle(
                    candle.time,
                    candle.open,
                    candle.high if candle.high >= tick.price else tick.price,
                    candle.low if candle.low <= tick.price else tick.price,
                    tick.price,
                    candle.volume + tick.volume,
                )
            self._current[key] = candle
            events.append(CandleEvent(tick.symbol, timeframe, candle, False, tick.time))
        return events

    def close_due(self, now: float) -> list[CandleEvent]:
        """Close candles whose bucket ended before ``now`` although no tick has arrived since (a quiet source)."""
        events: list[CandleEvent] = []
        for key, candle in list(self._current.items()):
            symbol, timeframe = key
            if candle.time + timeframe.seconds <= now:
                events.append(CandleEvent(symbol, timeframe, candle, True, now))
                del self._current[key]
        return events

    def forget(self, symbol: str) -> None:
        for timeframe in self.timeframes:
            self._current.pop((symbol, timeframe), None)
        self._last_tick_time.pop(symbol, None)
