"""build_source: which source each feed choice gets, the failover chain order, keys, cache folders and clocks."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest

from app import create_app
from feeds.factory import ReplayChain, build_source, market_cache_dir
from feeds.failover import FailoverSource
from feeds.models import Period, Timeframe
from feeds.replay import ReplaySource
from feeds.simulated import SimulatedSource
from feeds.source import UnknownSymbol
from settings import Settings, load_settings, parse_cli

DATA = Path(__file__).resolve().parent.parent / "data"
REPLAY = DATA / "replay"


class RecordedYahoo:
    """A YahooClient answering quotes from tests/data/yahoo (the recordings test_yahoo.py uses), or failing."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, str]] = []

    def fetch(self, kind: str, symbol: str, **kw: Any) -> Any:
        self.calls.append((kind, symbol))
        if self.fail:
            raise ConnectionError("Yahoo is unreachable")
        if kind == "info":
            path = DATA / "yahoo" / f"{symbol}_info.json"
            return json.loads(path.read_text()) if path.exists() else {"trailingPegRatio": None}
        raise AssertionError(kind)


class _Response:
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status_code = status
        self._body = body
        self.headers: dict[str, str] = {}
        self.reason = "OK" if status == 200 else "Not Found"

    def json(self) -> dict[str, Any]:
        return self._body


class RecordedPolygonSession:
    """A requests.Session stand-in serving tests/data/polygon's snapshot of AAPL, 404 for anything else."""

    urls: ClassVar[list[str]] = []

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}

    def get(self, url: str, params: Any = None, timeout: Any = None) -> _Response:
        RecordedPolygonSession.urls.append(url)
        if url.endswith("/tickers/AAPL"):
            return _Response(200, json.loads((DATA / "polygon" / "snapshot_AAPL.json").read_text()))
        return _Response(404, json.loads((DATA / "polygon" / "not_found.json").read_text()))


