"""The live chart component: toolbar and legend, the paths the browser code fetches, the mount callback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dash import Dash

from components import ids
from components.live_chart import (
    DEFAULT_OVERLAYS,
    OVERLAYS,
    chart_config,
    live_chart,
    register_live_chart_callbacks,
    source_label,
)
from feeds.models import ALL_TIMEFRAMES, Timeframe
from feeds.universe import shipped

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def walk(component: Any) -> list[Any]:
    found = [component]
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        if hasattr(child, "to_plotly_json"):
            found += walk(child)
    return found


def find(component: Any, component_id: str) -> Any:
    return next((c for c in walk(component) if getattr(c, "id", None) == component_id), None)


def attribute(component: Any, name: str) -> Any:
    return component.to_plotly_json()["props"].get(name)


def test_legend_has_a_toggle_per_overlay_with_the_defaults_pressed() -> None:
    legend = find(live_chart("AAPL", Timeframe.M1), ids.CHART_OVERLAYS)
    buttons = [c for c in walk(legend) if attribute(c, "data-overlay")]
    assert [attribute(b, "data-overlay") for b in buttons] == [name for name, _, _ in OVERLAYS]
    pressed = [attribute(b, "data-overlay") for b in buttons if attribute(b, "aria-pressed") == "true"]
    assert tuple(pressed) == DEFAULT_OVERLAYS == ("signals", "fvg", "breaks")


def test_timeframe_buttons_in_key_order_with_the_current_one_pressed() -> None:
    group = find(live_chart("AAPL", Timeframe.M15), ids.CHART_TIMEFRAMES)
    buttons = [c for c in walk(group) if attribute(c, "data-tf")]
    assert [attribute(b, "data-tf") for b in buttons] == [tf.value for tf in ALL_TIMEFRAMES]
    assert [attribute(b, "data-key-hint") for b in buttons] == [str(n) for n in range(1, len(ALL_TIMEFRAMES) + 1)]
    assert [attribute(b, "data-tf") for b in buttons if attribute(b, "aria-pressed") == "true"] == ["15m"]


def test_live_numbers_are_announced_and_labelled() -> None:
    chart = live_chart("AAPL", Timeframe.M1)
    assert attribute(find(chart, ids.CHART_PRICE), "aria-live") == "polite"
    assert attribute(find(chart, ids.CHART_STATUS), "aria-live") == "polite"
    assert attribute(find(chart, ids.CHART_OVERLAYS), "aria-label") == "Overlays"


def test_embed_has_no_toolbar_but_the_same_stage_and_badge() -> None:
    embed = live_chart("AAPL", Timeframe.M1, embed=True)
    assert find(embed, ids.CHART_TIMEFRAMES) is None and find(embed, ids.CHART_NAME) is None
    assert find(embed, ids.CHART_SOURCE) is not None and find(embed, ids.CHART_GRAPH) is not None
    assert "embed" in embed.className
    assert find(embed, ids.CHART_CONFIG).data["embed"] is True


@pytest.mark.parametrize(
    ("symbol", "quoted"),
    [("AAPL", "AAPL"), ("GC=F", "GC%3DF"), ("^GSPC", "%5EGSPC"), ("BRK.B", "BRK.B")],
)
def test_config_names_the_rest_routes_of_the_symbol(symbol: str, quoted: str) -> None:
    config = chart_config(symbol, Timeframe.H1)
    assert config["historyPath"] == f"/api/v1/market-data/{quoted}/history"
    assert config["levelsPath"] == f"/api/v1/signals/symbol/{quoted}/levels"
    assert config["signalsPath"] == f"/api/v1/signals/symbol/{quoted}"


def test_config_carries_the_instrument_precision_and_name() -> None:
    instrument = shipped().resolve("EURUSD=X")
    assert instrument is not None
    config = chart_config("EURUSD=X", Timeframe.M1, instrument=instrument)
    assert config["precision"] == instrument.precision and config["name"] == instrument.name


@pytest.mark.parametrize(("feed", "speed", "label"),
                         [("sim", 60.0, "SIMULATED"), ("replay", 60.0, "Replay ×60"), ("replay", 2.5, "Replay ×2.5"),
                          ("yahoo", 60.0, "Yahoo")])
def test_source_badge_says_where_prices_come_from(feed: str, speed: float, label: str) -> None:
    assert source_label(feed, speed) == label
    chart = live_chart("AAPL", Timeframe.M1, feed=feed, replay_speed=speed)
    assert find(chart, ids.CHART_SOURCE).children == label


def test_overlay_names_are_the_ones_the_browser_code_draws() -> None:
    # The legend's names are the `overlays` query values and chart_overlays.js KINDS: both must agree.
    source = (ASSETS / "chart_overlays.js").read_text()
    for name, _, _ in OVERLAYS:
        assert f'"{name}"' in source, name


def test_mounting_is_a_clientside_function_of_live_chart_js() -> None:
    app = Dash(__name__)
    register_live_chart_callbacks(app)
    callback = next(c for c in app._callback_list if c["output"] == f"{ids.CHART_MOUNTED}.data")
    assert [i["id"] for i in callback["inputs"]] == [ids.CHART_CONFIG]
    function = callback["clientside_function"]
    assert function["namespace"] == "tickstream"
    assert f"{function['function_name']}: function (config)" in (ASSETS / "live_chart.js").read_text()
