"""The app factory: nothing starts at import; create_app wires the feed, REST, WebSocket and pages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests_support import wait_for

from app import create_app
from settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_importing_app_starts_nothing() -> None:
    code = (
        "import threading, app\n"
        "names = [t.name for t in threading.enumerate()]\n"
        "assert names == ['MainThread'], names\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_create_app_starts_the_feed_and_serves_gunicorn_style(tmp_path: Path) -> None:
    app = create_app(load_settings({}, data_dir=str(tmp_path), update_interval="0.05", symbols="AAPL"))
    services = app.server.extensions["tickstream"]
    try:
        wait_for(lambda: services.feed.stats.quotes_fetched > 3, 10, message="ticks from the feed")
        client = app.server.test_client()
        assert client.get("/health").get_json()["status"] == "healthy"
    finally:
        services.feed.stop()


def test_module_level_server_for_gunicorn() -> None:
    code = "import app\nserver = app.server\nprint(type(server).__name__)\n"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "TICKSTREAM_DATA_DIR": "/tmp/tickstream-gunicorn-test"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Flask"
