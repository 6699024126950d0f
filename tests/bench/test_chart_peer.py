"""The chart benchmark's peer page (bench/chart_peer.py): only with bench_peer_route, and the figure it builds."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import numpy as np
import pytest
from flask.testing import FlaskClient

from app import create_app
from bench.chart_peer import GRAPH, INTERVAL, peer_figure
from feeds.models import Candle
from settings import load_settings
from signals.indicators import macd, rsi


def _candles(count: int) -> list[Candle]:
    return [Candle(time=60 * i, open=100 + math.sin(i / 7), high=101 + math.sin(i / 7), low=99 + math.sin(i / 7),
                   close=100 + math.sin(i / 5), volume=1000 + i) for i in range(count)]


def _same(values: list[float | None], expected: np.ndarray) -> bool:
    return all((v is None and math.isnan(e)) or (v is not None and v == pytest.approx(e))
               for v, e in zip(values, expected, strict=True))


def test_peer_figure_has_four_panes_with_the_engines_indicators() -> None:
    candles = _candles(120)
    figure = peer_figure(candles, "AAPL", 1_700_000_000.5, 0.05)
    kinds = [trace.type for trace in figure.data]
    assert kinds == ["candlestick", "bar", "scatter", "scatter", "scatter", "bar"]
    assert {trace.yaxis for trace in figure.data} == {"y", "y2", "y3", "y4"}
    assert len(figure.data[0].x) == 120
    close = np.array([c.close for c in candles])
    assert _same(list(figure.data[2].y), rsi(close))
    line, signal, histogram = macd(close)
    assert _same(list(figure.data[3].y), line) and _same(list(figure.data[4].y), signal)
    assert _same(list(figure.data[5].y), histogram)
    assert figure.layout.meta == {"tick": 1_700_000_000.5, "interval": 0.05}


def test_peer_figure_of_no_candles() -> None:
    assert len(peer_figure([], "AAPL", 0.0, 0.05).data[0].x) == 0


@pytest.fixture
def peer_app(tmp_path: Path) -> Iterator[Any]:
    app = create_app(load_settings({}, data_dir=str(tmp_path), symbols="AAPL", bench_peer_route="1"),
                     start_feed=False)
    yield app
    app.server.extensions["tickstream"].feed.stop()
    # dash.page_registry is global: leave it as the other tests expect it.
    dash.page_registry.pop("bench.chart_peer", None)


def test_peer_exists_only_with_the_setting(tmp_path: Path) -> None:
    app = create_app(load_settings({}, data_dir=str(tmp_path), symbols="AAPL"), start_feed=False)
    try:
        assert f"{GRAPH}.figure" not in app.callback_map
    finally:
        app.server.extensions["tickstream"].feed.stop()


def test_peer_callback_returns_a_server_built_figure(peer_app: Any) -> None:
    assert f"{GRAPH}.figure" in peer_app.callback_map
    client: FlaskClient = peer_app.server.test_client()
    assert client.get("/bench/chart-peer/AAPL?candles=300").status_code == 200
    body = {
        "output": f"{GRAPH}.figure", "outputs": {"id": GRAPH, "property": "figure"},
        "inputs": [{"id": INTERVAL, "property": "n_intervals", "value": 1}],
        "changedPropIds": [f"{INTERVAL}.n_intervals"],
        "state": [{"id": "bench-peer-config", "property": "data", "value": {"symbol": "AAPL", "candles": 300}}],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    figure = response.get_json()["response"][GRAPH]["figure"]
    assert len(figure["data"]) == 6
    assert set(figure["layout"]["meta"]) == {"tick", "interval"}
    candles = figure["data"][0]["x"]
    assert len(candles) == 300


def test_peer_page_refuses_a_bad_symbol(peer_app: Any) -> None:
    layout = dash.page_registry["bench.chart_peer"]["layout"]
    assert "invalid symbol" in str(layout(symbol="A$PL").children)
    assert layout(symbol="AAPL", candles="x").className == "page-error"
