"""SignalTracker: incremental signal state of one (symbol, timeframe), recomputed only when a candle closes.

Thread rules: the feed thread is the only writer (``seed``, ``on_candle_closed``). Everything a reader on
another thread may want is in :class:`TrackerSnapshot`, an immutable value the writer builds at the end of
each candle and publishes with one attribute assignment (atomic in CPython), so readers need no lock:
take ``tracker.snapshot`` once and read from that object.

Cost per closed candle is bounded by the configuration (window sizes, caps on live overlays), not by the
length of the history: there is no per-candle work over the whole history anywhere.
"""

from __future__ import annotations

import time as _time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import attrgetter

from feeds.models import Candle, Timeframe
from signals.agents import (
    AGENT_NAMES,
    AGENT_WINDOW,
    FVG_MEMORY_BARS,
    AgentContext,
    AgentVote,
    run_agents,
)
from signals.consensus import (
    DEFAULT_MARGIN,
    DEFAULT_STEP,
    Consensus,
    SignalEvent,
    SignalGate,
    combine,
    make_signal,
)
from signals.enums import Action
from signals.floor_pivots import FloorPivots, FloorPivotTracker
from signals.fvg import DEFAULT_MAX_OPEN_PER_DIRECTION, FairValueGap, FvgDetector
from signals.ideas import Idea, IdeaBook, IdeaChanges, IdeaConfig
from signals.indicators import IndicatorValues
from signals.ring import DEFAULT_CAPACITY, BarRing
from signals.streaming import IndicatorState
from signals.structure import BreakDetector, StructureBreak
from signals.swings import DEFAULT_SWING_LENGTH, Swing, SwingDetector
from signals.wire import iso_utc_ms

_BY_INDEX = attrgetter("index")


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """Sizes and thresholds of a tracker; every bound on per-candle work and memory is here."""

    swing_length: int = DEFAULT_SWING_LENGTH
    min_gap: float = 0.0
    window: int = DEFAULT_CAPACITY
    max_open_fvgs: int = DEFAULT_MAX_OPEN_PER_DIRECTION
    keep_mitigated_fvgs: int = 20
    max_swings: int = 50
    max_breaks: int = 50
    max_pivot_levels: int = 5
    max_signals: int = 50
    margin: float = DEFAULT_MARGIN
    step: float = DEFAULT_STEP
    ideas: IdeaConfig = field(default_factory=IdeaConfig)

    def __post_init__(self) -> None:
        if self.window < AGENT_WINDOW:
            raise ValueError(f"window must hold at least {AGENT_WINDOW} candles for the agents")


@dataclass(frozen=True, slots=True)
class TrackerUpdate:
    """What one closed candle changed. ``accepted`` is False (and everything empty) for a candle that is not
    newer than the last one, which the tracker ignores."""

    candle: Candle
    index: int
    accepted: bool = True
    swings: tuple[Swing, ...] = ()
    fvgs: tuple[FairValueGap, ...] = ()
    mitigated_fvgs: tuple[FairValueGap, ...] = ()
    dropped_fvgs: tuple[FairValueGap, ...] = ()
    breaks: tuple[StructureBreak, ...] = ()
    pivot_levels: FloorPivots | None = None
    indicators: IndicatorValues = field(default_factory=IndicatorValues)
    consensus: Consensus | None = None
    signal: SignalEvent | None = None
    ideas: IdeaChanges = field(default_factory=IdeaChanges)

    @property
    def overlays_changed(self) -> bool:
        return bool(
            self.swings
            or self.fvgs
            or self.mitigated_fvgs
            or self.dropped_fvgs
            or self.breaks
            or self.pivot_levels is not None
        )


@dataclass(frozen=True, slots=True)
class TrackerSnapshot:
    """Everything readers need, frozen at the close of the last candle."""

    symbol: str
    timeframe: str
    candle_count: int = 0
    last_update: float | None = None
    last_candle: Candle | None = None
    swings: tuple[Swing, ...] = ()
    fvgs: tuple[FairValueGap, ...] = ()
    breaks: tuple[StructureBreak, ...] = ()
    pivot_levels: tuple[FloorPivots, ...] = ()
    indicators: IndicatorValues = field(default_factory=IndicatorValues)
    consensus: Consensus | None = None
    signals: tuple[SignalEvent, ...] = ()
    ideas: tuple[Idea, ...] = ()
    closed_ideas: tuple[Idea, ...] = ()

    def overlays(self) -> dict[str, list[dict[str, object]]]:
        """``{pivot_points, fvg_zones, break_signals, pivot_levels}`` with the object shapes of docs/signals.md."""
        return {
            "pivot_points": [s.to_dict() for s in self.swings],
            "fvg_zones": [g.to_dict() for g in self.fvgs],
            "break_signals": [b.to_dict() for b in self.breaks],
            "pivot_levels": [p.to_dict() for p in self.pivot_levels],
        }

    def stats(self) -> dict[str, object]:
        """One tracker's entry of ``GET /ws/status``."""
        return {
            "last_candle_count": self.candle_count,
            "last_update_time": iso_utc_ms(self.last_update) if self.last_update is not None else None,
            "cached_signals_count": {
                "pivot_points": len(self.swings),
                "fvg_zones": len(self.fvgs),
                "break_signals": len(self.breaks),
            },
        }

    def signal_list(self) -> list[dict[str, object]]:
        """``GET /api/v1/signals/symbol/{symbol}`` items, newest first."""
        return [signal.to_rest() for signal in self.signals]


