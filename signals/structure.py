"""Structure breaks, BOS and CHOCH (docs/signals.md "Structure breaks"): whole-history search and the state machine."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from signals.bars import Bars
from signals.enums import Direction
from signals.scan import NOT_FOUND, first_above, first_below
from signals.swings import Swing, SwingKind


class BreakKind(str, Enum):
    BOS = "BOS"
    CHOCH = "CHOCH"


@dataclass(frozen=True, slots=True)
class StructureBreak:
    """Close of bar ``index`` beyond the held swing at ``swing_index``; known at the close of bar ``index``."""

    time: int
    index: int
    direction: Direction
    kind: BreakKind
    level: float
    swing_index: int
    swing_time: int

    def to_dict(self) -> dict[str, object]:
        return {
            "time": self.time,
            "index": self.index,
            "direction": self.direction.value,
            "kind": self.kind.value,
            "level": self.level,
            "swing_index": self.swing_index,
            "swing_time": self.swing_time,
        }


def _kind(previous: Direction | None, direction: Direction) -> BreakKind:
    # CHOCH when the previous break (of either direction) went the other way; the first break is a BOS.
    return BreakKind.CHOCH if previous is not None and previous is not direction else BreakKind.BOS


def _breaks_of(
    closes: np.ndarray, swings: Sequence[Swing], direction: Direction, last_bar: int
) -> list[tuple[int, Swing]]:
    """(break bar, swing) for each swing of one kind; a swing is held from its confirmation bar + 1 up to the
    bar that confirms the next swing of its kind (that bar still tests the old level, docs/signals.md order)."""
    if not swings:
        return []
    starts = np.array([s.confirmed_index + 1 for s in swings], dtype=np.int64)
    ends = np.array([s.confirmed_index for s in swings[1:]] + [last_bar], dtype=np.int64)
    levels = np.array([s.price for s in swings], dtype=np.float64)
    search = first_above if direction is Direction.BULLISH else first_below
    hits = search(closes, starts, levels)
    found = (hits != NOT_FOUND) & (hits <= ends)
    return [(int(hits[k]), swings[k]) for k in np.flatnonzero(found).tolist()]


def find_breaks(bars: Bars, swings: Iterable[Swing]) -> list[StructureBreak]:
    """Every break of the history given its swings (from :func:`signals.swings.find_swings`), in bar order.

    Vectorised: each swing's break is the first close beyond it inside its holding window; only the BOS/CHOCH
    labels depend on the previous break, a single comparison with the neighbour in the sorted list. When one
    bar breaks both levels, the bullish break is listed (and labelled) first.
    """
    ordered = sorted(swings, key=lambda s: s.confirmed_index)
    highs = [s for s in ordered if s.kind is SwingKind.HIGH]
    lows = [s for s in ordered if s.kind is SwingKind.LOW]
    last_bar = len(bars) - 1
    events = [(bar, 0, Direction.BULLISH, s) for bar, s in _breaks_of(bars.close, highs, Direction.BULLISH, last_bar)]
    events += [(bar, 1, Direction.BEARISH, s) for bar, s in _breaks_of(bars.close, lows, Direction.BEARISH, last_bar)]
    events.sort(key=lambda event: (event[0], event[1]))
    breaks: list[StructureBreak] = []
    previous: Direction | None = None
    for bar, _, direction, swing in events:
        breaks.append(
            StructureBreak(
                int(bars.time[bar]), bar, direction, _kind(previous, direction), swing.price, swing.index, swing.time
            )
        )
        previous = direction
    return breaks


class BreakDetector:
    """The state machine of docs/signals.md, O(1) per bar: held swing high/low and the direction of the last break."""

    __slots__ = ("_held_high", "_held_low", "_last")

    def __init__(self) -> None:
        self._held_high: Swing | None = None
        self._held_low: Swing | None = None
        self._last: StructureBreak | None = None

    @property
    def held_high(self) -> Swing | None:
        return self._held_high

    @property
    def held_low(self) -> Swing | None:
        return self._held_low

    @property
    def last_break(self) -> StructureBreak | None:
        return self._last

    def update(self, index: int, time: int, close: float, confirmed: Iterable[Swing]) -> tuple[StructureBreak, ...]:
        """Test bar ``index`` against the levels held after the previous bar, then hold the swings it confirms."""
        found: list[StructureBreak] = []
        previous = self._last.direction if self._last is not None else None
        held = self._held_high
        if held is not None and close > held.price:
            found.append(
                StructureBreak(
                    time,
                    index,
                    Direction.BULLISH,
                    _kind(previous, Direction.BULLISH),
                    held.price,
                    held.index,
                    held.time,
                )
            )
            previous = Direction.BULLISH
            self._held_high = None
        held = self._held_low
        if held is not None and close < held.price:
            found.append(
                StructureBreak(
                    time,
                    index,
                    Direction.BEARISH,
                    _kind(previous, Direction.BEARISH),
                    held.price,
                    held.index,
                    held.time,
                )
            )
            self._held_low = None
        if found:
            self._last = found[-1]
        for swing in confirmed:
            if swing.kind is SwingKind.HIGH:
                self._held_high = swing
            else:
                self._held_low = swing
        return tuple(found)
