"""Fair value gaps with mitigation (docs/signals.md): whole-history search and the incremental detector."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from operator import attrgetter

import numpy as np

from signals.bars import Bars
from signals.enums import Direction
from signals.scan import NOT_FOUND, first_at_or_above, first_at_or_below

DEFAULT_MAX_OPEN_PER_DIRECTION = 50
# Sort key: a middle candle carries at most one gap (its body is either up or down).
_by_index = attrgetter("index")


@dataclass(frozen=True, slots=True)
class FairValueGap:
    """A three-candle gap labelled on the middle candle ``index``; known at ``confirmed_index`` = index + 1.

    ``mitigated_index`` is the first bar j >= index + 2 that trades into the zone; it is the only part of a
    gap that changes after the gap is reported (from None to a bar index, once).
    """

    time: int
    index: int
    direction: Direction
    top: float
    bottom: float
    confirmed_index: int
    mitigated_index: int | None = None
    mitigated_time: int | None = None

    @property
    def mitigated(self) -> bool:
        return self.mitigated_index is not None

    @property
    def key(self) -> tuple[int, Direction]:
        """Identity of a gap across its mitigation (one gap per middle candle and direction)."""
        return (self.index, self.direction)

    def mitigate(self, index: int, time: int) -> FairValueGap:
        return replace(self, mitigated_index=index, mitigated_time=time)

    def contains(self, price: float) -> bool:
        return self.bottom <= price <= self.top

    def to_dict(self) -> dict[str, object]:
        return {
            "time": self.time,
            "index": self.index,
            "direction": self.direction.value,
            "top": self.top,
            "bottom": self.bottom,
            "confirmed_index": self.confirmed_index,
            "mitigated": self.mitigated,
            "mitigated_index": self.mitigated_index,
            "mitigated_time": self.mitigated_time,
        }


def _check_min_gap(min_gap: float) -> None:
    if not min_gap >= 0.0:
        raise ValueError(f"minimum gap must be a fraction >= 0, got {min_gap}")


def _big_enough(top: float, bottom: float, middle_close: float, min_gap: float) -> bool:
    # Size as a fraction of the middle candle's close; with min_gap = 0 every gap passes (top > bottom).
    return top - bottom >= min_gap * middle_close


def find_fvgs(bars: Bars, min_gap: float = 0.0) -> list[FairValueGap]:
    """Every gap of the history, ordered by middle-candle index, with mitigation as of the last bar."""
    _check_min_gap(min_gap)
    count = len(bars)
    if count < 3:
        return []
    high, low, open_, close = bars.high, bars.low, bars.open, bars.close
    before_high, before_low = high[:-2], low[:-2]
    after_high, after_low = high[2:], low[2:]
    mid_open, mid_close = open_[1:-1], close[1:-1]
    bullish = (before_high < after_low) & (mid_close > mid_open)
    bearish = (before_low > after_high) & (mid_close < mid_open)
    top = np.where(bullish, after_low, before_low)
    bottom = np.where(bullish, before_high, after_high)
    keep = (bullish | bearish) & (top - bottom >= min_gap * mid_close)
    middles = np.flatnonzero(keep) + 1
    tops, bottoms, is_bull = top[keep], bottom[keep], bullish[keep]
    # Bullish: first j >= i+2 with low[j] <= top. Bearish: first j >= i+2 with high[j] >= bottom.
    mitigation = np.full(middles.shape[0], NOT_FOUND, dtype=np.int64)
    if np.any(is_bull):
        mitigation[is_bull] = first_at_or_below(low, middles[is_bull] + 2, tops[is_bull])
    if np.any(~is_bull):
        mitigation[~is_bull] = first_at_or_above(high, middles[~is_bull] + 2, bottoms[~is_bull])
    times = bars.time
    gaps: list[FairValueGap] = []
    for i, t, b, up, m in zip(
        middles.tolist(), tops.tolist(), bottoms.tolist(), is_bull.tolist(), mitigation.tolist(), strict=True
    ):
        gaps.append(
            FairValueGap(
                time=int(times[i]),
                index=i,
                direction=Direction.BULLISH if up else Direction.BEARISH,
                top=t,
                bottom=b,
                confirmed_index=i + 1,
                mitigated_index=None if m == NOT_FOUND else m,
                mitigated_time=None if m == NOT_FOUND else int(times[m]),
            )
        )
    return gaps


class FvgDetector:
    """Incremental gaps: detection is O(1) per bar, mitigation O(log K + m) for K open gaps and m mitigated.

    Open bullish gaps are kept sorted by ``top`` (a bar with low L mitigates exactly those with top >= L, a
    suffix); open bearish ones by ``bottom`` (a bar with high H mitigates those with bottom <= H, a prefix).
    At most ``max_open`` gaps per direction are tracked: beyond that the one farthest from price (lowest
    bullish top, highest bearish bottom) is dropped, so memory and time stay bounded on any history.
    """

    __slots__ = ("_bear", "_bear_keys", "_bull", "_bull_keys", "_by_index", "_max_open", "_min_gap", "_recent")

    def __init__(self, min_gap: float = 0.0, max_open: int = DEFAULT_MAX_OPEN_PER_DIRECTION) -> None:
        _check_min_gap(min_gap)
        if max_open < 1:
            raise ValueError("max_open must be at least 1")
        self._min_gap = min_gap
        self._max_open = max_open
        self._bull: list[FairValueGap] = []
        self._bull_keys: list[tuple[float, int]] = []
        self._bear: list[FairValueGap] = []
        self._bear_keys: list[tuple[float, int]] = []
        # Open gaps by middle-candle index; gaps arrive in index order, so the dict stays ordered for free.
        self._by_index: dict[int, FairValueGap] = {}
        # The last three bars, as (time, open, high, low, close).
        self._recent: list[tuple[int, float, float, float, float]] = []

    def open_gaps(self) -> list[FairValueGap]:
        """Unmitigated gaps still tracked, ordered by index."""
        return list(self._by_index.values())

    def update(
        self, index: int, time: int, open_: float, high: float, low: float, close: float
    ) -> tuple[tuple[FairValueGap, ...], tuple[FairValueGap, ...], tuple[FairValueGap, ...]]:
        """Feed bar ``index``; returns (gaps mitigated by it, gap confirmed by it, gaps dropped for the cap).

        Mitigation is tested before the new gap is added, because a gap confirmed at bar i+1 can only be
        mitigated from bar i+2 on.
        """
        mitigated: list[FairValueGap] = []
        if self._bull and self._bull_keys[-1][0] >= low:
            cut = bisect.bisect_left(self._bull_keys, (low, -1))
            mitigated.extend(gap.mitigate(index, time) for gap in self._bull[cut:])
            del self._bull[cut:], self._bull_keys[cut:]
        if self._bear and self._bear_keys[0][0] <= high:
            cut = bisect.bisect_right(self._bear_keys, (high, index + 1))
            mitigated.extend(gap.mitigate(index, time) for gap in self._bear[:cut])
            del self._bear[:cut], self._bear_keys[:cut]
        for gap in mitigated:
            del self._by_index[gap.index]
        if len(mitigated) > 1:
            mitigated.sort(key=_by_index)

        self._recent.append((time, open_, high, low, close))
        if len(self._recent) > 3:
            del self._recent[0]
        new: tuple[FairValueGap, ...] = ()
        dropped: tuple[FairValueGap, ...] = ()
        if len(self._recent) == 3:
            found = self._detect(index)
            if found is not None:
                new = (found,)
                dropped = self._add(found)
        return tuple(mitigated), new, dropped

    def _detect(self, index: int) -> FairValueGap | None:
        (_, _, before_high, before_low, _), (mid_time, mid_open, _, _, mid_close), (_, _, after_high, after_low, _) = (
            self._recent
        )
        middle = index - 1
        gap: FairValueGap | None = None
        if before_high < after_low and mid_close > mid_open:
            gap = FairValueGap(mid_time, middle, Direction.BULLISH, after_low, before_high, index)
        elif before_low > after_high and mid_close < mid_open:
            gap = FairValueGap(mid_time, middle, Direction.BEARISH, before_low, after_high, index)
        if gap is not None and _big_enough(gap.top, gap.bottom, mid_close, self._min_gap):
            return gap
        return None

    def _add(self, gap: FairValueGap) -> tuple[FairValueGap, ...]:
        self._by_index[gap.index] = gap
        dropped = self._insert(gap)
        for old in dropped:
            del self._by_index[old.index]
        return dropped

    def _insert(self, gap: FairValueGap) -> tuple[FairValueGap, ...]:
        if gap.direction is Direction.BULLISH:
            key = (gap.top, gap.index)
            at = bisect.bisect_left(self._bull_keys, key)
            self._bull_keys.insert(at, key)
            self._bull.insert(at, gap)
            if len(self._bull) > self._max_open:
                del self._bull_keys[0]
                return (self._bull.pop(0),)
        else:
            key = (gap.bottom, gap.index)
            at = bisect.bisect_left(self._bear_keys, key)
            self._bear_keys.insert(at, key)
            self._bear.insert(at, gap)
            if len(self._bear) > self._max_open:
                del self._bear_keys[-1]
                return (self._bear.pop(),)
        return ()
