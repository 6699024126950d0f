"""/metrics/live-data and the Prometheus /metrics: figures, names, units, one registry per app."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import app as app_module
from api.metrics import PrometheusExporter, metric_families
from app import create_app
from feeds.cache import MarketCache
from feeds.failover import FailoverSource
from feeds.models import Candle, OptionChain, Period, Quote, Timeframe
from feeds.source import SourceError
from settings import load_settings


class Switchable:
    """A source answering with fixed data until ``fail`` is set."""

    name = "switchable"

    def __init__(self) -> None:
        self.fail = False

    def _check(self) -> None:
        if self.fail:
            raise SourceError("switched off")

    def quote(self, symbol: str) -> Quote:
        self._check()
        return Quote(symbol, 10.0, 9.9, 10.1, 5.0, 9.0, time.time(), self.name)

    def history(self, symbol: str, period: Period, timeframe: Timeframe, end: float | None = None,
                limit: int | None = None) -> list[Candle]:
        self._check()
        return [Candle(timeframe.bucket_start(time.time()), 10.0, 10.0, 10.0, 10.0, 1.0)]

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        self._check()
        return OptionChain(symbol, 10.0, "2024-01-19", ("2024-01-19",), (), ())

    def health(self) -> dict[str, Any]:
        return {"name": self.name}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of a Prometheus text exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def sim_apps(tmp_path: Path) -> Iterator[Callable[[], Any]]:
    built: list[Any] = []

    def make() -> Any:
        settings = load_settings({}, data_dir=str(tmp_path / str(len(built))), symbols="AAPL,MSFT")
        built.append(create_app(settings, start_feed=False))
        return built[-1]

    yield make


def test_each_app_has_its_own_registry(sim_apps: Callable[[], Any]) -> None:
    first, second = sim_apps(), sim_apps()
    first.server.extensions["tickstream"].feed.run_once()
    one = samples(first.server.test_client().get("/metrics").get_data(as_text=True))
    two = samples(second.server.test_client().get("/metrics").get_data(as_text=True))
    assert one[("tickstream_quotes_fetched_total", ())] == 2  # AAPL and MSFT, one tick each
    assert two[("tickstream_quotes_fetched_total", ())] == 0
    assert one[("tickstream_tracked_symbols", ())] == 2
    # Nothing went to the process-wide default registry, which several apps in one process would collide in.
    assert not [n for n in prometheus_client.REGISTRY._names_to_collectors if n.startswith("tickstream")]


def test_names_units_and_content_type(sim_apps: Callable[[], Any]) -> None:
    response = sim_apps().server.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = list(text_string_to_metric_families(response.get_data(as_text=True)))
    assert families and all(f.name.startswith("tickstream_") for f in families)
    for family in families:
        if family.type == "counter":
            assert all(s.name.endswith("_total") for s in family.samples if not s.name.endswith("_created"))
        assert "milliseconds" not in family.name and "_ms" not in family.name
    names = {f.name for f in families}
    assert {"tickstream_uptime_seconds", "tickstream_feed_running", "tickstream_websocket_connections",
            "tickstream_websocket_messages_sent", "tickstream_websocket_messages_dropped",
            "tickstream_source_circuit_state"} <= names
    values = samples(response.get_data(as_text=True))
    assert values[("tickstream_source_up", (("source", "sim"),))] == 1
    assert values[("tickstream_feed_running", ())] == 0


def test_cache_hit_rate_and_circuit_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    source = Switchable()
    failover = FailoverSource([source], MarketCache(tmp_path / "cache"), call_timeout=None, base_backoff=60.0)
    monkeypatch.setattr(app_module, "build_source", lambda settings: (failover, time.time))
    client = create_app(load_settings({}, data_dir=str(tmp_path), symbols="AAPL"), start_feed=False) \
        .server.test_client()
    for _ in range(2):  # a miss (then a write), then a hit
        assert client.get("/api/v1/market-data/AAPL/history?period=1d&interval=1h").status_code == 200
    live = client.get("/metrics/live-data").get_json()
    assert live["cache"]["hits"] == 1 and live["cache"]["misses"] == 1 and live["cache_hit_rate"] == 0.5
    assert live["feed"] == "sim" and [s["name"] for s in live["sources"]] == ["switchable"]
    values = samples(client.get("/metrics").get_data(as_text=True))
    assert values[("tickstream_cache_hit_ratio", ())] == 0.5
    assert values[("tickstream_cache_hits_total", ())] == 1
    assert values[("tickstream_source_circuit_state", (("source", "switchable"),))] == 0

    source.fail = True
    for _ in range(3):  # three failures in a row open the circuit
        client.get("/api/v1/market-data/AAPL/options?expiration=2024-01-19")
        client.get("/api/v1/market-data/AAPL/history?period=5d&interval=1d")
    live = client.get("/metrics/live-data").get_json()
    entry = live["sources"][0]
    assert entry["state"] == "open" and entry["total_failures"] == 3 and "switched off" in entry["last_error"]
    values = samples(client.get("/metrics").get_data(as_text=True))
    assert values[("tickstream_source_circuit_state", (("source", "switchable"),))] == 2
    assert values[("tickstream_source_up", (("source", "switchable"),))] == 0
    assert values[("tickstream_source_failures_total", (("source", "switchable"),))] == 3


def test_families_follow_the_snapshot() -> None:
    snapshot = {
        "quotes_fetched": 7, "errors": 2, "restarts": 1, "ticks": 7, "candles_closed": 3, "uptime": 12.5,
        "feed_running": True, "update_interval": 0.5, "symbols": ["AAPL"], "last_tick_time": 1_700_000_000.0,
        "iterations": 25, "last_iteration_seconds": 0.004, "max_iteration_seconds": 0.25,
        "sources": [{"name": "yahoo", "state": "half_open", "total_failures": 4, "consecutive_failures": 4,
                     "lingering_calls": 1, "rejected_quotes": 3, "rejected_candles": 9}],
        "cache": {"hits": 3, "misses": 1, "stale_reads": 2, "writes": 5, "errors": 0, "hit_rate": 0.75},
        "bus": {"published": 40, "handler_errors": 0},
        "websocket": {"active_connections": 2, "subscriptions": 3, "connections_opened": 5, "messages_sent": 90,
                      "frames_sent": 80, "messages_dropped": 4, "slow_closes": 1, "bytes_sent": 4096,
                      "aborted_connections": 1, "symbols_awaiting_release": 2, "symbols_released": 6,
                      "symbols_charged": 11, "leases": 4, "new_symbol_refusals": 13},
    }
    exporter = PrometheusExporter(lambda: snapshot)
    values = samples(exporter.render().decode())
    assert values[("tickstream_quotes_fetched_total", ())] == 7
    assert values[("tickstream_feed_errors_total", ())] == 2
    assert values[("tickstream_uptime_seconds", ())] == 12.5
    assert values[("tickstream_feed_update_interval_seconds", ())] == 0.5
    assert values[("tickstream_last_tick_timestamp_seconds", ())] == 1_700_000_000.0
    assert values[("tickstream_source_circuit_state", (("source", "yahoo"),))] == 1
    assert values[("tickstream_source_lingering_calls", (("source", "yahoo"),))] == 1
    assert values[("tickstream_cache_stale_reads_total", ())] == 2
    assert values[("tickstream_websocket_messages_dropped_total", ())] == 4
    assert values[("tickstream_websocket_connections", ())] == 2
    assert values[("tickstream_websocket_sent_bytes_total", ())] == 4096
    assert values[("tickstream_websocket_aborted_connections_total", ())] == 1
    assert values[("tickstream_websocket_symbols_awaiting_release", ())] == 2
    assert values[("tickstream_websocket_symbols_released_total", ())] == 6
    assert values[("tickstream_feed_iterations_total", ())] == 25
    assert values[("tickstream_feed_max_iteration_seconds", ())] == 0.25
    assert values[("tickstream_source_rejected_quotes_total", (("source", "yahoo"),))] == 3
    assert values[("tickstream_source_rejected_candles_total", (("source", "yahoo"),))] == 9
    assert values[("tickstream_websocket_symbols_charged", ())] == 11
    assert values[("tickstream_rest_symbol_leases", ())] == 4
    assert values[("tickstream_new_symbol_refusals_total", ())] == 13
    # A counter the hub does not report (yet) reads 0 instead of failing the scrape.
    assert values[("tickstream_websocket_heartbeat_closes_total", ())] == 0
    assert len(list(metric_families(snapshot))) == len({f.name for f in metric_families(snapshot)})


def test_live_data_and_metrics_on_a_real_port(live_server) -> None:  # type: ignore[no-untyped-def]
    base = live_server.base_url
    live = requests.get(base + "/metrics/live-data", timeout=5).json()
    assert live["quotes_fetched"] > 0 and live["feed_running"] is True and live["uptime"] > 0
    assert live["sources"][0]["name"] == "sim" and live["cache"] is None and live["cache_hit_rate"] is None
    assert {"active_connections", "messages_sent", "messages_dropped"} <= set(live["websocket"])
    text = requests.get(base + "/metrics", timeout=5).text
    values = samples(text)
    assert values[("tickstream_quotes_fetched_total", ())] >= live["quotes_fetched"]
    assert values[("tickstream_feed_running", ())] == 1
