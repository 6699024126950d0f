"""Pure builders of the dashboard pages: navigation, metric cards, signals grid, options view, status cards."""

from __future__ import annotations

from typing import Any

import pytest

from components.cards import NO_ACCOUNT, SUMMARY_METRICS, summary_cards
from components.options_view import (
    around_the_money,
    chain_rows,
    contract_row,
    open_interest_figure,
    option_column_defs,
    smile_figure,
    unusual_contracts,
    unusual_reason,
)
from components.shell import NavLink, app_shell, nav_links
from components.signals_table import chart_link, filter_model, idea_column_defs, signal_column_defs
from components.status_view import age, duration, status_cards
from feeds.models import OptionChain, OptionContract


def contract(strike: float, volume: int | None = 10, oi: int | None = 100, iv: float | None = 0.3,
             unusual: bool = False, name: str = "C") -> OptionContract:
    return OptionContract(f"X{name}{strike:g}", strike, 1.0, 0.9, 1.1, volume, oi, iv, 0.5, 0.01, -0.02, 0.1,
                          unusual)


def chain() -> OptionChain:
    strikes = [90, 95, 100, 105, 110, 115]
    calls = tuple(contract(k, name="C", iv=0.2 + abs(k - 102) / 100) for k in strikes)
    puts = tuple(contract(k, name="P", iv=0.25 + abs(k - 102) / 100, volume=900 if k == 95 else 5,
                          oi=300 if k == 95 else 50, unusual=k == 95) for k in strikes)
    return OptionChain("AAPL", 102.0, "2025-01-17", ("2025-01-17", "2025-02-21"), calls, puts)


# -- navigation -------------------------------------------------------------------------------------------------

def test_nav_links_follow_the_registry_order_and_fill_the_symbol() -> None:
    pages = [
        {"path": "/status", "nav_order": 9, "nav_label": "Status"},
        {"path": "/options/<symbol>", "path_template": "/options/<symbol>", "nav_order": 3, "nav_label": "Options",
         "nav_href": "/options/{symbol}"},
        {"path": "/", "nav_order": 1, "nav_label": "Overview"},
        {"path": "/embed/watchlist"},  # not in the navigation
    ]
    assert nav_links(pages, "^GSPC") == [NavLink("Overview", "/"), NavLink("Options", "/options/%5EGSPC"),
                                         NavLink("Status", "/status")]


def test_shell_has_navigation_theme_switch_and_page_container() -> None:
    shell = app_shell(["AAPL"], pages=[{"path": "/", "nav_order": 1, "nav_label": "Overview"}])
    header = shell.children[1]
    kinds = [type(child).__name__ for child in header.children]
    assert kinds == ["A", "Nav", "Div", "Form", "Button"]  # brand, pages, chart links, symbol search, theme
    nav = header.children[1]
    assert [(a.children, a.href) for a in nav.children] == [("Overview", "/")]
    toggle = header.children[-1]
    assert toggle.to_plotly_json()["props"]["data-theme-toggle"] == "1"


# -- cards ------------------------------------------------------------------------------------------------------

def test_summary_cards_say_no_account_until_data_arrive() -> None:
    cards = summary_cards().children
    assert [c.to_plotly_json()["props"]["data-metric"] for c in cards] == [key for key, _ in SUMMARY_METRICS]
    assert all(card.children[2].children == NO_ACCOUNT for card in cards)
    assert [card.children[0].children for card in cards] == ["Total value", "Daily P&L", "Open positions",
                                                             "Win rate"]


# -- signals ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "expected"), [
    (("AAPL", "1h", 1705312800), "/chart/AAPL?tf=1h&at=1705312800"),
    (("GC=F", "5m", 1705312800.0), "/chart/GC%3DF?tf=5m&at=1705312800"),
    (("^GSPC", "1d", None), "/chart/%5EGSPC?tf=1d"),
])
def test_chart_link(args: tuple[str, str, Any], expected: str) -> None:
    assert chart_link(*args) == expected


def test_signal_columns_newest_first_with_filters_and_chart_link() -> None:
    columns = {c["field"]: c for c in signal_column_defs()}
    assert list(columns) == ["time", "symbol", "timeframe", "action", "confidence", "price", "agents", "chart"]
    assert columns["time"]["sort"] == "desc"
    assert all(columns[f]["filter"] for f in ("symbol", "timeframe", "action"))
    assert columns["chart"]["cellRenderer"] == "ChartLink"
    ideas = [c["field"] for c in idea_column_defs()]
    assert ideas[:8] == ["symbol", "timeframe", "side", "entry", "stop_loss", "take_profit", "risk_reward", "status"]
    assert idea_column_defs()[-1]["cellRenderer"] == "PaperOrderButton"


@pytest.mark.parametrize(("args", "expected"), [
    ((None, "All", None), {}),
    (("", None, ""), {}),
    ((" msft", "SELL", "5m"), {"symbol": {"filterType": "text", "type": "equals", "filter": "MSFT"},
                               "action": {"filterType": "text", "type": "equals", "filter": "SELL"},
                               "timeframe": {"filterType": "text", "type": "equals", "filter": "5m"}}),
    ((None, "NOPE", None), {}),
])
def test_filter_model(args: tuple[Any, Any, Any], expected: dict[str, Any]) -> None:
    assert filter_model(*args) == expected


