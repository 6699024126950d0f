"""SignalTracker: bar-for-bar agreement with the vectorised functions, seeding, bounds, snapshots and threads."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.models import Candle, Timeframe
from signals.agents import run_agents
from signals.analysis import agent_context, analyze
from signals.bars import Bars
from signals.consensus import Consensus, combine
from signals.fvg import FairValueGap
from signals.indicators import INDICATOR_NAMES, values_at
from signals.tracker import (
    SignalTracker,
    TrackerConfig,
    TrackerSnapshot,
    tracker_key,
    ws_status,
)

Strategy = Callable[..., st.SearchStrategy[Bars]]
WalkFactory = Callable[..., Bars]
FIXED_NOW = 1_700_000_000.123


def fixed_clock() -> float:
    return FIXED_NOW


def same_number(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9, abs=1e-9)


def same_consensus(a: Consensus, b: Consensus) -> None:
    """Equal up to float rounding of the indicators (the two paths round differently in the last bits)."""
    assert a.action is b.action
    assert a.agents_in_favor == b.agents_in_favor
    assert [(v.agent, v.action) for v in a.votes] == [(v.agent, v.action) for v in b.votes]
    for x, y in zip(a.votes, b.votes, strict=True):
        assert x.confidence == pytest.approx(y.confidence, rel=1e-7, abs=1e-9)
    assert a.confidence == pytest.approx(b.confidence, rel=1e-7, abs=1e-9)


def unmitigated(gap: FairValueGap) -> FairValueGap:
    return FairValueGap(gap.time, gap.index, gap.direction, gap.top, gap.bottom, gap.confirmed_index)


def check_bar_for_bar(bars: Bars, swing_length: int, timeframe: Timeframe) -> SignalTracker:
    config = TrackerConfig(
        swing_length=swing_length,
        max_open_fvgs=10**6,
        keep_mitigated_fvgs=10**6,
        max_swings=10**6,
        max_breaks=10**6,
        max_pivot_levels=10**6,
    )
    tracker = SignalTracker("TEST", timeframe, config, clock=fixed_clock)
    full = analyze(bars, swing_length=swing_length, timeframe=timeframe)
    for t, candle in enumerate(bars.candles()):
        update = tracker.on_candle_closed(candle)
        assert update.accepted and update.index == t
        assert list(update.swings) == [s for s in full.swings if s.confirmed_index == t]
        assert list(update.fvgs) == [unmitigated(g) for g in full.fvgs if g.confirmed_index == t]
        assert list(update.mitigated_fvgs) == [g for g in full.fvgs if g.mitigated_index == t]
        assert list(update.breaks) == [b for b in full.breaks if b.index == t]
        assert update.pivot_levels == next((p for first, p in full.pivot_levels if first == t), None)
        expected_values = values_at(full.indicators, t)
        for name in INDICATOR_NAMES:
            assert same_number(getattr(update.indicators, name), getattr(expected_values, name)), (t, name)
        context = agent_context(bars, full.indicators, full.fvgs, full.breaks, full.pivot_levels, t)
        assert update.consensus is not None
        same_consensus(update.consensus, combine(run_agents(context)))
    snapshot = tracker.snapshot
    assert snapshot.overlays() == full.overlays()
    if full.consensus is not None:
        assert snapshot.consensus is not None
        same_consensus(snapshot.consensus, full.consensus)
    return tracker


@settings(max_examples=25, deadline=None)
@given(data=st.data(), swing_length=st.integers(1, 3), timeframe=st.sampled_from([Timeframe.H1, Timeframe.D1]))
def test_tracker_equals_vectorised_bar_for_bar(
    bars_strategy: Strategy, data: st.DataObject, swing_length: int, timeframe: Timeframe
) -> None:
    check_bar_for_bar(data.draw(bars_strategy(max_size=70)), swing_length, timeframe)


@pytest.mark.parametrize("swing_length", [1, 2, 3])
def test_tracker_equals_vectorised_on_a_flat_market(swing_length: int) -> None:
    """A flat market with one spike: the two paths' MACD differ by 1e-16 there, and no vote may flip on that."""
    size = 34
    flat = np.full(size, 10.0)
    spike = flat.copy()
    spike[23] = 11.0
    bars = Bars(time=1_704_067_200 + 3_600 * np.arange(size), open=spike, high=spike, low=flat, close=flat,
                volume=np.zeros(size))
    check_bar_for_bar(bars, swing_length, Timeframe.H1)


