"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class ConsoleLog:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []

    def errors(self, ignore: tuple[str, ...] = ()) -> list[str]:
        return [text for kind, text in self.entries
                if kind in ("error", "pageerror") and not any(part in text for part in ignore)]


@pytest.fixture
def page(browser: Browser) -> Iterator[tuple[Page, ConsoleLog]]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    log = ConsoleLog()
    page.on("console", lambda message: log.entries.append((message.type, message.text)))
    page.on("pageerror", lambda error: log.entries.append(("pageerror", str(error))))
    yield page, log
    context.close()


# Screenshots of every state a browser test reaches, for people to look at (CI keeps the directory).
SCREENSHOTS = Path(os.environ.get("TICKSTREAM_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output")) \
    / "screenshots"


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return take
