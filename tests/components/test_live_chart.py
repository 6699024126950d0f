"""The live chart component: overlay legend, the paths the browser code fetches, the clientside callbacks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from dash import Dash

from components import ids
from components.live_chart import OVERLAYS, chart_config, live_chart, register_live_chart_callbacks
from feeds.models import Timeframe

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def find(component: Any, component_id: str) -> Any:
    """The component with ``component_id`` in a layout tree, or None."""
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children] if children is not None else []:
        found = find(child, component_id)
        if found is not None:
            return found
    return None


def test_legend_offers_every_overlay_kind_checked_and_remembered_locally() -> None:
    legend = find(live_chart("AAPL", Timeframe.M1), ids.CHART_OVERLAYS)
    assert [option["value"] for option in legend.options] == [value for value, _ in OVERLAYS]
    assert legend.value == [value for value, _ in OVERLAYS]
    assert legend.persistence is True and legend.persistence_type == "local"
    assert find(live_chart("AAPL", Timeframe.M1), ids.CHART_OVERLAYS_SHOWN) is not None


def test_overlay_kinds_are_the_ones_the_browser_code_draws() -> None:
    # assets/chart_overlays.js repeats the kinds: the checklist's values must be exactly its KINDS.
    source = (ASSETS / "chart_overlays.js").read_text()
    match = re.search(r"const KINDS = \[([^\]]*)\];", source)
    assert match is not None
    assert re.findall(r'"([^"]+)"', match.group(1)) == [value for value, _ in OVERLAYS]


@pytest.mark.parametrize(
    ("symbol", "quoted"),
    [("AAPL", "AAPL"), ("GC=F", "GC%3DF"), ("^GSPC", "%5EGSPC"), ("BRK.B", "BRK.B")],
)
def test_config_names_the_rest_routes_of_the_symbol(symbol: str, quoted: str) -> None:
    config = chart_config(symbol, Timeframe.H1)
    assert config["historyPath"] == f"/api/v1/market-data/{quoted}/history"
    assert config["levelsPath"] == f"/api/v1/signals/symbol/{quoted}/levels"
    assert config["signalsPath"] == f"/api/v1/signals/symbol/{quoted}"


def test_the_legend_drives_a_clientside_function_of_live_chart_js() -> None:
    app = Dash(__name__)
    register_live_chart_callbacks(app)
    callback = next(c for c in app._callback_list if c["output"] == f"{ids.CHART_OVERLAYS_SHOWN}.data")
    assert [i["id"] for i in callback["inputs"]] == [ids.CHART_OVERLAYS]
    function = callback["clientside_function"]
    assert function["namespace"] == "tickstream"
    assert f"{function['function_name']}: function (kinds)" in (ASSETS / "live_chart.js").read_text()