def test_tracker_equals_vectorised_on_a_random_walk(walk: WalkFactory) -> None:
    tracker = check_bar_for_bar(walk(900, seed=5, step=1_800), 5, Timeframe.M30)
    assert tracker.snapshot.candle_count == 900


def test_seed_gives_the_same_state_as_one_by_one(walk: WalkFactory) -> None:
    candles = walk(600, seed=9).candles()
    seeded = SignalTracker("AAA", Timeframe.H1, clock=fixed_clock)
    assert seeded.seed(candles) == 600
    stepped = SignalTracker("AAA", Timeframe.H1, clock=fixed_clock)
    for candle in candles:
        stepped.on_candle_closed(candle)
    a, b = seeded.snapshot, stepped.snapshot
    assert a.overlays() == b.overlays()
    assert a.stats() == b.stats()
    assert a.signal_list() == b.signal_list()
    assert a.indicators.to_dict() == b.indicators.to_dict()
    assert a.consensus == b.consensus
    assert (a.ideas, a.closed_ideas) == (b.ideas, b.closed_ideas)
    assert a.last_candle == b.last_candle == candles[-1]
    # And both go on identically.
    extra = Candle(candles[-1].time + 3_600, 100.0, 101.0, 99.0, 100.5, 10.0)
    assert seeded.on_candle_closed(extra).consensus == stepped.on_candle_closed(extra).consensus


def test_old_and_duplicate_candles_are_ignored(walk: WalkFactory) -> None:
    candles = walk(30).candles()
    tracker = SignalTracker("AAA", Timeframe.H1, clock=fixed_clock)
    tracker.seed(candles)
    before = tracker.snapshot
    for stale in (candles[-1], candles[3]):
        update = tracker.on_candle_closed(stale)
        assert not update.accepted and not update.overlays_changed and update.signal is None
    assert tracker.snapshot is before
    assert tracker.seed(candles) == 0


def test_stats_and_overlay_shapes(walk: WalkFactory) -> None:
    tracker = SignalTracker("GC=F", Timeframe.H1, clock=fixed_clock)
    assert tracker.stats() == {
        "last_candle_count": 0,
        "last_update_time": None,
        "cached_signals_count": {"pivot_points": 0, "fvg_zones": 0, "break_signals": 0},
    }
    assert tracker.overlays() == {"pivot_points": [], "fvg_zones": [], "break_signals": [], "pivot_levels": []}
    tracker.seed(walk(400, seed=3).candles())
    stats = tracker.stats()
    assert stats["last_candle_count"] == 400
    assert stats["last_update_time"] == "2023-11-14T22:13:20.123Z"
    overlays = tracker.overlays()
    assert stats["cached_signals_count"] == {
        "pivot_points": len(overlays["pivot_points"]),
        "fvg_zones": len(overlays["fvg_zones"]),
        "break_signals": len(overlays["break_signals"]),
    }
    assert set(overlays["pivot_points"][0]) == {"time", "index", "kind", "price", "confirmed_time", "confirmed_index"}
    assert set(overlays["fvg_zones"][0]) == {
        "time",
        "index",
        "direction",
        "top",
        "bottom",
        "confirmed_index",
        "mitigated",
        "mitigated_index",
        "mitigated_time",
    }
    assert set(overlays["break_signals"][0]) == {
        "time",
        "index",
        "direction",
        "kind",
        "level",
        "swing_index",
        "swing_time",
    }
    assert set(overlays["pivot_levels"][0]) == {"period_start", "P", "R1", "R2", "R3", "S1", "S2", "S3"}
    assert ws_status([tracker]) == {"active_trackers": 1, "trackers": {"GC=F_1h": stats}}
    assert tracker_key("GC=F", "1h") == "GC=F_1h"


