"""The chart's browser modules (assets/chart_*.js): their Node test suite, and the JavaScript indicators against the
engine's (signals/indicators.py) on the simulated market."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from feeds.models import Period, Timeframe
from feeds.simulated import SimulatedSource
from signals import indicators

ROOT = Path(__file__).resolve().parents[2]
JS_TESTS = ROOT / "tests" / "js"
NODE = shutil.which("node")
NOW = 1_763_700_000.0 + 37.25

pytestmark = pytest.mark.skipif(NODE is None, reason="the chart's JavaScript tests need Node (20 or later)")


def run_node(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run([NODE, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def test_node_suite_passes() -> None:
    """`node --test tests/js/`: every test passes, and there are tests (a suite that found none passes too)."""
    result = run_node("--test", str(JS_TESTS))
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    counts = {name: int(value) for name, value in re.findall(r"^# (tests|pass|fail|cancelled) (\d+)$", report, re.M)}
    assert counts.get("fail") == 0 and counts.get("cancelled") == 0, report
    assert counts.get("tests", 0) >= 30 and counts.get("pass") == counts.get("tests"), report


def closes_of(symbol: str, timeframe: Timeframe, period: str) -> list[float]:
    source = SimulatedSource(seed=7, clock=lambda: NOW)
    return [candle.close for candle in source.history(symbol, Period.parse(period), timeframe)]


# Three instruments of very different price levels and precisions, over 600+ candles each.
HISTORIES = {
    "AAPL": ("5d", Timeframe.M5),
    "BTC-USD": ("1d", Timeframe.M1),
    "EURUSD=X": ("3d", Timeframe.M5),
}


@pytest.fixture(scope="module")
def computed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, list[float]], dict[str, Any]]:
    closes = {symbol: closes_of(symbol, timeframe, period) for symbol, (period, timeframe) in HISTORIES.items()}
    assert all(len(values) >= 600 for values in closes.values()), {s: len(v) for s, v in closes.items()}
    path = tmp_path_factory.mktemp("chart_js") / "closes.json"
    path.write_text(json.dumps(closes))
    result = run_node(str(JS_TESTS / "indicator_values.js"), str(path))
    assert result.returncode == 0, result.stderr
    return closes, json.loads(result.stdout)


def engine_series(close: np.ndarray) -> dict[str, np.ndarray]:
    line, signal, hist = indicators.macd(close)
    upper, middle, lower = indicators.bollinger(close)
    return {
        "emaFast": indicators.ema(close, indicators.EMA_FAST),
        "emaSlow": indicators.ema(close, indicators.EMA_SLOW),
        "bbUpper": upper,
        "bbMiddle": middle,
        "bbLower": lower,
        "rsi": indicators.rsi(close),
        "macdLine": line,
        "macdSignal": signal,
        "macdHist": hist,
        "sma": indicators.sma(close, indicators.SMA_PERIOD),
    }


# MACD values are differences of two EMAs of the price: the engine's blocked recurrence and the browser's loop
# agree to ~1e-15 of the EMAs, so a MACD near zero can differ by more than 1e-9 of itself. Those three are
# compared within 1e-9 of the price they are differences of; everything else within 1e-9 of itself.
DIFFERENCES = {"macdLine", "macdSignal", "macdHist"}


def mismatches(name: str, expected: np.ndarray, got: list[float | None], close: np.ndarray) -> list[str]:
    assert len(got) == len(expected), f"{name}: {len(got)} values for {len(expected)} candles"
    bad = []
    for i, (want, have) in enumerate(zip(expected.tolist(), got, strict=True)):
        if math.isnan(want) or have is None:
            if not (math.isnan(want) and have is None):
                bad.append(f"{name}[{i}]: engine {want}, chart {have}")
            continue
        tolerance = 1e-9 * abs(close[i]) if name in DIFFERENCES else 0.0
        if not math.isclose(want, have, rel_tol=1e-9, abs_tol=tolerance):
            bad.append(f"{name}[{i}]: engine {want}, chart {have}")
    return bad


@pytest.mark.parametrize("symbol", list(HISTORIES))
@pytest.mark.parametrize("path", ["whole", "book"])
def test_chart_indicators_equal_the_engine(computed: tuple[dict[str, list[float]], dict[str, Any]], symbol: str,
                                           path: str) -> None:
    closes, values = computed
    close = np.asarray(closes[symbol], dtype=np.float64)
    chart = values[symbol][path]
    expected = engine_series(close)
    names = [name for name in expected if name in chart]
    assert set(names) >= {"emaFast", "emaSlow", "bbUpper", "bbMiddle", "bbLower", "rsi", "macdLine", "macdSignal",
                          "macdHist"}
    bad = [line for name in names for line in mismatches(name, expected[name], chart[name], close)]
    assert not bad, f"{len(bad)} differences, first: " + "; ".join(bad[:5])
    # The warm-ups end where TA-Lib's do (a shifted seed would still agree on many later values).
    first = {name: next(i for i, v in enumerate(chart[name]) if v is not None) for name in names}
    assert (first["emaFast"], first["emaSlow"], first["bbMiddle"], first["rsi"], first["macdLine"]) == (19, 49, 19,
                                                                                                         14, 33)


def test_the_comparison_catches_a_wrong_seed() -> None:
    """A plain EMA seeded with the first value (not TA-Lib's mean) differs from the engine beyond the tolerance."""
    close = np.asarray(closes_of("AAPL", Timeframe.M5, "1d"), dtype=np.float64)
    k = 2 / 21
    naive: list[float | None] = []
    value = float(close[0])
    for i, c in enumerate(close.tolist()):
        value = value if i == 0 else (1 - k) * value + k * c
        naive.append(value if i >= 19 else None)
    assert mismatches("emaFast", indicators.ema(close, 20), naive, close)
