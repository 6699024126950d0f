"""The signals page's "Paper order" button in real Chromium: a trade idea and its prepared payload published on the
bus (as the signal engine publishes them; the simulated feed is too slow to produce one on demand) become a row
whose button places the bracket order through POST /api/v1/orders/from-payload/{idea_id}; the page shows the order
(and, for an idea the server does not know, the API's refusal)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from tests_support import wait_for

from api import protocol as p

pytestmark = pytest.mark.browser


def idea(idea_id: str, entry: float, born: int) -> dict[str, Any]:
    return {"idea_id": idea_id, "symbol": "AAPL", "timeframe": "1m", "side": "buy", "entry": entry,
            "stop_loss": round(entry * 0.98, 2), "take_profit": round(entry * 1.04, 2), "risk_reward": 2.0,
            "status": "pending", "reason": None, "born_index": 1, "born_time": born, "break_index": 0,
            "zone": {"index": 0, "top": entry + 0.1, "bottom": entry - 0.1}, "triggered_index": None,
            "closed_index": None, "closed_time": None}


def test_paper_order_button_places_the_prepared_order(inproc_server, page) -> None:  # type: ignore[no-untyped-def]
    server = inproc_server(symbols="AAPL")
    browser_page, console = page
    wait_for(lambda: server.services.feed.latest_quote("AAPL") is not None, 20, 0.1, "a first AAPL quote")
    price = server.services.feed.latest_quote("AAPL").price
    browser_page.goto(server.base_url + "/signals")
    browser_page.locator("#signals-ideas-grid .ag-header").wait_for(timeout=20000)
    wait_for(lambda: browser_page.evaluate("() => window.tickstream.socket.state().state") == "connected", 15, 0.1,
             "the page's socket")
    wait_for(lambda: "ideas" in {s["channel"] for s in browser_page.evaluate(
        "() => window.tickstream.socket.subscriptions()")}, 10, 0.1, "the ideas subscription")
    time.sleep(0.3)

    entry = round(price * 0.9, 2)  # under the market: the entry works, nothing fills during the test
    born = int(time.time())
    known = idea("AAPL-1m-idea-known", entry, born)
    payload = {"symbol": "AAPL", "side": "buy", "order_type": "limit", "quantity": 4, "limit_price": entry,
               "stop_loss": known["stop_loss"], "take_profit": known["take_profit"], "time_in_force": "gtc",
               "idea_id": known["idea_id"]}
    server.services.bus.publish("payloads.AAPL", p.ChannelEvent(p.Channel.PAYLOADS, p.MessageType.PREPARED_PAYLOAD,
                                                                "AAPL", payload, time.time()))
    for data in (known, idea("AAPL-1m-idea-unknown", entry, born + 1)):
        server.services.bus.publish("ideas.AAPL", p.ChannelEvent(p.Channel.IDEAS, p.MessageType.IDEA, "AAPL", data,
                                                                time.time()))

    button = browser_page.locator(f"#signals-ideas-grid .ag-row[row-id='{known['idea_id']}'] button.paper-order").first
    button.wait_for(timeout=10000)
    assert button.is_enabled()
    button.click()
    result = browser_page.locator("#signals-paper-result")
    wait_for(lambda: result.inner_text().startswith("Order "), 10, 0.1, "the order in the page")
    orders = requests.get(server.base_url + "/api/v1/orders?status=all", timeout=5).json()["orders"]
    entries = [o for o in orders if o["idea_id"] == known["idea_id"] and o["leg"] == "entry"]
    assert len(entries) == 1
    placed = entries[0]
    assert placed["quantity"] == 4 and placed["limit_price"] == entry and placed["status"] == "accepted"
    text = result.inner_text()
    assert placed["order_id"] in text and "buy 4 AAPL limit" in text and "stop loss" in text
    assert result.locator("a[href='/portfolio']").count() == 1
    # Clicking again answers the same order (its client_order_id is idea:<id>), it places no second one.
    button.click()
    wait_for(lambda: browser_page.evaluate("() => window.tickstream.pages.paperOrders.sent") == 2, 10, 0.1,
             "the second click")
    wait_for(lambda: browser_page.evaluate("() => window.tickstream.pages.paperOrders.last") is not None, 10, 0.1,
             "its answer")
    wait_for(lambda: browser_page.evaluate("() => (window.tickstream.pages.paperOrders.last.order || {}).order_id")
             == placed["order_id"], 10, 0.1, "the same order")

    # An idea whose payload the server never saw: the API's 404 message, shown as a refusal.
    browser_page.locator("#signals-ideas-grid .ag-row[row-id='AAPL-1m-idea-unknown'] button.paper-order").first.click()
    wait_for(lambda: "refused" in result.inner_text(), 10, 0.1, "the refusal")
    assert "no prepared payload" in result.inner_text()
    assert "bad" in (result.get_attribute("class") or "")
    # The 404 of the refused request is the only console entry (the browser logs failed fetches).
    assert [e for e in console.errors() if "404" not in e] == []
