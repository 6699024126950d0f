"""The voting agents: pure functions of the latest candles, indicators and overlays, each one BUY/SELL/HOLD vote."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from signals.bars import Bars
from signals.enums import Action, Direction
from signals.floor_pivots import FloorPivots
from signals.fvg import FairValueGap
from signals.indicators import IndicatorValues
from signals.structure import BreakKind, StructureBreak

# How many of the latest bars an agent may look at; the tracker keeps at least this many.
AGENT_WINDOW = 50
# A gap counts as "being traded in" for this many bars after the bar that first entered it.
FVG_MEMORY_BARS = 3
# A structure break's vote fades to its floor over this many bars.
STRUCTURE_MEMORY_BARS = 50
VOLUME_BARS = 20
VOLUME_SPIKE = 2.0
NEUTRAL = 0.4
# Differences smaller than this share of the price are ties: the tracker's running sums and the vectorised
# functions round differently in the last bits, and a vote must not flip on that noise (a flat market is common).
PRICE_TIE = 1e-9


@dataclass(frozen=True, slots=True)
class AgentVote:
    agent: str
    action: Action
    confidence: float
    reasoning: str

    def to_dict(self) -> dict[str, object]:
        """The ``votes`` item of docs/protocol.md's ``agents_consensus``."""
        return {"agent": self.agent, "action": self.action.value, "confidence": self.confidence}


@dataclass(frozen=True, slots=True, eq=False)
class AgentContext:
    """What every agent sees at the close of bar ``index``.

    ``window`` holds the latest bars (at most :data:`AGENT_WINDOW`), oldest first; ``touched_fvgs`` are the
    gaps first traded into during the last :data:`FVG_MEMORY_BARS` bars (mitigated at or after
    ``index - FVG_MEMORY_BARS + 1``): a zone is "unmitigated" until the bar that enters it, so these are
    the zones price is reacting to now.
    """

    index: int
    window: Bars
    indicators: IndicatorValues
    previous: IndicatorValues
    last_break: StructureBreak | None
    touched_fvgs: tuple[FairValueGap, ...]
    pivots: FloorPivots | None

    @property
    def close(self) -> float:
        return float(self.window.close[-1])

    def scale(self) -> float:
        """A price distance that counts as "large": the ATR, or 1% of price before the ATR exists."""
        atr = self.indicators.atr
        return atr if math.isfinite(atr) and atr > 0.0 else abs(self.close) * 0.01 or 1.0

    def tie(self) -> float:
        """Price differences up to this are rounding noise, not a side."""
        return PRICE_TIE * max(abs(self.close), 1.0)


AgentFunction = Callable[[AgentContext], AgentVote]


