"""The pure figure builders: the candlestick figure, its panes and themes."""

from __future__ import annotations

import pytest

from components.figures import THEMES, candle_x, candlestick_figure, pane_domains, skeleton_figure
from feeds.models import Candle, Timeframe


def test_price_over_volume_with_the_candles_given() -> None:
    candles = [Candle(1_705_314_600, 10, 12, 9, 11, 100), Candle(1_705_314_660, 11, 11.5, 10, 10.5, 50)]
    figure = candlestick_figure(candles, "AAPL", Timeframe.M1)
    price, volume = figure.data
    assert price.type == "candlestick" and volume.type == "bar"
    assert price.uid == "price" and volume.uid == "volume"
    assert list(price.x) == ["2024-01-15 10:30:00", "2024-01-15 10:31:00"]
    assert list(price.close) == [11, 10.5]
    assert list(volume.y) == [100, 50]
    dark = THEMES["dark"]
    assert list(volume.marker.color) == [dark.up, dark.down]
    assert price.yaxis == "y" and volume.yaxis == "y2"
    assert figure.layout.meta["seconds"] == 60
    assert figure.layout.uirevision == "AAPL-1m"


def test_empty_figure_is_a_valid_template() -> None:
    figure = candlestick_figure([], "GC=F", Timeframe.H4)
    assert len(figure.data) == 2 and len(figure.data[0].x) == 0
    assert figure.layout.meta["timeframe"] == "4h"


def test_candle_x_is_utc_without_a_zone_suffix() -> None:
    # Plotly dates carry no zone: the browser writes the same form in the zone shown (chart_format.js plotX).
    assert candle_x(0) == "1970-01-01 00:00:00"


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_theme_colours_the_background_grid_and_candles(theme: str) -> None:
    colors = THEMES[theme]
    figure = candlestick_figure([Candle(0, 1, 2, 0.5, 1.5, 10)], "AAPL", Timeframe.M1, theme=theme)
    assert figure.layout.paper_bgcolor == colors.background
    assert figure.layout.plot_bgcolor == "rgba(0,0,0,0)"
    assert figure.layout.xaxis.gridcolor == colors.grid
    assert figure.data[0].increasing.fillcolor == colors.up
    assert figure.layout.meta["theme"] == theme


def test_unknown_theme_falls_back_to_dark() -> None:
    assert candlestick_figure([], "AAPL", Timeframe.M1, theme="sepia").layout.paper_bgcolor == THEMES["dark"].background


def test_panes_without_indicators_give_price_and_volume_the_whole_height() -> None:
    domains = pane_domains(())
    assert domains["yaxis3"] == [0.0, 0.0] and domains["yaxis4"] == [0.0, 0.0]
    assert domains["yaxis2"][0] == 0.0 and domains["yaxis"][1] == 1.0
    assert domains["yaxis2"][1] < domains["yaxis"][0]


def test_indicator_panes_stack_under_the_volume_pane_in_order() -> None:
    both = pane_domains({"rsi", "macd"})
    # Bottom up: MACD, RSI, volume, price; none overlap.
    order = [both["yaxis4"], both["yaxis3"], both["yaxis2"], both["yaxis"]]
    assert order[0][0] == 0.0 and order[-1][1] == 1.0
    for lower, upper in zip(order, order[1:], strict=False):
        assert lower[1] < upper[0]
    only_macd = pane_domains({"macd"})
    assert only_macd["yaxis3"] == [0.0, 0.0] and only_macd["yaxis4"][0] == 0.0


def test_hidden_panes_hide_their_axes() -> None:
    figure = candlestick_figure([], "AAPL", Timeframe.M1, indicators={"rsi"})
    assert figure.layout.yaxis3.visible is True and figure.layout.yaxis4.visible is False
    assert list(figure.layout.yaxis3.range) == [0, 100]


def test_skeleton_is_the_empty_figure_of_the_symbol_and_not_shared() -> None:
    first = skeleton_figure("AAPL", Timeframe.M5)
    expected = candlestick_figure([], "AAPL", Timeframe.M5).to_plotly_json()
    assert first["layout"]["uirevision"] == expected["layout"]["uirevision"] == "AAPL-5m"
    assert first["layout"]["meta"] == expected["layout"]["meta"]
    assert first["data"][0]["name"] == "AAPL" and list(first["data"][0]["x"]) == []
    first["layout"]["meta"]["symbol"] = "changed"
    assert skeleton_figure("MSFT", Timeframe.M5)["layout"]["meta"]["symbol"] == "MSFT"
