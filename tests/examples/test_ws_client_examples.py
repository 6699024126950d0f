"""The WebSocket client examples against a real server: clean closes, backoff that grows, snapshots labelled,
refused connects and a server restart survived."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from tests_support import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent.parent
PY_CLIENT = ROOT / "examples" / "ws_client.py"
JS_CLIENT = ROOT / "examples" / "ws_client.js"


def run_python_client(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(PY_CLIENT), *args], capture_output=True, text=True, timeout=timeout)


def test_python_client_survives_clean_closes_and_backs_off(live_server) -> None:  # type: ignore[no-untyped-def]
    """A URL the server accepts and then closes (1008, bad symbol): the client reports the close and reconnects
    with a growing delay (no reset just because the connection opened), then gives up as asked."""
    out = run_python_client("--url", live_server.ws_url + "/ws/market/bad$x", "--max-reconnects", "3")
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 1, out.stderr
    closes = [line for line in out.stderr.splitlines() if "server closed the connection" in line]
    assert len(closes) == 4 and all("1008" in line and "invalid symbol" in line for line in closes)
    delays = [float(d) for d in re.findall(r"reconnecting in ([0-9.]+) s", out.stderr)]
    assert len(delays) == 3
    assert delays[0] < delays[1] < delays[2], delays  # 0.5, 1, 2 s (±25 %)
    assert "giving up after 3 reconnects" in out.stderr


def test_python_client_keeps_reconnecting_after_a_clean_close(live_server) -> None:  # type: ignore[no-untyped-def]
    """Without a reconnect limit it never exits on its own (it once crashed on the close: exit status 1)."""
    client = subprocess.Popen([sys.executable, str(PY_CLIENT), "--url", live_server.ws_url + "/ws/market/bad$x"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            client.wait(3)
    finally:
        client.kill()
        _, stderr = client.communicate(10)
    assert "Traceback" not in stderr and "reconnecting in" in stderr, stderr


def test_python_client_labels_the_snapshot(live_server) -> None:  # type: ignore[no-untyped-def]
    out = run_python_client("--url", live_server.ws_url + "/ws", "--symbol", "gc=f", "--timeframe", "5m",
                            "--count", "6")
    assert out.returncode == 0, out.stderr
    candles = [line for line in out.stdout.splitlines() if " 5m " in line]
    assert candles and "snapshot" in candles[0] and "closed" not in candles[0]
    assert all("snapshot" not in line for line in candles[1:])


def test_python_client_ignores_frames_it_cannot_read() -> None:
    sys.path.insert(0, str(PY_CLIENT.parent))
    try:
        import ws_client  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(PY_CLIENT.parent))
    with pytest.raises(ValueError):
        ws_client.messages("")
    with pytest.raises(ValueError):
        ws_client.messages("[1]")
    assert ws_client.describe({"type": "signal", "data": {"symbol": "AAPL", "confidence": None}})
    line = ws_client.describe({"type": "signal", "data": {"symbol": "AAPL", "signal_type": "BUY", "side": "buy",
                                                         "confidence": 0.712, "strength": 0.5, "timeframe": "1h"}})
    assert line is not None and "SIGNAL BUY confidence 0.71 strength 0.50 (1h)" in line
    assert ws_client.describe({"type": "full_update", "data": {"symbol": "AAPL", "timeframe": "1m",
                                                               "snapshot": True, "candle": {}}})
    assert ws_client.describe({"type": "welcome", "data": {}}) is None
    assert ws_client.close_reason(1008, "too slow") == "1008 too slow"
    assert ws_client.close_reason(1005, None) == "no close frame"


# The browser snippet runs in Node with its WebSocket (Node 20: --experimental-websocket), with window, location
# and setTimeout stubbed: setTimeout records the reconnect delay and reconnects after 10 ms.
NODE_HARNESS = r"""
const fs = require("fs");
const vm = require("vm");
const [file, url, wanted] = process.argv.slice(-3);
const delays = [], logs = [], warnings = [];
const done = () => { console.log(JSON.stringify({delays, logs, warnings})); process.exit(0); };
const sandbox = {
  window: {TICKSTREAM_URL: url}, location: {protocol: "http:", host: "unused"}, WebSocket,
  console: {
    log: (...a) => { logs.push(a.join(" ")); if (logs.length >= Number(wanted)) done(); },
    warn: (...a) => warnings.push(a.join(" ")),
  },
  setTimeout: (fn, ms) => { delays.push(ms); if (delays.length >= 3) done(); setTimeout(fn, 10); },
};
vm.runInNewContext(fs.readFileSync(file, "utf8"), sandbox);
setTimeout(() => { console.log(JSON.stringify({delays, logs, warnings, timeout: true})); process.exit(1); }, 30000);
"""


def node_command() -> list[str]:
    """Node with its WebSocket: built in from Node 22, behind a flag in Node 20 (CI installs Node)."""
    node = shutil.which("node")
    assert node is not None, "the example tests need Node (20 or later) on the PATH"
    major = int(subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout
                .strip().lstrip("v").split(".")[0])
    assert major >= 20, f"the example tests need Node 20 or later (its WebSocket), not {major}"
    return [node, "--experimental-websocket"] if major < 22 else [node]


def run_js_client(url: str, wanted: int) -> dict[str, object]:
    out = subprocess.run([*node_command(), "-e", NODE_HARNESS, str(JS_CLIENT), url, str(wanted)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_js_client_backs_off_after_accept_then_close(live_server) -> None:  # type: ignore[no-untyped-def]
    result = run_js_client(live_server.ws_url + "/ws/market/bad$x", wanted=1000)
    delays = result["delays"]
    assert isinstance(delays, list) and len(delays) == 3
    assert delays[0] < delays[1] < delays[2], delays  # 500, 1000, 2000 ms (±25 %): not reset on open
    assert any("1008" in w for w in result["warnings"])  # type: ignore[attr-defined]


def test_js_client_streams_and_labels_the_snapshot(live_server) -> None:  # type: ignore[no-untyped-def]
    result = run_js_client(live_server.ws_url + "/ws?batch=1", wanted=5)
    logs = result["logs"]
    assert isinstance(logs, list)
    candles = [line for line in logs if line.startswith("AAPL 1m")]
    assert candles and candles[0].startswith("AAPL 1m snapshot")
    assert result["delays"] == []


def test_js_client_retries_a_refused_connect() -> None:
    """Nothing listens: Node's WebSocket fires only ``error`` (no ``close``), and the client must retry anyway."""
    result = run_js_client(f"ws://127.0.0.1:{free_port()}/ws", wanted=1000)
    delays = result["delays"]
    assert isinstance(delays, list) and len(delays) == 3, result
    assert delays[0] < delays[1] < delays[2], delays
    assert all("connect failed" in w for w in result["warnings"]), result  # type: ignore[attr-defined]


