"""Market-data REST over the source wiring: options, stale/source labels, 404, 503, health, replay end to end."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from tests_support import wait_for

import app as app_module
from api.errors import init_error_handlers
from api.rest import create_rest_blueprint
from app import create_app
from feeds.bus import InProcessBus
from feeds.cache import MarketCache
from feeds.errors import SourceBusy
from feeds.failover import FailoverSource
from feeds.live import LiveFeed
from feeds.market import MarketService
from feeds.models import Candle, OptionChain, OptionContract, Period, Quote, Timeframe
from feeds.options import UNUSUAL_MIN_VOLUME
from feeds.source import MarketSource, SourceError, UnknownSymbol
from settings import load_settings

REPLAY = Path(__file__).resolve().parent.parent / "data" / "replay"
CONTRACT_KEYS = {"contract_symbol", "strike", "last_price", "bid", "ask", "volume", "open_interest",
                 "implied_volatility", "delta", "gamma", "theta", "vega", "unusual"}


class ScriptedSource:
    """A source whose behaviour the test switches: "ok", "fail" (SourceError) or "unknown" (UnknownSymbol)."""

    def __init__(self, name: str = "scripted", mode: str = "ok") -> None:
        self.name = name
        self.mode = mode

    def _act(self) -> None:
        if self.mode == "fail":
            raise SourceError(f"{self.name} is down")
        if self.mode == "busy":
            raise SourceBusy(f"{self.name} has no free slot", retry_after=2.5)
        if self.mode == "unknown":
            raise UnknownSymbol(f"{self.name} knows no such ticker")

    def quote(self, symbol: str) -> Quote:
        self._act()
        return Quote(symbol, 101.5, 101.4, 101.6, 1_000.0, 100.0, time.time(), self.name)

    def history(self, symbol: str, period: Period, timeframe: Timeframe, end: float | None = None,
                limit: int | None = None) -> list[Candle]:
        self._act()
        start = timeframe.bucket_start(time.time()) - 2 * timeframe.seconds
        return [Candle(start + i * timeframe.seconds, 100.0, 102.0, 99.0, 101.0 + i, 10.0) for i in range(3)]

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        self._act()
        call = OptionContract(f"{symbol}240119C00100000", 100.0, 2.5, 2.4, 2.6, 500, 100, 0.3, 0.55, 0.04, -0.05,
                              0.12, unusual=True)
        return OptionChain(symbol, 101.5, "2024-01-19", ("2024-01-19", "2024-01-26"), (call,), ())

    def health(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.mode}


@pytest.fixture(scope="module")
def sim_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    settings = load_settings({}, data_dir=str(tmp_path_factory.mktemp("sim")), symbols="AAPL")
    yield create_app(settings, start_feed=False).server.test_client()


@pytest.fixture
def app_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """create_app with the feed's source replaced by a FailoverSource over the given sources (and a cache)."""
    built: list[Any] = []

    def make(*sources: MarketSource, cache: bool = True, start_feed: bool = False) -> Any:
        failover = FailoverSource(list(sources), MarketCache(tmp_path / "cache") if cache else None,
                                  call_timeout=5.0, base_backoff=60.0)
        monkeypatch.setattr(app_module, "build_source", lambda settings: (failover, time.time))
        settings = load_settings({}, data_dir=str(tmp_path), symbols="AAPL", update_interval="0.05")
        dash_app = create_app(settings, start_feed=start_feed)
        built.append(dash_app)
        return dash_app

    yield make
    for dash_app in built:
        dash_app.server.extensions["tickstream"].feed.stop()


# -- options ------------------------------------------------------------------------------------------------------


