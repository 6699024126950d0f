"""Compression (brotli, gzip) and long-lived cache headers (api/web_performance.py), through the whole app."""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import brotli
import plotly
import pytest
from dash.fingerprint import build_fingerprint
from flask.testing import FlaskClient

from api.web_performance import IMMUTABLE, PACKAGE_FILE, CompressedFiles, fingerprinted
from app import create_app
from settings import load_settings

PLOTLY_FILE = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[FlaskClient]:
    app = create_app(load_settings({}, data_dir=str(tmp_path), symbols="AAPL"), start_feed=False)
    client = app.server.test_client()
    # Dash registers a component's files when the index page is first built.
    assert client.get("/chart/AAPL").status_code == 200
    yield client
    app.server.extensions["tickstream"].feed.stop()


def _decode(body: bytes, encoding: str | None) -> bytes:
    if encoding == "br":
        return bytes(brotli.decompress(body))
    if encoding == "gzip":
        return gzip.decompress(body)
    assert encoding is None
    return body


def _no_end_id(body: bytes) -> bytes:
    return re.sub(rb'"end_id":"[^"]*"', b"", body)


def _page_urls(client: FlaskClient) -> list[str]:
    html = client.get("/chart/AAPL").get_data(as_text=True)
    return re.findall(r'(?:src|href)="(/(?:_dash-component-suites|assets)/[^"]+)"', html)


def _plotly_url() -> str:
    # Dash names a package file ``<name>.v<version>m<mtime>.<ext>`` (dash/fingerprint.py).
    fingerprint = build_fingerprint("package_data/plotly.min.js", plotly.__version__,
                                    int(os.stat(PLOTLY_FILE).st_mtime))
    return f"/_dash-component-suites/plotly/{fingerprint}"


@pytest.mark.parametrize("url", ["/chart/AAPL", "/_dash-layout", "/_dash-dependencies",
                                 "/api/v1/market-data/AAPL/history?interval=1m", "/api/v1/openapi.json"])
def test_brotli_and_gzip_decode_to_the_same_bytes(client: FlaskClient, url: str) -> None:
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert "Content-Encoding" not in plain.headers
    for encoding in ("br", "gzip"):
        response = client.get(url, headers={"Accept-Encoding": encoding})
        assert response.headers["Content-Encoding"] == encoding
        assert "Accept-Encoding" in response.headers["Vary"]
        assert len(response.data) < len(plain.data)
        decoded = _decode(response.data, encoding)
        if "/history" in url:
            # The simulated market moves between two requests: the same candles, the newest one may have changed.
            assert json.loads(decoded)["data"][:-2] == json.loads(plain.data)["data"][:-2]
        else:
            # Dash writes a random ``end_id`` into every page; the rest is the same.
            assert _no_end_id(decoded) == _no_end_id(plain.data)