class SignalTracker:
    """Incremental signals of one (symbol, timeframe); see the module docstring for the thread rules."""

    def __init__(
        self,
        symbol: str,
        timeframe: Timeframe,
        config: TrackerConfig | None = None,
        clock: Callable[[], float] = _time.time,
    ) -> None:
        self.symbol = symbol
        self.timeframe = timeframe
        self.config = config or TrackerConfig()
        self._clock = clock
        cfg = self.config
        self._count = 0
        self._last_time: int | None = None
        self._last: Candle | None = None
        self._ring = BarRing(cfg.window)
        self._swing_detector = SwingDetector(cfg.swing_length)
        self._fvg_detector = FvgDetector(cfg.min_gap, cfg.max_open_fvgs)
        self._break_detector = BreakDetector()
        self._pivot_tracker = FloorPivotTracker(timeframe)
        self._indicator_state = IndicatorState()
        self._ideas = IdeaBook(symbol, timeframe.value, cfg.ideas)
        self._gate = SignalGate(cfg.step)
        self._swings: deque[Swing] = deque(maxlen=cfg.max_swings)
        self._breaks: deque[StructureBreak] = deque(maxlen=cfg.max_breaks)
        self._mitigated: deque[FairValueGap] = deque(maxlen=cfg.keep_mitigated_fvgs)
        self._touched: deque[FairValueGap] = deque()
        self._pivot_levels: deque[FloorPivots] = deque(maxlen=cfg.max_pivot_levels)
        self._signals: deque[SignalEvent] = deque(maxlen=cfg.max_signals)
        self._previous_values = IndicatorValues()
        self._consensus: Consensus | None = None
        self._dirty = True
        self._snapshot = TrackerSnapshot(symbol, timeframe.value)

    # ----------------------------------------------------------------- readers (any thread)
    @property
    def snapshot(self) -> TrackerSnapshot:
        return self._snapshot

    def overlays(self) -> dict[str, list[dict[str, object]]]:
        return self._snapshot.overlays()

    def stats(self) -> dict[str, object]:
        return self._snapshot.stats()

    def signals(self) -> list[dict[str, object]]:
        return self._snapshot.signal_list()

    def latest_votes(self) -> tuple[AgentVote, ...]:
        consensus = self._snapshot.consensus
        return consensus.votes if consensus is not None else ()

    # ----------------------------------------------------------------- writer (feed thread only)
    def seed(self, candles: Iterable[Candle]) -> int:
        """Feed a history window, oldest first, exactly as ``on_candle_closed`` would one by one (same state,
        signal history included), but publish one snapshot at the end. Returns the candles accepted."""
        accepted = sum(1 for candle in candles if self._process(candle).accepted)
        self._publish(self._clock())
        return accepted

    def on_candle_closed(self, candle: Candle) -> TrackerUpdate:
        """Feed one closed candle; returns what it changed and publishes a new snapshot."""
        update = self._process(candle)
        if update.accepted:
            self._publish(self._clock())
        return update

    def _process(self, candle: Candle) -> TrackerUpdate:
        if self._last_time is not None and candle.time <= self._last_time:
            return TrackerUpdate(candle, self._count - 1, accepted=False)
        index = self._count
        self._count += 1
        self._last_time = t = candle.time
        self._last = candle
        o, h, lo, c, v = candle.open, candle.high, candle.low, candle.close, candle.volume
        self._ring.append(t, o, h, lo, c, v)

        swings = self._swing_detector.update(index, t, h, lo)
        mitigated, new_gaps, dropped = self._fvg_detector.update(index, t, o, h, lo, c)
        breaks = self._break_detector.update(index, t, c, swings)
        pivots = self._pivot_tracker.update(t, h, lo, c)
        values = self._indicator_state.update(t, h, lo, c, v)

        if swings:
            self._swings.extend(swings)
        if breaks:
            self._breaks.extend(breaks)
        if pivots is not None:
            self._pivot_levels.append(pivots)
        if mitigated:
            self._mitigated.extend(mitigated)
            self._touched.extend(mitigated)
        while (
            self._touched
            and self._touched[0].mitigated_index is not None
            and (self._touched[0].mitigated_index <= index - FVG_MEMORY_BARS)
        ):
            self._touched.popleft()
        if swings or breaks or pivots is not None or mitigated or new_gaps or dropped:
            self._dirty = True

        open_gaps = self._fvg_detector.open_gaps() if breaks else ()
        ideas = self._ideas.update(index, t, (o, h, lo, c), values.atr, breaks, open_gaps)

        context = AgentContext(
            index=index,
            window=self._ring.view(AGENT_WINDOW),
            indicators=values,
            previous=self._previous_values,
            last_break=self._break_detector.last_break,
            touched_fvgs=tuple(self._touched),
            pivots=self._pivot_tracker.current,
        )
        consensus = combine(run_agents(context), self.config.margin)
        self._consensus = consensus
        self._previous_values = values
        signal: SignalEvent | None = None
        if self._gate.offer(consensus):
            signal = make_signal(self.symbol, self.timeframe.value, t, t + self.timeframe.seconds, c, consensus)
            self._signals.append(signal)
        return TrackerUpdate(
            candle=candle,
            index=index,
            swings=swings,
            fvgs=new_gaps,
            mitigated_fvgs=mitigated,
            dropped_fvgs=dropped,
            breaks=breaks,
            pivot_levels=pivots,
            indicators=values,
            consensus=consensus,
            signal=signal,
            ideas=ideas,
        )

    def _publish(self, now: float) -> None:
        previous = self._snapshot
        swings, fvgs, breaks, levels = previous.swings, previous.fvgs, previous.breaks, previous.pivot_levels
        if self._dirty:
            swings, breaks, levels = tuple(self._swings), tuple(self._breaks), tuple(self._pivot_levels)
            fvgs = tuple(sorted([*self._fvg_detector.open_gaps(), *self._mitigated], key=_BY_INDEX))
            self._dirty = False
        signals = previous.signals
        if not signals or (self._signals and self._signals[-1] is not signals[0]):
            signals = tuple(reversed(self._signals))
        self._snapshot = TrackerSnapshot(
            symbol=self.symbol,
            timeframe=self.timeframe.value,
            candle_count=self._count,
            last_update=now,
            last_candle=self._last,
            indicators=self._indicator_state.latest,
            consensus=self._consensus,
            signals=signals,
            ideas=self._ideas.live(),
            closed_ideas=self._ideas.closed(),
            swings=swings,
            fvgs=fvgs,
            breaks=breaks,
            pivot_levels=levels,
        )


