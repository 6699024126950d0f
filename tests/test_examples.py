"""The examples for external developers run against a real server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_python_ws_client_example_streams(live_server) -> None:  # type: ignore[no-untyped-def]
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "ws_client.py"), "--url", live_server.ws_url + "/ws?batch=1",
         "--symbol", "msft", "--timeframe", "1m", "--count", "10"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 10
    assert all("MSFT" in line for line in lines)
    assert "missed" not in out.stderr


def test_python_ws_client_example_reconnects(make_server) -> None:  # type: ignore[no-untyped-def]
    """Started before the server exists, the client keeps retrying with backoff and streams once it is up."""
    from tests_support import free_port

    port = free_port()
    client = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "ws_client.py"), "--url", f"ws://127.0.0.1:{port}/ws",
         "--symbol", "AAPL", "--count", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        make_server("--interval", "0.05", "--symbols", "AAPL", port=port)
        stdout, stderr = client.communicate(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    assert client.returncode == 0, stderr
    assert "connect failed" in stderr
    assert len(stdout.strip().splitlines()) == 5
