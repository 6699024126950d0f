"""Shared fixtures: app servers in real subprocesses on free loopback ports, stopped by their own pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import settings as hypothesis_settings
from tests_support import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent

# The suite is a gate: by default property tests draw the same examples on every run, so a red run is reproducible
# and never depends on luck. HYPOTHESIS_PROFILE=explore draws fresh random examples, many more of them, to hunt.
hypothesis_settings.register_profile("repeatable", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", max_examples=500)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@dataclass
class AppServer:
    port: int
    data_dir: Path
    args: tuple[str, ...]
    # TICKSTREAM_* settings for this server; those of the test runner's own environment are never passed on.
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> AppServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TICKSTREAM_")}
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        log = open(self.data_dir / f"server-{self.port}.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", str(self.data_dir), *self.args],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()

        def healthy() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                response = requests.get(self.base_url + "/health", timeout=1)
            except requests.RequestException:
                return False
            # Serving and streaming: the feed has fetched its first quotes (trackers are seeded before them).
            return response.status_code == 200 and response.json()["live_data"]["quotes_fetched"] > 0

        wait_for(healthy, 60, 0.1, "the app server to answer /health")
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        path = self.data_dir / f"server-{self.port}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """One app server for the integration tests: simulated feed at 20 ticks/s."""
    server = AppServer(free_port(), tmp_path_factory.mktemp("live"), ("--interval", "0.05", "--symbols",
                                                                       "AAPL,MSFT,GC=F,BTC-USD,^GSPC"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """Start servers with chosen arguments (and ``env``: settings as environment variables); all are stopped after
    the test."""
    started: list[AppServer] = []

    def make(*args: str, port: int | None = None, env: dict[str, str] | None = None) -> AppServer:
        server = AppServer(port or free_port(), tmp_path, tuple(args), dict(env or {}))
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.stop()


@dataclass
class InProcessServer:
    """The app served by a real Werkzeug server on a thread: real sockets, and the test can reach the services."""

    app: Any
    port: int
    server: Any
    thread: threading.Thread

    @property
    def services(self) -> Any:
        return self.app.server.extensions["tickstream"]

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)
        self.services.feed.stop()


@pytest.fixture
def inproc_server(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """Start the app in this process with chosen settings (and hub options); stopped after the test."""
    from werkzeug.serving import make_server

    from app import create_app
    from settings import load_settings

    started: list[InProcessServer] = []

    def make(start_feed: bool = True, slow_client_seconds: float | None = None, **overrides: Any) -> InProcessServer:
        overrides.setdefault("symbols", "AAPL")
        overrides.setdefault("update_interval", "0.05")
        app = create_app(load_settings({}, data_dir=str(tmp_path), **overrides), start_feed=start_feed)
        if slow_client_seconds is not None:
            app.server.extensions["tickstream"].hub.slow_client_seconds = slow_client_seconds
        port = free_port()
        server = make_server("127.0.0.1", port, app.server, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
        thread.start()
        running = InProcessServer(app, port, server, thread)
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()
