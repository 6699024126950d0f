"""Fast first paint on the server side: brotli/gzip compression and long-lived cache headers for fingerprinted URLs.

What the browser loads for a chart: the page (HTML), Dash's JSON (``/_dash-layout``, ``/_dash-dependencies``,
callbacks), Dash's component bundles (``/_dash-component-suites/…``, plotly.min.js alone is 4.8 MB), our
``/assets/`` and the REST JSON. All of it is text and compresses 3-4×; flask-compress does that, brotli first, gzip
for clients without it. WebSocket upgrades are left alone.

Caching: Dash already names its component bundles with a version fingerprint (``plotly.v3_1_0m1700000000.min.js``,
dash/fingerprint.py) and gives them ``max-age`` of a year; its asset links carry ``?m=<mtime>``
(``Dash._collect_and_register_resources``). Such a URL's content never changes, so the answer gets
``public, max-age=31536000, immutable`` (``immutable``: no revalidation on reload either). Assets without ``?m=`` keep
what Flask gives them (an ETag, revalidated on every use), so an edited file shows at once. Dash's lazily loaded
package files (``async-graph.js``, then ``plotly.min.js``) have no fingerprint: they get a short ``max-age`` (5
minutes), then revalidate with their ETag. Pages and JSON get no cache header.

The compressed bytes of every static file are kept (keyed by the file and its ETag, not the URL, within a byte
budget): compressing plotly.min.js costs ~0.13 s of CPU, which every load, even one answered 304, would otherwise pay
again (flask-compress compresses before it compares the ETag).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from dash.fingerprint import check_fingerprint
from flask import Flask, Response, g, request
from flask_compress import Compress

# Brotli first (about 12% smaller than gzip on plotly.min.js), gzip for the clients that do not take brotli.
ALGORITHMS = ["br", "gzip"]
# Brotli quality 6: plotly.min.js 4.8 MB → 1.27 MB in 0.13 s; quality 11 gains 12% more but takes 10 s of CPU.
BROTLI_LEVEL = 6
GZIP_LEVEL = 6
# Below this a response is sent as is: the headers would cost more than compression saves.
MIN_SIZE = 500
IMMUTABLE = "public, max-age=31536000, immutable"
# Dash loads some package files by a URL without fingerprint: its lazy chunks, async-graph.js and, from it,
# plotly.min.js. They change only when a package is upgraded (and the server restarted), so a browser may use its copy
# for a few minutes without asking; after that it revalidates with the ETag. Without this, every load of the chart
# waited for two revalidations in a row.
PACKAGE_FILE = "public, max-age=300"
COMPONENT_SUITES = "/_dash-component-suites/"
# Dash's assets_url_path (create_app keeps its default).
ASSETS = "/assets/"
# Compressed fingerprinted files kept, at most this many bytes in all (the whole of Dash's and our bundles compress
# to about 2 MB per algorithm).
CACHE_BYTES = 32 * 1024 * 1024
# What flask-compress is given as the cache key of a response that must not be cached.
_NO_CACHE = "-"
_CACHE_KEY = "tickstream_compress_key"


class CompressedFiles:
    """Compressed bytes of fingerprinted files, least recently used dropped beyond ``max_bytes``; any thread.

    flask-compress asks ``get(key)`` and ``set(key, value)`` with ``key = "<algorithm>;<cache key>"``; keys whose
    cache key is ``_NO_CACHE`` (dynamic answers) are neither looked up nor stored.
    """

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        if key.endswith(";" + _NO_CACHE):
            return None
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def set(self, key: str, value: bytes) -> None:
        if key.endswith(";" + _NO_CACHE) or len(value) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.size -= len(old)
            self._items[key] = value
            self.size += len(value)
            while self.size > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.size -= len(dropped)

    def __len__(self) -> int:
        return len(self._items)


def _cache_key(_request: Any) -> str:
    return str(g.get(_CACHE_KEY, _NO_CACHE))


def is_websocket_upgrade() -> bool:
    return "websocket" in request.headers.get("Upgrade", "").lower()


def fingerprinted(path: str, query: dict[str, str], assets_prefix: str) -> bool:
    """Whether the URL names one version of a file for good (so its answer may be cached for a year).

    >>> fingerprinted("/_dash-component-suites/plotly/package_data/plotly.v3_1_0m1700000000.min.js", {}, "/assets/")
    True
    >>> fingerprinted("/_dash-component-suites/plotly/package_data/plotly.min.js", {}, "/assets/")
    False
    >>> fingerprinted("/assets/live_chart.js", {"m": "1700000000.0"}, "/assets/")
    True
    >>> fingerprinted("/assets/live_chart.js", {}, "/assets/")
    False
    """
    if path.startswith(COMPONENT_SUITES):
        return check_fingerprint(path)[1]
    return path.startswith(assets_prefix) and bool(query.get("m"))


def _file_key(path: str, response: Response) -> str:
    """The cache key of a static file's compressed bytes: its real path (fingerprint removed, so made-up
    fingerprints of one file share one entry; query left out) and its ETag (Flask's changes with an asset's mtime
    and size, Dash's is the content's hash; fingerprinted package files have none and never change)."""
    real = check_fingerprint(path)[0] if path.startswith(COMPONENT_SUITES) else path
    etag, _weak = response.get_etag()
    return f"{real}|{etag or ''}"


def init_web_performance(server: Flask, settings: Any = None) -> Compress:
    """Compress ``server``'s answers and give fingerprinted URLs long-lived cache headers. Call it early in
    ``create_app``: its after-request hook must run after every other (Flask runs them in reverse order), so that
    what they add is compressed too. ``settings`` is the app's Settings (nothing here is configurable yet)."""
    del settings
    server.config.setdefault("COMPRESS_ALGORITHM", ALGORITHMS)
    # Streamed answers (Flask's send_file for /assets/ without ?m=) are compressed chunk by chunk.
    server.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ALGORITHMS)
    server.config.setdefault("COMPRESS_BR_LEVEL", BROTLI_LEVEL)
    server.config.setdefault("COMPRESS_LEVEL", GZIP_LEVEL)
    server.config.setdefault("COMPRESS_MIN_SIZE", MIN_SIZE)
    server.config.setdefault("COMPRESS_CACHE_KEY", _cache_key)
    files = CompressedFiles()
    server.config.setdefault("COMPRESS_CACHE_BACKEND", lambda: files)
    # Our own hook calls flask-compress's, so that WebSocket upgrades can be skipped and headers set first.
    server.config["COMPRESS_REGISTER"] = False
    compress = Compress()
    compress.init_app(server)
    server.extensions["tickstream_compress"] = compress

    @server.after_request
    def _fast_first_paint(response: Response) -> Response:
        if is_websocket_upgrade():
            return response
        path = request.path
        static = request.method in ("GET", "HEAD") and path.startswith((COMPONENT_SUITES, ASSETS))
        if static and response.status_code in (200, 304):
            if fingerprinted(path, request.args.to_dict(), ASSETS):
                response.headers["Cache-Control"] = IMMUTABLE
            elif path.startswith(COMPONENT_SUITES):
                response.headers["Cache-Control"] = PACKAGE_FILE
        if static and response.status_code == 200:
            # The file is read whole (assets are small; Dash's bundles are in memory already), so that
            # flask-compress takes its cached path: each version of a file is compressed once, not per request.
            response.direct_passthrough = False
            response.make_sequence()
            g.setdefault(_CACHE_KEY, _file_key(path, response))
        return compress.after_request(response)

    return compress
