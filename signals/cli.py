"""Batch command line: ``python -m signals analyze FILE.csv`` prints the whole-history analysis as one JSON object."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from feeds.models import InvalidInput, Timeframe
from signals.analysis import analyze
from signals.bars import Bars, IntArray, InvalidBars, validate_bars
from signals.swings import DEFAULT_SWING_LENGTH

REQUIRED_COLUMNS = ("time", "open", "high", "low", "close", "volume")
EXIT_BAD_INPUT = 2


class InputError(Exception):
    """A problem with the input file, reported on stderr with exit code 2."""


# Epoch seconds accepted: 1900-01-01 to 2200-01-01. Larger numbers are usually milliseconds, a common mix-up.
EARLIEST_SECONDS = -2_208_988_800
LATEST_SECONDS = 7_258_118_400


def _times(column: pd.Series) -> IntArray:
    """Unix seconds from epoch-second numbers or ISO-8601 strings (naive ones are taken as UTC)."""
    blank = column.isna() | (column.astype(str).str.strip() == "")
    if blank.any():
        raise InputError(f"missing time at row {int(np.flatnonzero(blank.to_numpy())[0])}")
    numeric = pd.to_numeric(column, errors="coerce")
    if not numeric.isna().any():
        values = numeric.to_numpy(dtype=np.float64)
        outside = ~((values >= EARLIEST_SECONDS) & (values < LATEST_SECONDS))
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            hint = " (epoch milliseconds? times must be in seconds)" if values[row] >= LATEST_SECONDS else ""
            raise InputError(f"time {column.iloc[row]} at row {row} is out of range{hint}")
        floored: IntArray = np.floor(values).astype(np.int64)
        return floored
    try:
        parsed = pd.to_datetime(column, utc=True, format="ISO8601")
    except (ValueError, TypeError) as error:
        raise InputError(f"column 'time' holds values that are neither epoch seconds nor ISO-8601: {error}") from None
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise InputError(f"missing time at row {row}")
    seconds = (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64)
    whole: IntArray = np.floor(seconds).astype(np.int64)
    return whole


def read_bars(path: Path) -> Bars:
    """Read and validate an OHLCV CSV (``time,open,high,low,close,volume``); raise InputError on any problem."""
    try:
        # index_col=False: a trailing comma on every row must not turn the first column into the index.
        frame = pd.read_csv(path, index_col=False)
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} is empty") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise InputError(f"cannot read {path}: {error}") from None
    frame.columns = [str(name).strip().lower() for name in frame.columns]
    missing = [name for name in REQUIRED_COLUMNS if name not in frame.columns]
    if missing:
        raise InputError(f"{path} lacks column(s) {', '.join(missing)}; expected {','.join(REQUIRED_COLUMNS)}")
    if frame.empty:
        raise InputError(f"{path} has a header but no candles")
    columns: dict[str, np.ndarray] = {}
    for name in REQUIRED_COLUMNS[1:]:
        values = pd.to_numeric(frame[name], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise InputError(f"missing or non-numeric {name} at row {row}")
        columns[name] = values.to_numpy(dtype=np.float64)
    bars = Bars.from_arrays(_times(frame["time"]), **columns)
    try:
        validate_bars(bars)
    except InvalidBars as error:
        raise InputError(f"{path}: {error}") from None
    return bars


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m signals", description="Tickstream signal engine, batch mode.")
    commands = parser.add_subparsers(dest="command", required=True)
    analyze_cmd = commands.add_parser("analyze", help="analyse an OHLCV CSV and print one JSON object")
    analyze_cmd.add_argument("file", type=Path, help="CSV with columns time,open,high,low,close,volume")
    analyze_cmd.add_argument("--swing-length", type=int, default=DEFAULT_SWING_LENGTH, help="swing length n (>= 1)")
    analyze_cmd.add_argument("--timeframe", default="1h", help="candle width: 1m 5m 15m 30m 1h 4h 1d (pivot periods)")
    analyze_cmd.add_argument("--min-gap", type=float, default=0.0, help="minimum FVG size as a fraction of price")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        timeframe = Timeframe.parse(args.timeframe)
    except InvalidInput as error:
        parser.error(error.message)
    if args.swing_length < 1:
        parser.error("--swing-length must be at least 1")
    if not args.min_gap >= 0.0:
        parser.error("--min-gap must be a fraction >= 0")
    try:
        bars = read_bars(args.file)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    result = analyze(bars, swing_length=args.swing_length, min_gap=args.min_gap, timeframe=timeframe).to_dict()
    sys.stdout.write(json.dumps(result, allow_nan=False) + "\n")
    return 0