def test_options_shape(sim_client: FlaskClient) -> None:
    response = sim_client.get("/api/v1/market-data/aapl/options")
    assert response.status_code == 200
    body = response.get_json()
    assert {"symbol", "underlying_price", "expiration", "expirations", "calls", "puts"} <= set(body)
    assert body["symbol"] == "AAPL" and body["source"] == "sim" and body["stale"] is False
    assert body["expiration"] == body["expirations"][0] == min(body["expirations"])
    assert body["calls"] and body["puts"]
    for contract in body["calls"] + body["puts"]:
        assert set(contract) == CONTRACT_KEYS
        assert isinstance(contract["unusual"], bool)
    strikes = [c["strike"] for c in body["calls"]]
    assert strikes == sorted(strikes) and strikes[0] < body["underlying_price"] < strikes[-1]
    assert all(0 <= c["delta"] <= 1 for c in body["calls"]) and all(-1 <= p["delta"] <= 0 for p in body["puts"])


def test_options_for_a_chosen_expiration_and_unusual_contracts(sim_client: FlaskClient) -> None:
    expirations = sim_client.get("/api/v1/market-data/AAPL/options").get_json()["expirations"]
    unusual = []
    for expiration in expirations:
        body = sim_client.get(f"/api/v1/market-data/AAPL/options?expiration={expiration}").get_json()
        assert body["expiration"] == expiration
        yymmdd = expiration[2:].replace("-", "")
        assert all(yymmdd in c["contract_symbol"] for c in body["calls"] + body["puts"])
        unusual += [c for c in body["calls"] + body["puts"] if c["unusual"]]
    # The simulated chains spike the volume of a few contracts; those, and only busy ones, are marked.
    assert unusual
    assert all(c["volume"] >= UNUSUAL_MIN_VOLUME for c in unusual)


