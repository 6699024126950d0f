"""Tickstream signal engine: pure, vectorised whole-history signals and the incremental per-candle tracker.

Wiring (see each module for details):

- feed thread: ``SignalTracker(symbol, timeframe)``, ``seed(candles)`` once, then
  ``on_candle_closed(candle) -> TrackerUpdate`` for every closed candle;
- readers (REST, WebSocket, Dash): ``tracker.snapshot`` (immutable) and its ``overlays()``, ``stats()``,
  ``signal_list()``; ``ws_status(trackers)``, ``agent_status(trackers)``; ``SignalEvent.to_ws()`` /
  ``to_rest()``; ``prepared_payload(idea)``;
- whole histories: ``analyze(bars)`` / ``analyze_candles(candles, timeframe)``.
"""

from signals.agents import AGENT_NAMES, AgentContext, AgentVote
from signals.analysis import Analysis, analyze, analyze_candles
from signals.bars import Bars, InvalidBars, validate_bars
from signals.consensus import Consensus, SignalEvent, combine
from signals.enums import Action, Direction
from signals.floor_pivots import FloorPivots, find_floor_pivots
from signals.fvg import FairValueGap, find_fvgs
from signals.ideas import Idea, IdeaChanges, IdeaStatus, prepared_payload
from signals.indicators import IndicatorValues, compute_indicators
from signals.structure import BreakKind, StructureBreak, find_breaks
from signals.swings import Swing, SwingKind, find_swings
from signals.tracker import (
    SignalTracker,
    TrackerConfig,
    TrackerSnapshot,
    TrackerUpdate,
    agent_status,
    tracker_key,
    ws_status,
)

__all__ = [
    "AGENT_NAMES",
    "Action",
    "AgentContext",
    "AgentVote",
    "Analysis",
    "Bars",
    "BreakKind",
    "Consensus",
    "Direction",
    "FairValueGap",
    "FloorPivots",
    "Idea",
    "IdeaChanges",
    "IdeaStatus",
    "IndicatorValues",
    "InvalidBars",
    "SignalEvent",
    "SignalTracker",
    "StructureBreak",
    "Swing",
    "SwingKind",
    "TrackerConfig",
    "TrackerSnapshot",
    "TrackerUpdate",
    "agent_status",
    "analyze",
    "analyze_candles",
    "combine",
    "compute_indicators",
    "find_breaks",
    "find_floor_pivots",
    "find_fvgs",
    "find_swings",
    "prepared_payload",
    "tracker_key",
    "validate_bars",
    "ws_status",
]
