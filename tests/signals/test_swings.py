"""Swing points: hand-worked cases, the incremental detector, and no repainting."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signals.bars import Bars
from signals.swings import Swing, SwingDetector, SwingKind, find_swings

HighLowFactory = Callable[..., Bars]


def brute_force(bars: Bars, n: int) -> list[tuple[int, str]]:
    """The definition of docs/signals.md read literally."""
    found = []
    h, lo = bars.high.tolist(), bars.low.tolist()
    for i in range(n, len(bars) - n):
        if h[i] > max(h[i - n : i]) and h[i] >= max(h[i + 1 : i + n + 1]):
            found.append((i, "high"))
        if lo[i] < min(lo[i - n : i]) and lo[i] <= min(lo[i + 1 : i + n + 1]):
            found.append((i, "low"))
    return found


def detector_run(bars: Bars, n: int) -> list[Swing]:
    detector = SwingDetector(n)
    out: list[Swing] = []
    for k in range(len(bars)):
        out.extend(detector.update(k, int(bars.time[k]), float(bars.high[k]), float(bars.low[k])))
    return out


@pytest.mark.parametrize(
    ("highs", "n", "expected"),
    [
        pytest.param([1, 2, 5, 3, 2], 2, [2], id="single-peak"),
        pytest.param([1, 2, 5, 5, 2, 1, 0], 2, [2], id="tie-after-earlier-wins"),
        pytest.param([1, 5, 5, 2, 1], 1, [1], id="tie-before-later-is-not-strictly-above"),
        pytest.param([3, 3, 3, 3, 3, 3, 3], 2, [], id="flat-series"),
        pytest.param([9, 1, 2, 1, 0], 2, [], id="first-bars-lack-history"),
        pytest.param([1, 2, 3, 4, 9, 1], 2, [], id="last-bars-unconfirmed"),
        pytest.param([1, 3, 1, 3, 1], 1, [1, 3], id="n-equals-one"),
        pytest.param([1, 2, 3, 2, 1, 2, 3, 2, 1], 2, [2, 6], id="two-peaks"),
    ],
)
def test_swing_highs_by_hand(hl_to_bars: HighLowFactory, highs: list[float], n: int, expected: list[int]) -> None:
    bars = hl_to_bars(highs)
    swings = [s for s in find_swings(bars, n) if s.kind is SwingKind.HIGH]
    assert [s.index for s in swings] == expected
    for s in swings:
        assert s.price == highs[s.index]
        assert s.confirmed_index == s.index + n
        assert s.confirmed_time == int(bars.time[s.index + n])
        assert s.time == int(bars.time[s.index])


@pytest.mark.parametrize(
    ("lows", "n", "expected"),
    [
        pytest.param([5, 4, 1, 3, 4], 2, [2], id="single-trough"),
        pytest.param([5, 4, 1, 1, 4, 5], 2, [2], id="tie-after-earlier-wins"),
        pytest.param([2, 2, 2, 2, 2], 1, [], id="flat"),
    ],
)
def test_swing_lows_by_hand(hl_to_bars: HighLowFactory, lows: list[float], n: int, expected: list[int]) -> None:
    highs = [low + 10 for low in lows]
    bars = hl_to_bars(highs, lows)
    assert [s.index for s in find_swings(bars, n) if s.kind is SwingKind.LOW] == expected


def test_outside_bar_is_both_high_and_low(hl_to_bars: HighLowFactory) -> None:
    bars = hl_to_bars([5, 5, 9, 5, 5], [3, 3, 1, 3, 3])
    swings = find_swings(bars, 2)
    assert [(s.index, s.kind) for s in swings] == [(2, SwingKind.HIGH), (2, SwingKind.LOW)]
    assert swings[0].to_dict() == {
        "time": swings[0].time,
        "index": 2,
        "kind": "high",
        "price": 9.0,
        "confirmed_time": int(bars.time[4]),
        "confirmed_index": 4,
    }


def test_too_short_history_has_no_swings(hl_to_bars: HighLowFactory) -> None:
    assert find_swings(hl_to_bars([1, 3, 1]), 2) == []
    assert find_swings(hl_to_bars([]), 1) == []


@pytest.mark.parametrize("n", [0, -1])
def test_swing_length_must_be_positive(hl_to_bars: HighLowFactory, n: int) -> None:
    with pytest.raises(ValueError, match="swing length"):
        find_swings(hl_to_bars([1, 2, 1]), n)
    with pytest.raises(ValueError, match="swing length"):
        SwingDetector(n)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(1, 4))
def test_vectorised_matches_definition_and_detector(bars_strategy, data: st.DataObject, n: int) -> None:
    bars = data.draw(bars_strategy(max_size=40))
    swings = find_swings(bars, n)
    assert [(s.index, s.kind.value) for s in swings] == brute_force(bars, n)
    assert detector_run(bars, n) == swings


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(1, 3))
def test_no_repaint(bars_strategy, data: st.DataObject, n: int) -> None:
    """On every prefix of t bars, the swings reported are exactly the full run's swings known by t
    (confirmed_index < t, i.e. confirmed at the close of one of the prefix's bars); swings never change."""
    bars = data.draw(bars_strategy(max_size=35))
    full = find_swings(bars, n)
    for t in range(len(bars) + 1):
        assert find_swings(bars.head(t), n) == [s for s in full if s.confirmed_index < t]