@pytest.mark.parametrize(
    ("query", "code"),
    [("expiration=2024-13-01", "invalid_expiration"), ("expiration=tomorrow", "invalid_expiration"),
     ("expiration=2024-1-5", "invalid_expiration"), ("expiration=2001-01-05", "unsupported_request")],
)
def test_bad_expiration_is_400(sim_client: FlaskClient, query: str, code: str) -> None:
    response = sim_client.get(f"/api/v1/market-data/AAPL/options?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_options_of_an_invalid_symbol_is_400(sim_client: FlaskClient) -> None:
    response = sim_client.get("/api/v1/market-data/A$PL/options")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_symbol"


def test_bench_peer_route_only_when_asked(sim_client: FlaskClient, tmp_path: Path) -> None:
    # Without the setting the path is just another Dash page (its HTML shell), not the JSON route.
    assert not sim_client.get("/bench/peer").is_json
    settings = load_settings({"TICKSTREAM_BENCH_PEER_ROUTE": "1"}, data_dir=str(tmp_path), symbols="AAPL")
    response = create_app(settings, start_feed=False).server.test_client().get("/bench/peer")
    assert response.status_code == 200 and response.get_json()["source"] == "peer"


# -- labels, 404, 503 ----------------------------------------------------------------------------------------------


def test_sim_answers_are_labelled_with_their_source(sim_client: FlaskClient) -> None:
    quote = sim_client.get("/api/v1/market-data/MSFT").get_json()
    history = sim_client.get("/api/v1/market-data/MSFT/history?period=5d&interval=1h").get_json()
    assert (quote["source"], quote["stale"]) == ("sim", False)
    assert (history["source"], history["stale"]) == ("sim", False)
    assert "as_of" not in quote and "as_of" not in history


def test_no_source_and_nothing_cached_is_503(app_on: Callable[..., Any]) -> None:
    client = app_on(ScriptedSource("down", "fail"), cache=True).server.test_client()
    for url in ("/api/v1/market-data/AAPL", "/api/v1/market-data/AAPL/history?period=1d&interval=1m",
                "/api/v1/market-data/AAPL/historical?period=5d", "/api/v1/market-data/AAPL/options"):
        response = client.get(url)
        assert response.status_code == 503, url
        assert response.headers["Content-Type"].startswith("application/json")
        error = response.get_json()["error"]
        # The first calls fail at the source, later ones at its open circuit; the message names the source.
        assert error["code"] == "no_data" and "down" in error["message"]


def test_unknown_symbol_is_404(app_on: Callable[..., Any]) -> None:
    client = app_on(ScriptedSource("a", "unknown"), ScriptedSource("b", "unknown")).server.test_client()
    for url in ("/api/v1/market-data/ZZZZ", "/api/v1/market-data/ZZZZ/history",
                "/api/v1/market-data/ZZZZ/options"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.get_json()["error"]["code"] == "unknown_symbol"


def test_second_source_answers_when_the_first_does_not_know_the_symbol(app_on: Callable[..., Any]) -> None:
    client = app_on(ScriptedSource("first", "unknown"), ScriptedSource("second")).server.test_client()
    body = client.get("/api/v1/market-data/AAPL").get_json()
    assert body["source"] == "second" and body["stale"] is False


def test_fresh_cache_answers_while_the_source_is_down(app_on: Callable[..., Any]) -> None:
    flaky = ScriptedSource("flaky")
    client = app_on(flaky).server.test_client()
    urls = ("/api/v1/market-data/AAPL", "/api/v1/market-data/AAPL/history?period=1d&interval=1m",
            "/api/v1/market-data/AAPL/options")
    fresh = [client.get(url).get_json() for url in urls]
    assert all(body["stale"] is False and body["source"] == "flaky" for body in fresh)
    flaky.mode = "fail"
    # Within their TTLs the cached answers are still fresh: same values, not stale, no call to the source.
    again = [client.get(url).get_json() for url in urls]
    assert again == fresh
    # A request the cache has never seen (a new page) has nothing to fall back on.
    uncached = client.get("/api/v1/market-data/AAPL/history?period=1d&interval=1m&limit=2")
    assert uncached.status_code == 503 and uncached.get_json()["error"]["code"] == "no_data"


def test_last_good_values_are_served_stale_with_their_source(tmp_path: Path) -> None:
    now = [1_700_000_000.0]
    flaky = ScriptedSource("flaky")
    failover = FailoverSource([flaky], MarketCache(tmp_path / "ttl-cache", clock=lambda: now[0]),
                              clock=lambda: now[0], call_timeout=None)
    server = Flask(__name__)
    init_error_handlers(server)
    market = MarketService(failover, LiveFeed(failover, InProcessBus(), ["AAPL"], clock=lambda: now[0]))
    server.register_blueprint(create_rest_blueprint(market, lambda: ({}, 200), dict))
    client = server.test_client()
    quote_url = "/api/v1/market-data/AAPL"
    history_url = "/api/v1/market-data/AAPL/history?period=1d&interval=1m"
    options_url = "/api/v1/market-data/AAPL/options"
    first_quote = client.get(quote_url).get_json()
    first_history, first_options = client.get(history_url).get_json(), client.get(options_url).get_json()
    flaky.mode = "fail"
    now[0] += 3600  # past every TTL: the cache has only last-good values left
    quote = client.get(quote_url).get_json()
    history, options = client.get(history_url).get_json(), client.get(options_url).get_json()
    assert quote["stale"] is True and quote["source"] == "flaky" and quote["price"] == first_quote["price"]
    assert quote["as_of"] == "2023-11-14T22:13:20.000Z"
    assert history["stale"] is True and history["source"] == "flaky" and history["data"] == first_history["data"]
    assert options["stale"] is True and options["calls"] == first_options["calls"]
    assert options["calls"][0]["unusual"] is True


# -- health ----------------------------------------------------------------------------------------------------------


def test_a_busy_source_without_cache_is_503_with_retry_after(app_on: Callable[..., Any]) -> None:
    client = app_on(ScriptedSource("busy", mode="busy"), cache=False).server.test_client()
    response = client.get("/api/v1/market-data/AAPL")
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "no_data"
    assert response.headers["Retry-After"] == "3"


def test_health_is_degraded_while_a_circuit_is_open(app_on: Callable[..., Any]) -> None:
    flaky = ScriptedSource("flaky")
    dash_app = app_on(flaky, start_feed=True)
    client = dash_app.server.test_client()
    wait_for(lambda: client.get("/health").get_json()["live_data"]["quotes_fetched"] > 2, 10, message="quotes")
    healthy = client.get("/health")
    assert healthy.status_code == 200 and healthy.get_json()["status"] == "healthy"
    flaky.mode = "fail"
    # The first failed polls already make the quotes stale (degraded); wait for the circuit itself.
    degraded = wait_for(lambda: "source flaky is open" in (b := client.get("/health").get_json())["reasons"] and b, 10,
                        message="degraded health")
    assert "source flaky is open" in degraded["reasons"]
    assert degraded["live_data"]["sources"] == [{"name": "flaky", "state": "open"}]
    assert client.get("/health").status_code == 200


def test_health_is_unhealthy_when_nothing_can_be_served(app_on: Callable[..., Any]) -> None:
    dash_app = app_on(ScriptedSource("down", "fail"), start_feed=True)
    client = dash_app.server.test_client()
    # 503 also while starting (before the first feed iteration): wait for the verdict after it.
    response = wait_for(lambda: (r := client.get("/health")).get_json()["status"] == "unhealthy" and r, 10,
                        message="unhealthy")
    body = response.get_json()
    assert response.status_code == 503 and body["live_data"]["status"] == "running"
    assert any("no source could" in reason for reason in body["reasons"])


# -- replay end to end on a real port ---------------------------------------------------------------------------------


def _short_replay(folder: Path, candles: int) -> Path:
    folder.mkdir()
    lines = (REPLAY / "AAPL.csv").read_text().splitlines()
    (folder / "AAPL.csv").write_text("\n".join(lines[: candles + 1]) + "\n")
    shutil.copy(REPLAY / "GC=F.csv", folder / "GC=F.csv")
    return folder


def test_replay_end_to_end(make_server: Callable[..., Any], tmp_path: Path) -> None:
    # 20 one-minute AAPL candles; the replay starts in their middle, so it ends 10 replay minutes (5 s) later.
    folder = _short_replay(tmp_path / "replay", 20)
    server = make_server("--feed", "replay", "--replay-dir", str(folder), "--speed", "120", "--symbols", "AAPL",
                         "--interval", "0.05")
    base = server.base_url + "/api/v1/market-data"
    quote = requests.get(f"{base}/AAPL", timeout=5).json()
    history = requests.get(f"{base}/AAPL/history?period=1d&interval=1m", timeout=5).json()
    assert (quote["source"], quote["stale"]) == ("replay", False), "the replay ended before the first request"
    assert (history["source"], history["stale"]) == ("replay", False)
    assert history["data"] and quote["timestamp"].startswith("2024-01-11T22:")
    # Never the future: the last candle opened at or before the replay instant of the quote.
    assert history["data"][-1]["time"] <= pd.Timestamp(quote["timestamp"]).timestamp() + 60
    five = requests.get(f"{base}/AAPL/history?period=1d&interval=5m", timeout=5).json()
    assert all(c["time"] % 300 == 0 for c in five["data"])

    unknown = requests.get(f"{base}/MSFT", timeout=5)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_symbol"
    assert requests.get(f"{base}/MSFT/history", timeout=5).status_code == 404
    no_options = requests.get(f"{base}/AAPL/options", timeout=5)
    assert no_options.status_code == 400 and no_options.json()["error"]["code"] == "unsupported_request"

    stale = wait_for(lambda: (b := requests.get(f"{base}/AAPL", timeout=5).json()).get("stale") and b, 30,
                     message="the replay to end")
    assert stale["source"] == "replay" and stale["as_of"].startswith("2024-01-11T22:")
    old = requests.get(f"{base}/AAPL/history?period=1d&interval=1m", timeout=5).json()
    assert old["stale"] is True and old["source"] == "replay" and old["data"]
    never_asked = requests.get(f"{base}/AAPL/history?period=2d&interval=15m", timeout=5)
    assert never_asked.status_code == 503 and never_asked.json()["error"]["code"] == "no_data"
    health = requests.get(server.base_url + "/health", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "degraded"