def _clip(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return min(high, max(low, value))


def _ready(*values: float) -> bool:
    return all(math.isfinite(value) for value in values)


def _sign(value: float, tie: float) -> int:
    """+1, -1, or 0 when ``value`` is within ``tie`` of zero."""
    return 1 if value > tie else -1 if value < -tie else 0


def _waiting(name: str, what: str) -> AgentVote:
    return AgentVote(name, Action.HOLD, 0.0, f"Waiting for enough candles to compute {what}.")


def trend_agent(ctx: AgentContext) -> AgentVote:
    """EMA20 against EMA50, confidence growing with their distance in ATRs; halved when price is against EMA20."""
    name, fast, slow = "trend", ctx.indicators.ema_20, ctx.indicators.ema_50
    if not _ready(fast, slow):
        return _waiting(name, "EMA20 and EMA50")
    gap = fast - slow
    side_of_trend = _sign(gap, ctx.tie())
    if side_of_trend == 0:
        return AgentVote(name, Action.HOLD, NEUTRAL, "EMA20 and EMA50 are equal, so there is no trend.")
    action = Action.BUY if gap > 0 else Action.SELL
    confidence = _clip(0.25 + 0.75 * abs(gap) / ctx.scale())
    with_trend = _sign(ctx.close - fast, ctx.tie()) == side_of_trend
    if not with_trend:
        confidence *= 0.5
    side = "above" if gap > 0 else "below"
    where = "with" if with_trend else "against"
    return AgentVote(
        name,
        action,
        confidence,
        f"EMA20 {fast:.4g} is {side} EMA50 {slow:.4g} and the close is {where} the trend.",
    )


def momentum_agent(ctx: AgentContext) -> AgentVote:
    """RSI(14): oversold below 30 is a BUY, overbought above 70 a SELL, stronger the further out."""
    name, value = "momentum", ctx.indicators.rsi
    if not _ready(value):
        return _waiting(name, "RSI(14)")
    closes = ctx.window.close[-15:]
    if value == 0.0 and float(closes.max()) == float(closes.min()):
        # TA-Lib reports 0 when nothing moved; that is no signal, not an oversold market.
        return AgentVote(name, Action.HOLD, NEUTRAL, "Price has not moved, so RSI says nothing.")
    if value < 30.0:
        return AgentVote(name, Action.BUY, _clip(0.5 + (30.0 - value) / 60.0), f"RSI {value:.1f} is oversold.")
    if value > 70.0:
        return AgentVote(name, Action.SELL, _clip(0.5 + (value - 70.0) / 60.0), f"RSI {value:.1f} is overbought.")
    return AgentVote(name, Action.HOLD, NEUTRAL, f"RSI {value:.1f} is between 30 and 70.")


def macd_agent(ctx: AgentContext) -> AgentVote:
    """MACD histogram sign, with a fresh crossover counting most."""
    name, hist, before = "macd", ctx.indicators.hist, ctx.previous.hist
    if not _ready(hist):
        return _waiting(name, "MACD(12, 26, 9)")
    now, then = _sign(hist, ctx.tie()), _sign(before, ctx.tie()) if math.isfinite(before) else None
    if now == 0:
        return AgentVote(name, Action.HOLD, NEUTRAL, "MACD equals its signal line.")
    if then is not None and then <= 0 < now:
        return AgentVote(name, Action.BUY, 0.8, "MACD crossed above its signal line on this candle.")
    if then is not None and then >= 0 > now:
        return AgentVote(name, Action.SELL, 0.8, "MACD crossed below its signal line on this candle.")
    confidence = _clip(0.3 + 0.4 * abs(hist) / (0.25 * ctx.scale()), high=0.7)
    if hist > 0:
        return AgentVote(name, Action.BUY, confidence, f"MACD is above its signal line by {hist:.4g}.")
    return AgentVote(name, Action.SELL, confidence, f"MACD is below its signal line by {-hist:.4g}.")


def bollinger_agent(ctx: AgentContext) -> AgentVote:
    """Mean reversion: a close outside the Bollinger bands votes for the return to the middle."""
    name, upper, lower = "bollinger", ctx.indicators.bb_upper, ctx.indicators.bb_lower
    if not _ready(upper, lower):
        return _waiting(name, "Bollinger(20, 2)")
    width = upper - lower
    if width <= ctx.tie():
        return AgentVote(name, Action.HOLD, NEUTRAL, "The Bollinger bands have no width.")
    position = (ctx.close - lower) / width
    if position < 0.0:
        return AgentVote(name, Action.BUY, _clip(0.5 - position), "The close is below the lower Bollinger band.")
    if position > 1.0:
        return AgentVote(name, Action.SELL, _clip(position - 0.5), "The close is above the upper Bollinger band.")
    if position < 0.1:
        return AgentVote(name, Action.BUY, 0.3, "The close is near the lower Bollinger band.")
    if position > 0.9:
        return AgentVote(name, Action.SELL, 0.3, "The close is near the upper Bollinger band.")
    return AgentVote(name, Action.HOLD, NEUTRAL, "The close is inside the Bollinger bands.")


def structure_agent(ctx: AgentContext) -> AgentVote:
    """Direction of the last BOS/CHOCH, a BOS counting more than a CHOCH, fading with age."""
    name, last = "market_structure", ctx.last_break
    if last is None:
        return AgentVote(name, Action.HOLD, 0.3, "No structure break has happened yet.")
    age = ctx.index - last.index
    fade = max(0.2, 1.0 - age / STRUCTURE_MEMORY_BARS)
    base = 0.8 if last.kind is BreakKind.BOS else 0.7
    return AgentVote(
        name,
        Action.of(last.direction),
        base * fade,
        f"The last break is a {last.direction.value} {last.kind.value} of {last.level:.4g}, {age} candles ago.",
    )


def fvg_agent(ctx: AgentContext) -> AgentVote:
    """Price trading in a fresh fair value gap: the zone's side if it holds, the other side if it fails."""
    name = "fair_value_gap"
    if not ctx.touched_fvgs:
        return AgentVote(name, Action.HOLD, 0.3, "Price is not in a fresh fair value gap.")
    gap = max(ctx.touched_fvgs, key=lambda g: (g.mitigated_index or 0, g.index))
    close = ctx.close
    if gap.direction is Direction.BULLISH:
        holds, beyond = close >= gap.bottom, close > gap.top
    else:
        holds, beyond = close <= gap.top, close < gap.bottom
    kind = gap.direction.value
    if holds:
        confidence = 0.75 if beyond else 0.6
        verb = "rejected from" if beyond else "is inside"
        return AgentVote(
            name,
            Action.of(gap.direction),
            confidence,
            f"Price {verb} a {kind} gap {gap.bottom:.4g}-{gap.top:.4g} that was untouched until now.",
        )
    return AgentVote(
        name,
        Action.of(gap.direction.opposite),
        0.4,
        f"Price closed through the {kind} gap {gap.bottom:.4g}-{gap.top:.4g}, so the zone failed.",
    )


def pivot_agent(ctx: AgentContext) -> AgentVote:
    """Position of the close against the day's (week's) floor pivots: above R1 bullish, below S1 bearish."""
    name, levels = "pivot_levels", ctx.pivots
    if levels is None:
        return _waiting(name, "floor pivots (a previous period)")
    close = ctx.close
    if close > levels.R1:
        return AgentVote(name, Action.BUY, 0.6, f"The close is above R1 {levels.R1:.4g}.")
    if close < levels.S1:
        return AgentVote(name, Action.SELL, 0.6, f"The close is below S1 {levels.S1:.4g}.")
    if close > levels.P:
        return AgentVote(name, Action.BUY, 0.3, f"The close is between the pivot {levels.P:.4g} and R1.")
    if close < levels.P:
        return AgentVote(name, Action.SELL, 0.3, f"The close is between S1 and the pivot {levels.P:.4g}.")
    return AgentVote(name, Action.HOLD, NEUTRAL, f"The close sits on the pivot {levels.P:.4g}.")


def volume_agent(ctx: AgentContext) -> AgentVote:
    """Volume spike on a directional candle, else the OBV flow of the last 20 bars (signed over total volume)."""
    name, window = "volume", ctx.window
    if len(window) < VOLUME_BARS + 1:
        return _waiting(name, "20 bars of volume")
    # Plain floats: for 21 values Python arithmetic is cheaper than NumPy's per-call overhead.
    volume: list[float] = window.volume[-(VOLUME_BARS + 1) :].tolist()
    closes: list[float] = window.close[-(VOLUME_BARS + 1) :].tolist()
    average = sum(volume[:-1]) / VOLUME_BARS
    last_volume, last_open, last_close = volume[-1], float(window.open[-1]), closes[-1]
    if average > 0.0 and last_volume > VOLUME_SPIKE * average and last_close != last_open:
        ratio = last_volume / average
        action = Action.BUY if last_close > last_open else Action.SELL
        kind = "up" if action is Action.BUY else "down"
        return AgentVote(
            name, action, _clip(0.5 + ratio / 20.0, high=0.9), f"Volume {ratio:.1f}x average on a {kind} candle."
        )
    total = sum(volume[1:])
    if total <= 0.0:
        return AgentVote(name, Action.HOLD, NEUTRAL, "No volume traded in the last 20 bars.")
    # OBV change over the last 20 bars, as a share of the volume traded (Granville's on-balance volume).
    flow = 0.0
    for before, after, traded in zip(closes[:-1], closes[1:], volume[1:], strict=True):
        if after > before:
            flow += traded
        elif after < before:
            flow -= traded
    share = flow / total
    if abs(share) < 0.2:
        return AgentVote(name, Action.HOLD, NEUTRAL, "On-balance volume is flat over 20 bars.")
    action = Action.BUY if share > 0 else Action.SELL
    trend = "rising" if share > 0 else "falling"
    return AgentVote(name, action, _clip(abs(share)), f"On-balance volume is {trend} ({share:+.0%} of volume).")


def stochastic_agent(ctx: AgentContext) -> AgentVote:
    """Stochastic(14, 3, 3): oversold/overbought, stronger when %K has turned through %D."""
    name, k, d = "stochastic", ctx.indicators.stoch_k, ctx.indicators.stoch_d
    if not _ready(k, d):
        return _waiting(name, "stochastic(14, 3, 3)")
    if k < 20.0:
        turned = _sign(k - d, PRICE_TIE * 100.0) > 0
        return AgentVote(
            name, Action.BUY, 0.6 if turned else 0.3, f"%K {k:.1f} is oversold{' and above %D' if turned else ''}."
        )
    if k > 80.0:
        turned = _sign(k - d, PRICE_TIE * 100.0) < 0
        return AgentVote(
            name, Action.SELL, 0.6 if turned else 0.3, f"%K {k:.1f} is overbought{' and below %D' if turned else ''}."
        )
    return AgentVote(name, Action.HOLD, NEUTRAL, f"%K {k:.1f} is between 20 and 80.")


def vwap_agent(ctx: AgentContext) -> AgentVote:
    """Distance of the close from the session VWAP in ATRs: buyers in control above, sellers below."""
    name, value = "vwap", ctx.indicators.vwap
    if not _ready(value):
        return _waiting(name, "the session VWAP")
    distance = (ctx.close - value) / ctx.scale()
    if abs(distance) < 0.25:
        return AgentVote(name, Action.HOLD, NEUTRAL, f"The close is near the VWAP {value:.4g}.")
    action = Action.BUY if distance > 0 else Action.SELL
    side = "above" if distance > 0 else "below"
    return AgentVote(name, action, _clip(abs(distance) / 2.0), f"The close is {abs(distance):.1f} ATR {side} the VWAP.")


AGENTS: tuple[tuple[str, AgentFunction], ...] = (
    ("trend", trend_agent),
    ("momentum", momentum_agent),
    ("macd", macd_agent),
    ("bollinger", bollinger_agent),
    ("market_structure", structure_agent),
    ("fair_value_gap", fvg_agent),
    ("pivot_levels", pivot_agent),
    ("volume", volume_agent),
    ("stochastic", stochastic_agent),
    ("vwap", vwap_agent),
)
AGENT_NAMES: tuple[str, ...] = tuple(name for name, _ in AGENTS)


def run_agents(ctx: AgentContext) -> tuple[AgentVote, ...]:
    return tuple(agent(ctx) for _, agent in AGENTS)
