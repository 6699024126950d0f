"""What the chart loads: history as columns (``format=columns``) and the overlays of an older history window
(``levels?end=&limit=``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient

from api.rest import MAX_LEVELS_CANDLES
from api.signal_bridge import HistorySignals, levels_over
from app import create_app
from feeds.models import Candle, Timeframe
from settings import load_settings

HISTORY = "/api/v1/market-data/AAPL/history"
LEVELS = "/api/v1/signals/symbol/AAPL/levels"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    settings = load_settings({}, data_dir=str(tmp_path_factory.mktemp("chart-data")), symbols="AAPL")
    app = create_app(settings, start_feed=False)
    yield app.server.test_client()
    app.server.extensions["tickstream"].feed.stop()


@pytest.fixture(scope="module")
def past_end(client: FlaskClient) -> int:
    """An ``end`` a day in the past: the simulated market's candles before it never change."""
    newest = client.get(f"{HISTORY}?interval=1m&limit=1").get_json()["data"][-1]["time"]
    return int(newest) - 86_400


def _rows(client: FlaskClient, query: str) -> dict[str, Any]:
    response = client.get(f"{HISTORY}?{query}")
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def test_columns_hold_the_same_candles_as_rows(client: FlaskClient, past_end: int) -> None:
    query = f"interval=5m&end={past_end}&limit=300"
    rows = _rows(client, query)
    columns = _rows(client, query + "&format=columns")
    assert "data" not in columns and "columns" not in rows
    assert set(columns["columns"]) == {"time", "open", "high", "low", "close", "volume"}
    rebuilt = [dict(zip(columns["columns"], values, strict=True)) for values in zip(*columns["columns"].values(),
                                                                                  strict=True)]
    assert rebuilt == rows["data"]
    assert len(rebuilt) == 300
    # The labels of the route stay.
    for key in ("symbol", "period", "interval", "source", "stale"):
        assert columns[key] == rows[key]
    assert len(orjson.dumps(columns)) < 0.6 * len(orjson.dumps(rows))


def test_rows_stay_the_default(client: FlaskClient, past_end: int) -> None:
    plain = _rows(client, f"interval=1h&end={past_end}")
    assert plain == _rows(client, f"interval=1h&end={past_end}&format=rows")
    assert "data" in plain


@pytest.mark.parametrize("query", ["format=cols", "format=", "interval=1m&format=COLUMNS"])
def test_unknown_format_is_400(client: FlaskClient, query: str) -> None:
    response = client.get(f"{HISTORY}?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_parameter"


def _json_roundtrip(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value))


def test_window_levels_are_the_overlays_of_the_history_window(client: FlaskClient, past_end: int) -> None:
    rows = _rows(client, f"interval=1m&period=5d&end={past_end}&limit=2000")["data"]
    candles = [Candle(**row) for row in rows]
    response = client.get(f"{LEVELS}?timeframe=1m&period=5d&end={past_end}&limit=2000")
    assert response.status_code == 200
    body = response.get_json()
    assert body["symbol"] == "AAPL" and body["timeframe"] == "1m"
    assert body["window"] == {"start": rows[0]["time"], "end": rows[-1]["time"], "candles": 2000}
    assert body["source"] == "sim" and body["stale"] is False
    assert body["signals"] == _json_roundtrip(levels_over(candles, Timeframe.M1))
    signals = body["signals"]
    assert set(signals) == {"pivot_points", "fvg_zones", "break_signals", "pivot_levels"}
    # 2,000 minutes hold swings, gaps and breaks; none of them is from after the window.
    assert signals["pivot_points"] and signals["fvg_zones"] and signals["break_signals"]
    assert all(p["time"] < past_end for p in signals["pivot_points"])
    assert all(b["time"] < past_end for b in signals["break_signals"])


def test_window_levels_leave_out_the_forming_candle_without_end(client: FlaskClient) -> None:
    body = client.get(f"{LEVELS}?timeframe=1h&limit=200").get_json()
    rows = _rows(client, "interval=1h&limit=200")["data"]
    assert body["window"]["candles"] == 199
    assert body["window"]["end"] == rows[-2]["time"]


def test_window_levels_widen_the_window_to_hold_limit_candles(client: FlaskClient, past_end: int) -> None:
    # A chart passes how many candles it holds; a day of minutes (the default window of 1m) holds only 1,440.
    body = client.get(f"{LEVELS}?timeframe=1m&end={past_end}&limit=3000").get_json()
    rows = _rows(client, f"interval=1m&period=4d&end={past_end}&limit=3000")["data"]
    assert body["window"] == {"start": rows[0]["time"], "end": rows[-1]["time"], "candles": 3000}
    assert client.get(f"{LEVELS}?timeframe=1m&end={past_end}&limit=3000&period=1d").get_json()["window"][
        "candles"] == 1440


def test_window_levels_default_to_at_most_the_bound(client: FlaskClient, past_end: int) -> None:
    body = client.get(f"{LEVELS}?timeframe=1m&end={past_end}&period=5d").get_json()
    assert body["window"]["candles"] == MAX_LEVELS_CANDLES
    assert client.get(f"{LEVELS}?timeframe=1m&end={past_end}").get_json()["window"]["candles"] == MAX_LEVELS_CANDLES


@pytest.mark.parametrize(("query", "code"), [
    (f"limit={MAX_LEVELS_CANDLES + 1}", "invalid_parameter"),
    ("limit=0", "invalid_parameter"),
    ("end=-5", "invalid_parameter"),
    ("end=99999999999", "invalid_parameter"),
    ("end=abc", "invalid_parameter"),
    ("period=7x&limit=10", "invalid_period"),
    ("timeframe=2m&limit=10", "invalid_timeframe"),
])
def test_window_levels_refuse_bad_input(client: FlaskClient, query: str, code: str) -> None:
    response = client.get(f"{LEVELS}?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_window_levels_of_an_unknown_symbol_are_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/signals/symbol/ZZZZZQ/levels?timeframe=1m&limit=100")
    assert response.status_code == 404


def test_window_overlays_are_cached_per_window() -> None:
    now = [0.0]
    engine = HistorySignals(lambda _s, _t: [], clock=lambda: now[0], ttl=15.0)
    candles = [Candle(time=60 * i, open=10.0 + i % 7, high=12.0 + i % 5, low=9.0 - i % 3, close=10.5 + i % 4,
                      volume=100.0) for i in range(300)]
    loads: list[int] = []

    def load() -> tuple[list[Candle], dict[str, Any]]:
        loads.append(1)
        return candles, {"source": "test"}

    first, labels = engine.window_overlays(("AAPL", Timeframe.M1, None, 18_000.0, 300), Timeframe.M1, load)
    again, _ = engine.window_overlays(("AAPL", Timeframe.M1, None, 18_000.0, 300), Timeframe.M1, load)
    assert again is first and labels == {"source": "test"}
    assert len(loads) == 1 and engine.computed == 1
    engine.window_overlays(("AAPL", Timeframe.M1, None, 12_000.0, 300), Timeframe.M1, load)
    assert len(loads) == 2
    now[0] = 16.0  # past the time to live
    engine.window_overlays(("AAPL", Timeframe.M1, None, 18_000.0, 300), Timeframe.M1, load)
    assert len(loads) == 3 and engine.computed == 3
    assert first == levels_over(candles, Timeframe.M1)
