"""Start-up survives what is only an optimisation or only part of the data: an unusable cache directory (the app
runs with a memory-only cache and /health says so) and bad replay files (skipped, named once, listed in /health),
each through a real server process."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

REPLAY = Path(__file__).resolve().parent.parent / "data" / "replay"


def _replay_server(make_server: Callable[..., Any], folder: Path, symbols: str) -> Any:
    return make_server("--feed", "replay", "--replay-dir", str(folder), "--speed", "60", "--symbols", symbols)


def _server_log(server: Any) -> str:
    return (server.data_dir / f"server-{server.port}.log").read_text(errors="replace")


def _assert_memory_cache(server: Any, blocker: Path) -> None:
    health = requests.get(server.base_url + "/health", timeout=5).json()
    assert health["status"] == "degraded"
    assert health["cache"]["mode"] == "memory" and str(blocker) in health["cache"]["reason"]
    assert any("memory only" in reason for reason in health["reasons"])
    # The fields that were there before stay.
    assert {"database", "redis", "agents", "live_data"} <= set(health)
    quote = requests.get(server.base_url + "/api/v1/market-data/AAPL", timeout=5)
    assert quote.status_code == 200 and quote.json()["source"] == "replay"
    log = _server_log(server)
    assert "Traceback" not in log
    assert sum("memory only" in line for line in log.splitlines()) == 1


def test_a_file_in_place_of_the_cache_directory(make_server: Callable[..., Any], tmp_path: Path) -> None:
    # The cache goes to <data dir>/cache/market/...: a path under a regular file.
    blocker = tmp_path / "cache"
    blocker.write_text("not a directory")
    server = _replay_server(make_server, REPLAY, "AAPL")
    _assert_memory_cache(server, blocker)


@pytest.fixture
def immutable_cache_dir(tmp_path: Path) -> Iterator[Path]:
    """<tmp>/cache made read-only for root too: chmod does not stop root, the immutable attribute does."""
    directory = tmp_path / "cache"
    directory.mkdir()
    subprocess.run(["chattr", "+i", str(directory)], check=True)
    try:
        probe = directory / "probe"
        with pytest.raises(PermissionError):
            probe.write_text("x")
        yield directory
    finally:
        subprocess.run(["chattr", "-i", str(directory)], check=True)


def test_a_read_only_cache_directory(make_server: Callable[..., Any], immutable_cache_dir: Path) -> None:
    server = _replay_server(make_server, REPLAY, "AAPL")
    _assert_memory_cache(server, immutable_cache_dir)


def test_a_healthy_cache_directory_is_on_disk(make_server: Callable[..., Any]) -> None:
    server = _replay_server(make_server, REPLAY, "AAPL")
    health = requests.get(server.base_url + "/health", timeout=5).json()
    assert health["cache"]["mode"] == "disk" and health["cache"]["reason"] is None
    assert health["live_data"]["skipped_files"] == []


def test_bad_replay_files_are_skipped_and_the_good_ones_stream(make_server: Callable[..., Any],
                                                               tmp_path: Path) -> None:
    folder = tmp_path / "replay"
    folder.mkdir()
    shutil.copy(REPLAY / "AAPL.csv", folder / "AAPL.csv")
    # Gold with one row repeated: rows sharing a time are resolved (the last one is kept), not a reason to skip.
    gold = (REPLAY / "GC=F.csv").read_text().splitlines()
    (folder / "GC=F.csv").write_text("\n".join([*gold[:5], gold[3].replace(",218", ",999"), *gold[5:]]) + "\n")
    (folder / "MSFT.csv").write_text("time,open,high,low,close,volume\n"
                                     "1705010400,400,401,399,400.5,10\n"
                                     "1705010460,400.5,401,399,400,10\n"
                                     "1705010520,four hundred,401,399,400,10\n")
    (folder / "BROKEN.csv").write_bytes(b"\x00\x01 not a csv at all")
    server = _replay_server(make_server, folder, "AAPL,GC=F,MSFT")

    health = requests.get(server.base_url + "/health", timeout=5).json()
    skipped = {entry["file"]: entry for entry in health["live_data"]["skipped_files"]}
    assert set(skipped) == {"MSFT.csv", "BROKEN.csv"}
    assert skipped["MSFT.csv"]["row"] == 3 and "'four hundred' is not a number" in skipped["MSFT.csv"]["reason"]
    assert health["status"] == "degraded"
    assert any("MSFT.csv" in reason and "row 3" in reason for reason in health["reasons"])
    for symbol in ("AAPL", "GC=F"):
        assert requests.get(f"{server.base_url}/api/v1/market-data/{symbol}", timeout=5).status_code == 200
    assert requests.get(server.base_url + "/api/v1/market-data/MSFT", timeout=5).status_code == 404
    log = _server_log(server)
    assert "Traceback" not in log
    msft = [line for line in log.splitlines() if "MSFT.csv" in line]
    assert len(msft) == 1 and "row 3" in msft[0] and "is not a number" in msft[0]
    assert sum("BROKEN.csv" in line for line in log.splitlines()) == 1