def _settings(tmp_path: Path, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
    return load_settings(env or {}, data_dir=str(tmp_path), **overrides)


def test_sim_is_the_default_and_stands_alone(tmp_path: Path) -> None:
    source, clock = build_source(_settings(tmp_path))
    assert isinstance(source, SimulatedSource) and not isinstance(source, FailoverSource)
    assert abs(clock() - time.time()) < 5
    assert not (tmp_path / "cache" / "market").exists()


def test_sim_symbols_outside_the_universe_are_named_at_startup(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    source, _ = build_source(_settings(tmp_path, symbols="AAPL,ZZZZ"))
    assert "the simulated market has no symbol ZZZZ" in caplog.text
    assert isinstance(source, SimulatedSource) and not source.any_symbol
    caplog.clear()
    source, _ = build_source(_settings(tmp_path, symbols="AAPL,ZZZZ", sim_any_symbol="1"))
    assert "ZZZZ" not in caplog.text
    assert isinstance(source, SimulatedSource) and source.quote("ZZZZ").symbol == "ZZZZ"


def test_yahoo_feed_is_a_failover_over_yahoo_with_a_cache(tmp_path: Path) -> None:
    client = RecordedYahoo()
    source, _ = build_source(_settings(tmp_path, feed="yahoo"), yahoo_client=client)
    assert isinstance(source, FailoverSource)
    assert [s.name for s in source.sources] == ["yahoo"]
    assert source.cache is not None and source.cache.directory == tmp_path / "cache" / "market" / "live"
    sourced = source.quote_sourced("AAPL")
    assert sourced.source == "yahoo" and not sourced.stale and sourced.value.price > 0
    assert client.calls == [("info", "AAPL")]
    # The answer went to the cache: when Yahoo is gone, the last good quote comes back labelled stale.
    client.fail = True
    stale = source.quote_sourced("AAPL")
    assert stale.stale and stale.value.stale and stale.source == "yahoo"
    assert stale.value.price == sourced.value.price


def test_unknown_ticker_through_the_chain_is_unknown(tmp_path: Path) -> None:
    source, _ = build_source(_settings(tmp_path, feed="yahoo"), yahoo_client=RecordedYahoo())
    with pytest.raises(UnknownSymbol):
        source.quote("NOSUCH")


def test_chain_order_from_tickstream_sources(tmp_path: Path) -> None:
    RecordedPolygonSession.urls = []
    settings = _settings(tmp_path, {"TICKSTREAM_SOURCES": "Yahoo, polygon", "POLYGON_API_KEY": "k",
                                    "TICKSTREAM_SOURCE_TIMEOUT": "2.5"})
    assert settings.feed == "yahoo" and settings.source_chain == ("yahoo", "polygon")
    source, _ = build_source(settings, yahoo_client=RecordedYahoo(fail=True), session_factory=RecordedPolygonSession)
    assert isinstance(source, FailoverSource) and source.call_timeout == 2.5
    assert [s.name for s in source.sources] == ["yahoo", "polygon"]
    sourced = source.quote_sourced("AAPL")
    # Yahoo failed, so Polygon (second in the chain) answered, and says so.
    assert sourced.source == "polygon" and sourced.value.source == "polygon" and not sourced.stale
    assert RecordedPolygonSession.urls and RecordedPolygonSession.urls[0].endswith("/tickers/AAPL")
    assert source.breakers["yahoo"].snapshot()["consecutive_failures"] == 1


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"TICKSTREAM_SOURCES": "yahoo,polygon"}, "POLYGON_API_KEY"),
        ({"TICKSTREAM_SOURCES": "alpaca", "ALPACA_API_KEY": "id"}, "ALPACA_SECRET_KEY"),
        ({"TICKSTREAM_SOURCES": "alpaca"}, "ALPACA_API_KEY and ALPACA_SECRET_KEY"),
    ],
)
def test_a_missing_key_is_named_at_startup(tmp_path: Path, env: dict[str, str], missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        _settings(tmp_path, env)
    # Settings built by hand (not through load_settings) are checked again by the factory.
    chain = tuple(env["TICKSTREAM_SOURCES"].split(","))
    with pytest.raises(ValueError, match=missing):
        build_source(Settings(feed="yahoo", sources=chain, alpaca_api_key=env.get("ALPACA_API_KEY"),
                              cache_dir=tmp_path / "cache"))


def test_cli_reports_a_missing_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_cli(["--feed", "yahoo", "--sources", "polygon"], env={})
    assert exc.value.code == 2
    assert "POLYGON_API_KEY" in capsys.readouterr().err


@pytest.mark.parametrize(
    "env",
    [
        {"TICKSTREAM_SOURCES": "yahoo,sim"},
        {"TICKSTREAM_FEED": "sim", "TICKSTREAM_SOURCES": "yahoo"},
        {"TICKSTREAM_SOURCES": "yahoo,replay", "TICKSTREAM_REPLAY_DIR": str(REPLAY)},
        {"TICKSTREAM_SOURCES": "bloomberg"},
    ],
)
def test_the_simulation_and_replay_are_never_mixed_into_a_chain(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        _settings(tmp_path, env)


def test_replay_runs_on_the_replay_clock(tmp_path: Path) -> None:
    source, clock = build_source(_settings(tmp_path, feed="replay", replay_dir=str(REPLAY)))
    assert isinstance(source, FailoverSource)
    replay = source.sources[0]
    assert isinstance(replay, ReplaySource)
    # The replay starts in the middle of the files' common span (2024-01-12 00:00 UTC), not at wall time.
    assert abs(clock() - pd.Timestamp("2024-01-12 00:00", tz="UTC").timestamp()) < 600
    assert abs(clock() - replay.clock()) < 60
    assert source.cache is not None and source.cache.directory.parent == tmp_path / "cache" / "market"
    assert source.cache.directory == market_cache_dir(_settings(tmp_path, feed="replay", replay_dir=str(REPLAY)))
    assert source.cache.directory.name.startswith("replay-")
    quote = source.quote_sourced("AAPL")
    assert quote.source == "replay" and abs(quote.value.timestamp - clock()) < 60


def test_replay_cache_is_cleared_for_each_run(tmp_path: Path) -> None:
    settings = _settings(tmp_path, feed="replay", replay_dir=str(REPLAY))
    first, _ = build_source(settings)
    assert isinstance(first, FailoverSource) and first.cache is not None
    first.history("AAPL", Period.parse("1d"), Timeframe.M5)
    assert first.cache.get_history("AAPL", Period.parse("1d"), Timeframe.M5) is not None
    second, _ = build_source(settings)
    assert isinstance(second, FailoverSource) and second.cache is not None
    assert second.cache.last_history("AAPL", Period.parse("1d"), Timeframe.M5) is None


def test_finished_replay_serves_stale_history_with_its_source(tmp_path: Path) -> None:
    wall = [1_000_000.0]
    settings = _settings(tmp_path, feed="replay", replay_dir=str(REPLAY), replay_speed="60")
    source, clock = build_source(settings, wall_clock=lambda: wall[0])
    assert isinstance(source, FailoverSource)
    period, timeframe = Period.parse("1d"), Timeframe.M1
    fresh = source.history_sourced("AAPL", period, timeframe)
    assert not fresh.stale and fresh.source == "replay" and fresh.value
    assert all(c.time <= clock() for c in fresh.value)
    wall[0] += 2 * 3600 / 60  # two replay hours later every file has ended
    stale = source.history_sourced("AAPL", period, timeframe)
    assert stale.stale and stale.source == "replay" and stale.value == fresh.value


def test_create_app_wires_the_replay_clock_into_the_feed(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, feed="replay", replay_dir=str(REPLAY), symbols="AAPL"), start_feed=False)
    services = app.server.extensions["tickstream"]
    assert isinstance(services.source, FailoverSource)
    assert abs(services.feed.clock() - pd.Timestamp("2024-01-12 00:00", tz="UTC").timestamp()) < 600
    # Uptime is wall time even though the feed runs 60× faster in replay.
    assert services.feed.stats.uptime < 60


def test_a_polygon_key_alone_replaces_the_simulation(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    RecordedPolygonSession.urls = []
    caplog.set_level("INFO", logger="feeds.factory")
    settings = _settings(tmp_path, {"POLYGON_API_KEY": "k"})
    source, _ = build_source(settings, session_factory=RecordedPolygonSession)
    assert isinstance(source, FailoverSource) and [s.name for s in source.sources] == ["polygon"]
    assert source.quote_sourced("AAPL").source == "polygon"
    assert "polygon enabled because its API key is set" in caplog.text
    assert "failover chain polygon" in caplog.text


def test_keyed_sources_back_up_yahoo(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="feeds.factory")
    settings = _settings(tmp_path, {"POLYGON_API_KEY": "k", "ALPACA_API_KEY": "i", "ALPACA_SECRET_KEY": "s"},
                         feed="yahoo")
    source, _ = build_source(settings, yahoo_client=RecordedYahoo(fail=True),
                             session_factory=RecordedPolygonSession)
    assert isinstance(source, FailoverSource)
    assert [s.name for s in source.sources] == ["yahoo", "polygon", "alpaca"]
    # Yahoo is down: the keyed failover answers.
    assert source.quote_sourced("AAPL").source == "polygon"
    assert "polygon, alpaca enabled because their API keys are set" in caplog.text


def test_replay_chain_gives_the_feed_the_replay_path(tmp_path: Path) -> None:
    source, clock = build_source(_settings(tmp_path, feed="replay", replay_dir=str(REPLAY)),
                                 wall_clock=lambda: 1_000_000.0)
    assert isinstance(source, ReplayChain) and isinstance(source.replay, ReplaySource)
    now = clock()
    points = source.path_quotes("AAPL", now - 120, now, 100)
    assert len(points) == 8 and all(now - 120 < q.timestamp < now for q in points)


def test_an_unusable_cache_directory_leaves_a_working_yahoo_feed(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file")
    # No client injected: the real yfinance client, which points yfinance's own caches under the cache directory.
    source, _ = build_source(_settings(tmp_path, feed="yahoo", cache_dir=str(blocker / "cache")))
    assert isinstance(source, FailoverSource) and source.cache is not None
    assert source.cache.stats()["mode"] == "memory"
    assert source.health()["cache"]["reason"].startswith(f"cache directory {blocker / 'cache'}")
    source.close()
