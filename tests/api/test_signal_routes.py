"""Signals wired end to end on a real port: REST routes, /ws/status, agent_status, full_update overlays."""

from __future__ import annotations

import requests
from tests_support import WsClient, wait_for

from api.rest import MAX_SIGNALS_LIMIT


def get(server, path: str) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.get(server.base_url + path, timeout=15)


def test_ws_status_lists_every_tracker(live_server) -> None:  # type: ignore[no-untyped-def]
    status = wait_for(lambda: (body := get(live_server, "/ws/status").json())["active_trackers"] >= 35 and body,
                      30, 0.2, "35 trackers (5 symbols × 7 timeframes)")
    entry = status["trackers"]["GC=F_1h"]
    assert set(entry) == {"last_candle_count", "last_update_time", "cached_signals_count"}
    assert entry["last_candle_count"] > 0 and entry["last_update_time"].endswith("Z")
    assert set(entry["cached_signals_count"]) == {"pivot_points", "fvg_zones", "break_signals"}


def test_symbol_signals(live_server) -> None:  # type: ignore[no-untyped-def]
    body = get(live_server, "/api/v1/signals/symbol/aapl?timeframe=5m").json()
    assert body["signals"], "seeded trackers carry their signal history"
    signal = body["signals"][0]
    assert set(signal) >= {"id", "symbol", "action", "confidence", "price", "timestamp", "timeframe", "reasoning",
                           "agents_consensus"}
    assert signal["symbol"] == "AAPL" and signal["timeframe"] == "5m"
    assert signal["action"] in ("BUY", "SELL", "HOLD") and 0 <= signal["confidence"] <= 1
    consensus = signal["agents_consensus"]
    assert consensus["totalAgents"] >= 8 and len(consensus["votes"]) == consensus["totalAgents"]
    stamps = [s["timestamp"] for s in body["signals"]]
    assert stamps == sorted(stamps, reverse=True)
    every = get(live_server, "/api/v1/signals/symbol/AAPL").json()["signals"]
    assert {s["timeframe"] for s in every} > {"5m"}


def test_levels_and_errors(live_server) -> None:  # type: ignore[no-untyped-def]
    body = get(live_server, "/api/v1/signals/symbol/GC=F/levels?timeframe=15m").json()
    assert body["symbol"] == "GC=F" and body["timeframe"] == "15m"
    assert set(body["signals"]) >= {"pivot_points", "fvg_zones", "break_signals", "pivot_levels"}
    level = body["signals"]["pivot_levels"][0]
    assert set(level) == {"period_start", "P", "R1", "R2", "R3", "S1", "S2", "S3"}
    assert get(live_server, "/api/v1/signals/symbol/AAPL/levels").json()["timeframe"] == "1h"
    bad = get(live_server, "/api/v1/signals/symbol/AAPL/levels?timeframe=2h")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_timeframe"
    assert get(live_server, "/api/v1/signals/symbol/$$$").status_code == 400


def test_an_untracked_symbol_is_answered_from_its_history_without_joining_the_feed(live_server) -> None:  # type: ignore[no-untyped-def]
    """The signals routes answer for a symbol no tracker follows from a whole-history computation: at once, with
    no lease, no tracker started and the feed's symbols unchanged."""
    before = get(live_server, "/metrics/live-data").json()["symbols"]
    # Other tests on this shared server may have left symbols in their release grace; this one must add none.
    awaiting = get(live_server, "/metrics/live-data").json()["websocket"]["symbols_awaiting_release"]
    levels = get(live_server, "/api/v1/signals/symbol/NVDA/levels?timeframe=5m").json()
    assert levels["symbol"] == "NVDA" and levels["timeframe"] == "5m" and levels["signals"]["pivot_points"]
    assert set(levels["signals"]) >= {"pivot_points", "fvg_zones", "break_signals", "pivot_levels"}
    body = get(live_server, "/api/v1/signals/symbol/NVDA?timeframe=1h").json()
    assert body["signals"], "a history of a few hundred candles gives signals"
    signal = body["signals"][0]
    assert signal["symbol"] == "NVDA" and signal["timeframe"] == "1h" and signal["id"].startswith("NVDA-1h-")
    assert set(signal) >= {"id", "action", "confidence", "price", "timestamp", "reasoning", "agents_consensus"}
    stamps = [s["timestamp"] for s in body["signals"]]
    assert stamps == sorted(stamps, reverse=True)
    assert get(live_server, "/api/v1/signals/symbol/NVDA?timeframe=1h").json() == body, "cached"
    # Without a timeframe: every timeframe's signals, newest first (the default 50 may all be of short timeframes).
    every = get(live_server, f"/api/v1/signals/symbol/NVDA?limit={MAX_SIGNALS_LIMIT}").json()["signals"]
    assert {s["timeframe"] for s in every} > {"1h"}
    assert get(live_server, "/metrics/live-data").json()["symbols"] == before
    assert not any(key.startswith("NVDA_") for key in get(live_server, "/ws/status").json()["trackers"])
    assert get(live_server, "/metrics/live-data").json()["websocket"]["symbols_awaiting_release"] <= awaiting


def test_agent_status_and_overlays_on_the_socket(live_server) -> None:  # type: ignore[no-untyped-def]
    client = WsClient(live_server.ws_url + "/ws")
    try:
        client.recv()
        client.send({"type": "request", "data": {"action": "agent_status"}})
        agents = client.recv_until(lambda m: m["type"] == "agent_status")["data"]["agents"]
        assert len(agents) >= 8
        assert {a["name"] for a in agents} >= {"trend", "momentum", "macd", "bollinger", "market_structure",
                                              "fair_value_gap", "pivot_levels", "volume"}
        assert all(a["status"] in ("active", "warming_up") and a["last_vote"] for a in agents)
        assert sum(a["status"] == "active" for a in agents) >= 6
        client.send({"type": "subscribe", "data": {"channel": "candles", "symbol": "MSFT", "timeframe": "5m"}})
        snapshot = client.recv_until(lambda m: m["type"] == "full_update")
        assert snapshot["data"]["signals"]["pivot_points"], "the snapshot carries the tracker's overlays"
        client.send({"type": "subscribe", "data": {"channel": "signals", "symbol": "MSFT"}})
        latest = client.recv_until(lambda m: m["type"] == "signal")
        assert latest["data"]["symbol"] == "MSFT" and latest["channel"] == "signals"
        assert set(latest["data"]) >= {"signal_id", "signal_type", "side", "confidence", "strength", "model"}
    finally:
        client.close()
