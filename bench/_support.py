"""Helpers shared by the benchmarks: free ports, the app as a subprocess (started, awaited, stopped)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
# The benchmarks also use the project's own modules (feeds.universe…), found from the repository root.
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**settings: str) -> dict[str, str]:
    """This environment without its TICKSTREAM_* variables, so the caller's shell cannot change the run, plus
    ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKSTREAM_")}
    env.update(settings)
    return env


def start_app(port: int, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``python app.py --port PORT *args`` from the repository root, returned once /health answers 200 (60 s)."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port), *args],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("app did not start")


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Return once something accepts connections on ``port``; SystemExit if ``proc`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def stop(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM, so the server shuts down as it would in production; SIGKILL if it is not gone after ``grace`` s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)