def test_brotli_is_preferred_over_gzip(client: FlaskClient) -> None:
    response = client.get("/_dash-layout", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.headers["Content-Encoding"] == "br"


def test_page_bundles_compress_and_are_cached_for_a_year(client: FlaskClient) -> None:
    urls = _page_urls(client)
    assert any(u.startswith("/_dash-component-suites/") for u in urls)
    assert any(u.startswith("/assets/") and "?m=" in u for u in urls)
    for url in urls:
        plain = client.get(url, headers={"Accept-Encoding": "identity"})
        for encoding in ("br", "gzip"):
            response = client.get(url, headers={"Accept-Encoding": encoding})
            assert response.status_code == 200, url
            assert response.headers["Cache-Control"] == IMMUTABLE, url
            if len(plain.data) >= 500:
                assert response.headers["Content-Encoding"] == encoding, url
                assert _decode(response.data, encoding) == plain.data, url
                assert int(response.headers["Content-Length"]) == len(response.data)


def test_plotly_bundle_is_served_brotli_compressed(client: FlaskClient) -> None:
    original = PLOTLY_FILE.read_bytes()
    first = client.get(_plotly_url(), headers={"Accept-Encoding": "br, gzip"})
    assert first.status_code == 200
    assert first.headers["Content-Encoding"] == "br"
    assert first.headers["Cache-Control"] == IMMUTABLE
    assert len(first.data) < len(original) * 0.3
    assert brotli.decompress(first.data) == original
    # A second load is served from the kept compressed bytes: the same bytes.
    again = client.get(_plotly_url(), headers={"Accept-Encoding": "br"})
    assert again.data == first.data


def test_unfingerprinted_urls_are_revalidated_not_kept(client: FlaskClient) -> None:
    suite = client.get("/_dash-component-suites/plotly/package_data/plotly.min.js",
                       headers={"Accept-Encoding": "br"})
    assert suite.status_code == 200
    # Dash's lazy chunks: a few minutes, then revalidated.
    assert suite.headers["Cache-Control"] == PACKAGE_FILE
    asset = client.get("/assets/live_chart.js", headers={"Accept-Encoding": "br"})
    assert asset.status_code == 200
    assert "max-age" not in asset.headers.get("Cache-Control", "")
    assert asset.headers["Content-Encoding"] == "br"
    assert brotli.decompress(asset.data) == (Path(__file__).parents[2] / "assets" / "live_chart.js").read_bytes()
    # The page and JSON answers are never cached for long either.
    for url in ("/chart/AAPL", "/_dash-layout", "/api/v1/market-data/AAPL/history?interval=1m"):
        assert "max-age" not in client.get(url).headers.get("Cache-Control", "")


def test_unfingerprinted_bundle_revalidates_without_compressing_again(client: FlaskClient) -> None:
    files: CompressedFiles = client.application.config["COMPRESS_CACHE_BACKEND"]()
    url = "/_dash-component-suites/plotly/package_data/plotly.min.js"
    first = client.get(url, headers={"Accept-Encoding": "br"})
    kept = len(files)
    assert brotli.decompress(first.data) == PLOTLY_FILE.read_bytes()
    again = client.get(url, headers={"Accept-Encoding": "br", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["Cache-Control"] == PACKAGE_FILE
    assert client.get(url, headers={"Accept-Encoding": "br"}).data == first.data
    assert len(files) == kept  # the same entry served every time


def test_revalidated_fingerprinted_asset_keeps_its_cache_header(client: FlaskClient) -> None:
    url = next(u for u in _page_urls(client) if u.startswith("/assets/style.css"))
    first = client.get(url, headers={"Accept-Encoding": "br"})
    again = client.get(url, headers={"Accept-Encoding": "br", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["Cache-Control"] == IMMUTABLE


def test_made_up_fingerprints_share_one_cache_entry(client: FlaskClient) -> None:
    files: CompressedFiles = client.application.config["COMPRESS_CACHE_BACKEND"]()
    before = len(files)
    for mtime in range(5):
        url = "/_dash-component-suites/dash/deps/" + build_fingerprint("react@18.3.1.min.js", "4.0.0", mtime)
        assert client.get(url, headers={"Accept-Encoding": "br"}).status_code == 200
    assert len(files) - before <= 1


def test_small_answers_and_errors_are_not_compressed(client: FlaskClient) -> None:
    missing = client.get("/api/v1/market-data/AAPL/history?interval=7x", headers={"Accept-Encoding": "br"})
    assert missing.status_code == 400
    assert "Content-Encoding" not in missing.headers


def test_compressed_file_cache_is_bounded() -> None:
    files = CompressedFiles(max_bytes=10)
    files.set("br;a", b"12345")
    files.set("br;b", b"12345")
    assert files.get("br;a") == b"12345"  # a is now the most recently used
    files.set("br;c", b"123")
    assert files.get("br;b") is None
    assert files.get("br;a") == b"12345" and files.get("br;c") == b"123"
    assert files.size <= 10
    files.set("br;-", b"1")  # a dynamic answer: never kept
    assert files.get("br;-") is None
    files.set("br;huge", b"x" * 11)
    assert files.get("br;huge") is None


@pytest.mark.parametrize(("path", "query", "expected"), [
    ("/_dash-component-suites/dash/deps/react@18.v4_4_1m1795809310.3.1.min.js", {}, True),
    ("/_dash-component-suites/dash/deps/react@18.3.1.min.js", {}, False),
    ("/assets/style.css", {"m": "1795818084.38"}, True),
    ("/assets/style.css", {"m": ""}, False),
    ("/assets/style.css", {}, False),
    ("/api/v1/symbols", {"m": "1"}, False),
])
def test_fingerprinted(path: str, query: dict[str, str], expected: bool) -> None:
    assert fingerprinted(path, query, "/assets/") is expected


def test_websocket_upgrade_still_works_and_is_not_compressed(inproc_server) -> None:  # type: ignore[no-untyped-def]
    import websocket

    server = inproc_server(start_feed=False)
    ws = websocket.create_connection(server.ws_url + "/ws", timeout=10,
                                     header=["Accept-Encoding: br, gzip"])
    try:
        welcome = json.loads(ws.recv())
        assert welcome["type"] == "welcome"
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv())["type"] == "pong"
        assert "content-encoding" not in {k.lower() for k in ws.getheaders()}
    finally:
        ws.close()
