"""Serving the app: gevent's WSGI server by default, Flask's reloader with --dev, and a clean shutdown.

``python app.py`` monkey-patches the process with gevent before anything else is imported (see app.py), so every
"thread" of the app (the feed loop, each connection's sender and reader, the hub's housekeeping) is a greenlet:
thousands of WebSocket clients cost a bounded number of OS threads, as under the documented deployment
(``gunicorn -k gevent``). CPU-heavy work goes to real threads (feeds/cpu_pool.py).

Shutdown (SIGTERM, SIGINT): the listening socket closes, every WebSocket gets a close frame 1001 ("going away"),
requests in flight get ``SHUTDOWN_GRACE_SECONDS`` to finish, then the feed stops and the process exits.
"""

from __future__ import annotations

import logging
import resource
import signal
import socket
from typing import Any

from werkzeug.serving import WSGIRequestHandler

from feeds.cpu_pool import gevent_patched
from settings import Settings

log = logging.getLogger(__name__)

# How long requests in flight may take to finish once shutdown has begun.
SHUTDOWN_GRACE_SECONDS = 5.0
# Descriptors beyond the WebSocket connections: listening socket, cache files, REST clients, source connections.
SPARE_DESCRIPTORS = 1024


def raise_open_file_limit(connections: int) -> int:
    """Raise the soft limit of open files towards what ``connections`` sockets need (at most the hard limit): the
    usual default of 1,024 would refuse connections long before TICKSTREAM_MAX_CONNECTIONS. Returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + SPARE_DESCRIPTORS
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if wanted > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    if soft < connections + SPARE_DESCRIPTORS:
        log.warning("open files are limited to %d: fewer than TICKSTREAM_MAX_CONNECTIONS=%d WebSockets can be held "
                    "(raise the hard limit, e.g. LimitNOFILE in systemd)", soft, connections)
    return int(soft)


def serve(app: Any, settings: Settings) -> None:
    """Serve ``app`` (a Dash app built by create_app) until SIGTERM or SIGINT: gevent unless ``settings.dev``."""
    if settings.dev:
        # Flask's development server with its reloader: code changes restart the process.
        app.run(host=settings.host, port=settings.port, debug=True, use_reloader=True, threaded=True,
                request_handler=QuietRequestHandler)
        return
    if not gevent_patched():
        raise RuntimeError("serving without --dev needs the gevent monkey-patching that `python app.py` applies")
    import gevent
    from gevent.pool import Pool
    from gevent.pywsgi import WSGIServer

    services = app.server.extensions["tickstream"]
    raise_open_file_limit(settings.max_connections)
    # log=None: no access line per request (a WebSocket client or a poller would flood the log); errors still go
    # to our logger.
    # A pool (unbounded; the WebSocket caps bound the connections) so that shutdown can wait for the requests in
    # flight: with gevent's default spawning there is nothing to wait on and they would be cut.
    http = WSGIServer((settings.host, settings.port), app.server, log=None, error_log=_ErrorLog(), spawn=Pool())
    # No Nagle: every small answer on a kept-alive connection (REST, WebSocket frames) would otherwise wait for the
    # client's delayed ACK, about 40 ms. Linux gives accepted sockets the listening socket's TCP_NODELAY.
    http.init_socket()
    http.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stopping: list[bool] = []

    def shutdown(signum: int) -> None:
        if stopping:
            return
        stopping.append(True)
        log.info("shutting down (%s): closing WebSockets with 1001, letting requests finish",
                 signal.Signals(signum).name)
        http.close()  # stop accepting; the serving loop returns once open requests end (below)
        services.hub.shutdown()
        http.stop(timeout=SHUTDOWN_GRACE_SECONDS)
        services.feed.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, lambda s=signum: gevent.spawn(shutdown, s))
    http.serve_forever()
    log.info("stopped")


class _ErrorLog:
    """gevent's error log (a file-like ``write``) sent to the logging module, one record per line."""

    def write(self, text: str) -> None:
        text = text.rstrip()
        if text:
            log.error("%s", text)

    def flush(self) -> None:
        return


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler (the --dev server) with a ``Server`` header that names no versions: the default,
    ``Werkzeug/3.1.9 Python/3.11.7``, tells a caller which known flaws to try. gevent's server sends none."""

    def version_string(self) -> str:
        return "Tickstream"
