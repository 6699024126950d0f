"""Running under ``gunicorn -k gevent`` with one worker: the documented way to serve many WebSocket clients."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from tests_support import WsClient, free_port, serving_process

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def gunicorn_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKSTREAM_")}
    env.update(TICKSTREAM_DATA_DIR=str(tmp_path), TICKSTREAM_UPDATE_INTERVAL="0.05", TICKSTREAM_SYMBOLS="AAPL,GC=F")
    base = f"127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--worker-connections", "1000",
           "-b", base, "app:server"]
    with serving_process(cmd, ROOT, env, tmp_path / "gunicorn.log",
                         lambda: requests.get(f"http://{base}/health", timeout=1).status_code == 200, timeout=60):
        yield base


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
