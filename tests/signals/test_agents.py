"""Agents, consensus, signal gating and the wire shapes of signals and agent status."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.models import Timeframe
from signals.agents import (
    AGENT_NAMES,
    AGENTS,
    AgentContext,
    AgentVote,
    bollinger_agent,
    fvg_agent,
    macd_agent,
    momentum_agent,
    pivot_agent,
    run_agents,
    stochastic_agent,
    structure_agent,
    trend_agent,
    volume_agent,
    vwap_agent,
)
from signals.analysis import agent_context
from signals.bars import Bars
from signals.consensus import (
    Consensus,
    SignalGate,
    combine,
    make_signal,
    strength_label,
)
from signals.enums import Action, Direction
from signals.floor_pivots import FloorPivots
from signals.fvg import FairValueGap
from signals.indicators import IndicatorValues, compute_indicators
from signals.structure import BreakKind, StructureBreak
from signals.tracker import SignalTracker, agent_status

Strategy = Callable[..., st.SearchStrategy[Bars]]
WalkFactory = Callable[..., Bars]
BUY, SELL, HOLD = Action.BUY, Action.SELL, Action.HOLD


def window(closes: list[float], volumes: list[float] | None = None, opens: list[float] | None = None) -> Bars:
    count = len(closes)
    opens = opens if opens is not None else closes
    highs = [max(o, c) + 0.5 for o, c in zip(opens, closes, strict=True)]
    lows = [min(o, c) - 0.5 for o, c in zip(opens, closes, strict=True)]
    return Bars.from_arrays(
        [3_600 * k for k in range(count)],
        opens,
        highs,
        lows,
        closes,
        volumes if volumes is not None else [100.0] * count,
    )


def context(
    close: float = 100.0,
    values: IndicatorValues | None = None,
    previous: IndicatorValues | None = None,
    last_break: StructureBreak | None = None,
    touched: tuple[FairValueGap, ...] = (),
    pivots: FloorPivots | None = None,
    bars: Bars | None = None,
    index: int = 60,
) -> AgentContext:
    return AgentContext(
        index=index,
        window=bars if bars is not None else window([close] * 30),
        indicators=values or IndicatorValues(atr=2.0),
        previous=previous or IndicatorValues(),
        last_break=last_break,
        touched_fvgs=touched,
        pivots=pivots,
    )


def brk(direction: Direction, kind: BreakKind, index: int) -> StructureBreak:
    return StructureBreak(0, index, direction, kind, 100.0, index - 5, 0)


def gap(direction: Direction, bottom: float, top: float, mitigated_index: int = 60) -> FairValueGap:
    return FairValueGap(0, 50, direction, top, bottom, 51, mitigated_index, 0)


PIVOTS = FloorPivots.from_hlc(0, 110.0, 90.0, 100.0)  # P = 100, R1 = 110, S1 = 90


@pytest.mark.parametrize(
    ("agent", "ctx", "action", "confidence"),
    [
        pytest.param(trend_agent, context(), HOLD, 0.0, id="trend-warming-up"),
        pytest.param(
            trend_agent, context(101, IndicatorValues(ema_20=100, ema_50=99, atr=2)), BUY, 0.625, id="trend-up"
        ),
        pytest.param(
            trend_agent,
            context(99, IndicatorValues(ema_20=100, ema_50=99, atr=2)),
            BUY,
            0.3125,
            id="trend-up-close-against",
        ),
        pytest.param(
            trend_agent, context(90, IndicatorValues(ema_20=95, ema_50=100, atr=2)), SELL, 1.0, id="trend-down-strong"
        ),
        pytest.param(momentum_agent, context(values=IndicatorValues(rsi=15)), BUY, 0.75, id="rsi-oversold"),
        pytest.param(momentum_agent, context(values=IndicatorValues(rsi=85)), SELL, 0.75, id="rsi-overbought"),
        pytest.param(momentum_agent, context(values=IndicatorValues(rsi=50)), HOLD, 0.4, id="rsi-neutral"),
        pytest.param(momentum_agent, context(values=IndicatorValues(rsi=0.0)), HOLD, 0.4, id="rsi-flat-series"),
        pytest.param(
            macd_agent,
            context(values=IndicatorValues(hist=0.1, atr=2), previous=IndicatorValues(hist=-0.1)),
            BUY,
            0.8,
            id="macd-cross-up",
        ),
        pytest.param(
            macd_agent,
            context(values=IndicatorValues(hist=-0.1, atr=2), previous=IndicatorValues(hist=0.2)),
            SELL,
            0.8,
            id="macd-cross-down",
        ),
        pytest.param(
            macd_agent,
            context(values=IndicatorValues(hist=0.25, atr=2), previous=IndicatorValues(hist=0.2)),
            BUY,
            0.5,
            id="macd-above",
        ),
        pytest.param(
            bollinger_agent, context(89, IndicatorValues(bb_upper=110, bb_lower=90)), BUY, 0.55, id="bb-below-lower"
        ),
        pytest.param(
            bollinger_agent, context(112, IndicatorValues(bb_upper=110, bb_lower=90)), SELL, 0.6, id="bb-above-upper"
        ),
        pytest.param(
            bollinger_agent, context(100, IndicatorValues(bb_upper=110, bb_lower=90)), HOLD, 0.4, id="bb-inside"
        ),
        pytest.param(
            bollinger_agent, context(100, IndicatorValues(bb_upper=100, bb_lower=100)), HOLD, 0.4, id="bb-zero-width"
        ),
        pytest.param(structure_agent, context(), HOLD, 0.3, id="structure-none"),
        pytest.param(
            structure_agent, context(last_break=brk(Direction.BULLISH, BreakKind.BOS, 60)), BUY, 0.8, id="bos-fresh"
        ),
        pytest.param(
            structure_agent,
            context(last_break=brk(Direction.BEARISH, BreakKind.CHOCH, 35)),
            SELL,
            0.35,
            id="choch-aged",
        ),
        pytest.param(
            structure_agent, context(last_break=brk(Direction.BULLISH, BreakKind.BOS, 0)), BUY, 0.16, id="bos-old-floor"
        ),
        pytest.param(fvg_agent, context(), HOLD, 0.3, id="fvg-none"),
        pytest.param(
            fvg_agent, context(101, touched=(gap(Direction.BULLISH, 100, 102),)), BUY, 0.6, id="fvg-inside-bullish"
        ),
        pytest.param(
            fvg_agent, context(103, touched=(gap(Direction.BULLISH, 100, 102),)), BUY, 0.75, id="fvg-rejected-bullish"
        ),
        pytest.param(
            fvg_agent, context(99, touched=(gap(Direction.BULLISH, 100, 102),)), SELL, 0.4, id="fvg-failed-bullish"
        ),
        pytest.param(
            fvg_agent, context(101, touched=(gap(Direction.BEARISH, 100, 102),)), SELL, 0.6, id="fvg-inside-bearish"
        ),
        pytest.param(pivot_agent, context(), HOLD, 0.0, id="pivots-missing"),
        pytest.param(pivot_agent, context(111, pivots=PIVOTS), BUY, 0.6, id="above-r1"),
        pytest.param(pivot_agent, context(105, pivots=PIVOTS), BUY, 0.3, id="between-p-r1"),
        pytest.param(pivot_agent, context(95, pivots=PIVOTS), SELL, 0.3, id="between-s1-p"),
        pytest.param(pivot_agent, context(85, pivots=PIVOTS), SELL, 0.6, id="below-s1"),
        pytest.param(pivot_agent, context(100, pivots=PIVOTS), HOLD, 0.4, id="on-pivot"),
        pytest.param(volume_agent, context(bars=window([100.0] * 10)), HOLD, 0.0, id="volume-warming-up"),
        pytest.param(
            volume_agent,
            context(bars=window([100.0] * 21, [100.0] * 20 + [500.0], [100.0] * 20 + [99.0])),
            BUY,
            0.75,
            id="volume-spike-up",
        ),
        pytest.param(volume_agent, context(bars=window([float(k) for k in range(1, 22)])), BUY, 1.0, id="obv-rising"),
        pytest.param(volume_agent, context(bars=window([100.0] * 21)), HOLD, 0.4, id="obv-flat"),
        pytest.param(volume_agent, context(bars=window([100.0] * 21, [0.0] * 21)), HOLD, 0.4, id="no-volume"),
        pytest.param(
            stochastic_agent, context(values=IndicatorValues(stoch_k=15, stoch_d=10)), BUY, 0.6, id="stoch-turned-up"
        ),
        pytest.param(
            stochastic_agent, context(values=IndicatorValues(stoch_k=15, stoch_d=18)), BUY, 0.3, id="stoch-oversold"
        ),
        pytest.param(
            stochastic_agent, context(values=IndicatorValues(stoch_k=90, stoch_d=95)), SELL, 0.6, id="stoch-turned-down"
        ),
        pytest.param(
            stochastic_agent, context(values=IndicatorValues(stoch_k=50, stoch_d=50)), HOLD, 0.4, id="stoch-middle"
        ),
        pytest.param(vwap_agent, context(103, IndicatorValues(vwap=100, atr=2)), BUY, 0.75, id="above-vwap"),
        pytest.param(vwap_agent, context(96, IndicatorValues(vwap=100, atr=2)), SELL, 1.0, id="far-below-vwap"),
        pytest.param(vwap_agent, context(100.2, IndicatorValues(vwap=100, atr=2)), HOLD, 0.4, id="at-vwap"),
    ],
)
def test_agent_votes_by_hand(agent, ctx: AgentContext, action: Action, confidence: float) -> None:
    vote = agent(ctx)
    assert (vote.action, vote.confidence) == (action, pytest.approx(confidence))
    assert vote.reasoning.endswith(".") and "\n" not in vote.reasoning


def test_there_are_at_least_eight_distinct_agents() -> None:
    assert len(AGENTS) >= 8
    assert len(set(AGENT_NAMES)) == len(AGENT_NAMES)
    votes = run_agents(context())
    assert [v.agent for v in votes] == list(AGENT_NAMES)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_votes_are_well_formed_on_any_history(bars_strategy: Strategy, data: st.DataObject) -> None:
    bars = data.draw(bars_strategy(min_size=1, max_size=80))
    series = compute_indicators(bars)
    ctx = agent_context(bars, series, [], [], [], len(bars) - 1)
    for vote in run_agents(ctx):
        assert 0.0 <= vote.confidence <= 1.0 and math.isfinite(vote.confidence)
        assert isinstance(vote.action, Action) and vote.reasoning


def votes(*pairs: tuple[Action, float]) -> list[AgentVote]:
    return [AgentVote(f"a{k}", action, confidence, "Because.") for k, (action, confidence) in enumerate(pairs)]


@pytest.mark.parametrize(
    ("cast", "action", "confidence", "in_favor"),
    [
        pytest.param([(BUY, 0.8), (BUY, 0.6), (SELL, 0.2), (HOLD, 0.4)], BUY, 1.4 / 2.0, 2, id="buy-leads"),
        pytest.param([(SELL, 0.9), (HOLD, 0.1)], SELL, 0.9, 1, id="sell-alone"),
        pytest.param([(BUY, 0.5), (SELL, 0.4), (HOLD, 0.1)], HOLD, 0.5, 1, id="lead-below-margin"),
        pytest.param([(HOLD, 0.5), (HOLD, 0.5)], HOLD, 1.0, 2, id="all-hold"),
        pytest.param([(HOLD, 0.0), (HOLD, 0.0)], HOLD, 0.0, 2, id="nothing-cast"),
        pytest.param([], HOLD, 0.0, 0, id="no-agents"),
    ],
)
def test_combine_by_hand(cast: list[tuple[Action, float]], action: Action, confidence: float, in_favor: int) -> None:
    consensus = combine(votes(*cast), margin=0.15)
    assert consensus.action is action
    assert consensus.confidence == pytest.approx(confidence)
    assert consensus.agents_consensus()["agentsInFavor"] == in_favor
    assert consensus.agents_consensus()["totalAgents"] == len(cast)


def test_lead_exactly_at_the_margin_is_enough() -> None:
    # Binary fractions keep the arithmetic exact: (0.625 − 0.375) / 1.0 = 0.25.
    assert combine(votes((BUY, 0.625), (SELL, 0.375)), margin=0.25).action is BUY
    assert combine(votes((BUY, 0.625), (SELL, 0.375)), margin=0.2500001).action is HOLD


def test_agents_consensus_shape() -> None:
    consensus = combine(votes((BUY, 0.8), (SELL, 0.1)))
    assert consensus.agents_consensus() == {
        "agentsInFavor": 1,
        "totalAgents": 2,
        "votes": [
            {"agent": "a0", "action": "BUY", "confidence": 0.8},
            {"agent": "a1", "action": "SELL", "confidence": 0.1},
        ],
    }
    assert "1 of 2 agents favour BUY" in consensus.reasoning


def test_gate_emits_on_change_or_big_move() -> None:
    gate = SignalGate(step=0.1)
    sequence = [
        (HOLD, 0.9, False),  # nothing to say yet
        (BUY, 0.60, True),  # first directional consensus
        (BUY, 0.65, False),  # small move
        (BUY, 0.71, True),  # moved 0.11 from the last signal (0.60)
        (BUY, 0.79, False),  # 0.08 from 0.71
        (SELL, 0.79, True),  # action changed
        (HOLD, 0.50, True),  # back to HOLD is a change too
    ]
    for action, confidence, expected in sequence:
        consensus = Consensus(action, confidence, 1, (), 0.0, 0.0, 0.0)
        assert gate.offer(consensus) is expected, (action, confidence)


def test_signal_gate_needs_more_than_the_step() -> None:
    gate = SignalGate(step=0.25)  # binary fractions: the move below is exactly the step
    assert gate.offer(Consensus(BUY, 0.5, 1, (), 0.0, 0.0, 0.0))
    assert not gate.offer(Consensus(BUY, 0.75, 1, (), 0.0, 0.0, 0.0))
    assert not gate.offer(Consensus(BUY, 0.25, 1, (), 0.0, 0.0, 0.0))
    assert gate.offer(Consensus(BUY, 0.875, 1, (), 0.0, 0.0, 0.0))


def test_signal_wire_shapes() -> None:
    consensus = combine(votes((BUY, 0.9), (BUY, 0.7), (HOLD, 0.2)))
    signal = make_signal("AAPL", "1h", 1_704_067_200, 1_704_070_800, 187.5, consensus)
    assert signal.to_rest() == {
        "id": "AAPL-1h-1704067200",
        "symbol": "AAPL",
        "action": "BUY",
        "confidence": consensus.confidence,
        "price": 187.5,
        "timestamp": "2024-01-01T01:00:00.000Z",
        "timeframe": "1h",
        "reasoning": consensus.reasoning,
        "agents_consensus": consensus.agents_consensus(),
    }
    ws = signal.to_ws()
    assert set(ws) == {
        "signal_id",
        "symbol",
        "signal_type",
        "side",
        "confidence",
        "strength",
        "strength_label",
        "reasoning",
        "model",
        "timeframe",
        "price",
        "agents_consensus",
        "time",
        "timestamp",
    }
    assert (ws["signal_id"], ws["signal_type"], ws["side"]) == ("AAPL-1h-1704067200", "BUY", "buy")
    # B = 1.6, S = 0, T = 1.8: the lead is 1.6 / 1.8 of all the confidence cast, and so is the confidence.
    assert ws["strength"] == pytest.approx(1.6 / 1.8) and ws["strength_label"] == "strong"
    assert (ws["time"], ws["timestamp"]) == (1_704_067_200, "2024-01-01T01:00:00.000Z")


@pytest.mark.parametrize(
    ("confidence", "label"), [(0.9, "strong"), (0.75, "strong"), (0.6, "moderate"), (0.59, "weak")]
)
def test_strength_label(confidence: float, label: str) -> None:
    assert strength_label(confidence) == label


def test_agent_status(walk: WalkFactory) -> None:
    idle = agent_status([SignalTracker("AAA", Timeframe.H1)])
    assert idle == {"agents": [{"name": name, "status": "idle", "last_vote": None} for name in AGENT_NAMES]}
    young, old = SignalTracker("AAA", Timeframe.H1), SignalTracker("BBB", Timeframe.H1)
    young.seed(walk(5).candles())
    old.seed(walk(300, seed=1).candles())
    status = agent_status([young, old])["agents"]
    assert isinstance(status, list) and [a["name"] for a in status] == list(AGENT_NAMES)
    trend = status[0]
    assert trend["status"] == "active"
    # BBB's last candle is the most recent, so its votes are reported.
    assert trend["last_vote"]["symbol"] == "BBB"
    assert set(trend["last_vote"]) == {"symbol", "timeframe", "action", "confidence", "reasoning", "candle_time"}
    warming = agent_status([young])["agents"]
    assert {a["name"]: a["status"] for a in warming}["trend"] == "warming_up"


def test_context_window_is_bounded(walk: WalkFactory) -> None:
    bars = walk(300)
    ctx = agent_context(bars, compute_indicators(bars), [], [], [], 299)
    assert len(ctx.window) == 50
    assert np.array_equal(ctx.window.close, bars.close[-50:])


@pytest.mark.parametrize(
    ("cast", "strength"),
    [
        pytest.param([(BUY, 0.8), (BUY, 0.6), (SELL, 0.2), (HOLD, 0.4)], (1.4 - 0.2) / 2.0, id="buy-leads"),
        pytest.param([(SELL, 0.9), (HOLD, 0.1)], 0.9, id="sell-alone"),
        pytest.param([(BUY, 0.5), (SELL, 0.4), (HOLD, 0.1)], 0.1, id="hold-below-margin"),
        pytest.param([(BUY, 1.0)], 1.0, id="unanimous"),
        pytest.param([(HOLD, 0.5), (HOLD, 0.5)], 0.0, id="all-hold"),
        pytest.param([], 0.0, id="no-agents"),
    ],
)
def test_strength_is_the_lead_as_a_share_of_all_confidence(cast: list[tuple[Action, float]], strength: float) -> None:
    assert combine(votes(*cast), margin=0.15).strength == pytest.approx(strength)
