"""ReplaySource: replays OHLCV files (CSV or Parquet, one per symbol) on a replay clock running ``speed``× wall time.

Also home of two pure candle helpers every history-serving source uses: :func:`resample_candles` (wider,
epoch-aligned buckets) and :func:`select_window` (period / end / limit as the MarketSource protocol defines them).

Files: ``<dir>/<SYMBOL>.csv`` or ``.parquet`` (``AAPL.csv``, ``GC=F.csv``), columns ``time, open, high, low, close,
volume``; ``time`` is ISO-8601 (a time without offset is UTC) or Unix seconds, and is each candle's open time. A
file that cannot be used (see :func:`load_ohlcv`) is skipped at start with one log line naming it, the row and
the reason, and listed in ``health()``; the other files play. Rows sharing a time keep the last of them. All
files share one replay clock. It starts at ``start`` (Unix seconds; default the middle of the time span the files
have in common, or of the first file when they do not overlap) and runs ``speed`` times wall-clock time: at 60×,
one 1-minute candle per second.

Inside a candle the price walks open → first extreme → second extreme → close (low first for an up candle, high
first for a down candle), holding each of the four prices for a tenth of the candle and moving linearly in between.
The quote's day volume (since 00:00 UTC) grows linearly through each candle until the close is reached.

A feed sampling ``quote`` sees a candle's open, high, low, close and volume only if it samples each hold (at least
~10 times per candle); at ``--speed 60`` and a 1 s feed interval it would see one price per candle. So
:meth:`ReplaySource.path_quotes` gives the quotes in the middle of every hold the replay passed since the feed's
previous sample (four per candle: open, both extremes, close with the candle's whole volume). A feed that applies
them before each sampled quote (LiveFeed does) rebuilds the file's candles exactly, OHLC and volume, whatever its
interval and the speed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from feeds.models import (
    SECONDS_PER_DAY,
    Candle,
    OptionChain,
    Period,
    Quote,
    Timeframe,
    parse_symbol,
)
from feeds.source import SourceError, UnknownSymbol, UnsupportedRequest

log = logging.getLogger(__name__)

_COLUMNS = ("time", "open", "high", "low", "close", "volume")
_SUFFIXES = (".csv", ".parquet")
# Fractions of a candle at which the walk reaches open, first extreme, second extreme and close, and leaves them.
_HOLD = 0.1
_KNOTS = (0.0, _HOLD, 0.3, 0.3 + _HOLD, 0.6, 0.6 + _HOLD, 0.9, 1.0)
# The middle of each hold: the walk is flat there, so a quote taken there is exactly the waypoint's price.
_HOLD_MIDDLES = np.array([(_KNOTS[k] + _KNOTS[k + 1]) / 2 for k in (0, 2, 4, 6)])
# At most this many path quotes per call: a feed that stalled for long resumes without flooding its bus.
MAX_PATH_QUOTES = 2000


# ---------------------------------------------------------------------------------------------------------------
# Pure candle helpers


def resample_candles(candles: Iterable[Candle], width: int) -> list[Candle]:
    """Candles grouped into buckets of ``width`` seconds aligned to the Unix epoch (as Timeframe.bucket_start).

    Input must be oldest first; open of the first, max high, min low, close of the last, summed volume.
    """
    out: list[Candle] = []
    for c in candles:
        bucket = int(c.time // width) * width
        if out and out[-1].time == bucket:
            last = out[-1]
            out[-1] = Candle(bucket, last.open, max(last.high, c.high), min(last.low, c.low), c.close,
                             last.volume + c.volume)
        else:
            out.append(Candle(bucket, c.open, c.high, c.low, c.close, c.volume))
    return out


def select_window(
    candles: Sequence[Candle],
    period: Period,
    timeframe: Timeframe,
    now: float,
    end: float | None = None,
    limit: int | None = None,
) -> list[Candle]:
    """The MarketSource.history window: candles whose open time lies in ``period`` before ``end`` (default
    ``now``; the bucket holding that instant counts), only those opening strictly before ``end`` when it is given,
    and only the newest ``limit``."""
    reference = now if end is None else end
    lower = None if period.seconds is None else timeframe.bucket_start(reference - period.seconds)
    chosen = [
        c for c in candles
        if (lower is None or c.time >= lower) and (end is None or c.time < end)
    ]
    if limit is not None:
        chosen = chosen[-limit:] if limit > 0 else []
    return chosen


# ---------------------------------------------------------------------------------------------------------------
# The walk inside a candle


def _waypoints(o: float, h: float, lo: float, c: float) -> tuple[float, ...]:
    first, second = (lo, h) if c >= o else (h, lo)
    return (o, o, first, first, second, second, c, c)


def path_price(o: float, h: float, lo: float, c: float, fraction: float) -> float:
    """Price at ``fraction`` (0 ≤ f < 1) of the way through a candle (see module docstring)."""
    return float(np.interp(min(max(fraction, 0.0), 1.0), _KNOTS, _waypoints(o, h, lo, c)))


def partial_candle(candle: Candle, fraction: float) -> Candle:
    """The candle as seen ``fraction`` of the way through it: the walk so far and the volume traded so far."""
    points = _waypoints(candle.open, candle.high, candle.low, candle.close)
    f = min(max(fraction, 0.0), 1.0)
    seen = [p for k, p in zip(_KNOTS, points, strict=True) if k <= f]
    current = path_price(candle.open, candle.high, candle.low, candle.close, f)
    seen.append(current)
    # Volume is all traded by the time the close is reached, so a sample on the close plateau sees all of it.
    return Candle(candle.time, candle.open, max(seen), min(seen), current, candle.volume * min(f / _KNOTS[-2], 1.0))


# ---------------------------------------------------------------------------------------------------------------
# Files


@dataclass(frozen=True, slots=True)
class _Series:
    """One symbol's file, as arrays (times ascending) plus its candle width in seconds."""

    times: np.ndarray
    opens: np.ndarray
    highs: np.ndarray
    lows: np.ndarray
    closes: np.ndarray
    volumes: np.ndarray
    width: int

    @property
    def first(self) -> float:
        return float(self.times[0])

    @property
    def end(self) -> float:
        return float(self.times[-1]) + self.width

    def candle(self, i: int) -> Candle:
        return Candle(int(self.times[i]), float(self.opens[i]), float(self.highs[i]), float(self.lows[i]),
                      float(self.closes[i]), float(self.volumes[i]))


