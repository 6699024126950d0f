"""Pages fed by messages published on the bus, in real Chromium: on /signals a signal becomes a new grid row by an AG
Grid transaction (the rows already shown stay the same DOM nodes), its agent votes open on click, ideas appear with
their paper-order button, the filter bar filters; on / the summary cards and recent alerts follow their messages."""

from __future__ import annotations

import time
from typing import Any

import pytest
from tests_support import wait_for

from api import protocol as p

pytestmark = pytest.mark.browser


def signal_data(symbol: str, when: int, action: str = "SELL") -> dict[str, Any]:
    votes = [{"agent": "trend", "action": action, "confidence": 0.8, "reasoning": "EMA 20 below EMA 50."},
             {"agent": "momentum", "action": "HOLD", "confidence": 0.4, "reasoning": "RSI 48."}]
    return {"signal_id": f"{symbol}-1m-{when}", "symbol": symbol, "signal_type": action, "side": action.lower(),
            "confidence": 0.66, "strength": 0.3, "strength_label": "moderate",
            "reasoning": "1 of 2 agents favour " + action + ".", "model": "tickstream-consensus-v1",
            "timeframe": "1m", "price": 123.45, "time": when, "timestamp": "2030-01-01T00:01:00.000Z",
            "agents_consensus": {"agentsInFavor": 1, "totalAgents": 2, "votes": votes}}


def grid(page: Any, expression: str) -> Any:
    return page.evaluate(f"() => window.dash_ag_grid.getApiAsync('signals-grid').then(api => {expression})")


def test_published_signal_is_added_as_a_row_without_rebuilding(inproc_server, page) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(symbols="AAPL")
    browser_page, console = page
    browser_page.goto(server.base_url + "/signals")
    browser_page.locator("#signals-grid .ag-header").wait_for(timeout=20000)
    wait_for(lambda: browser_page.evaluate("() => window.tickstream.socket.state().state") == "connected", 15, 0.1,
             "the page's socket")

    # A first published signal: one row, then mark its DOM node.
    first = int(time.time()) // 60 * 60 + 600_000
    server.services.bus.publish("signals.AAPL", p.ChannelEvent(
        p.Channel.SIGNALS, p.MessageType.SIGNAL, "AAPL", signal_data("AAPL", first, "BUY"), time.time()))
    row = browser_page.locator(f"#signals-grid .ag-row[row-id='AAPL-1m-{first}']").first
    row.wait_for(timeout=10000)
    browser_page.evaluate(f"""() => document.querySelectorAll("#signals-grid .ag-row[row-id='AAPL-1m-{first}']")
                              .forEach(el => el.__kept = true)""")
    # The REST history has been read and every queued row applied: the count only changes by what comes next.
    wait_for(lambda: browser_page.evaluate("() => window.tickstream.signalsPage.history.loading === 0 && "
                                           "window.tickstream.signalsPage.signals.pending() === 0"), 15, 0.1,
             "the signal history in the grid")
    count = grid(browser_page, "api.getDisplayedRowCount()")
    stats = browser_page.evaluate("() => Object.assign({}, window.tickstream.signalsPage.signals.stats)")

    server.services.bus.publish("signals.AAPL", p.ChannelEvent(
        p.Channel.SIGNALS, p.MessageType.SIGNAL, "AAPL", signal_data("AAPL", first + 60), time.time()))
    browser_page.locator(f"#signals-grid .ag-row[row-id='AAPL-1m-{first + 60}']").first.wait_for(timeout=10000)

    # (>=: the live feed may close a candle with a real signal meanwhile)
    assert grid(browser_page, "api.getDisplayedRowCount()") >= count + 1
    # Newest first, and the row already shown is the same node (a transaction, not a new table).
    assert grid(browser_page, "api.getDisplayedRowAtIndex(0).id") == f"AAPL-1m-{first + 60}"
    assert browser_page.evaluate(f"""() => Array.from(document.querySelectorAll(
        "#signals-grid .ag-row[row-id='AAPL-1m-{first}']")).some(el => el.__kept === true)""")
    after = browser_page.evaluate("() => window.tickstream.signalsPage.signals.stats")
    assert after["transactions"] > stats["transactions"] and after["added"] >= stats["added"] + 1
    # Dash never received the rows: its rowData prop is still the empty initial list.
    assert grid(browser_page, "api.getGridOption('rowData') ? api.getGridOption('rowData').length : 0") == 0

    # Its votes open on click, with a link to the chart at that candle.
    new_row = f"#signals-grid .ag-row[row-id='AAPL-1m-{first + 60}']"
    browser_page.locator(f"{new_row} .ag-cell[col-id='symbol']").first.click()
    detail = browser_page.locator("#signals-detail")
    detail.locator(".vote-row").first.wait_for(timeout=5000)
    assert detail.locator(".vote-row").count() == 2
    assert "EMA 20 below EMA 50." in detail.inner_text()
    assert detail.locator("a").get_attribute("href") == f"/chart/AAPL?tf=1m&at={first + 60}"
    link = browser_page.locator(f"#signals-grid .ag-row[row-id='AAPL-1m-{first + 60}'] .ag-cell[col-id='chart'] a")
    assert link.first.get_attribute("href") == f"/chart/AAPL?tf=1m&at={first + 60}"

    # A trade idea appears beside them, with its paper-order button (tests/browser/test_signals_paper_order.py).
    idea = {"idea_id": "AAPL-1m-idea-1", "symbol": "AAPL", "timeframe": "1m", "side": "buy", "entry": 100.5,
            "stop_loss": 99.5, "take_profit": 102.5, "risk_reward": 2.0, "status": "pending", "reason": None,
            "born_index": 1, "born_time": first, "break_index": 0, "zone": {"index": 0, "top": 100.6, "bottom": 100.4},
            "triggered_index": None, "closed_index": None, "closed_time": None}
    server.services.bus.publish("ideas.AAPL", p.ChannelEvent(p.Channel.IDEAS, p.MessageType.IDEA, "AAPL", idea,
                                                            time.time()))
    button = browser_page.locator("#signals-ideas-grid .ag-row[row-id='AAPL-1m-idea-1'] button.paper-order").first
    button.wait_for(timeout=10000)
    assert button.is_enabled()
    assert button.get_attribute("title") == "Send the prepared paper order"

    # The action filter keeps only SELL rows.
    browser_page.get_by_text("SELL", exact=True).first.click()
    wait_for(lambda: grid(browser_page, "api.getDisplayedRowCount()") >= 1
             and grid(browser_page, "(() => { const a = []; api.forEachNodeAfterFilter(n => a.push(n.data.action));"
                                    " return a.every(x => x === 'SELL'); })()"), 10, 0.1, "the SELL filter")
    assert console.errors() == []


