"""Whole-history analysis: every overlay, indicator series and the final consensus of a history, vectorised."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from feeds.models import Candle, Timeframe
from signals.agents import AGENT_WINDOW, FVG_MEMORY_BARS, AgentContext, run_agents
from signals.bars import Bars, FloatArray
from signals.consensus import DEFAULT_MARGIN, Consensus, combine
from signals.floor_pivots import FloorPivots, find_floor_pivots
from signals.fvg import FairValueGap, find_fvgs
from signals.indicators import IndicatorValues, compute_indicators, values_at
from signals.structure import StructureBreak, find_breaks
from signals.swings import DEFAULT_SWING_LENGTH, Swing, find_swings
from signals.wire import json_safe


@dataclass(frozen=True, slots=True, eq=False)
class Analysis:
    """Result of :func:`analyze`. ``pivot_levels`` pairs each period's pivots with the index of its first
    bar (when they became known)."""

    bars: Bars
    swings: tuple[Swing, ...]
    fvgs: tuple[FairValueGap, ...]
    breaks: tuple[StructureBreak, ...]
    pivot_levels: tuple[tuple[int, FloorPivots], ...]
    indicators: dict[str, FloatArray]
    consensus: Consensus | None

    def latest_indicators(self) -> IndicatorValues:
        return values_at(self.indicators, -1)

    def overlays(self) -> dict[str, list[dict[str, object]]]:
        """Same keys and object shapes as :meth:`signals.tracker.TrackerSnapshot.overlays` (unbounded)."""
        return {
            "pivot_points": [s.to_dict() for s in self.swings],
            "fvg_zones": [g.to_dict() for g in self.fvgs],
            "break_signals": [b.to_dict() for b in self.breaks],
            "pivot_levels": [p.to_dict() for _, p in self.pivot_levels],
        }

    def to_dict(self) -> dict[str, object]:
        """The JSON object ``python -m signals analyze`` prints (NaN already turned into None)."""
        consensus: dict[str, object] | None = None
        if self.consensus is not None and len(self.bars):
            last = len(self.bars) - 1
            consensus = {
                **self.consensus.to_dict(),
                "price": float(self.bars.close[last]),
                "time": int(self.bars.time[last]),
                "index": last,
            }
        result: dict[str, object] = {
            **self.overlays(),
            "indicators": self.latest_indicators().to_dict(),
            "consensus": consensus,
        }
        return cast(dict[str, object], json_safe(result))


def agent_context(
    bars: Bars,
    indicators: dict[str, FloatArray],
    fvgs: Sequence[FairValueGap],
    breaks: Sequence[StructureBreak],
    pivot_levels: Sequence[tuple[int, FloorPivots]],
    index: int,
) -> AgentContext:
    """The :class:`AgentContext` of bar ``index`` built from whole-history results, the way the tracker builds
    it incrementally (so both paths give the same consensus)."""
    first_touch = index - FVG_MEMORY_BARS + 1
    touched = tuple(
        gap
        for gap in sorted(fvgs, key=lambda g: (g.mitigated_index or 0, g.index))
        if gap.mitigated_index is not None and first_touch <= gap.mitigated_index <= index
    )
    last_break = next((b for b in reversed(breaks) if b.index <= index), None)
    pivots = next((p for first, p in reversed(pivot_levels) if first <= index), None)
    window = bars.head(index + 1).tail(AGENT_WINDOW)
    return AgentContext(
        index=index,
        window=window,
        indicators=values_at(indicators, index),
        previous=values_at(indicators, index - 1) if index > 0 else IndicatorValues(),
        last_break=last_break,
        touched_fvgs=touched,
        pivots=pivots,
    )


def analyze(
    bars: Bars,
    swing_length: int = DEFAULT_SWING_LENGTH,
    min_gap: float = 0.0,
    timeframe: Timeframe | None = Timeframe.H1,
    margin: float = DEFAULT_MARGIN,
) -> Analysis:
    """Everything docs/signals.md defines, for a whole history (``index`` = row position, 0-based)."""
    swings = find_swings(bars, swing_length)
    fvgs = find_fvgs(bars, min_gap)
    breaks = find_breaks(bars, swings)
    pivot_levels = find_floor_pivots(bars, timeframe)
    indicators = compute_indicators(bars)
    consensus: Consensus | None = None
    if len(bars):
        context = agent_context(bars, indicators, fvgs, breaks, pivot_levels, len(bars) - 1)
        consensus = combine(run_agents(context), margin)
    return Analysis(bars, tuple(swings), tuple(fvgs), tuple(breaks), tuple(pivot_levels), indicators, consensus)


def analyze_candles(
    candles: Sequence[Candle], timeframe: Timeframe, swing_length: int = DEFAULT_SWING_LENGTH
) -> Analysis:
    """:func:`analyze` for a list of :class:`Candle` (e.g. a chart's first load)."""
    return analyze(Bars.from_candles(candles), swing_length=swing_length, timeframe=timeframe)