class ReplayFileError(SourceError):
    """A replay file that cannot be used: ``file`` (its name), ``row`` (1-based data row, the header not counted;
    None when the problem is not one row's) and ``reason``."""

    def __init__(self, file: str, reason: str, row: int | None = None) -> None:
        where = f" row {row}" if row is not None else ""
        super().__init__(f"replay: {file}{where}: {reason}")
        self.file = file
        self.row = row
        self.reason = reason

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "reason": self.reason}


def _first_bad_row(bad: np.ndarray, rows: np.ndarray) -> int | None:
    hits = np.flatnonzero(bad)
    return int(rows[hits[0]]) if hits.size else None


def _parse_times(column: pd.Series) -> np.ndarray:
    """Unix seconds (NaN where a value is not a time)."""
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(dtype="float64")
    # Text: Unix seconds where a value is a number, ISO-8601 elsewhere.
    seconds = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", copy=True)
    texts = np.isnan(seconds)
    if texts.any():
        stamps = pd.to_datetime(column[texts].astype(str), utc=True, format="ISO8601", errors="coerce")
        seconds[texts] = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype="float64")
    return seconds


def load_ohlcv(path: Path) -> _Series:
    """Read and check one file; :class:`ReplayFileError` naming the file, the row and the reason when it cannot be
    used (unreadable, a column missing, a time or price that is not one, prices that are not finite and positive,
    or a high below the open, close or low). Rows sharing a time are not an error: the last of them in the file
    is kept (a later row corrects an earlier one), and one log line says so."""
    name = path.name
    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError, ImportError) as exc:
        raise ReplayFileError(name, f"cannot read it: {exc}") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in _COLUMNS if c not in frame.columns]
    if missing:
        raise ReplayFileError(name, f"lacks column(s) {', '.join(missing)}")
    rows = np.arange(1, len(frame) + 1)
    # Rows without a time or a price are gaps in the file, left out as before; a value that is not one is an error.
    present = frame[["time", "open", "high", "low", "close"]].notna().all(axis=1).to_numpy()
    frame, rows = frame[present], rows[present]
    if frame.empty:
        raise ReplayFileError(name, "has no candles")
    try:
        times = _parse_times(frame["time"])
    except (ValueError, TypeError) as exc:
        raise ReplayFileError(name, f"unreadable time column: {exc}") from exc
    bad_time = _first_bad_row(~np.isfinite(times), rows)
    if bad_time is not None:
        value = frame["time"].to_numpy()[np.flatnonzero(rows == bad_time)[0]]
        raise ReplayFileError(name, f"time {str(value)[:40]!r} is not a time", bad_time)
    values: dict[str, np.ndarray] = {}
    for column in ("open", "high", "low", "close", "volume"):
        raw = frame[column]
        parsed = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64")
        unparsed = _first_bad_row(np.isnan(parsed) & raw.notna().to_numpy(), rows)
        if unparsed is not None:
            value = raw.to_numpy()[np.flatnonzero(rows == unparsed)[0]]
            raise ReplayFileError(name, f"{column} {str(value)[:40]!r} is not a number", unparsed)
        values[column] = parsed
    o, h, lo, c = values["open"], values["high"], values["low"], values["close"]
    volume = np.nan_to_num(values["volume"])
    with np.errstate(invalid="ignore"):
        checks = (
            (~(np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)), "a price is not finite"),
            ((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0), "a price is not positive"),
            ((h < lo) | (h < o) | (h < c) | (lo > o) | (lo > c), "high/low do not contain open and close"),
            (~np.isfinite(volume) | (volume < 0), "volume is negative or not finite"),
        )
    for bad, reason in checks:
        row = _first_bad_row(bad, rows)
        if row is not None:
            raise ReplayFileError(name, reason, row)
    order = np.argsort(times, kind="stable")
    times, rows = times[order], rows[order]
    # Sorted stably, the last of rows sharing a time is the last in the file: keep it.
    keep = np.append(times[1:] != times[:-1], True)
    if not keep.all():
        log.warning("replay: %s: %d row(s) share a time with a later row (first: row %d); kept the last row for "
                    "each time", name, int((~keep).sum()), int(rows[~keep].min()))
    order, times = order[keep], times[keep]
    # The typical spacing is the candle width; gaps (nights, weekends) are longer and do not change it.
    width = round(float(np.median(np.diff(times)))) if len(times) > 1 else 60
    return _Series(times=times, opens=o[order], highs=h[order], lows=lo[order], closes=c[order],
                   volumes=volume[order], width=max(width, 1))


