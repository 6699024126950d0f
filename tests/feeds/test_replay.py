"""ReplaySource: replay clock, the walk inside candles reproducing the file, history before the replay instant."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest

from feeds.bus import InProcessBus
from feeds.candles import CandleEvent
from feeds.factory import build_source
from feeds.live import LiveFeed
from feeds.market import MarketService
from feeds.models import Candle, Period, Timeframe
from feeds.replay import ReplaySource, path_price, resample_candles, select_window
from feeds.source import MarketSource, SourceError, UnknownSymbol, UnsupportedRequest
from settings import load_settings

DATA = Path(__file__).resolve().parent.parent / "data" / "replay"
MIDNIGHT = pd.Timestamp("2024-01-12", tz="UTC").timestamp()


class WallClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def file_candles(name: str) -> list[Candle]:
    frame = pd.read_csv(DATA / name)
    times = frame["time"]
    if not pd.api.types.is_numeric_dtype(times):
        times = (pd.to_datetime(times, utc=True) - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return [
        Candle(int(t), float(r.open), float(r.high), float(r.low), float(r.close), float(r.volume))
        for t, r in zip(times, frame.itertuples(), strict=True)
    ]


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


@pytest.fixture
def replay(wall: WallClock) -> ReplaySource:
    return ReplaySource(DATA, speed=60.0, clock=wall)


def test_follows_the_protocol(replay: ReplaySource) -> None:
    assert isinstance(replay, MarketSource)
    assert set(replay.symbols) == {"AAPL", "GC=F"}


def test_clock_starts_mid_common_span_and_runs_at_speed(replay: ReplaySource, wall: WallClock) -> None:
    # AAPL covers 22:30-01:30 UTC, GC=F 22:00-02:00: the common span's middle is midnight.
    assert replay.clock() == MIDNIGHT
    wall.now += 2.5
    assert replay.clock() == MIDNIGHT + 150
    replay.seek(MIDNIGHT - 600)
    assert replay.clock() == MIDNIGHT - 600


def test_quote_at_candle_start_is_the_open(replay: ReplaySource) -> None:
    candles = {c.time: c for c in file_candles("AAPL.csv")}
    q = replay.quote("aapl")
    assert q.symbol == "AAPL" and q.source == "replay" and q.timestamp == MIDNIGHT
    assert q.price == candles[int(MIDNIGHT)].open
    assert q.bid is None and q.ask is None
    assert q.volume == 0.0  # a new UTC day has just begun
    assert q.previous_close == candles[int(MIDNIGHT) - 60].close


def test_quotes_rebuild_the_files_candles(wall: WallClock) -> None:
    start = MIDNIGHT - 20 * 60
    replay = ReplaySource(DATA, speed=60.0, start=start, clock=wall)
    wall0 = wall.now
    built: dict[int, list[float]] = {}
    volumes: dict[int, float] = {}
    previous_volume: float | None = None
    for k in range(40 * 20):  # 40 one-minute candles, 20 samples each, across midnight
        wall.now = wall0 + k * 0.05
        q = replay.quote("AAPL")
        bucket = int(q.timestamp // 60 * 60)
        built.setdefault(bucket, []).append(q.price)
        # The feed thread's rule: volume since the previous quote, and a drop means a new UTC day.
        traded = 0.0 if previous_volume is None else q.volume - previous_volume
        if traded < 0:
            traded = q.volume
        volumes[bucket] = volumes.get(bucket, 0.0) + traded
        previous_volume = q.volume
    expected = {c.time: c for c in file_candles("AAPL.csv")}
    for bucket, prices in built.items():
        c = expected[bucket]
        assert (prices[0], max(prices), min(prices), prices[-1]) == (c.open, c.high, c.low, c.close), bucket
        if bucket != int(start):  # the first quote has nothing to subtract from
            assert volumes[bucket] == pytest.approx(c.volume)


def test_path_stays_inside_the_candle() -> None:
    for f in [i / 97 for i in range(97)]:
        assert 99.0 <= path_price(100.0, 101.0, 99.0, 100.5, f) <= 101.0
    # Up candle: low first; down candle: high first.
    assert path_price(100.0, 101.0, 99.0, 100.5, 0.35) == 99.0
    assert path_price(100.0, 101.0, 99.0, 99.5, 0.35) == 101.0


def test_history_only_before_the_replay_instant(replay: ReplaySource, wall: WallClock) -> None:
    wall.now += 0.5  # 30 s into the 00:00 candle
    now = replay.clock()
    candles = replay.history("AAPL", Period.parse("1d"), Timeframe.M1)
    rows = [c for c in file_candles("AAPL.csv") if c.time <= now]
    assert [c.time for c in candles] == [c.time for c in rows]
    assert candles[:-1] == rows[:-1]
    forming, full = candles[-1], rows[-1]
    assert forming.open == full.open and forming.close == pytest.approx(path_price(
        full.open, full.high, full.low, full.close, 0.5))
    assert full.low <= forming.low <= forming.high <= full.high and forming.volume < full.volume


def test_history_resampled_and_windowed(replay: ReplaySource, wall: WallClock) -> None:
    wall.now += 30  # 00:30
    candles = replay.history("AAPL", Period.parse("1d"), Timeframe.M5, end=MIDNIGHT + 600, limit=4)
    rows = [c for c in file_candles("AAPL.csv") if c.time < MIDNIGHT + 600]
    expected = resample_candles(rows, 300)[-4:]
    assert candles == expected and candles[-1].time == MIDNIGHT + 300
    assert all(c.time % 300 == 0 for c in candles)


def test_finer_timeframe_than_the_file_is_unsupported(replay: ReplaySource) -> None:
    with pytest.raises(UnsupportedRequest, match="300 s candles"):
        replay.history("GC=F", Period.parse("1d"), Timeframe.M1)
    assert replay.history("GC=F", Period.parse("1d"), Timeframe.M15)[-1].time == MIDNIGHT


def test_epoch_seconds_file(replay: ReplaySource) -> None:
    candles = {c.time: c for c in file_candles("GC=F.csv")}
    assert replay.quote("GC=F").price == candles[int(MIDNIGHT)].open


def test_replay_finishes(replay: ReplaySource, wall: WallClock) -> None:
    wall.now += 90  # 01:30, the end of AAPL's file
    with pytest.raises(SourceError, match="replay finished"):
        replay.quote("AAPL")
    assert replay.quote("GC=F").price > 0  # GC=F runs to 02:00
    wall.now += 30
    with pytest.raises(SourceError, match="replay finished"):
        replay.history("GC=F", Period.parse("1d"), Timeframe.M5)


def test_unknown_symbol_and_options(replay: ReplaySource) -> None:
    with pytest.raises(UnknownSymbol):
        replay.quote("MSFT")
    with pytest.raises(UnsupportedRequest):
        replay.options_chain("AAPL")


def test_parquet_file(tmp_path: Path, wall: WallClock) -> None:
    pytest.importorskip("pyarrow")
    frame = pd.read_csv(DATA / "AAPL.csv")
    frame.to_parquet(tmp_path / "AAPL.parquet")
    source = ReplaySource(tmp_path, speed=60.0, start=MIDNIGHT, clock=wall)
    assert source.quote("AAPL").price == file_candles("AAPL.csv")[90].open


def test_given_start_and_symbols_filter(tmp_path: Path, wall: WallClock) -> None:
    shutil.copy(DATA / "GC=F.csv", tmp_path / "GC=F.csv")
    source = ReplaySource(tmp_path, start=MIDNIGHT - 3600, clock=wall, symbols=["gc=f"])
    assert source.symbols == ("GC=F",) and source.clock() == MIDNIGHT - 3600
    assert source.health()["replay_time"].startswith("2024-01-11T23:00")


def test_select_window_rules() -> None:
    candles = [Candle(t, 1, 1, 1, 1, 1) for t in range(0, 86_400 * 3, 3600)]
    day = Period.parse("1d")
    # The window starts in the hour bucket that holds now - 1 day.
    assert select_window(candles, day, Timeframe.H1, now=86_400 * 3 - 1)[0].time == 86_400 * 2 - 3600
    assert select_window(candles, day, Timeframe.H1, now=86_400 * 3)[0].time == 86_400 * 2
    assert select_window(candles, day, Timeframe.H1, now=0, end=86_400)[-1].time == 86_400 - 3600
    assert len(select_window(candles, Period.parse("max"), Timeframe.H1, now=10**9, limit=5)) == 5


def test_path_quotes_are_the_waypoints_between_two_samples(replay: ReplaySource) -> None:
    candle = {c.time: c for c in file_candles("AAPL.csv")}[int(MIDNIGHT)]
    # From just after the open to the next candle's start: both extremes and the close, in the walk's order.
    points = replay.path_quotes("AAPL", MIDNIGHT + 5, MIDNIGHT + 60)
    assert [q.timestamp for q in points] == [MIDNIGHT + 21, MIDNIGHT + 39, MIDNIGHT + 57]
    up = candle.close >= candle.open
    assert [q.price for q in points] == [candle.low if up else candle.high, candle.high if up else candle.low,
                                         candle.close]
    assert points[-1].volume == candle.volume  # the day began at this candle; all of its volume is traded
    assert all(q.source == "replay" and not q.stale for q in points)
    # Four per candle, strictly between the two instants, and only the newest ``limit``.
    assert len(replay.path_quotes("AAPL", MIDNIGHT - 600, MIDNIGHT)) == 40
    assert [q.timestamp for q in replay.path_quotes("AAPL", MIDNIGHT - 600, MIDNIGHT, limit=2)] == [
        MIDNIGHT - 21, MIDNIGHT - 3]
    assert replay.path_quotes("AAPL", MIDNIGHT, MIDNIGHT) == []
    # Nothing outside the file: AAPL's ends at 01:30.
    assert replay.path_quotes("AAPL", MIDNIGHT + 5340, MIDNIGHT + 9000)[-1].timestamp == MIDNIGHT + 5397


def test_replay_interval_follows_the_speed(tmp_path: Path) -> None:
    def interval(**overrides: str) -> float:
        return load_settings({}, feed="replay", replay_dir=str(DATA), data_dir=str(tmp_path),
                             **overrides).update_interval

    assert interval() == pytest.approx(0.1)  # --speed 60: ten samples per 1-minute candle
    assert interval(replay_speed="600") == 0.05 and interval(replay_speed="1") == 1.0
    assert interval(replay_speed="600", update_interval="2") == 2.0  # an interval given is kept
    assert load_settings({}, data_dir=str(tmp_path)).update_interval == 1.0  # live feeds keep 1 s


@pytest.mark.parametrize(
    ("interval", "speed"),
    [
        (1.0, "60"),  # the documented speed at the plain default interval: one sample per replayed minute
        (None, "60"),  # the interval settings choose for the speed
        (1.0, "600"),  # ten replayed minutes per sample
        (0.37, "7"),  # a sampling that falls anywhere in the candles
    ],
)
def test_live_replayed_candles_are_the_files_candles(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                     interval: float | None, speed: str) -> None:
    caplog.set_level(logging.ERROR)  # the files end during the run; the failover logs it on every poll
    overrides = {} if interval is None else {"update_interval": str(interval)}
    settings = load_settings({}, feed="replay", replay_dir=str(DATA), replay_speed=speed, data_dir=str(tmp_path),
                             symbols="AAPL,GC=F", **overrides)
    wall = [1_000_000.0]
    source, clock = build_source(settings, wall_clock=lambda: wall[0])
    bus = InProcessBus()
    closed: dict[tuple[str, Timeframe], list[Candle]] = {}

    def on_candle(topic: str, event: object) -> None:
        if isinstance(event, CandleEvent) and event.closed:
            closed.setdefault((event.symbol, event.timeframe), []).append(event.candle)

    bus.subscribe(on_candle, prefix="candles.")
    feed = LiveFeed(source, bus, settings.symbols, interval=settings.update_interval, clock=clock)
    start = clock()
    # The feed thread's loop, on the injected clock: one iteration per interval, 60 replayed minutes.
    while clock() < start + 3600:
        feed.run_once()
        wall[0] += settings.update_interval

    aapl_minutes = closed[("AAPL", Timeframe.M1)]
    assert len(aapl_minutes) >= 45
    expected = {c.time: c for c in file_candles("AAPL.csv")}
    assert aapl_minutes == [expected[c.time] for c in aapl_minutes]
    # REST history (what a chart loads first) agrees with what the stream built.
    rest = MarketService(source, feed).history("AAPL", Period.parse("1d"), Timeframe.M1)
    assert [c for c in rest if c.time in {m.time for m in aapl_minutes}] == aapl_minutes
    gold = {c.time: c for c in file_candles("GC=F.csv")}
    gold_candles = closed[("GC=F", Timeframe.M5)]
    assert len(gold_candles) >= 10 and gold_candles == [gold[c.time] for c in gold_candles]
    assert closed[("AAPL", Timeframe.M15)] == [
        c for c in resample_candles(file_candles("AAPL.csv"), 900) if c.time in
        {x.time for x in closed[("AAPL", Timeframe.M15)]}]


# -- bad files are skipped, rows sharing a time keep the last ----------------------------------------------------

HEADER = "time,open,high,low,close,volume\n"


def _write(folder: Path, name: str, rows: list[str]) -> None:
    (folder / name).write_text(HEADER + "".join(f"{r}\n" for r in rows))


@pytest.mark.parametrize(
    ("rows", "row", "reason"),
    [
        (["1704067200,1,2,0.5,1.5,1", "1704067260,1,2,0.5,1.5,1", "1704067320,abc,2,0.5,1.5,1"], 3,
         "open 'abc' is not a number"),
        (["1704067200,1,2,0.5,1.5,1", "yesterday,1,2,0.5,1.5,1"], 2, "'yesterday' is not a time"),
        (["2024-01-01T00:00:00Z,1,2,0.5,1.5,1", "not a time,1,2,0.5,1.5,1"], 2, "'not a time' is not a time"),
        (["1704067200,1,2,0.5,1.5,1", "1704067260,1,0.5,2,1.5,1"], 2, "high/low do not contain open and close"),
        (["1704067200,1,2,0.5,1.5,1", "1704067260,-1,2,0.5,1.5,1"], 2, "not positive"),
        (["1704067200,1,2,0.5,1.5,1", "1704067260,1,inf,0.5,1.5,1"], 2, "not finite"),
        (["1704067200,1,2,0.5,1.5,-5"], 1, "volume is negative"),
    ],
)
def test_a_bad_file_is_skipped_and_the_good_ones_play(tmp_path: Path, wall: WallClock,
                                                      caplog: pytest.LogCaptureFixture,
                                                      rows: list[str], row: int | None, reason: str) -> None:
    shutil.copy(DATA / "AAPL.csv", tmp_path / "AAPL.csv")
    _write(tmp_path, "MSFT.csv", rows)
    caplog.set_level(logging.INFO)
    source = ReplaySource(tmp_path, speed=60.0, clock=wall)
    assert source.symbols == ("AAPL",) and source.quote("AAPL").price > 0
    skipped = source.health()["skipped_files"]
    assert len(skipped) == 1 and skipped[0]["file"] == "MSFT.csv" and skipped[0]["row"] == row
    assert reason in skipped[0]["reason"]
    lines = [r.getMessage() for r in caplog.records if "MSFT.csv" in r.getMessage()]
    assert len(lines) == 1 and reason in lines[0] and (row is None or f"row {row}" in lines[0])
    with pytest.raises(UnknownSymbol, match="skipped"):
        source.quote("MSFT")


def test_a_file_missing_a_column_is_skipped(tmp_path: Path, wall: WallClock) -> None:
    shutil.copy(DATA / "AAPL.csv", tmp_path / "AAPL.csv")
    (tmp_path / "X.csv").write_text("time,open,close\n1704067200,1,1\n")
    source = ReplaySource(tmp_path, speed=60.0, clock=wall)
    assert source.health()["skipped_files"] == [{"file": "X.csv", "row": None,
                                                 "reason": "lacks column(s) high, low, volume"}]


def test_no_usable_file_stops_start_up_naming_them(tmp_path: Path, wall: WallClock) -> None:
    _write(tmp_path, "A.csv", ["1704067200,1,2,0.5,1.5,1", "1704067260,x,2,0.5,1.5,1"])
    with pytest.raises(ValueError, match=r"no usable file.*A\.csv row 2"):
        ReplaySource(tmp_path, speed=60.0, clock=wall)


def test_rows_sharing_a_time_keep_the_last_one(tmp_path: Path, wall: WallClock,
                                               caplog: pytest.LogCaptureFixture) -> None:
    _write(tmp_path, "DUP.csv", [
        "1704067200,10,12,9,11,100",
        "1704067260,11,13,10,12,100",
        "1704067200,20,22,19,21,200",  # a correction of the first row
        "1704067320,12,14,11,13,100",
        "1704067260,30,32,29,31,300",  # and of the second
    ])
    caplog.set_level(logging.INFO)
    source = ReplaySource(tmp_path, speed=60.0, start=1704067350, clock=wall)
    history = source.history("DUP", Period.parse("1d"), Timeframe.M1, end=1704067320)
    assert [(c.time, c.open, c.volume) for c in history] == [(1704067200, 20.0, 200.0), (1704067260, 30.0, 300.0)]
    assert source.health()["skipped_files"] == []
    lines = [r.getMessage() for r in caplog.records if "DUP.csv" in r.getMessage()]
    assert len(lines) == 1 and "2 row(s) share a time" in lines[0] and "row 1" in lines[0]