class Lines:
    """Collects a running process's stdout and stderr lines as they come (reader threads)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, lines in ((proc.stdout, self.out), (proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, lines), daemon=True).start()

    @staticmethod
    def _read(stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.append(line.rstrip("\n"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def survives_restart(make_server, command: list[str], env: dict[str, str] | None = None,  # type: ignore[no-untyped-def]
                     port: int | None = None) -> Lines:
    """Start a server, the client, see a snapshot; stop the server, see the client retry; start the server again on
    the same port and see a fresh snapshot, all from the one client process."""
    port = port or free_port()
    server = make_server("--interval", "0.05", "--symbols", "AAPL", port=port)
    lines = Lines(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, **(env or {})}))
    try:
        wait_for(lambda: any("snapshot" in line for line in lines.out), 60, 0.1, "the first snapshot")
        server.stop()
        wait_for(lambda: any("connect failed" in line for line in lines.err), 60, 0.1,
                 "a refused reconnect while the server is down")
        printed = len(lines.out)
        server.start()
        wait_for(lambda: any("snapshot" in line for line in lines.out[printed:]), 90, 0.1,
                 "a fresh snapshot from the restarted server")
        assert lines.proc.poll() is None, "the client keeps running"
    finally:
        lines.stop()
    return lines


def test_python_client_survives_a_server_restart(make_server) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    lines = survives_restart(make_server, [sys.executable, str(PY_CLIENT), "--url", f"ws://127.0.0.1:{port}/ws",
                                           "--symbol", "AAPL"], port=port)
    assert "Traceback" not in "\n".join(lines.err)


def test_js_client_survives_a_server_restart(make_server) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    lines = survives_restart(make_server, [*node_command(), str(JS_CLIENT)],
                             env={"TICKSTREAM_URL": f"ws://127.0.0.1:{port}/ws?batch=1"}, port=port)
    assert any(line.startswith("AAPL 1m") for line in lines.out)
