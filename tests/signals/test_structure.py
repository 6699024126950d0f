"""Structure breaks (BOS/CHOCH): hand-worked cases, vectorised search against the state machine, no repainting."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.bars import Bars
from signals.enums import Direction
from signals.structure import BreakDetector, BreakKind, StructureBreak, find_breaks
from signals.swings import SwingDetector, find_swings

RowsFactory = Callable[..., Bars]
Strategy = Callable[..., st.SearchStrategy[Bars]]

# n = 1. Swing high 13 at bar 1, swing low 10.5 at bar 3, swing high 14 at bar 4, swing low 9 at bar 5.
ZIGZAG = [
    (10, 11, 9, 10),
    (10, 13, 10, 12),
    (12, 12.5, 11, 11.5),
    (11.5, 12, 10.5, 11),
    (11, 14, 11, 13.5),  # close 13.5 > 13: bullish BOS
    (13.5, 13.8, 9, 9.5),  # close 9.5 < 10.5: bearish CHOCH
    (9.5, 14.5, 9.4, 14.2),  # close 14.2 > 14: bullish CHOCH
]

# n = 1. Swing high 10 at bar 1, then a higher swing high 13 at bar 3, confirmed at bar 4, whose close 11
# breaks the old level 10: bar 4 is tested against the level held after bar 3.
REPLACED_AT_CONFIRMATION = [
    (9, 9.5, 8, 9),
    (9, 10, 8.5, 9.5),
    (9.5, 9.8, 8.8, 9.2),
    (9.2, 13, 9, 9.8),
    (9.8, 12, 9.5, 11),
    (11, 13.5, 10.8, 13.2),
]


def detector_run(bars: Bars, n: int) -> list[StructureBreak]:
    swings, breaks = SwingDetector(n), BreakDetector()
    out: list[StructureBreak] = []
    for k in range(len(bars)):
        confirmed = swings.update(k, int(bars.time[k]), float(bars.high[k]), float(bars.low[k]))
        out.extend(breaks.update(k, int(bars.time[k]), float(bars.close[k]), confirmed))
    return out


def summary(breaks: list[StructureBreak]) -> list[tuple[int, str, str, float, int]]:
    return [(b.index, b.direction.value, b.kind.value, b.level, b.swing_index) for b in breaks]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(
            ZIGZAG,
            [(4, "bullish", "BOS", 13.0, 1), (5, "bearish", "CHOCH", 10.5, 3), (6, "bullish", "CHOCH", 14.0, 4)],
            id="zigzag",
        ),
        pytest.param(
            REPLACED_AT_CONFIRMATION,
            [(4, "bullish", "BOS", 10.0, 1), (5, "bullish", "BOS", 13.0, 3)],
            id="old-level-tested-on-confirmation-bar",
        ),
        pytest.param([(10, 10, 10, 10)] * 8, [], id="flat"),
    ],
)
def test_breaks_by_hand(
    rows_to_bars: RowsFactory, rows: list[tuple[float, ...]], expected: list[tuple[int, str, str, float, int]]
) -> None:
    bars = rows_to_bars(rows)
    breaks = find_breaks(bars, find_swings(bars, 1))
    assert summary(breaks) == expected
    assert detector_run(bars, 1) == breaks


def test_break_object_shape(rows_to_bars: RowsFactory) -> None:
    bars = rows_to_bars(ZIGZAG)
    first = find_breaks(bars, find_swings(bars, 1))[0]
    assert first.to_dict() == {
        "time": int(bars.time[4]),
        "index": 4,
        "direction": "bullish",
        "kind": "BOS",
        "level": 13.0,
        "swing_index": 1,
        "swing_time": int(bars.time[1]),
    }


def test_a_broken_level_is_not_broken_twice(rows_to_bars: RowsFactory) -> None:
    # After the BOS at bar 4 the level 13 is cleared: closes above it later are not new breaks.
    rows = [*ZIGZAG[:5], (13.5, 13.9, 13.2, 13.8), (13.8, 13.95, 13.5, 13.9)]
    bars = rows_to_bars(rows)
    assert summary(find_breaks(bars, find_swings(bars, 1))) == [(4, "bullish", "BOS", 13.0, 1)]


def test_detector_state() -> None:
    detector = BreakDetector()
    assert detector.held_high is None and detector.held_low is None and detector.last_break is None


def test_kinds_alternate_with_direction(rows_to_bars: RowsFactory) -> None:
    bars = rows_to_bars(ZIGZAG)
    breaks = find_breaks(bars, find_swings(bars, 1))
    assert [b.kind for b in breaks] == [BreakKind.BOS, BreakKind.CHOCH, BreakKind.CHOCH]
    assert [b.direction for b in breaks] == [Direction.BULLISH, Direction.BEARISH, Direction.BULLISH]


@settings(max_examples=80, deadline=None)
@given(data=st.data(), n=st.integers(1, 3))
def test_vectorised_matches_state_machine(bars_strategy: Strategy, data: st.DataObject, n: int) -> None:
    bars = data.draw(bars_strategy(max_size=60))
    assert find_breaks(bars, find_swings(bars, n)) == detector_run(bars, n)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(1, 2))
def test_no_repaint(bars_strategy: Strategy, data: st.DataObject, n: int) -> None:
    """A break is known at the close of its own bar: the prefix of t bars reports the full run's breaks with
    index < t, unchanged (level, kind and swing included)."""
    bars = data.draw(bars_strategy(max_size=40))
    full = find_breaks(bars, find_swings(bars, n))
    for t in range(len(bars) + 1):
        prefix = bars.head(t)
        assert find_breaks(prefix, find_swings(prefix, n)) == [b for b in full if b.index < t]
