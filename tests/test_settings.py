"""Settings: environment and CLI parsing, validation, secrets kept out of repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds.models import Timeframe
from settings import load_settings, parse_cli


def test_defaults() -> None:
    s = load_settings({})
    assert (s.host, s.port, s.feed) == ("127.0.0.1", 8000, "sim")
    assert s.data_dir == Path("data") and s.cache_dir == Path("data/cache")
    assert s.update_interval == 1.0
    assert s.symbols[0] == s.default_symbol == "AAPL"


def test_environment_names() -> None:
    s = load_settings({
        "HOST": "0.0.0.0", "PORT": "9000", "TICKSTREAM_SYMBOLS": "gc=f, btc-usd,GC=F",
        "TICKSTREAM_DATA_DIR": "/tmp/x", "TICKSTREAM_UPDATE_INTERVAL": "0.05", "WS_HEARTBEAT_INTERVAL": "10",
        "TICKSTREAM_DEFAULT_TIMEFRAME": "60m", "REDIS_URL": "redis://:pw@localhost:6379/0",
        "POLYGON_API_KEY": "secret-key",
    })
    assert s.host == "0.0.0.0" and s.port == 9000
    assert s.symbols == ("GC=F", "BTC-USD")
    assert s.data_dir == Path("/tmp/x") and s.cache_dir == Path("/tmp/x/cache")
    assert s.update_interval == 0.05 and s.ws_heartbeat_interval == 10
    assert s.default_timeframe is Timeframe.H1
    assert "secret-key" not in repr(s) and "pw@" not in repr(s)
    assert s.polygon_api_key == "secret-key"


def test_cache_dir_can_be_set_alone() -> None:
    s = load_settings({"TICKSTREAM_CACHE_DIR": "/var/cache/ts"})
    assert s.cache_dir == Path("/var/cache/ts")


@pytest.mark.parametrize(
    "env",
    [{"PORT": "0"}, {"PORT": "abc"}, {"TICKSTREAM_FEED": "bloomberg"}, {"TICKSTREAM_SYMBOLS": "A$PL"},
     {"TICKSTREAM_UPDATE_INTERVAL": "0"}, {"TICKSTREAM_FEED": "replay"}],
)
def test_bad_values_are_rejected(env: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        load_settings(env)


def test_cli_overrides_environment() -> None:
    s = parse_cli(["--port", "8123", "--symbols", "MSFT,^GSPC", "--feed", "sim", "--interval", "0.2"],
                  env={"PORT": "9000", "TICKSTREAM_SYMBOLS": "AAPL"})
    assert s.port == 8123 and s.symbols == ("MSFT", "^GSPC") and s.update_interval == 0.2


def test_sim_any_symbol_from_the_cli_or_the_environment() -> None:
    assert parse_cli([], env={}).sim_any_symbol is False
    assert parse_cli(["--sim-any-symbol"], env={}).sim_any_symbol is True
    assert parse_cli([], env={"TICKSTREAM_SIM_ANY_SYMBOL": "1"}).sim_any_symbol is True


def test_cli_error_exits_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_cli(["--symbols", "bad symbol!"], env={})
    assert exc.value.code == 2
    assert "invalid symbol" in capsys.readouterr().err


POLYGON = {"POLYGON_API_KEY": "polygon-key-123"}
ALPACA = {"ALPACA_API_KEY": "alpaca-id-456", "ALPACA_SECRET_KEY": "alpaca-secret-789"}


@pytest.mark.parametrize(
    ("env", "feed", "chain"),
    [
        ({}, "sim", ()),
        (POLYGON, "yahoo", ("polygon",)),
        (ALPACA, "yahoo", ("alpaca",)),
        ({**ALPACA, **POLYGON}, "yahoo", ("polygon", "alpaca")),
        ({**POLYGON, "TICKSTREAM_FEED": "yahoo"}, "yahoo", ("yahoo", "polygon")),
        ({**POLYGON, **ALPACA, "TICKSTREAM_FEED": "yahoo"}, "yahoo", ("yahoo", "polygon", "alpaca")),
        ({"TICKSTREAM_FEED": "yahoo"}, "yahoo", ("yahoo",)),
        # Named sources are the chain as given; --feed sim stays the simulation alone.
        ({**POLYGON, **ALPACA, "TICKSTREAM_SOURCES": "yahoo"}, "yahoo", ("yahoo",)),
        ({**POLYGON, "TICKSTREAM_SOURCES": "alpaca,polygon", **ALPACA}, "yahoo", ("alpaca", "polygon")),
        ({**POLYGON, **ALPACA, "TICKSTREAM_FEED": "sim"}, "sim", ()),
    ],
)
def test_api_keys_enable_their_sources(env: dict[str, str], feed: str, chain: tuple[str, ...]) -> None:
    s = load_settings(env)
    assert s.feed == feed and s.source_chain == chain
    assert "sim" not in s.source_chain
    named = "TICKSTREAM_SOURCES" in env
    assert s.keyed_sources == (() if named else tuple(c for c in chain if c != "yahoo"))


def test_keys_do_not_change_a_replay(tmp_path: Path) -> None:
    s = load_settings({**POLYGON, "TICKSTREAM_FEED": "replay", "TICKSTREAM_REPLAY_DIR": str(tmp_path)})
    assert s.feed == "replay" and s.source_chain == ("replay",) and s.keyed_sources == ()


def test_keys_enable_sources_from_the_cli_too() -> None:
    s = parse_cli(["--feed", "yahoo"], env=POLYGON)
    assert s.source_chain == ("yahoo", "polygon")
    assert parse_cli([], env=ALPACA).source_chain == ("alpaca",)


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"ALPACA_API_KEY": "ak"}, "ALPACA_SECRET_KEY"),
        ({"ALPACA_SECRET_KEY": "as", "TICKSTREAM_FEED": "yahoo"}, "ALPACA_API_KEY"),
        ({"TICKSTREAM_SOURCES": "polygon"}, "POLYGON_API_KEY"),
        ({"TICKSTREAM_SOURCES": "yahoo,alpaca", "ALPACA_API_KEY": "ak"}, "ALPACA_SECRET_KEY"),
    ],
)
def test_a_source_without_its_keys_is_a_startup_error(env: dict[str, str], missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        load_settings(env)


def test_secrets_stay_out_of_repr_with_keyed_sources() -> None:
    s = load_settings({**POLYGON, **ALPACA})
    assert not any(secret in repr(s) for secret in (*POLYGON.values(), *ALPACA.values()))
    assert "keyed_sources=('polygon', 'alpaca')" in repr(s)
