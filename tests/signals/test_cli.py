"""``python -m signals analyze``: good files (epoch and ISO times) and every kind of bad input, as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds.models import Timeframe
from signals.analysis import analyze
from signals.bars import Bars
from signals.indicators import INDICATOR_NAMES

ROOT = Path(__file__).resolve().parents[2]
WalkFactory = Callable[..., Bars]
HEADER = "time,open,high,low,close,volume\n"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signals", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def no_nan(text: str) -> object:
    def reject(constant: str) -> object:
        raise AssertionError(f"{constant} in JSON output")

    return json.loads(text, parse_constant=reject)


def write_csv(path: Path, bars: Bars, iso: bool = False) -> Path:
    lines = [HEADER.strip()]
    for candle in bars.candles():
        when = f"{datetime.fromtimestamp(candle.time, UTC):%Y-%m-%dT%H:%M:%SZ}" if iso else str(candle.time)
        # repr of a float round-trips exactly, so the subprocess sees the same numbers as analyze() here.
        lines.append(f"{when},{candle.open!r},{candle.high!r},{candle.low!r},{candle.close!r},{candle.volume!r}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("iso", [False, True], ids=["epoch-seconds", "iso-8601"])
def test_good_file(tmp_path: Path, walk: WalkFactory, iso: bool) -> None:
    bars = walk(400, seed=8)
    result = run("analyze", write_csv(tmp_path / "bars.csv", bars, iso), "--swing-length", "3", "--timeframe", "1h")
    assert result.returncode == 0, result.stderr
    out = no_nan(result.stdout)
    assert isinstance(out, dict)
    assert set(out) == {"pivot_points", "fvg_zones", "break_signals", "pivot_levels", "indicators", "consensus"}
    assert set(out["indicators"]) == set(INDICATOR_NAMES)
    expected = json.loads(json.dumps(analyze(bars, swing_length=3, timeframe=Timeframe.H1).to_dict()))
    assert out == expected
    assert out["pivot_points"] and out["fvg_zones"] and out["break_signals"] and out["pivot_levels"]
    assert out["consensus"]["action"] in {"BUY", "SELL", "HOLD"}
    assert out["consensus"]["agents_consensus"]["totalAgents"] >= 8
    # index is the 0-based row position.
    first = out["pivot_points"][0]
    assert first["time"] == int(bars.time[first["index"]])


def test_short_file_gives_nulls_not_nan(tmp_path: Path, walk: WalkFactory) -> None:
    result = run("analyze", write_csv(tmp_path / "short.csv", walk(5)), "--min-gap", "0.001")
    assert result.returncode == 0, result.stderr
    out = no_nan(result.stdout)
    assert isinstance(out, dict)
    assert out["indicators"]["rsi"] is None and out["indicators"]["obv"] is not None
    assert out["pivot_points"] == []


def test_columns_are_case_insensitive_and_in_any_order(tmp_path: Path) -> None:
    path = tmp_path / "upper.csv"
    path.write_text("Close,TIME,Open,High,Low,Volume\n10,1704067200,10,11,9,5\n11,1704070800,10,11.5,9.5,6\n")
    result = run("analyze", path)
    assert result.returncode == 0, result.stderr


def test_trailing_commas_on_rows_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "trailing.csv"
    path.write_text("time,open,high,low,close,volume\n1704067200,10,11,9,10.5,5,\n1704070800,10.5,12,10,11,6,\n")
    result = run("analyze", path)
    assert result.returncode == 0, result.stderr


BAD_FILES = {
    "empty": ("", "empty"),
    "header-only": (HEADER, "no candles"),
    "missing-columns": ("time,open,high,low,close\n1704067200,1,2,0.5,1.5\n", "volume"),
    "unsorted": (HEADER + "1704070800,1,2,0.5,1.5,1\n1704067200,1,2,0.5,1.5,1\n", "unsorted"),
    "duplicate": (HEADER + "1704067200,1,2,0.5,1.5,1\n1704067200,1,2,0.5,1.5,1\n", "duplicate"),
    "zero-price": (HEADER + "1704067200,1,2,0,1.5,1\n", "non-positive"),
    "negative-price": (HEADER + "1704067200,-1,2,0.5,1.5,1\n", "non-positive"),
    "text-price": (HEADER + "1704067200,abc,2,0.5,1.5,1\n", "non-numeric open"),
    "bad-time": (HEADER + "yesterday,1,2,0.5,1.5,1\n", "time"),
    "high-below-low": (HEADER + "1704067200,1,0.5,2,1.5,1\n", "inconsistent"),
    "blank-epoch-time": (HEADER + "1704067200,1,2,0.5,1.5,1\n,1,2,0.5,1.5,1\n", "missing time at row 1"),
    "epoch-milliseconds": (HEADER + "1704067200000,1,2,0.5,1.5,1\n", "milliseconds"),
    "epoch-overflow": (HEADER + "1e20,1,2,0.5,1.5,1\n1e21,1,2,0.5,1.5,1\n", "out of range"),
}


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_files_exit_2_with_a_message(tmp_path: Path, name: str) -> None:
    content, message = BAD_FILES[name]
    path = tmp_path / f"{name}.csv"
    path.write_text(content)
    result = run("analyze", path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file(tmp_path: Path) -> None:
    result = run("analyze", tmp_path / "nope.csv")
    assert result.returncode == 2 and "no such file" in result.stderr


def test_unreadable_file(tmp_path: Path) -> None:
    result = run("analyze", tmp_path)  # a directory
    assert result.returncode == 2 and "cannot read" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("analyze",),
        ("analyze", "x.csv", "--timeframe", "7m"),
        ("analyze", "x.csv", "--swing-length", "0"),
        ("frobnicate",),
    ],
)
def test_bad_arguments_exit_2(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 2 and result.stderr
