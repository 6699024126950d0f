"""/alerts and the alert toasts in real Chromium against a real server on the simulated feed: a rule made with the
form (a 0 % move over 1 s fires once its window is covered) shows in the rules grid, its firing becomes the top row
of the history and a toast on another open page (not again after a reload: the snapshot pops nothing); the API's
validation error is shown under the form and on its field; a rule is deleted from the grid."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import AppServer
from playwright.sync_api import Browser, Page
from tests_support import free_port, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    app = AppServer(free_port(), tmp_path_factory.mktemp("alerts"), ("--interval", "0.05", "--symbols", "AAPL,MSFT"))
    app.start()
    yield app
    app.stop()


def grid_ids(page: Page, grid: str) -> list[str]:
    return page.evaluate(f"""() => window.dash_ag_grid.getApiAsync('{grid}').then(api => {{
        const ids = []; api.forEachNodeAfterFilterAndSort(n => ids.push(n.id)); return ids; }})""")


def connected(page: Page, channel: str = "alerts") -> None:
    wait_for(lambda: page.evaluate("() => window.tickstream.socket.state().state") == "connected", 15, 0.1,
             "the page's socket")
    wait_for(lambda: channel in {s["channel"] for s in page.evaluate("() => window.tickstream.socket.subscriptions()")},
             10, 0.1, f"the {channel} subscription")
    page.wait_for_timeout(300)  # the subscribe message reaches the server


def open_alerts(page: Page, server: AppServer) -> None:
    page.goto(server.base_url + "/alerts")
    page.locator("#alerts-rules-grid .ag-header").wait_for(timeout=20000)
    connected(page)
    wait_for(lambda: page.evaluate("() => window.tickstream.alertsPage.state.loading === 0"), 10, 0.1,
             "the rules and history")


def choose(page: Page, select_id: str, label: str) -> None:
    page.locator(f"#{select_id}").click()
    page.get_by_role("option", name=label, exact=True).click()


def test_rule_from_the_form_fires_into_history_and_toasts(server: AppServer, browser: Browser,
                                                          page: tuple[Page, Any],
                                                          screenshot: Callable[[Page, str], Path]) -> None:
    alerts_page, console = page
    # Another dashboard page, open in the same browser: it shows the firing as a toast.
    other = alerts_page.context.new_page()
    other_errors: list[str] = []
    other.on("pageerror", lambda error: other_errors.append(str(error)))
    other.goto(server.base_url + "/status")
    other.locator("#status-cards").wait_for(timeout=20000)
    connected(other)

    open_alerts(alerts_page, server)
    choose(alerts_page, "alerts-condition", "Percent move over a window")
    alerts_page.locator("#alerts-field-window").wait_for(state="visible", timeout=5000)
    assert alerts_page.locator("#alerts-field-action").is_hidden()
    alerts_page.locator("#alerts-input-symbol").fill("aapl")
    alerts_page.locator("#alerts-input-value").fill("0")
    alerts_page.locator("#alerts-input-window").fill("1")
    choose(alerts_page, "alerts-input-level", "Warning")
    alerts_page.locator("#alerts-input-message").fill("Browser test move")
    alerts_page.locator("#alerts-create").click()

    message = alerts_page.locator("#alerts-form-message")
    wait_for(lambda: "Rule created" in message.inner_text(), 10, 0.1, "the rule to be created")
    rules = requests.get(server.base_url + "/api/v1/alerts", timeout=5).json()["rules"]
    assert len(rules) == 1
    rule = rules[0]
    assert {k: rule[k] for k in ("symbol", "condition", "value", "window", "frequency", "level")} == {
        "symbol": "AAPL", "condition": "percent_move", "value": 0.0, "window": 1.0, "frequency": "once",
        "level": "warning"}
    assert rule["direction"] is None  # the hidden fields were not sent
    assert grid_ids(alerts_page, "alerts-rules-grid") == [rule["rule_id"]]

    # It fires once its 1 s window is covered: the history's new top row, and a toast on both pages.
    def fired() -> list[dict[str, Any]]:
        return requests.get(server.base_url + "/api/v1/alerts/history", timeout=5).json()["history"]  # type: ignore[no-any-return]

    wait_for(lambda: len(fired()) == 1, 20, 0.2, "the rule to fire")
    alert_id = fired()[0]["alert_id"]
    wait_for(lambda: grid_ids(alerts_page, "alerts-history-grid")[:1] == [alert_id], 10, 0.1, "the history row")
    toast = other.locator(f"#alert-toasts .toast[data-alert-id='{alert_id}']")
    toast.wait_for(timeout=10000)
    assert "Browser test move" in toast.inner_text()
    assert "level-warning" in (toast.get_attribute("class") or "")
    assert other.locator("#alert-toasts").get_attribute("role") == "status"
    alerts_page.locator(f"#alert-toasts .toast[data-alert-id='{alert_id}']").wait_for(timeout=10000)
    # The `once` rule is done: the grid says so after it re-read the rules.
    wait_for(lambda: "done" in alerts_page.locator("#alerts-rules-grid .ag-cell[col-id='enabled']").first.inner_text(),
             10, 0.1, "the rule marked done")

    for theme in ("dark", "light"):
        alerts_page.evaluate(f"() => window.tickstream.theme.set('{theme}')")
        for width in (1440, 390):
            alerts_page.set_viewport_size({"width": width, "height": 1000 if width > 400 else 844})
            alerts_page.wait_for_timeout(400)
            screenshot(alerts_page, f"alerts-{theme}-{width}")
    alerts_page.set_viewport_size({"width": 1280, "height": 800})
    alerts_page.evaluate("() => window.tickstream.theme.set('dark')")

    # The toast can be dismissed.
    toast.locator("button.toast-close").click()
    assert toast.count() == 0

    # A reload gets the channel's snapshot (the firing, "snapshot": true): it pops no toast.
    other.reload()
    other.locator("#status-cards").wait_for(timeout=20000)
    connected(other)
    wait_for(lambda: other.evaluate("() => window.tickstream.toasts.stats.ignoredSnapshots") >= 1, 10, 0.1,
             "the snapshot")
    assert other.locator("#alert-toasts .toast").count() == 0
    assert other_errors == []
    other.close()

    # Deleted from the grid.
    alerts_page.locator(f"#alerts-rules-grid .ag-row[row-id='{rule['rule_id']}'] button.delete-rule").first.click()
    wait_for(lambda: grid_ids(alerts_page, "alerts-rules-grid") == [], 10, 0.1, "the rule to leave the grid")
    assert requests.get(server.base_url + "/api/v1/alerts", timeout=5).json()["rules"] == []
    assert console.errors() == []


def test_the_apis_validation_error_is_shown(server: AppServer, page: tuple[Page, Any]) -> None:
    alerts_page, console = page
    open_alerts(alerts_page, server)
    choose(alerts_page, "alerts-condition", "Percent move over a window")
    alerts_page.locator("#alerts-input-symbol").fill("MSFT")
    alerts_page.locator("#alerts-input-value").fill("2")
    alerts_page.locator("#alerts-create").click()  # no window
    message = alerts_page.locator("#alerts-form-message")
    wait_for(lambda: message.inner_text().startswith("window:"), 10, 0.1, "the API's error")
    assert "form-error" in (message.get_attribute("class") or "")
    # The field it names shows it too (Mantine's error text under the input).
    assert alerts_page.locator("#alerts-field-window").inner_text().strip() != "Window (s)"

    # An unknown symbol: the API's 404 message.
    alerts_page.locator("#alerts-input-window").fill("60")
    alerts_page.locator("#alerts-input-symbol").fill("NOPE.ZZ")
    alerts_page.locator("#alerts-create").click()
    wait_for(lambda: message.inner_text() not in ("", "Creating…") and "window" not in message.inner_text(), 10, 0.1,
             "the unknown-symbol error")
    assert "form-error" in (message.get_attribute("class") or "")
    assert requests.get(server.base_url + "/api/v1/alerts", timeout=5).json()["rules"] == []
    # The refusals are answers, not page errors (the browser logs the 4xx of a fetch as a console error).
    assert [e for e in console.errors() if "status of 4" not in e] == []
