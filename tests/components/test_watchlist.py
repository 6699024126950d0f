"""Watchlist builders: the sparkline path rule, the embed's symbol list, the table frame."""

from __future__ import annotations

import math
from typing import Any

import pytest

from components.watchlist import MAX_WATCHLIST, parse_symbol_list, sparkline_path, watchlist, watchlist_config


@pytest.mark.parametrize(("values", "expected"), [
    ([1, 2, 3], "M0,10L5,5L10,0"),
    ([3, 2, 1], "M0,0L5,5L10,10"),
    ([5, 5, 5], "M0,5L5,5L10,5"),
    ([10, 20, 15, 30], "M0,10L3.3,5L6.7,7.5L10,0"),
    ([], ""),
    ([4], ""),
    ([None, 1, math.nan, 3, math.inf], "M0,10L10,0"),
])
def test_sparkline_path_scales_into_the_box(values: list[float | None], expected: str) -> None:
    assert sparkline_path(values, width=10, height=10) == expected


def test_sparkline_path_keeps_only_the_last_points() -> None:
    path = sparkline_path(list(range(200)), width=100, height=20, points=5)
    assert path == "M0,20L25,15L50,10L75,5L100,0"
    assert path.count("L") == 4


@pytest.mark.parametrize(("raw", "expected"), [
    ("aapl,msft", ["AAPL", "MSFT"]),
    (" aapl , AAPL ,msft", ["AAPL", "MSFT"]),
    ("GC=F,^gspc,BRK.B,btc-usd", ["GC=F", "^GSPC", "BRK.B", "BTC-USD"]),
    ("bad symbol!,<script>,,", []),
    (None, []),
    ("", []),
])
def test_parse_symbol_list(raw: str | None, expected: list[str]) -> None:
    assert parse_symbol_list(raw) == expected


def test_parse_symbol_list_is_bounded() -> None:
    many = ",".join(f"S{i}" for i in range(100))
    assert len(parse_symbol_list(many)) == MAX_WATCHLIST
    assert parse_symbol_list(many, limit=3) == ["S0", "S1", "S2"]


def test_watchlist_frame_columns_and_add_box() -> None:
    full = watchlist(["AAPL"])
    compact = watchlist(["AAPL"], compact=True, editable=False)

    def headers(frame: Any) -> list[str]:
        table = frame.children[0]
        head_row = table.children[0].children
        return [cell.className for cell in head_row.children]

    assert headers(full) == ["watch-symbol", "watch-spark", "watch-price", "watch-change", "watch-pct", "watch-actions"]
    assert headers(compact) == ["watch-symbol", "watch-price", "watch-change", "watch-pct", "watch-actions"]
    assert len(full.children) == 2  # table + add box
    assert len(compact.children) == 1
    assert full.className == "watchlist" and compact.className == "watchlist compact"
    empty = watchlist([], compact=True, editable=False)
    assert "?symbols=" in empty.children[1].children


def test_watchlist_config_carries_the_sparkline_rule() -> None:
    config = watchlist_config(["AAPL", "MSFT"], compact=False)
    assert config["symbols"] == ["AAPL", "MSFT"] and config["editable"] is True
    assert config["maxSymbols"] == MAX_WATCHLIST
    assert config["spark"] == {"width": 100, "height": 24, "points": 96, "timeframe": "5m", "seconds": 300}
