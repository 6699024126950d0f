"""/portfolio in real Chromium against a real server on the simulated feed: a market order placed over REST fills at
once and shows as a position, a trade and in the cards; a working limit order is canceled from the page; the
account is reset through the confirmation dialog; screenshots in both themes at desktop and phone widths."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import AppServer
from playwright.sync_api import Page
from tests_support import free_port, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    app = AppServer(free_port(), tmp_path_factory.mktemp("portfolio"), ("--interval", "0.05", "--symbols", "AAPL,MSFT"))
    app.start()
    yield app
    app.stop()


def order(server: AppServer, **body: Any) -> dict[str, Any]:
    response = requests.post(server.base_url + "/api/v1/orders", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def filled(server: AppServer, order_id: str) -> bool:
    return requests.get(f"{server.base_url}/api/v1/orders/{order_id}", timeout=5).json()["status"] == "filled"


def grid_ids(page: Page, grid: str) -> list[str]:
    return page.evaluate(f"""() => window.dash_ag_grid.getApiAsync('{grid}').then(api => {{
        const ids = []; api.forEachNode(n => ids.push(n.id)); return ids; }})""")


def open_portfolio(page: Page, server: AppServer) -> None:
    page.goto(server.base_url + "/portfolio")
    page.locator("#portfolio-positions-grid .ag-header").wait_for(timeout=20000)
    wait_for(lambda: page.evaluate("() => window.tickstream.socket.state().state") == "connected", 15, 0.1,
             "the page's socket")


def test_orders_positions_trades_and_cancel(server: AppServer, page: tuple[Page, Any],
                                            screenshot: Callable[[Page, str], Path]) -> None:
    browser_page, console = page
    bought = order(server, symbol="AAPL", side="buy", quantity=10, type="market")
    wait_for(lambda: filled(server, bought["order_id"]), 10, 0.1, "the market order to fill")
    last = requests.get(server.base_url + "/api/v1/positions", timeout=5).json()["positions"][0]["market_price"]
    # A buy limit far under the market: it works (and reserves cash) until canceled.
    working = order(server, symbol="AAPL", side="buy", quantity=1, type="limit", limit_price=round(last * 0.5, 2),
                    time_in_force="gtc")

    open_portfolio(browser_page, server)
    wait_for(lambda: grid_ids(browser_page, "portfolio-positions-grid") == ["AAPL"], 15, 0.1, "the AAPL position")
    wait_for(lambda: working["order_id"] in grid_ids(browser_page, "portfolio-orders-grid"), 15, 0.1,
             "the working order")
    wait_for(lambda: len(grid_ids(browser_page, "portfolio-trades-grid")) == 1, 15, 0.1, "the open trade")
    # The filled market order is not a working order.
    assert bought["order_id"] not in grid_ids(browser_page, "portfolio-orders-grid")

    position = browser_page.locator("#portfolio-positions-grid .ag-row[row-id='AAPL']").first
    assert position.locator(".ag-cell[col-id='quantity']").inner_text() == "10"
    # Live P&L: a formatted amount (the mark moves with the feed).
    assert "$" in position.locator(".ag-cell[col-id='unrealized_pnl']").inner_text()
    cards = browser_page.locator("#portfolio-cards")
    wait_for(lambda: browser_page.locator("[data-metric='open_positions'] .metric-value").inner_text() == "1", 15,
             0.1, "the open-positions card")
    assert browser_page.locator("[data-metric='total_value'] .metric-value").inner_text().startswith("$")
    assert browser_page.locator("[data-metric='win_rate'] .metric-value").inner_text() == "—"
    assert "0 closed trades" in cards.inner_text()
    assert browser_page.locator("#portfolio-equity .main-svg").count() > 0

    for theme in ("dark", "light"):
        browser_page.evaluate(f"() => window.tickstream.theme.set('{theme}')")
        for width in (1440, 390):
            browser_page.set_viewport_size({"width": width, "height": 1000 if width > 400 else 844})
            browser_page.wait_for_timeout(400)
            screenshot(browser_page, f"portfolio-{theme}-{width}")
    browser_page.set_viewport_size({"width": 1280, "height": 800})
    browser_page.evaluate("() => window.tickstream.theme.set('dark')")

    # Cancel from the page.
    browser_page.locator(f"#portfolio-orders-grid .ag-row[row-id='{working['order_id']}'] button.cancel-order") \
        .first.click()
    wait_for(lambda: working["order_id"] not in grid_ids(browser_page, "portfolio-orders-grid"), 10, 0.1,
             "the canceled order to leave the grid")
    answer = requests.get(f"{server.base_url}/api/v1/orders/{working['order_id']}", timeout=5).json()
    assert answer["status"] == "canceled"
    assert "canceled" in browser_page.locator("#portfolio-message").inner_text()

    # Selling the position closes the trade: the position row leaves, the trade is closed, the win rate is known.
    sold = order(server, symbol="AAPL", side="sell", quantity=10, type="market")
    wait_for(lambda: filled(server, sold["order_id"]), 10, 0.1, "the sell to fill")
    wait_for(lambda: grid_ids(browser_page, "portfolio-positions-grid") == [], 10, 0.1, "the position to close")
    trade = browser_page.locator("#portfolio-trades-grid .ag-row .ag-cell[col-id='status']").first
    wait_for(lambda: trade.inner_text() == "closed", 10, 0.1, "the closed trade")
    wait_for(lambda: browser_page.locator("[data-metric='win_rate'] .metric-value").inner_text().endswith("%"), 10,
             0.1, "the win rate")
    assert console.errors() == []


def test_reset_behind_a_confirmation(server: AppServer, page: tuple[Page, Any]) -> None:
    browser_page, console = page
    bought = order(server, symbol="MSFT", side="buy", quantity=3, type="market")
    wait_for(lambda: filled(server, bought["order_id"]), 10, 0.1, "the market order to fill")
    open_portfolio(browser_page, server)
    wait_for(lambda: "MSFT" in grid_ids(browser_page, "portfolio-positions-grid"), 15, 0.1, "the MSFT position")

    # "Keep my account" changes nothing.
    browser_page.locator("#portfolio-reset").click()
    dialog = browser_page.locator("#portfolio-reset-dialog")
    assert dialog.is_visible()
    browser_page.locator("#portfolio-reset-cancel").click()
    assert not dialog.is_visible()
    assert requests.get(server.base_url + "/api/v1/positions", timeout=5).json()["positions"]

    browser_page.locator("#portfolio-reset").click()
    browser_page.locator("#portfolio-reset-confirm").click()
    wait_for(lambda: "Account reset" in browser_page.locator("#portfolio-message").inner_text(), 10, 0.1,
             "the reset")
    assert requests.get(server.base_url + "/api/v1/positions", timeout=5).json()["positions"] == []
    wait_for(lambda: grid_ids(browser_page, "portfolio-positions-grid") == [], 10, 0.1, "the positions cleared")
    wait_for(lambda: grid_ids(browser_page, "portfolio-trades-grid") == [], 10, 0.1, "the trades cleared")
    wait_for(lambda: browser_page.locator("[data-metric='total_value'] .metric-value").inner_text()
             == "$100,000.00", 10, 0.1, "the starting cash")
    assert console.errors() == []
