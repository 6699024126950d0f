"""Feed, source, cache and WebSocket statistics: the /metrics/live-data JSON body and its Prometheus text (/metrics).

The JSON snapshot is the one source of truth; :class:`PrometheusExporter` turns it into metric families when it is
scraped (a custom collector), so no counter is kept twice. Each exporter has its own ``CollectorRegistry``: tests
build several apps in one process, and the process-wide default registry would refuse the second one's metrics.
Names follow Prometheus conventions: ``tickstream_`` prefix, base units (seconds, ratios 0..1), ``_total`` on
counters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api.health import source_states
from feeds.bus import InProcessBus
from feeds.live import LiveFeed
from feeds.source import MarketSource

# The classic text format (0.0.4) every Prometheus version scrapes; generate_latest writes it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Breaker states as a number for dashboards and alerts (tickstream_source_circuit_state).
_STATE_VALUES = {"closed": 0, "ok": 0, "half_open": 1, "open": 2}


class HubStats(Protocol):
    def snapshot_stats(self) -> dict[str, Any]: ...


def live_data(feed: LiveFeed, source: MarketSource, bus: InProcessBus, hub: HubStats,
              feed_name: str = "") -> dict[str, Any]:
    """The /metrics/live-data body: feed counters, per-source state, cache hit rate, bus and WebSocket counters."""
    stats = feed.stats.snapshot()
    health = source.health()
    cache = health.get("cache") if isinstance(health.get("cache"), dict) else None
    return {
        **stats,
        "feed": feed_name or source.name,
        "feed_running": feed.is_running,
        "update_interval": feed.interval,
        "symbols": list(feed.symbols),
        "sources": source_states(source),
        "cache": cache,
        "cache_hit_rate": cache.get("hit_rate") if cache else None,
        "bus": {"published": bus.published, "handler_errors": bus.handler_errors},
        "websocket": hub.snapshot_stats(),
    }


def _counter(name: str, doc: str, value: float | None) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=float(value or 0))


def _gauge(name: str, doc: str, value: float | None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=float(value or 0))


def metric_families(snapshot: dict[str, Any]) -> Iterator[Metric]:
    """Prometheus metric families for one live-data snapshot."""
    yield _counter("tickstream_quotes_fetched", "Quotes the feed took from its source", snapshot["quotes_fetched"])
    yield _counter("tickstream_feed_errors", "Failed source calls and feed failures", snapshot["errors"])
    yield _counter("tickstream_feed_restarts", "Times the feed thread was restarted", snapshot["restarts"])
    yield _counter("tickstream_ticks", "Ticks published by the feed", snapshot["ticks"])
    yield _counter("tickstream_candles_closed", "Candles closed by the candle builder", snapshot["candles_closed"])
    yield _gauge("tickstream_uptime_seconds", "Seconds since the feed statistics started", snapshot["uptime"])
    yield _gauge("tickstream_feed_running", "1 while the feed thread runs", 1 if snapshot["feed_running"] else 0)
    yield _gauge("tickstream_feed_update_interval_seconds", "Seconds between feed ticks", snapshot["update_interval"])
    yield _gauge("tickstream_tracked_symbols", "Symbols the feed is tracking", len(snapshot["symbols"]))
    yield _counter("tickstream_feed_iterations", "Feed iterations completed", snapshot.get("iterations"))
    yield _gauge("tickstream_feed_last_iteration_seconds", "How long the last feed iteration took",
                 snapshot.get("last_iteration_seconds"))
    yield _gauge("tickstream_feed_max_iteration_seconds", "The longest feed iteration since start",
                 snapshot.get("max_iteration_seconds"))
    last_tick = snapshot.get("last_tick_time")
    if last_tick is not None:
        yield _gauge("tickstream_last_tick_timestamp_seconds", "Unix time of the newest tick", last_tick)

    state = GaugeMetricFamily("tickstream_source_circuit_state",
                              "Circuit breaker of each source: 0 closed, 1 half-open, 2 open", labels=["source"])
    up = GaugeMetricFamily("tickstream_source_up", "1 when calls may go to the source (circuit closed)",
                           labels=["source"])
    failures = CounterMetricFamily("tickstream_source_failures", "Failed calls to each source", labels=["source"])
    consecutive = GaugeMetricFamily("tickstream_source_consecutive_failures",
                                    "Failures in a row of each source", labels=["source"])
    lingering = GaugeMetricFamily("tickstream_source_lingering_calls",
                                  "Calls past their time limit still running", labels=["source"])
    rejected_quotes = CounterMetricFamily("tickstream_source_rejected_quotes",
                                          "Unusable quotes a source returned (dropped at the boundary)",
                                          labels=["source"])
    rejected_candles = CounterMetricFamily("tickstream_source_rejected_candles",
                                           "Unusable history candles a source returned (dropped)", labels=["source"])
    for entry in snapshot["sources"]:
        labels = [str(entry["name"])]
        value = _STATE_VALUES.get(str(entry["state"]), 2)
        state.add_metric(labels, value)
        up.add_metric(labels, 1 if value == 0 else 0)
        failures.add_metric(labels, float(entry.get("total_failures") or 0))
        consecutive.add_metric(labels, float(entry.get("consecutive_failures") or 0))
        lingering.add_metric(labels, float(entry.get("lingering_calls") or 0))
        rejected_quotes.add_metric(labels, float(entry.get("rejected_quotes") or 0))
        rejected_candles.add_metric(labels, float(entry.get("rejected_candles") or 0))
    yield from (state, up, failures, consecutive, lingering, rejected_quotes, rejected_candles)

    cache = snapshot.get("cache")
    if cache:
        yield _counter("tickstream_cache_hits", "Fresh cache reads that found a value", cache.get("hits"))
        yield _counter("tickstream_cache_misses", "Fresh cache reads that found nothing fresh", cache.get("misses"))
        yield _counter("tickstream_cache_stale_reads", "Last-good values read for the stale fallback",
                       cache.get("stale_reads"))
        yield _counter("tickstream_cache_writes", "Values written to the cache", cache.get("writes"))
        yield _counter("tickstream_cache_errors", "Cache reads or writes that failed or timed out", cache.get("errors"))
        if cache.get("hit_rate") is not None:
            yield _gauge("tickstream_cache_hit_ratio", "Hits / (hits + misses) since start", cache["hit_rate"])

    bus = snapshot["bus"]
    yield _counter("tickstream_bus_published", "Events published on the bus", bus["published"])
    yield _counter("tickstream_bus_handler_errors", "Bus handlers that raised", bus["handler_errors"])

    ws = snapshot["websocket"]
    yield _gauge("tickstream_websocket_connections", "Open WebSocket connections", ws.get("active_connections"))
    yield _gauge("tickstream_websocket_subscriptions", "Subscriptions over all connections", ws.get("subscriptions"))
    yield _counter("tickstream_websocket_connections_opened", "WebSocket connections accepted",
                   ws.get("connections_opened"))
    yield _counter("tickstream_websocket_messages_sent", "Messages sent to WebSocket clients", ws.get("messages_sent"))
    yield _counter("tickstream_websocket_frames_sent", "Frames sent to WebSocket clients", ws.get("frames_sent"))
    yield _counter("tickstream_websocket_messages_dropped", "Messages dropped for slow clients",
                   ws.get("messages_dropped"))
    yield _counter("tickstream_websocket_slow_closes", "Connections closed for reading too slowly",
                   ws.get("slow_closes"))
    yield _counter("tickstream_websocket_connections_closed", "WebSocket connections closed",
                   ws.get("connections_closed"))
    yield _counter("tickstream_websocket_heartbeat_closes", "Connections closed for staying silent",
                   ws.get("heartbeat_closes"))
    yield _counter("tickstream_websocket_sent_bytes", "Bytes sent to WebSocket clients", ws.get("bytes_sent"))
    yield _counter("tickstream_websocket_aborted_connections",
                   "Connections cut without a close frame (the socket stayed unwritable)",
                   ws.get("aborted_connections"))
    yield _gauge("tickstream_websocket_symbols_awaiting_release",
                 "Symbols no client subscribes to any more, released after a grace period",
                 ws.get("symbols_awaiting_release"))
    yield _counter("tickstream_websocket_symbols_released", "Symbols the feed stopped tracking for want of clients",
                   ws.get("symbols_released"))
    yield _gauge("tickstream_websocket_symbols_charged", "New symbols held against a connection's or address's quota",
                 ws.get("symbols_charged"))
    yield _gauge("tickstream_rest_symbol_leases", "Symbols kept in the feed for REST clients", ws.get("leases"))
    yield _counter("tickstream_new_symbol_refusals", "Subscriptions and leases refused for the new-symbol limits",
                   ws.get("new_symbol_refusals"))


class _SnapshotCollector(Collector):
    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        return metric_families(self._snapshot())


class PrometheusExporter:
    """Prometheus text for one app, from its live-data snapshot function, on a registry of its own."""

    content_type = CONTENT_TYPE

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_SnapshotCollector(snapshot))

    def render(self) -> bytes:
        return generate_latest(self.registry)
