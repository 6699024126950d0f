"""The pure candlestick figure builder."""

from __future__ import annotations

from components.figures import DOWN_COLOR, UP_COLOR, candle_x, candlestick_figure
from feeds.models import Candle, Timeframe


def test_two_traces_price_over_volume() -> None:
    candles = [Candle(1_705_314_600, 10, 12, 9, 11, 100), Candle(1_705_314_660, 11, 11.5, 10, 10.5, 50)]
    figure = candlestick_figure(candles, "AAPL", Timeframe.M1)
    price, volume = figure.data
    assert price.type == "candlestick" and volume.type == "bar"
    assert list(price.x) == ["2024-01-15T10:30:00.000Z", "2024-01-15T10:31:00.000Z"]
    assert list(price.close) == [11, 10.5]
    assert list(volume.y) == [100, 50]
    assert list(volume.marker.color) == [UP_COLOR, DOWN_COLOR]
    assert price.yaxis == "y" and volume.yaxis == "y2"
    assert figure.layout.meta["seconds"] == 60
    assert figure.layout.uirevision == "AAPL-1m"


def test_empty_figure_is_a_valid_template() -> None:
    figure = candlestick_figure([], "GC=F", Timeframe.H4)
    assert len(figure.data) == 2 and len(figure.data[0].x) == 0
    assert figure.layout.meta["timeframe"] == "4h"


def test_candle_x_matches_the_browser_format() -> None:
    # assets/live_chart.js writes new Date(t * 1000).toISOString(): the same string for the same candle.
    assert candle_x(0) == "1970-01-01T00:00:00.000Z"
