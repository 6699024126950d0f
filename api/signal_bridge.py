"""Connects the signal trackers to the feed thread (seed, candle close) and to readers (WebSocket, REST, pages)."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

from api import protocol as p
from feeds import cpu_pool
from feeds.candles import CandleEvent
from feeds.models import ALL_TIMEFRAMES, Candle, Timeframe
from signals import (
    SignalTracker,
    TrackerConfig,
    agent_status,
    analyze_candles,
    prepared_payload,
    ws_status,
)
from signals.agents import run_agents
from signals.analysis import agent_context
from signals.consensus import DEFAULT_MARGIN, SignalEvent, SignalGate, combine, make_signal
from signals.ideas import Idea, IdeaStatus

log = logging.getLogger(__name__)

# Candles a tracker starts from at least: enough for EMA(50), swings and breaks. Intraday trackers also start at the
# beginning of the previous UTC day, so that the floor pivots (from the previous completed day) are right from the
# first candle. Seeding costs about 0.2 ms a candle on the feed thread: a new symbol costs about 0.8 s once.
SEED_WINDOW = 300
# A symbol no tracker follows is answered from its last HISTORY_CANDLES candles per timeframe; its signals are
# those the newest SIGNAL_SCAN_CANDLES of them produced (at most MAX_HISTORY_SIGNALS each). Answers are cached for
# HISTORY_CACHE_SECONDS, at most HISTORY_CACHE_SIZE of them.
HISTORY_CANDLES = 500
SIGNAL_SCAN_CANDLES = 100
MAX_HISTORY_SIGNALS = 50
HISTORY_CACHE_SIZE = 256
HISTORY_CACHE_SECONDS = 15.0

T = TypeVar("T")


class SignalEngine:
    """One ``SignalTracker`` per (symbol, timeframe), fed on the feed thread.

    Thread rules: ``seed``, ``install``, ``candle_closed`` and ``drop_symbol`` run only on the feed thread (the
    LiveFeed calls them); ``prepare`` (which builds a tracker without touching the table) and every other method
    may run on any thread. Trackers publish immutable snapshots, and the tracker table is
    replaced whole (copy-on-write), so readers need no lock.
    """

    def __init__(self, timeframes: Iterable[Timeframe] = ALL_TIMEFRAMES, config: TrackerConfig | None = None,
                 seed_window: int = SEED_WINDOW) -> None:
        self.timeframes = tuple(timeframes)
        self.config = config
        self.seed_window = seed_window
        self._trackers: dict[tuple[str, Timeframe], SignalTracker] = {}

    # -- feed thread -------------------------------------------------------------------------------------------

    def seed(self, symbol: str, timeframe: Timeframe, candles: list[Candle]) -> None:
        self.install(self.prepare(symbol, timeframe, candles))

    def prepare(self, symbol: str, timeframe: Timeframe, candles: list[Candle]) -> SignalTracker | None:
        """A tracker seeded from ``candles`` (closed, oldest first), not yet in place; any thread, touches nothing
        shared. None for a timeframe the engine does not follow."""
        if timeframe not in self.timeframes:
            return None
        tracker = SignalTracker(symbol, timeframe, self.config)
        tracker.seed(seed_window(candles, timeframe, self.seed_window))
        return tracker

    def install(self, tracker: SignalTracker | None) -> None:
        """Put a prepared tracker in place (feed thread); from now on it takes the closed candles."""
        if tracker is not None:
            self._trackers = {**self._trackers, (tracker.symbol, tracker.timeframe): tracker}

    def drop_symbol(self, symbol: str) -> None:
        """Let go of every tracker of ``symbol`` (the feed stopped tracking it)."""
        if any(s == symbol for s, _ in self._trackers):
            self._trackers = {key: t for key, t in self._trackers.items() if key[0] != symbol}

    def candle_closed(self, event: CandleEvent) -> list[tuple[str, Any]]:
        tracker = self._trackers.get((event.symbol, event.timeframe))
        if tracker is None:
            return []
        update = tracker.on_candle_closed(event.candle)
        if not update.accepted:
            return []
        out: list[tuple[str, Any]] = []
        if update.signal is not None:
            out.append((f"signals.{event.symbol}", p.ChannelEvent(
                p.Channel.SIGNALS, p.MessageType.SIGNAL, event.symbol, update.signal.to_ws(), event.event_time)))
        for idea in (*update.ideas.born, *update.ideas.triggered, *update.ideas.closed):
            out.append((f"ideas.{event.symbol}", _idea_event(idea, event.event_time)))
        for idea in update.ideas.born:
            out.append((f"payloads.{event.symbol}", _payload_event(idea, event.event_time)))
        return out

    # -- readers (any thread) ------------------------------------------------------------------------------------

    def tracker(self, symbol: str, timeframe: Timeframe) -> SignalTracker | None:
        return self._trackers.get((symbol, timeframe))

    def trackers(self, symbol: str | None = None) -> list[SignalTracker]:
        return [t for (s, _), t in self._trackers.items() if symbol is None or s == symbol]

    def overlays(self, symbol: str, timeframe: Timeframe) -> dict[str, Any]:
        """The ``signals`` object of ``full_update`` (docs/protocol.md), plus the floor pivots."""
        tracker = self._trackers.get((symbol, timeframe))
        if tracker is None:
            return {"pivot_points": [], "fvg_zones": [], "break_signals": [], "pivot_levels": []}
        return tracker.snapshot.overlays()

    def signal_list(self, symbol: str, timeframe: Timeframe | None) -> list[dict[str, Any]]:
        """Consensus signals newest first, of one timeframe or of all."""
        items: list[dict[str, Any]] = []
        for tracker in self.trackers(symbol):
            if timeframe is None or tracker.timeframe == timeframe:
                items.extend(tracker.snapshot.signal_list())
        items.sort(key=lambda s: str(s["timestamp"]), reverse=True)
        return items

    def ws_status(self) -> dict[str, Any]:
        return ws_status(self._trackers.values())

    def agent_status(self) -> dict[str, Any]:
        return agent_status(self._trackers.values())

    def snapshot(self, subscription: p.Subscription) -> list[p.ChannelEvent]:
        """What a new subscriber of ``signals``, ``ideas`` or ``payloads`` gets at once: the current state."""
        trackers = self.trackers(subscription.symbol)
        events: list[p.ChannelEvent] = []
        for tracker in trackers:
            snap = tracker.snapshot
            stamp = float(snap.last_update or 0.0)
            if subscription.channel is p.Channel.SIGNALS and snap.signals:
                latest = snap.signals[0]
                events.append(p.ChannelEvent(p.Channel.SIGNALS, p.MessageType.SIGNAL, tracker.symbol,
                                             latest.to_ws(), stamp))
            elif subscription.channel is p.Channel.IDEAS:
                events.extend(_idea_event(idea, stamp) for idea in snap.ideas)
            elif subscription.channel is p.Channel.PAYLOADS:
                # Only tickets still to be sent: an active idea's order has already been filled.
                events.extend(_payload_event(idea, stamp) for idea in snap.ideas if idea.status is IdeaStatus.PENDING)
        return events


def seed_window(candles: list[Candle], timeframe: Timeframe, minimum: int) -> list[Candle]:
    """The last ``minimum`` candles, or, for intraday timeframes, all since the start of the previous UTC day."""
    if not candles or timeframe is Timeframe.D1:
        return candles[-minimum:]
    previous_day = Timeframe.D1.bucket_start(candles[-1].time) - Timeframe.D1.seconds
    first = next((i for i, c in enumerate(candles) if c.time >= previous_day), len(candles))
    return candles[min(first, max(0, len(candles) - minimum)):]


def _idea_event(idea: Idea, time_: float) -> p.ChannelEvent:
    return p.ChannelEvent(p.Channel.IDEAS, p.MessageType.IDEA, idea.symbol, idea.to_dict(), time_)


def _payload_event(idea: Idea, time_: float) -> p.ChannelEvent:
    return p.ChannelEvent(p.Channel.PAYLOADS, p.MessageType.PREPARED_PAYLOAD, idea.symbol,
                          prepared_payload(idea), time_)


def levels_from_history(candles: list[Candle], timeframe: Timeframe) -> dict[str, Any]:
    """Overlays of a whole history (for a symbol no tracker follows yet), via the vectorised functions."""
    closed = (candles[:-1] if candles else candles)[-SEED_WINDOW:]
    analysis = analyze_candles(closed, timeframe)
    overlays: dict[str, Any] = analysis.overlays()
    return overlays


def levels_over(candles: list[Candle], timeframe: Timeframe) -> dict[str, Any]:
    """Overlays of every one of ``candles`` (closed, oldest first; the caller bounds how many), via the vectorised
    functions: what a chart shows over older history it loaded (swings, gaps and breaks of that whole range)."""
    overlays: dict[str, Any] = analyze_candles(candles, timeframe).overlays()
    return overlays


def signals_from_history(symbol: str, timeframe: Timeframe, candles: list[Candle],
                         scan: int = SIGNAL_SCAN_CANDLES, limit: int = MAX_HISTORY_SIGNALS) -> list[SignalEvent]:
    """The consensus signals the newest ``scan`` of ``candles`` (closed, oldest first) produced, newest first.

    Swings, gaps, breaks, floor pivots and indicators come from the vectorised whole-history functions; the agents
    then vote on each scanned candle as the tracker's would, through the same gate (which starts afresh at the
    first scanned candle, so the oldest signal may differ from a tracker that saw more of the past).
    """
    analysis = analyze_candles(candles, timeframe)
    bars = analysis.bars
    gate = SignalGate()
    found: list[SignalEvent] = []
    for index in range(max(0, len(bars) - scan), len(bars)):
        context = agent_context(bars, analysis.indicators, analysis.fvgs, analysis.breaks, analysis.pivot_levels,
                                index)
        consensus = combine(run_agents(context), DEFAULT_MARGIN)
        if gate.offer(consensus):
            opened = int(bars.time[index])
            found.append(make_signal(symbol, timeframe.value, opened, opened + timeframe.seconds,
                                     float(bars.close[index]), consensus))
    return found[::-1][:limit]


def _levels(timeframe: Timeframe, candles: list[Candle]) -> dict[str, Any]:
    return levels_from_history(candles, timeframe)


class HistorySignals:
    """Signals and overlays of symbols no tracker follows, computed from their history for a request.

    Nothing is added to the feed, nothing waits for a tracker. ``history(symbol, timeframe)`` gives the candles
    (at most ``HISTORY_CANDLES`` of them are used). Answers are kept ``ttl`` seconds in an LRU of ``size`` entries;
    one computation runs at a time (they are CPU-bound: more at once would only take turns with the feed thread
    for the interpreter), on a native thread (feeds/cpu_pool.py) so the event loop goes on serving. Any thread.
    """

    def __init__(self, history: Callable[[str, Timeframe], list[Candle]],
                 timeframes: Iterable[Timeframe] = ALL_TIMEFRAMES,
                 size: int = HISTORY_CACHE_SIZE, ttl: float = HISTORY_CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.history = history
        self.timeframes = tuple(timeframes)
        self.size = size
        self.ttl = ttl
        self.clock = clock
        self._cache: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._compute = threading.Semaphore(1)
        self.computed = 0

    def signal_list(self, symbol: str, timeframe: Timeframe | None) -> list[dict[str, Any]]:
        """``GET /api/v1/signals/symbol/{symbol}`` items, newest first, of one timeframe or of all."""
        items: list[dict[str, Any]] = []
        for tf in (timeframe,) if timeframe is not None else self.timeframes:
            events = self._cached("signals", symbol, tf, partial(signals_from_history, symbol, tf))
            items.extend(event.to_rest() for event in events)
        items.sort(key=lambda item: str(item["timestamp"]), reverse=True)
        return items

    def overlays(self, symbol: str, timeframe: Timeframe) -> dict[str, Any]:
        return self._cached("levels", symbol, timeframe, partial(_levels, timeframe))

    def window_overlays(self, key: tuple[Any, ...], timeframe: Timeframe,
                        load: Callable[[], tuple[list[Candle], dict[str, Any]]]) -> tuple[dict[str, Any], Any]:
        """Overlays of the closed candles ``load()`` gives (with labels passed through: where they came from), over
        all of them (``levels_over``), for ``GET …/levels?end=&limit=``: the chart's older history. Cached under
        ``key`` (which must name everything ``load`` depends on) like the other answers."""
        def compute(loaded: tuple[list[Candle], Any]) -> tuple[dict[str, Any], Any]:
            candles, labels = loaded
            return levels_over(candles, timeframe), labels

        return self._memo(("window", *key), load, compute)

    def _cached(self, kind: str, symbol: str, timeframe: Timeframe, compute: Callable[[list[Candle]], T]) -> T:
        def load() -> list[Candle]:
            candles = self.history(symbol, timeframe)[-(HISTORY_CANDLES + 1):]
            return candles[:-1] if kind == "signals" else candles  # the newest may still be forming

        return self._memo((kind, symbol, timeframe), load, compute)

    def _memo(self, key: tuple[Any, ...], load: Callable[[], Any], compute: Callable[[Any], T]) -> T:
        hit = self._lookup(key)
        if hit is not None:
            return hit[1]  # type: ignore[no-any-return]
        loaded = load()
        with self._compute:
            hit = self._lookup(key)  # computed by a request this one waited for
            if hit is not None:
                return hit[1]  # type: ignore[no-any-return]
            value = cpu_pool.run(compute, loaded)
            self.computed += 1
        with self._lock:
            self._cache[key] = (self.clock() + self.ttl, value)
            self._cache.move_to_end(key)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return value

    def _lookup(self, key: tuple[Any, ...]) -> tuple[float, Any] | None:
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                return None
            if hit[0] <= self.clock():
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return hit
