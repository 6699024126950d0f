"""Classic floor pivots: the formulas by hand, period boundaries (UTC day, ISO week), and the tracker."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.models import Timeframe
from signals.bars import Bars
from signals.floor_pivots import (
    FloorPivots,
    FloorPivotTracker,
    find_floor_pivots,
    period_start,
)

RowsFactory = Callable[..., Bars]
Strategy = Callable[..., st.SearchStrategy[Bars]]
DAY = 86_400
MONDAY = 1_704_067_200  # 2024-01-01 00:00 UTC, a Monday


def test_formulas_by_hand() -> None:
    # H = 110, L = 90, C = 105: P = 305/3, R1 = 2P - L, S1 = 2P - H, R2/S2 = P ± 20,
    # R3 = H + 2(P - L), S3 = L - 2(H - P).
    pivots = FloorPivots.from_hlc(0, 110.0, 90.0, 105.0)
    p = 305.0 / 3.0
    assert pivots.P == pytest.approx(p)
    assert pivots.R1 == pytest.approx(2 * p - 90)
    assert pivots.S1 == pytest.approx(2 * p - 110)
    assert pivots.R2 == pytest.approx(p + 20)
    assert pivots.S2 == pytest.approx(p - 20)
    assert pivots.R3 == pytest.approx(110 + 2 * (p - 90))
    assert pivots.S3 == pytest.approx(90 - 2 * (110 - p))
    assert pivots.S3 < pivots.S2 < pivots.S1 < pivots.P < pivots.R1 < pivots.R2 < pivots.R3
    assert set(pivots.to_dict()) == {"period_start", "P", "R1", "R2", "R3", "S1", "S2", "S3"}


def test_flat_period_collapses_levels() -> None:
    pivots = FloorPivots.from_hlc(0, 50.0, 50.0, 50.0)
    assert set(pivots.levels().values()) == {50.0}


def hourly(day_offsets_hours: list[int], rows: list[tuple[float, float, float, float]]) -> Bars:
    return Bars.from_arrays(
        [MONDAY + 3_600 * h for h in day_offsets_hours],
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
    )


def test_daily_pivots_use_the_previous_day() -> None:
    # Two bars on Monday, two on Tuesday: Tuesday's pivots come from Monday's H=12, L=8, C=11.
    bars = hourly([0, 23, 24, 30], [(10, 12, 9, 10), (10, 11, 8, 11), (11, 15, 10, 14), (14, 14, 1, 2)])
    ((first_bar, pivots),) = find_floor_pivots(bars, Timeframe.H1)
    assert first_bar == 2
    assert pivots == FloorPivots.from_hlc(MONDAY + DAY, 12.0, 8.0, 11.0)


def test_days_without_data_are_skipped() -> None:
    # Friday, then Monday: Monday's pivots come from Friday.
    friday = MONDAY + 4 * DAY
    bars = Bars.from_arrays([friday, friday + 3 * DAY], [10, 20], [12, 21], [9, 19], [11, 20])
    ((first_bar, pivots),) = find_floor_pivots(bars, Timeframe.M15)
    assert first_bar == 1
    assert pivots.period_start == friday + 3 * DAY
    assert pivots == FloorPivots.from_hlc(friday + 3 * DAY, 12.0, 9.0, 11.0)


def test_weekly_pivots_for_daily_candles() -> None:
    # Daily candles Mon..Sun of week 1, then Monday of week 2: one weekly period completed.
    times = [MONDAY + k * DAY for k in range(8)]
    highs = [10, 11, 15, 12, 11, 10, 10, 30]
    lows = [9, 8, 10, 7, 9, 9, 9, 20]
    closes = [9.5, 10, 14, 8, 10, 9.5, 9.8, 25]
    bars = Bars.from_arrays(times, closes, highs, lows, closes)
    ((first_bar, pivots),) = find_floor_pivots(bars, Timeframe.D1)
    assert first_bar == 7
    assert pivots == FloorPivots.from_hlc(MONDAY + 7 * DAY, 15.0, 7.0, 9.8)
    # The same candles as "hourly" data give one set of pivots per new day.
    assert len(find_floor_pivots(bars, Timeframe.H1)) == 7


@pytest.mark.parametrize(
    ("time", "weekly", "expected"),
    [
        (MONDAY + 5, False, MONDAY),
        (MONDAY + DAY - 1, False, MONDAY),
        (MONDAY + DAY, False, MONDAY + DAY),
        (MONDAY + 6 * DAY + 86_399, True, MONDAY),  # Sunday 23:59:59 is still ISO week 1
        (MONDAY + 7 * DAY, True, MONDAY + 7 * DAY),
        (MONDAY - 1, True, MONDAY - 7 * DAY),
    ],
)
def test_period_start(time: int, weekly: bool, expected: int) -> None:
    assert period_start(time, weekly) == expected


def test_first_period_and_empty_history_have_no_pivots(rows_to_bars: RowsFactory) -> None:
    assert find_floor_pivots(rows_to_bars([(1, 2, 0.5, 1.5)] * 5), Timeframe.H1) == []
    assert find_floor_pivots(rows_to_bars([]), Timeframe.H1) == []


@settings(max_examples=50, deadline=None)
@given(data=st.data(), timeframe=st.sampled_from([Timeframe.H1, Timeframe.D1]))
def test_tracker_matches_vectorised_and_does_not_repaint(
    bars_strategy: Strategy, data: st.DataObject, timeframe: Timeframe
) -> None:
    bars = data.draw(bars_strategy(max_size=50, step=7_200))
    full = find_floor_pivots(bars, timeframe)
    tracker = FloorPivotTracker(timeframe)
    seen = []
    for k in range(len(bars)):
        new = tracker.update(int(bars.time[k]), float(bars.high[k]), float(bars.low[k]), float(bars.close[k]))
        if new is not None:
            seen.append((k, new))
            assert tracker.current == new
    assert seen == full
    for t in range(0, len(bars) + 1, 5):
        assert find_floor_pivots(bars.head(t), timeframe) == [(k, p) for k, p in full if k < t]
