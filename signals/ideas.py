"""Trade ideas born from structure + zones, their life cycle, and the paper-order payload prepared from each.

The set-up (a common "smart money" entry): a bullish break of structure whose impulse left an unmitigated
bullish fair value gap above the broken swing; the idea waits for price to pull back into that gap. Entry is
a limit at the near edge of the zone (its top), the stop sits below the zone by a fraction of the ATR, the
target is ``reward_multiple`` times the risk. Bearish set-ups mirror it. An idea is PENDING until the entry
trades, then ACTIVE until the stop or target, and CLOSED with a reason when invalidated earlier.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum

from signals.enums import Action, Direction
from signals.fvg import FairValueGap
from signals.structure import StructureBreak


class IdeaStatus(str, Enum):
    PENDING = "pending"
    ACTIVE = "active"
    CLOSED = "closed"


class CloseReason(str, Enum):
    STOP_BEFORE_ENTRY = "stop_before_entry"
    TARGET_BEFORE_ENTRY = "target_before_entry"
    ZONE_BROKEN = "zone_broken"
    OPPOSITE_BREAK = "opposite_break"
    AGE_LIMIT = "age_limit"
    STOPPED_OUT = "stopped_out"
    TARGET_HIT = "target_hit"
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True)
class IdeaConfig:
    reward_multiple: float = 2.0
    stop_buffer_atr: float = 0.1
    max_pending_bars: int = 30
    max_live: int = 20
    history: int = 50


@dataclass(frozen=True, slots=True)
class Idea:
    id: str
    symbol: str
    timeframe: str
    side: Action
    entry: float
    stop: float
    target: float
    risk_reward: float
    born_index: int
    born_time: int
    break_index: int
    zone_index: int
    zone_top: float
    zone_bottom: float
    status: IdeaStatus = IdeaStatus.PENDING
    triggered_index: int | None = None
    closed_index: int | None = None
    closed_time: int | None = None
    reason: CloseReason | None = None

    @property
    def is_long(self) -> bool:
        return self.side is Action.BUY

    def close(self, index: int, time: int, reason: CloseReason) -> Idea:
        return replace(self, status=IdeaStatus.CLOSED, closed_index=index, closed_time=time, reason=reason)

    def to_dict(self) -> dict[str, object]:
        """The ``data`` of a WebSocket ``idea`` message."""
        return {
            "idea_id": self.id,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "side": self.side.value,
            "entry": self.entry,
            "stop_loss": self.stop,
            "take_profit": self.target,
            "risk_reward": self.risk_reward,
            "status": self.status.value,
            "reason": self.reason.value if self.reason is not None else None,
            "born_index": self.born_index,
            "born_time": self.born_time,
            "break_index": self.break_index,
            "zone": {"index": self.zone_index, "top": self.zone_top, "bottom": self.zone_bottom},
            "triggered_index": self.triggered_index,
            "closed_index": self.closed_index,
            "closed_time": self.closed_time,
        }


def prepared_payload(
    idea: Idea, quantity: float | None = None, risk_amount: float = 100.0, time_in_force: str = "gtc"
) -> dict[str, object]:
    """A ready-to-send paper order ticket for ``idea`` (the ``prepared_payload`` message's ``data``).

    Without ``quantity`` the size risks ``risk_amount`` (account currency) between entry and stop, rounded
    down to 4 decimals, the usual fixed-fractional sizing.
    """
    risk_per_unit = abs(idea.entry - idea.stop)
    if quantity is None:
        quantity = math.floor(risk_amount / risk_per_unit * 10_000) / 10_000 if risk_per_unit > 0 else 0.0
    return {
        "symbol": idea.symbol,
        "side": "buy" if idea.is_long else "sell",
        "order_type": "limit",
        "quantity": quantity,
        "limit_price": idea.entry,
        "stop_loss": idea.stop,
        "take_profit": idea.target,
        "time_in_force": time_in_force,
        "idea_id": idea.id,
    }


@dataclass(frozen=True, slots=True)
class IdeaChanges:
    born: tuple[Idea, ...] = ()
    triggered: tuple[Idea, ...] = ()
    closed: tuple[Idea, ...] = ()


def _advance(idea: Idea, index: int, time: int, open_: float, high: float, low: float, close: float) -> Idea:
    """Move one live idea through bar ``index``; long ideas shown, short ideas are the mirror image."""
    sign = 1.0 if idea.is_long else -1.0
    # Work in "long" coordinates: multiplying by -1 turns a short's prices into a long's.
    o, hi, lo, c = (
        sign * open_,
        sign * (high if idea.is_long else low),
        sign * (low if idea.is_long else high),
        sign * close,
    )
    entry, stop, target, bottom = (
        sign * idea.entry,
        sign * idea.stop,
        sign * idea.target,
        sign * (idea.zone_bottom if idea.is_long else idea.zone_top),
    )
    if idea.status is IdeaStatus.PENDING:
        if o <= stop:
            return idea.close(index, time, CloseReason.STOP_BEFORE_ENTRY)
        if lo <= entry:
            idea = replace(idea, status=IdeaStatus.ACTIVE, triggered_index=index)
            # Stop and entry on the same bar: assume the worse order (entry, then stop).
            if lo <= stop:
                return idea.close(index, time, CloseReason.STOPPED_OUT)
            return idea
        if hi >= target:
            return idea.close(index, time, CloseReason.TARGET_BEFORE_ENTRY)
        return idea
    if lo <= stop:
        return idea.close(index, time, CloseReason.STOPPED_OUT)
    if hi >= target:
        return idea.close(index, time, CloseReason.TARGET_HIT)
    if c < bottom:
        return idea.close(index, time, CloseReason.ZONE_BROKEN)
    return idea


class IdeaBook:
    """Live ideas of one (symbol, timeframe) and a bounded history of closed ones. O(live ideas) per bar."""

    __slots__ = ("_closed", "_config", "_live", "_symbol", "_timeframe")

    def __init__(self, symbol: str, timeframe: str, config: IdeaConfig | None = None) -> None:
        self._symbol = symbol
        self._timeframe = timeframe
        self._config = config or IdeaConfig()
        self._live: list[Idea] = []
        self._closed: deque[Idea] = deque(maxlen=self._config.history)

    def live(self) -> tuple[Idea, ...]:
        return tuple(self._live)

    def closed(self) -> tuple[Idea, ...]:
        return tuple(self._closed)

    def update(
        self,
        index: int,
        time: int,
        bar: tuple[float, float, float, float],
        atr: float,
        breaks: Sequence[StructureBreak],
        open_gaps: Iterable[FairValueGap],
    ) -> IdeaChanges:
        """Feed bar ``index`` (open, high, low, close): existing ideas first, then this bar's breaks.

        ``open_gaps`` are the gaps still unmitigated after this bar.
        """
        open_, high, low, close = bar
        triggered: list[Idea] = []
        closed: list[Idea] = []
        still: list[Idea] = []
        for idea in self._live:
            moved = idea if idea.born_index == index else _advance(idea, index, time, open_, high, low, close)
            if moved.status is IdeaStatus.PENDING and index - moved.born_index >= self._config.max_pending_bars:
                moved = moved.close(index, time, CloseReason.AGE_LIMIT)
            if moved.triggered_index == index:
                triggered.append(moved)
            (closed if moved.status is IdeaStatus.CLOSED else still).append(moved)
        for brk in breaks:
            against = Action.of(brk.direction.opposite)
            for idea in [i for i in still if i.side is against]:
                still.remove(idea)
                closed.append(idea.close(index, time, CloseReason.OPPOSITE_BREAK))
        born = [idea for idea in (self._birth(index, time, close, atr, brk, open_gaps) for brk in breaks) if idea]
        zones = {(i.zone_index, i.side) for i in still}
        for idea in born:
            if (idea.zone_index, idea.side) not in zones:
                still.append(idea)
        while len(still) > self._config.max_live:
            closed.append(still.pop(0).close(index, time, CloseReason.DROPPED))
        self._live = still
        self._closed.extend(closed)
        kept = {i.id for i in still}
        return IdeaChanges(tuple(i for i in born if i.id in kept), tuple(triggered), tuple(closed))

    def _birth(
        self, index: int, time: int, close: float, atr: float, brk: StructureBreak, open_gaps: Iterable[FairValueGap]
    ) -> Idea | None:
        bullish = brk.direction is Direction.BULLISH
        candidates = [
            gap
            for gap in open_gaps
            if gap.direction is brk.direction
            and gap.index > brk.swing_index
            and (gap.top < close if bullish else gap.bottom > close)
        ]
        if not candidates:
            return None
        # The zone nearest to price is the first one a pull-back reaches.
        zone = max(candidates, key=lambda g: g.top) if bullish else min(candidates, key=lambda g: g.bottom)
        height = zone.top - zone.bottom
        buffer = self._config.stop_buffer_atr * (atr if math.isfinite(atr) and atr > 0 else height)
        if bullish:
            entry, stop = zone.top, zone.bottom - buffer
            target = entry + self._config.reward_multiple * (entry - stop)
        else:
            entry, stop = zone.bottom, zone.top + buffer
            target = entry - self._config.reward_multiple * (stop - entry)
        risk = abs(entry - stop)
        if risk <= 0.0:
            return None
        side = Action.BUY if bullish else Action.SELL
        return Idea(
            id=f"{self._symbol}-{self._timeframe}-idea-{time}-{side.value.lower()}",
            symbol=self._symbol,
            timeframe=self._timeframe,
            side=side,
            entry=entry,
            stop=stop,
            target=target,
            risk_reward=abs(target - entry) / risk,
            born_index=index,
            born_time=time,
            break_index=brk.index,
            zone_index=zone.index,
            zone_top=zone.top,
            zone_bottom=zone.bottom,
        )