def test_overview_cards_and_alerts_follow_their_messages(inproc_server, page) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(symbols="AAPL")
    browser_page, console = page
    browser_page.goto(server.base_url + "/")
    cards = browser_page.locator("#summary-cards")
    cards.wait_for(timeout=20000)
    wait_for(lambda: browser_page.evaluate("() => window.tickstream.socket.state().state") == "connected", 15, 0.1,
             "the page's socket")
    wait_for(lambda: {"dashboard", "alerts"} <= {s["channel"] for s in browser_page.evaluate(
        "() => window.tickstream.socket.subscriptions()")}, 10, 0.1, "the subscriptions")
    time.sleep(0.3)  # the subscribe messages reach the server

    update = {"total_value": "$50,000.00", "daily_pnl": "-$1,200.00", "open_positions": 5, "win_rate": "58.3%",
              "values": {"total_value": 50000.0, "daily_pnl": -1200.0, "open_positions": 5, "win_rate": 58.3}}
    server.services.bus.publish("dashboard", p.ChannelEvent(p.Channel.DASHBOARD, p.MessageType.DASHBOARD_UPDATE,
                                                            None, update, time.time()))
    daily = browser_page.locator("[data-metric='daily_pnl'] .metric-value")
    wait_for(lambda: daily.inner_text() == "-$1,200.00", 10, 0.1, "the daily P&L card")
    assert "down" in (browser_page.locator("[data-metric='daily_pnl']").get_attribute("class") or "")
    assert browser_page.locator("[data-metric='open_positions'] .metric-value").inner_text() == "5"
    assert "no paper account yet" not in cards.inner_text()
    assert browser_page.locator("[data-metric='win_rate'] .metric-value").inner_text() == "58.3%"

    alert = {"alert_id": "a-1", "rule_id": "r-1", "level": "warning", "symbol": "AAPL",
             "message": "AAPL crossed above 200", "time": "2030-01-01T00:00:00.000Z"}
    server.services.bus.publish("alerts", p.ChannelEvent(p.Channel.ALERTS, p.MessageType.ALERT, None, alert,
                                                         time.time()))
    browser_page.locator("#overview-alerts").get_by_text("AAPL crossed above 200").wait_for(timeout=10000)
    # ... and as a toast (assets/alert_toasts.js)
    browser_page.locator("#alert-toasts .toast[data-alert-id='a-1']").wait_for(timeout=10000)
    assert console.errors() == []