def tracker_key(symbol: str, timeframe: Timeframe | str) -> str:
    """The ``trackers`` key of ``GET /ws/status``: ``"GC=F_1h"``."""
    value = timeframe.value if isinstance(timeframe, Timeframe) else timeframe
    return f"{symbol}_{value}"


def ws_status(trackers: Iterable[SignalTracker]) -> dict[str, object]:
    """The body of ``GET /ws/status``."""
    entries = {tracker_key(t.symbol, t.timeframe): t.stats() for t in trackers}
    return {"active_trackers": len(entries), "trackers": entries}


def agent_status(trackers: Iterable[SignalTracker]) -> dict[str, object]:
    """The ``data`` of the WebSocket ``agent_status`` answer: each agent's most recent vote across trackers.

    ``status`` is ``idle`` before any candle closed, ``warming_up`` while the agent still lacks data (its
    last vote is a zero-confidence HOLD), else ``active``.
    """
    latest: dict[str, tuple[int, SignalTracker, AgentVote]] = {}
    for tracker in trackers:
        snapshot = tracker.snapshot
        if snapshot.consensus is None or snapshot.last_candle is None:
            continue
        for vote in snapshot.consensus.votes:
            seen = latest.get(vote.agent)
            if seen is None or snapshot.last_candle.time > seen[0]:
                latest[vote.agent] = (snapshot.last_candle.time, tracker, vote)
    agents: list[dict[str, object]] = []
    for name in AGENT_NAMES:
        if name not in latest:
            agents.append({"name": name, "status": "idle", "last_vote": None})
            continue
        candle_time, tracker, vote = latest[name]
        waiting = vote.action is Action.HOLD and vote.confidence == 0.0
        agents.append(
            {
                "name": name,
                "status": "warming_up" if waiting else "active",
                "last_vote": {
                    "symbol": tracker.symbol,
                    "timeframe": tracker.timeframe.value,
                    "action": vote.action.value,
                    "confidence": vote.confidence,
                    "reasoning": vote.reasoning,
                    "candle_time": candle_time,
                },
            }
        )
    return {"agents": agents}
