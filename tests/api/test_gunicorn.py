"""Running under ``gunicorn -k gevent`` with one worker: the documented way to serve many WebSocket clients."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from tests_support import WsClient, free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def gunicorn_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKSTREAM_")}
    env.update(TICKSTREAM_DATA_DIR=str(tmp_path), TICKSTREAM_UPDATE_INTERVAL="0.05", TICKSTREAM_SYMBOLS="AAPL,GC=F")
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--worker-connections", "1000",
         "-b", f"127.0.0.1:{port}", "app:server"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError((tmp_path / "gunicorn.log").read_text())
        try:
            return requests.get(f"http://{base}/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(up, 60, 0.2, "gunicorn to serve /health")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def test_websocket_and_rest_under_gevent(gunicorn_server: str) -> None:
    clients = [WsClient(f"ws://{gunicorn_server}/ws?subscribe=market_data:AAPL&subscribe=candles:GC=F:1m")
               for _ in range(20)]
    try:
        for client in clients:
            assert client.recv()["type"] == "welcome"
        for client in clients:
            seen = {client.recv()["type"] for _ in range(12)}  # recv() checks that seq grows by one
            assert {"market_data", "candle_update"} & seen
        quote = requests.get(f"http://{gunicorn_server}/api/v1/market-data/GC=F", timeout=5)
        assert quote.status_code == 200 and quote.json()["symbol"] == "GC=F"
        clients[0].send("garbage")
        assert clients[0].recv_until(lambda m: m["type"] == "error")["data"]["code"] == "invalid_json"
    finally:
        for client in clients:
            client.close()
