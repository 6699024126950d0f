"""Fair value gaps: hand-worked cases, mitigation, the incremental detector, and no repainting."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.bars import Bars
from signals.enums import Direction
from signals.fvg import FairValueGap, FvgDetector, find_fvgs

RowsFactory = Callable[..., Bars]
Strategy = Callable[..., st.SearchStrategy[Bars]]

# (open, high, low, close) rows. A bullish gap on the middle of bars 0-2: h[0]=11 < l[2]=13, c[1] > o[1].
BULLISH = [(10, 11, 9, 10.5), (11, 15, 10.5, 14.5), (14.5, 16, 13, 15.5)]
# A bearish gap: l[0]=19 > h[2]=17, c[1] < o[1].
BEARISH = [(20, 21, 19, 19.5), (19, 19.5, 15, 15.5), (15.5, 17, 14, 14.5)]


def brute_force(bars: Bars, min_gap: float = 0.0) -> list[FairValueGap]:
    """docs/signals.md read literally, mitigation by scanning forward."""
    o, h, lo, c, t = (x.tolist() for x in (bars.open, bars.high, bars.low, bars.close, bars.time))
    gaps = []
    for i in range(1, len(bars) - 1):
        direction = None
        if h[i - 1] < lo[i + 1] and c[i] > o[i]:
            direction, top, bottom = Direction.BULLISH, lo[i + 1], h[i - 1]
        elif lo[i - 1] > h[i + 1] and c[i] < o[i]:
            direction, top, bottom = Direction.BEARISH, lo[i - 1], h[i + 1]
        if direction is None or top - bottom < min_gap * c[i]:
            continue
        mitigated = None
        for j in range(i + 2, len(bars)):
            if (direction is Direction.BULLISH and lo[j] <= top) or (direction is Direction.BEARISH and h[j] >= bottom):
                mitigated = j
                break
        gaps.append(
            FairValueGap(t[i], i, direction, top, bottom, i + 1, mitigated, None if mitigated is None else t[mitigated])
        )
    return gaps


def detector_run(bars: Bars, min_gap: float = 0.0, max_open: int = 10_000) -> list[FairValueGap]:
    """Feed the detector bar by bar and rebuild each gap's final state from its events."""
    detector = FvgDetector(min_gap, max_open)
    found: dict[tuple[int, Direction], FairValueGap] = {}
    for k in range(len(bars)):
        mitigated, new, _ = detector.update(
            k, int(bars.time[k]), float(bars.open[k]), float(bars.high[k]), float(bars.low[k]), float(bars.close[k])
        )
        for gap in new:
            assert gap.confirmed_index == k
            found[gap.key] = gap
        for gap in mitigated:
            assert gap.mitigated_index == k
            assert found[gap.key].mitigated_index is None
            found[gap.key] = gap
    return sorted(found.values(), key=lambda g: g.index)


def test_bullish_gap_by_hand(rows_to_bars: RowsFactory) -> None:
    bars = rows_to_bars(BULLISH)
    (gap,) = find_fvgs(bars)
    assert gap.to_dict() == {
        "time": int(bars.time[1]),
        "index": 1,
        "direction": "bullish",
        "top": 13.0,
        "bottom": 11.0,
        "confirmed_index": 2,
        "mitigated": False,
        "mitigated_index": None,
        "mitigated_time": None,
    }


def test_bearish_gap_by_hand(rows_to_bars: RowsFactory) -> None:
    (gap,) = find_fvgs(rows_to_bars(BEARISH))
    assert (gap.direction, gap.top, gap.bottom, gap.index) == (Direction.BEARISH, 19.0, 17.0, 1)


@pytest.mark.parametrize(
    ("rows", "why"),
    [
        ([(10, 11, 9, 10.5), (12, 15, 10.5, 12), (14.5, 16, 13, 15.5)], "doji middle candle"),
        ([(10, 11, 9, 10.5), (14, 15, 10.5, 12), (14.5, 16, 13, 15.5)], "bearish body in a bullish gap"),
        ([(10, 13, 9, 10.5), (11, 15, 10.5, 14.5), (14.5, 16, 13, 15.5)], "touching edges (h[i-1] == l[i+1])"),
        ([(20, 21, 17, 19.5), (19, 19.5, 15, 15.5), (15.5, 17, 14, 14.5)], "touching edges (l[i-1] == h[i+1])"),
    ],
)
def test_not_a_gap(rows_to_bars: RowsFactory, rows: list[tuple[float, ...]], why: str) -> None:
    assert find_fvgs(rows_to_bars(rows)) == [], why


