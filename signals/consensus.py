"""The agents' consensus and the signal events it emits when it changes enough (docs/signals.md "Agents")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from signals.agents import AgentVote
from signals.enums import Action
from signals.wire import iso_utc_ms

# The leading side must hold this share of all the confidence cast more than the other side.
DEFAULT_MARGIN = 0.15
# A new signal when the consensus action changes or its confidence moves by more than this.
DEFAULT_STEP = 0.1
MODEL_NAME = "tickstream-consensus-v1"


@dataclass(frozen=True, slots=True)
class Consensus:
    """The combined vote.

    With B, S, H the summed confidences of BUY, SELL and HOLD votes and T = B + S + H: BUY when
    (B − S)/T >= margin (SELL mirrored), with ``confidence`` = B/T, the buying side's share of everything
    cast. Otherwise HOLD, with ``confidence`` = 1 − max(B, S)/T, the share not behind the leading side.
    """

    action: Action
    confidence: float
    agents_in_favor: int
    votes: tuple[AgentVote, ...]
    buy_score: float
    sell_score: float
    hold_score: float
    margin: float = DEFAULT_MARGIN

    @property
    def total_agents(self) -> int:
        return len(self.votes)

    @property
    def strength(self) -> float:
        """|B − S| / T in [0, 1]: how far the leading side is ahead, as a share of all the confidence cast (0 with
        no confidence cast). A BUY or SELL has at least the margin; a HOLD has less."""
        total = self.buy_score + self.sell_score + self.hold_score
        return abs(self.buy_score - self.sell_score) / total if total > 0.0 else 0.0

    @property
    def reasoning(self) -> str:
        """One line for people; built on demand because most candles' consensus is never shown."""
        if self.action is Action.HOLD:
            return (
                f"No side leads by {self.margin:.0%} of the confidence cast (BUY {self.buy_score:.2f}, "
                f"SELL {self.sell_score:.2f}, HOLD {self.hold_score:.2f}); "
                f"{self.agents_in_favor} of {self.total_agents} agents hold."
            )
        backing = sorted((v for v in self.votes if v.action is self.action), key=lambda v: -v.confidence)[:2]
        reasons = " ".join(f"{vote.agent}: {vote.reasoning}" for vote in backing)
        return f"{self.agents_in_favor} of {self.total_agents} agents favour {self.action.value}. {reasons}"

    def agents_consensus(self) -> dict[str, object]:
        """docs/protocol.md's ``agents_consensus`` object."""
        return {
            "agentsInFavor": self.agents_in_favor,
            "totalAgents": self.total_agents,
            "votes": [vote.to_dict() for vote in self.votes],
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "action": self.action.value,
            "confidence": self.confidence,
            "reasoning": self.reasoning,
            "agents_consensus": self.agents_consensus(),
        }


def combine(votes: Sequence[AgentVote], margin: float = DEFAULT_MARGIN) -> Consensus:
    """Combine votes as :class:`Consensus` documents."""
    buy = sum(v.confidence for v in votes if v.action is Action.BUY)
    sell = sum(v.confidence for v in votes if v.action is Action.SELL)
    hold = sum(v.confidence for v in votes if v.action is Action.HOLD)
    total = buy + sell + hold
    if total <= 0.0:
        action, confidence = Action.HOLD, 0.0
    elif (buy - sell) / total >= margin:
        action, confidence = Action.BUY, buy / total
    elif (sell - buy) / total >= margin:
        action, confidence = Action.SELL, sell / total
    else:
        action, confidence = Action.HOLD, 1.0 - max(buy, sell) / total
    in_favor = sum(1 for v in votes if v.action is action)
    return Consensus(action, confidence, in_favor, tuple(votes), buy, sell, hold, margin)


def strength_label(confidence: float) -> str:
    """Word for the WebSocket ``strength_label`` field, from the confidence: strong from 0.75, moderate from 0.6,
    else weak."""
    if confidence >= 0.75:
        return "strong"
    if confidence >= 0.6:
        return "moderate"
    return "weak"


@dataclass(frozen=True, slots=True)
class SignalEvent:
    """A consensus worth telling clients about, made at the close of the candle opened at ``time``.

    ``timestamp`` is that candle's close time (open + timeframe), so a replay gives the same signals.
    """

    id: str
    symbol: str
    timeframe: str
    time: int
    timestamp: str
    price: float
    consensus: Consensus

    @property
    def action(self) -> Action:
        return self.consensus.action

    @property
    def confidence(self) -> float:
        return self.consensus.confidence

    def to_rest(self) -> dict[str, object]:
        """An item of ``GET /api/v1/signals/symbol/{symbol}`` (docs/protocol.md)."""
        return {
            "id": self.id,
            "symbol": self.symbol,
            "action": self.action.value,
            "confidence": self.confidence,
            "price": self.price,
            "timestamp": self.timestamp,
            "timeframe": self.timeframe,
            "reasoning": self.consensus.reasoning,
            "agents_consensus": self.consensus.agents_consensus(),
        }

    def to_ws(self) -> dict[str, object]:
        """The ``data`` of a WebSocket ``signal`` message (docs/protocol.md, channel ``signals``)."""
        return {
            "signal_id": self.id,
            "symbol": self.symbol,
            "signal_type": self.action.value,
            "side": self.action.value.lower(),
            "confidence": self.confidence,
            "strength": self.consensus.strength,
            "strength_label": strength_label(self.confidence),
            "reasoning": self.consensus.reasoning,
            "model": MODEL_NAME,
            "timeframe": self.timeframe,
            "price": self.price,
            "agents_consensus": self.consensus.agents_consensus(),
            # The candle the signal was made on (open, Unix seconds) and its close.
            "time": self.time,
            "timestamp": self.timestamp,
        }


class SignalGate:
    """Decides whether a consensus becomes a signal: the first BUY/SELL, then any change of action or a
    confidence move of more than ``step`` from the last signal sent. O(1) state."""

    __slots__ = ("_last", "_step")

    def __init__(self, step: float = DEFAULT_STEP) -> None:
        self._step = step
        self._last: Consensus | None = None

    @property
    def last(self) -> Consensus | None:
        return self._last

    def offer(self, consensus: Consensus) -> bool:
        last = self._last
        if last is None:
            emit = consensus.action is not Action.HOLD
        else:
            emit = consensus.action is not last.action or abs(consensus.confidence - last.confidence) > self._step
        if emit:
            self._last = consensus
        return emit


def make_signal(
    symbol: str, timeframe: str, time: int, close_time: int, price: float, consensus: Consensus
) -> SignalEvent:
    return SignalEvent(
        id=f"{symbol}-{timeframe}-{time}",
        symbol=symbol,
        timeframe=timeframe,
        time=time,
        timestamp=iso_utc_ms(close_time),
        price=price,
        consensus=consensus,
    )