def test_lists_stay_bounded_and_are_the_latest(walk: WalkFactory) -> None:
    bars = walk(3_000, seed=4)
    config = TrackerConfig(
        max_open_fvgs=10, keep_mitigated_fvgs=5, max_swings=7, max_breaks=6, max_pivot_levels=2, max_signals=4
    )
    tracker = SignalTracker("AAA", Timeframe.H1, config)
    tracker.seed(bars.candles())
    snap = tracker.snapshot
    full = analyze(bars, timeframe=Timeframe.H1)
    assert list(snap.swings) == list(full.swings[-7:])
    assert list(snap.breaks) == list(full.breaks[-6:])
    assert [p for _, p in full.pivot_levels[-2:]] == list(snap.pivot_levels)
    assert len(snap.signals) == 4
    assert len([g for g in snap.fvgs if not g.mitigated]) <= 20
    assert len([g for g in snap.fvgs if g.mitigated]) == 5
    # Every mitigated gap kept is one of the five most recent mitigations of the full history.
    recent = sorted((g for g in full.fvgs if g.mitigated_index is not None), key=lambda g: (g.mitigated_index, g.index))
    assert {g.key for g in snap.fvgs if g.mitigated} == {g.key for g in recent[-5:]}
    # Open gaps kept are open in the full history too.
    open_full = {g.key for g in full.fvgs if not g.mitigated}
    assert {g.key for g in snap.fvgs if not g.mitigated} <= open_full
    assert [s.time for s in snap.signals] == sorted((s.time for s in snap.signals), reverse=True)


def test_snapshot_is_immutable(walk: WalkFactory) -> None:
    tracker = SignalTracker("AAA", Timeframe.H1)
    tracker.seed(walk(200).candles())
    snapshot = tracker.snapshot
    assert isinstance(snapshot, TrackerSnapshot)
    with pytest.raises(AttributeError):
        snapshot.candle_count = 5  # type: ignore[misc]
    assert isinstance(snapshot.swings, tuple) and isinstance(snapshot.fvgs, tuple)


def test_readers_on_another_thread_need_no_lock(walk: WalkFactory) -> None:
    """One writer, one reader: every snapshot the reader takes is internally consistent."""
    candles = walk(1_500, seed=12).candles()
    tracker = SignalTracker("AAA", Timeframe.H1)
    done = threading.Event()
    problems: list[str] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        last_count = 0
        while not done.is_set():
            snapshot = tracker.snapshot
            stats = snapshot.stats()
            overlays = snapshot.overlays()
            count = stats["last_candle_count"]
            assert isinstance(count, int)
            if count < last_count:
                problems.append("candle count went back")
            if stats["cached_signals_count"] != {
                k: len(overlays[k]) for k in ("pivot_points", "fvg_zones", "break_signals")
            }:
                problems.append("stats and overlays disagree")
            last_count = count
            reads += 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for candle in candles:
            tracker.on_candle_closed(candle)
    finally:
        done.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert problems == []
    assert reads > 0


def test_signals_are_emitted_on_change_only(walk: WalkFactory) -> None:
    tracker = SignalTracker("AAA", Timeframe.H1, TrackerConfig(max_signals=10_000))
    emitted = [u.signal for u in (tracker.on_candle_closed(c) for c in walk(1_000, seed=2).candles()) if u.signal]
    assert 0 < len(emitted) < 1_000
    assert emitted[0].action.value != "HOLD"
    for before, after in pairwise(emitted):
        assert after.action is not before.action or abs(after.confidence - before.confidence) > tracker.config.step
    assert [s["id"] for s in tracker.signals()] == [s.id for s in reversed(emitted)]


def test_config_needs_a_window_for_the_agents() -> None:
    with pytest.raises(ValueError, match="window"):
        TrackerConfig(window=10)