# -- options ----------------------------------------------------------------------------------------------------

def test_around_the_money_takes_strikes_on_both_sides() -> None:
    calls = chain().calls
    assert [c.strike for c in around_the_money(calls, 102, 2)] == [95, 100, 105, 110]
    assert [c.strike for c in around_the_money(calls, 89, 2)] == [90, 95]
    assert [c.strike for c in around_the_money(calls, 200, 1)] == [115]
    assert around_the_money(calls, 102, 0) == []


@pytest.mark.parametrize(("volume", "oi", "unusual", "expected"), [
    (900, 300, True, "volume 900 is 3.0× open interest 300"),
    (500, 0, True, "volume 500 with no open interest: new positions"),
    (500, None, True, "volume 500 with no open interest: new positions"),
    (500, 400, True, "volume 500 far above the contract's usual daily volume"),
    (50, 10, True, "flagged by the data source"),
    (900, 300, False, None),
])
def test_unusual_reason(volume: int, oi: int | None, unusual: bool, expected: str | None) -> None:
    assert unusual_reason(contract(100, volume, oi, unusual=unusual)) == expected


def test_contract_rows_mark_in_the_money_and_why() -> None:
    c = chain()
    calls, puts = chain_rows(c, each_side=2)
    assert [r["strike"] for r in calls] == [95, 100, 105, 110]
    assert [r["itm"] for r in calls] == [True, True, False, False]
    assert [r["itm"] for r in puts] == [False, False, True, True]
    assert puts[0]["unusual"] and puts[0]["why"].startswith("volume 900")
    assert contract_row(contract(1, iv=float("nan")), 1, "call")["implied_volatility"] is None
    assert unusual_contracts(c) == [("XP95", "volume 900 is 3.0× open interest 300")]


def test_smile_and_open_interest_figures() -> None:
    c = chain()
    smile = smile_figure(c)
    assert [t.name for t in smile.data] == ["Calls", "Puts"]
    assert list(smile.data[0].x) == [90, 95, 100, 105, 110, 115]
    assert smile.data[0].y[2] == pytest.approx(22.0)  # 0.2 + 2/100 → 22 %
    assert smile.layout.shapes[0].x0 == 102.0  # the underlying marked
    oi = open_interest_figure(c)
    assert [t.type for t in oi.data] == ["bar", "bar"]
    assert list(oi.data[1].y) == [50, 300, 50, 50, 50, 50]
    assert oi.layout.barmode == "group"
    assert [col["field"] for col in option_column_defs()][:2] == ["strike", "last_price"]


# -- status -----------------------------------------------------------------------------------------------------

def test_duration_and_age() -> None:
    assert duration(59) == "0:00:59" and duration(86400) == "1d 0:00:00"
    assert age(5) == "5.0 s" and age(59) == "59 s" and age(600) == "10 min"


def test_status_cards_show_every_section() -> None:
    health = {"status": "degraded", "database": "ok", "redis": "not_configured", "agents": "active",
              "reasons": ["source yahoo is open"], "live_data": {"uptime": "0:01:02", "uptime_seconds": 62}}
    live = {"feed": "yahoo", "feed_running": True, "quotes_fetched": 1234, "ticks": 1200, "candles_closed": 7,
            "errors": 2, "restarts": 1, "last_error": "timeout", "last_iteration_seconds": 0.01,
            "sources": [{"name": "yahoo", "state": "open", "total_failures": 3}], "cache_hit_rate": 0.875,
            "cache": {"mode": "disk", "hits": 7, "misses": 1},
            "websocket": {"active_connections": 3, "messages_sent": 99, "messages_dropped": 1}}
    ws = {"active_trackers": 2, "trackers": {"AAPL_1m": {"last_candle_count": 300,
                                                         "cached_signals_count": {"pivot_points": 4, "fvg_zones": 1}}}}
    cards = status_cards(health, live, ws, {"AAPL": (1.5, "yahoo", False), "MSFT": (700.0, "cache", True)})
    keys = [card.to_plotly_json()["props"]["data-card"] for card in cards]
    assert keys == ["service", "feed", "sources", "websocket", "ages", "trackers"]
    text = str([card.to_plotly_json() for card in cards])
    for expected in ("degraded", "0:01:02", "source yahoo is open", "1,234", "timeout", "87.5 %", "state-open",
                     "1.5 s · yahoo", "12 min · cache · stale", "300 candles · 5 overlays", "'99'"):
        assert expected in text, expected


def test_options_view_starts_with_the_chain_when_there_is_one() -> None:
    from components.options_view import options_content, options_view

    content = options_content(chain())
    body = options_view("AAPL", content, "updated now")
    calls_grid = body[1].children[0].children[1]
    assert [row["strike"] for row in calls_grid.rowData][:2] == [90, 95]
    picker = body[0].children[4]
    assert picker.data == ["2025-01-17", "2025-02-21"] and picker.value == "2025-01-17"
    smile = body[2].children[0].children[0]
    assert smile.figure is content.smile
    empty = options_view("AAPL", None, "options unavailable: timeout")
    assert empty[1].children[0].children[1].rowData == []
    assert empty[0].children[5].children == "options unavailable: timeout"