@pytest.mark.parametrize(
    ("next_low", "expected"),
    [
        pytest.param(13.5, None, id="stays-above"),
        pytest.param(13.0, 3, id="touches-top-exactly"),
        pytest.param(12.0, 3, id="trades-inside"),
        pytest.param(8.0, 3, id="trades-through"),
    ],
)
def test_bullish_mitigation(rows_to_bars: RowsFactory, next_low: float, expected: int | None) -> None:
    bars = rows_to_bars([*BULLISH, (15.5, 16, next_low, 15)])
    (gap,) = find_fvgs(bars)
    assert gap.mitigated_index == expected
    assert gap.mitigated is (expected is not None)
    assert gap.mitigated_time == (None if expected is None else int(bars.time[3]))


def test_mitigation_is_the_first_entering_bar(rows_to_bars: RowsFactory) -> None:
    bars = rows_to_bars([*BULLISH, (15.5, 16, 14, 15), (15, 15.5, 12.5, 13), (13, 14, 10, 11)])
    (gap,) = find_fvgs(bars)
    assert gap.mitigated_index == 4


def test_bearish_mitigation(rows_to_bars: RowsFactory) -> None:
    bars = rows_to_bars([*BEARISH, (14.5, 16.5, 14, 15), (15, 17, 14.5, 16.5)])
    (gap,) = find_fvgs(bars)
    assert gap.mitigated_index == 4  # high 17 >= bottom 17


def test_gaps_at_first_and_last_bars(rows_to_bars: RowsFactory) -> None:
    """The first possible middle is bar 1; a gap confirmed by the last bar is reported, unmitigated."""
    bars = rows_to_bars([*BULLISH, (15.5, 16, 14, 15.8), (15.8, 19, 15.6, 18.5), (18.5, 20, 17, 19)])
    gaps = find_fvgs(bars)
    assert [(g.index, g.confirmed_index, g.mitigated_index) for g in gaps] == [(1, 2, None), (4, 5, None)]


def test_too_short_history(rows_to_bars: RowsFactory) -> None:
    assert find_fvgs(rows_to_bars(BULLISH[:2])) == []
    assert find_fvgs(rows_to_bars([])) == []


@pytest.mark.parametrize(("min_gap", "kept"), [(0.0, 1), (2.0 / 14.5, 1), (2.0 / 14.5 + 1e-9, 0)])
def test_minimum_gap_size(rows_to_bars: RowsFactory, min_gap: float, kept: int) -> None:
    bars = rows_to_bars(BULLISH)  # gap height 2, middle close 14.5
    assert len(find_fvgs(bars, min_gap)) == kept
    assert len(detector_run(bars, min_gap)) == kept


def test_negative_minimum_gap_is_rejected(rows_to_bars: RowsFactory) -> None:
    with pytest.raises(ValueError, match="minimum gap"):
        find_fvgs(rows_to_bars(BULLISH), -0.1)


def test_detector_cap_drops_the_farthest_gap() -> None:
    """A steady rise leaves a bullish gap on every middle candle and never mitigates one; with a cap of 2
    the lowest gaps are dropped, oldest first, and the two nearest to price stay."""
    detector = FvgDetector(max_open=2)
    dropped: list[FairValueGap] = []
    for k in range(8):
        o = 10.0 + 2 * k
        _, _, gone = detector.update(k, k, o, o + 1.6, o - 0.1, o + 1.5)
        dropped.extend(gone)
    assert [g.index for g in dropped] == [1, 2, 3, 4]
    assert [g.index for g in detector.open_gaps()] == [5, 6]


@settings(max_examples=60, deadline=None)
@given(data=st.data(), min_gap=st.sampled_from([0.0, 0.0, 0.05, 0.2]))
def test_vectorised_matches_definition_and_detector(
    bars_strategy: Strategy, data: st.DataObject, min_gap: float
) -> None:
    bars = data.draw(bars_strategy(max_size=50))
    gaps = find_fvgs(bars, min_gap)
    assert gaps == brute_force(bars, min_gap)
    assert detector_run(bars, min_gap) == gaps


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_no_repaint(bars_strategy: Strategy, data: st.DataObject) -> None:
    """Prefix of t bars: exactly the full run's gaps with confirmed_index < t, identical except for mitigation,
    which is the full run's mitigation if it happened by bar t-1 and None otherwise."""
    bars = data.draw(bars_strategy(max_size=40))
    full = find_fvgs(bars)
    for t in range(len(bars) + 1):
        expected = []
        for gap in full:
            if gap.confirmed_index >= t:
                continue
            if gap.mitigated_index is not None and gap.mitigated_index >= t:
                gap = FairValueGap(gap.time, gap.index, gap.direction, gap.top, gap.bottom, gap.confirmed_index)
            expected.append(gap)
        assert find_fvgs(bars.head(t)) == expected
