"""Benchmark of the signal engine: whole-history analysis against smartmoneyconcepts, and the tracker's per-candle cost.

Run from the repository root: ``python bench/signals.py``. Prints readable figures; the last line is one JSON
object. Nothing here asserts on time. The peer (``pip install smartmoneyconcepts``) is optional: without it,
its figures are null.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

# This file is itself named "signals": make sure "import signals" finds the package at the repository root.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

feeds_models = importlib.import_module("feeds.models")
signals_pkg = importlib.import_module("signals")
bars_module = importlib.import_module("signals.bars")

SWING_LENGTH = 5
START = 1_704_067_200
TRACKER_NEW_CANDLES = 2_000


def random_walk(count: int, seed: int = 42) -> pd.DataFrame:
    """Deterministic geometric random walk with consistent OHLCV candles, hourly from 2024-01-01."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, count)))
    open_ = np.r_[100.0, close[:-1]] * (1.0 + rng.normal(0.0, 0.002, count))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.006, count))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.006, count))
    volume = rng.uniform(100.0, 1_000.0, count).round()
    return pd.DataFrame(
        {
            "time": START + 3_600 * np.arange(count),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
        }
    )


def to_bars(frame: pd.DataFrame) -> Any:
    return bars_module.Bars.from_arrays(
        frame["time"], frame["open"], frame["high"], frame["low"], frame["close"], frame["volume"]
    )


def best_ms(action: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1_000.0)
    return min(timings)


def ours_smc_equivalent(bars: Any) -> tuple[list[Any], list[Any], list[Any]]:
    swings = signals_pkg.find_swings(bars, SWING_LENGTH)
    return swings, signals_pkg.find_fvgs(bars), signals_pkg.find_breaks(bars, swings)


def load_peer() -> ModuleType | None:
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints a banner on import
            module = importlib.import_module("smartmoneyconcepts")
    except ImportError as error:
        print(f"peer: smartmoneyconcepts is not available ({error}); measuring our side only")
        return None
    return module


def peer_run(smc: Any, frame: pd.DataFrame) -> pd.DataFrame:
    ohlc = frame[["open", "high", "low", "close", "volume"]]
    fvg = smc.fvg(ohlc)
    swings = smc.swing_highs_lows(ohlc, swing_length=SWING_LENGTH)
    smc.bos_choch(ohlc, swings)
    return fvg


def fvg_agreement(ours: list[Any], peer: pd.DataFrame) -> tuple[int, int]:
    """(peer gaps, gaps identical in both: same bar, direction, top, bottom and mitigation bar)."""
    rows = peer.dropna(subset=["FVG"])
    theirs = {
        (
            int(i),
            "bullish" if row.FVG > 0 else "bearish",
            float(row.Top),
            float(row.Bottom),
            int(row.MitigatedIndex) or None,  # the peer writes 0 for "not mitigated"
        )
        for i, row in zip(rows.index, rows.itertuples(), strict=True)
    }
    mine = {(g.index, g.direction.value, g.top, g.bottom, g.mitigated_index) for g in ours}
    return len(theirs), len(mine & theirs)


def seeded_tracker(history: list[Any]) -> tuple[Any, float]:
    tracker = signals_pkg.SignalTracker("BENCH", feeds_models.Timeframe.H1)
    started = time.perf_counter()
    tracker.seed(history)
    return tracker, time.perf_counter() - started


def tracker_costs(trackers: list[Any], new: list[Any], chunk: int = 100) -> list[float]:
    """Microseconds per closed candle for each tracker, fed the same new candles.

    The trackers take turns chunk by chunk, so a busy machine slows them alike; the median chunk is kept.
    """
    timings: list[list[float]] = [[] for _ in trackers]
    for begin in range(0, len(new), chunk):
        batch = new[begin : begin + chunk]
        for tracker, spent in zip(trackers, timings, strict=True):
            started = time.perf_counter()
            for candle in batch:
                tracker.on_candle_closed(candle)
            spent.append((time.perf_counter() - started) / len(batch) * 1e6)
    return [statistics.median(spent) for spent in timings]


def rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def main() -> None:
    smc_module = load_peer()
    smc = smc_module.smc if smc_module is not None else None
    figures: dict[str, object] = {}
    if smc is not None:
        peer_run(smc, random_walk(300, seed=1))  # warm-up (imports, caches)
    for label, count in (("10k", 10_000), ("100k", 100_000)):
        frame = random_walk(count)
        bars = to_bars(frame)
        ours_ms = best_ms(partial(ours_smc_equivalent, bars), repeat=3)
        full_ms = best_ms(partial(signals_pkg.analyze, bars, swing_length=SWING_LENGTH), repeat=3)
        swings, fvgs, breaks = ours_smc_equivalent(bars)
        print(
            f"{label}: ours {ours_ms:8.1f} ms for swings+FVG+BOS/CHOCH ({len(swings)} swings, {len(fvgs)} FVGs, "
            f"{len(breaks)} breaks); full analysis incl. indicators and consensus {full_ms:8.1f} ms"
        )
        peer_ms: float | None = None
        peer_count = agree = None
        if smc is not None:
            holder: dict[str, pd.DataFrame] = {}

            def run_peer(frame: pd.DataFrame = frame, holder: dict[str, pd.DataFrame] = holder) -> None:
                holder["fvg"] = peer_run(smc, frame)

            peer_ms = best_ms(run_peer, repeat=1 if count > 10_000 else 2)
            peer_count, agree = fvg_agreement(fvgs, holder["fvg"])
            print(
                f"{label}: peer {peer_ms:8.1f} ms for smc.fvg + smc.swing_highs_lows + smc.bos_choch; "
                f"speed-up {peer_ms / ours_ms:6.1f}x; FVGs: ours {len(fvgs)}, peer {peer_count}, identical {agree}"
            )
        figures[f"candles_{label}_ms"] = rounded(ours_ms)
        figures[f"analyze_{label}_ms"] = rounded(full_ms)
        figures[f"peer_{label}_ms"] = rounded(peer_ms)
        figures[f"speedup_{label}"] = rounded(peer_ms / ours_ms if peer_ms is not None else None)
        figures[f"fvg_ours_{label}"] = len(fvgs)
        figures[f"fvg_peer_{label}"] = peer_count
        figures[f"fvg_agree_{label}"] = agree
    figures["fvg_agree"] = figures["fvg_agree_100k"]

    walk = to_bars(random_walk(100_000 + TRACKER_NEW_CANDLES, seed=7)).candles()
    history, new = walk[:100_000], walk[100_000:]
    small, seed_1k = seeded_tracker(history[-1_000:])
    large, seed_100k = seeded_tracker(history)
    cost_1k, cost_100k = tracker_costs([small, large], new)
    print(
        f"tracker: {cost_1k:6.1f} us per closed candle after 1k candles of history, {cost_100k:6.1f} us after 100k "
        f"(growth {cost_100k / cost_1k:.2f}); seeding 100k candles took {seed_100k:.1f} s"
    )
    figures.update(
        tracker_us_per_candle_1k=rounded(cost_1k),
        tracker_us_per_candle_100k=rounded(cost_100k),
        growth=rounded(cost_100k / cost_1k, 3),
        tracker_seed_1k_s=rounded(seed_1k, 3),
        tracker_seed_100k_s=rounded(seed_100k, 3),
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
