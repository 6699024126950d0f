"""Small string enums shared by several signal modules (directions and trade actions)."""

from __future__ import annotations

from enum import Enum


class Direction(str, Enum):
    """Which way a zone, break or set-up points; the value is the wire name of docs/signals.md."""

    BULLISH = "bullish"
    BEARISH = "bearish"

    @property
    def opposite(self) -> Direction:
        return Direction.BEARISH if self is Direction.BULLISH else Direction.BULLISH


class Action(str, Enum):
    """What an agent, the consensus or an idea says to do; the value is the wire name of docs/protocol.md."""

    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"

    @classmethod
    def of(cls, direction: Direction) -> Action:
        return cls.BUY if direction is Direction.BULLISH else cls.SELL