class ReplaySource:
    """MarketSource that replays files from ``directory`` (see module docstring). Thread-safe."""

    name = "replay"

    def __init__(
        self,
        directory: str | Path,
        speed: float = 60.0,
        start: float | None = None,
        clock: Callable[[], float] = time.time,
        symbols: Iterable[str] | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.directory = Path(directory)
        self.speed = speed
        self._wall_clock = clock
        self._lock = threading.Lock()
        self._files = self._find_files(symbols)
        if not self._files:
            raise ValueError(f"replay: no .csv or .parquet files in {self.directory}")
        self._series: dict[str, _Series] = {}
        # Files that cannot be used are left out at start (one log line each) so that the good ones still play.
        self._skipped: dict[str, ReplayFileError] = {}
        for symbol, path in list(self._files.items()):
            try:
                self._series[symbol] = load_ohlcv(path)
            except ReplayFileError as exc:
                log.warning("%s; file skipped, the other files play", exc)
                self._skipped[symbol] = exc
                del self._files[symbol]
        if not self._files:
            raise ValueError(f"replay: no usable file in {self.directory}: "
                             + "; ".join(str(e) for e in self._skipped.values()))
        self._quotes_served = 0
        self._replay_start = self._default_start() if start is None else float(start)
        self._wall_start = clock()

    def _find_files(self, symbols: Iterable[str] | None) -> dict[str, Path]:
        if not self.directory.is_dir():
            raise ValueError(f"replay: {self.directory} is not a directory")
        found: dict[str, Path] = {}
        for path in sorted(self.directory.iterdir()):
            if path.suffix.lower() in _SUFFIXES and path.is_file():
                found.setdefault(path.stem.upper(), path)
        if symbols is not None:
            wanted = {parse_symbol(s) for s in symbols}
            found = {s: p for s, p in found.items() if s in wanted}
        return found

    def _load(self, symbol: str) -> _Series:
        with self._lock:
            series = self._series.get(symbol)
        if series is not None:
            return series
        path = self._files.get(symbol)
        if path is None:
            if symbol in self._skipped:
                # Not the file's name nor the reason again: the one line at start-up and /health say it.
                raise UnknownSymbol(f"replay: the file for {symbol} was skipped at start (see /health)")
            raise UnknownSymbol(f"replay: no file for {symbol} in {self.directory}")
        series = load_ohlcv(path)
        with self._lock:
            self._series[symbol] = series
        return series

    def _default_start(self) -> float:
        spans = [(s.first, s.end) for s in (self._load(sym) for sym in self._files)]
        lo = max(a for a, _ in spans)
        hi = min(b for _, b in spans)
        if lo >= hi:
            lo, hi = spans[0]
        return lo + (hi - lo) / 2

    # -- replay clock ------------------------------------------------------------------------------------------

    def clock(self) -> float:
        """The replay instant (Unix seconds): start + speed × wall time elapsed since the replay (re)started."""
        return self._replay_start + (self._wall_clock() - self._wall_start) * self.speed

    def seek(self, replay_time: float) -> None:
        """Restart the replay clock at ``replay_time``."""
        self._replay_start = float(replay_time)
        self._wall_start = self._wall_clock()

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._files)

    # -- MarketSource ------------------------------------------------------------------------------------------

    def _locate(self, series: _Series, t: float, symbol: str) -> tuple[int, float]:
        """Index of the candle holding instant t and how far through it t is (1.0 inside a gap after it)."""
        if t >= series.end:
            raise SourceError(f"replay finished: {symbol} has no data after {_iso(series.end)}")
        if t < series.first:
            raise SourceError(f"replay: {symbol} starts at {_iso(series.first)}, the replay is at {_iso(t)}")
        i = int(np.searchsorted(series.times, t, side="right")) - 1
        fraction = (t - float(series.times[i])) / series.width
        return i, min(fraction, 1.0)

    def quote(self, symbol: str) -> Quote:
        symbol = parse_symbol(symbol)
        quote = self._quote_at(symbol, self._load(symbol), self.clock())
        with self._lock:
            self._quotes_served += 1
        return quote

    def path_quotes(self, symbol: str, after: float, until: float, limit: int = MAX_PATH_QUOTES) -> list[Quote]:
        """Quotes at the middle of every hold of the walk (open, first extreme, second extreme, close) strictly
        between replay instants ``after`` and ``until``, oldest first; only the newest ``limit`` of them.

        Applied in order before the quote sampled at ``until``, they make the feed's candles the file's candles
        (see module docstring). Nothing before the file's first candle or after its end.
        """
        symbol = parse_symbol(symbol)
        series = self._load(symbol)
        if until <= after or limit <= 0:
            return []
        # Candles that overlap (after, until): from the one holding ``after`` to the last opening before ``until``.
        first = max(int(np.searchsorted(series.times, after, side="right")) - 1, 0)
        last = int(np.searchsorted(series.times, until, side="left"))
        instants = (series.times[first:last, None] + _HOLD_MIDDLES[None, :] * series.width).ravel()
        instants = instants[(instants > after) & (instants < until)][-limit:]
        return [self._quote_at(symbol, series, float(t)) for t in instants]

    def _quote_at(self, symbol: str, series: _Series, t: float) -> Quote:
        i, fraction = self._locate(series, t, symbol)
        current = partial_candle(series.candle(i), fraction)
        day_start = math.floor(t / SECONDS_PER_DAY) * SECONDS_PER_DAY
        first_today = int(np.searchsorted(series.times, day_start, side="left"))
        day_volume = float(series.volumes[first_today:i].sum()) + current.volume if first_today <= i else 0.0
        previous_close = float(series.closes[first_today - 1]) if first_today > 0 else None
        return Quote(
            symbol=symbol,
            price=current.close,
            # The files have no order book; inventing a spread would be fake data.
            bid=None,
            ask=None,
            volume=day_volume,
            previous_close=previous_close,
            timestamp=t,
            source=self.name,
        )

    def history(
        self,
        symbol: str,
        period: Period,
        timeframe: Timeframe,
        end: float | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        """Candles up to the replay instant only (the forming one partial), resampled to ``timeframe``."""
        symbol = parse_symbol(symbol)
        series = self._load(symbol)
        if timeframe.seconds < series.width or timeframe.seconds % series.width:
            raise UnsupportedRequest(
                f"replay file for {symbol} has {series.width} s candles; cannot serve {timeframe.value} candles"
            )
        now = self.clock()
        if now >= series.end:
            raise SourceError(f"replay finished: {symbol} has no data after {_iso(series.end)}")
        # Never show the future: a later ``end`` is cut at the replay instant.
        visible_end = now if end is None else min(end, now)
        lower = -math.inf if period.seconds is None else timeframe.bucket_start(visible_end - period.seconds)
        first = int(np.searchsorted(series.times, lower, side="left"))
        last = int(np.searchsorted(series.times, visible_end, side="right"))  # candles opened by visible_end
        base = [series.candle(i) for i in range(first, last)]
        if base:
            fraction = (visible_end - base[-1].time) / series.width
            if fraction < 1.0:
                base[-1] = partial_candle(base[-1], fraction)
        candles = resample_candles(base, timeframe.seconds)
        return select_window(candles, period, timeframe, now, None if end is None else visible_end, limit)

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        raise UnsupportedRequest("the replay source has OHLCV files only, no option chains")

    def health(self) -> dict[str, Any]:
        now = self.clock()
        with self._lock:
            loaded = dict(self._series)
            served = self._quotes_served
        finished = [s for s, series in loaded.items() if now >= series.end]
        return {
            "name": self.name,
            "state": "finished" if loaded and len(finished) == len(loaded) else "ok",
            "replay_time": _iso(now),
            "speed": self.speed,
            "symbols": list(self._files),
            "finished": finished,
            "quotes_served": served,
            "skipped_files": [e.as_dict() for e in self._skipped.values()],
        }


def _iso(t: float) -> str:
    return pd.Timestamp(t, unit="s", tz="UTC").isoformat()
