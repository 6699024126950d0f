"""Tickstream entry point: ``create_app(settings)`` wires the feed, bus, API, WebSocket and Dash pages."""

from __future__ import annotations

import os
import sys

if __name__ == "__main__" and "--dev" not in sys.argv[1:] \
        and os.environ.get("TICKSTREAM_DEV", "").strip().lower() not in ("1", "true", "yes", "on"):
    # Served by gevent (api/serving.py): patched before anything else imports threading, socket or ssl.
    from gevent import monkey

    monkey.patch_all()

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dash
from flask import Flask

from api.alert_routes import create_alert_blueprint, symbol_checker
from api.api_docs import create_api_docs_blueprint
from api.client_address import TrustedProxyFix
from api.errors import init_error_handlers
from api.frame_policy import init_frame_policy
from api.health import health_body
from api.hub import RELEASE_GRACE_SECONDS, Hub
from api.metrics import live_data
from api.openapi import create_openapi_blueprint
from api.origins import init_origin_policy
from api.page_routes import init_page_routes
from api.rate_limits import init_rate_limits
from api.rest import create_rest_blueprint
from api.security import init_security, init_security_headers, inline_script_hashes
from api.serving import serve
from api.signal_bridge import SignalEngine
from api.trading_routes import create_trading_blueprint
from api.web_performance import init_web_performance
from api.ws import init_websocket_routes
from components.live_chart import register_live_chart_callbacks
from components.shell import app_shell, register_shell_callbacks
from feeds.bus import InProcessBus
from feeds.factory import build_source
from feeds.live import LiveFeed
from feeds.market import MarketService
from feeds.source import MarketSource
from feeds.stats import FeedStats
from settings import Settings, load_settings, parse_cli
from trading.alert_service import AlertService, tracker_snapshots
from trading.alert_store import AlertStore
from trading.service import TradingService
from trading.setup import build_trading, combine_snapshots, keep_symbol_streamed

ROOT = Path(__file__).resolve().parent
log = logging.getLogger("tickstream")


@dataclass
class Services:
    """Everything create_app built, kept on ``server.extensions["tickstream"]`` for pages and tests."""

    settings: Settings
    source: MarketSource
    bus: InProcessBus
    feed: LiveFeed
    market: MarketService
    hub: Hub
    signals: SignalEngine
    alerts: AlertService | None = None
    trading: TradingService | None = None

    def health(self) -> tuple[dict[str, Any], int]:
        return health_body(self.feed, self.source, self.signals)

    def live_metrics(self) -> dict[str, Any]:
        return live_data(self.feed, self.source, self.bus, self.hub, self.settings.feed)


# Applied before the first paint, so a light-theme page never flashes dark (the theme contract: docs/chart.md).
_THEME_BOOTSTRAP = ("<script>try{var t=localStorage.getItem('tickstream-theme');"
                    "document.documentElement.setAttribute('data-theme',t==='light'?'light':'dark')}"
                    "catch(e){document.documentElement.setAttribute('data-theme','dark')}</script>")


def page_index(index_string: str) -> str:
    """Dash's page template with the document language and the theme applied before anything renders."""
    return index_string.replace("<html>", '<html lang="en">', 1).replace("<head>", "<head>" + _THEME_BOOTSTRAP, 1)


def create_app(settings: Settings | None = None, start_feed: bool = True) -> dash.Dash:
    """Build the whole application. The feed thread starts here (unless ``start_feed`` is False), not at import."""
    settings = settings or load_settings()
    server = Flask(__name__)
    source, clock = build_source(settings)
    bus = InProcessBus()
    # The feed runs on the source's clock (replay time for --feed replay); uptime stays in wall-clock seconds.
    signals = SignalEngine()
    feed = LiveFeed(source, bus, settings.symbols, interval=settings.update_interval,
                    max_symbols=settings.max_tracked_symbols, clock=clock, stats=FeedStats(), listener=signals,
                    seed_in_background=True)
    market = MarketService(source, feed)
    # Alert rules (trading/alert_service.py): fed by the bus, stored in <data dir>/alerts.sqlite.
    alerts = AlertService(bus, AlertStore.in_dir(settings.data_dir), tracker=tracker_snapshots(signals),
                          options=market.options_chain, keep_symbol=feed.add_symbol)
    # The paper broker (trading/, <data dir>/trading.sqlite3): its channels' snapshots come from it.
    trading = build_trading(settings, bus, feed, market, signals)
    hub = Hub(bus, feed, settings, signals_provider=signals.overlays,
              snapshot_provider=alerts.snapshot_provider(combine_snapshots(signals.snapshot, trading)),
              agent_status=signals.agent_status)
    # A symbol no rule watches any more leaves the feed like one no subscription uses (unless one does).
    alerts.release_symbol = lambda symbol: hub.lease_symbol(symbol, None, seconds=RELEASE_GRACE_SECONDS)
    trading.keep_symbol = keep_symbol_streamed(feed, hub)
    services = Services(settings, source, bus, feed, market, hub, signals, alerts, trading)
    server.extensions["tickstream"] = services
    # First of the after-request hooks registered, so it runs last and compresses what the others produced.
    init_web_performance(server, settings)

    if settings.trusted_proxies:
        server.wsgi_app = TrustedProxyFix(server.wsgi_app, settings.trusted_proxies)  # type: ignore[method-assign]
    # First of the before-request hooks: a request for a foreign Host name is refused before any route sees it.
    init_security(server, settings)
    init_error_handlers(server)
    init_origin_policy(server, settings)
    server.register_blueprint(create_rest_blueprint(market, services.health, services.live_metrics, signals,
                                                    peer_route=settings.bench_peer_route,
                                                    lease_symbol=hub.lease_symbol))
    server.register_blueprint(create_trading_blueprint(trading, peer_route=settings.bench_peer_route))
    server.register_blueprint(create_openapi_blueprint())
    server.register_blueprint(create_api_docs_blueprint())
    init_frame_policy(server, settings)
    server.register_blueprint(create_alert_blueprint(alerts, symbol_checker(market)))
    init_websocket_routes(server, hub, settings)
    # After every API blueprint: the limits attach to the routes registered by now.
    init_rate_limits(server, settings)

    app = dash.Dash(
        __name__,
        server=server,
        use_pages=True,
        pages_folder=str(ROOT / "pages"),
        assets_folder=str(ROOT / "assets"),
        title="Tickstream",
        suppress_callback_exceptions=True,
        update_title=None,
    )
    app.index_string = page_index(app.index_string)
    # The pages may run Dash's inline scripts (renderer, clientside callbacks) and the template's, nothing else inline.
    init_security_headers(server, lambda: [*app.csp_hashes(), *inline_script_hashes(app.index_string)])
    app.layout = app_shell(settings.symbols)
    register_shell_callbacks(app)
    init_page_routes(app)
    register_live_chart_callbacks(app)
    if settings.bench_peer_route:
        # The chart benchmark's peer, the usual Dash way (bench/chart_latency.py); not part of the product.
        from bench.chart_peer import register_chart_peer

        register_chart_peer(app)
    if start_feed:
        feed.start()
        alerts.start()
        trading.start()
    return app


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = parse_cli(argv)
    app = create_app(settings)
    log.info("Tickstream on http://%s:%d (feed %s, symbols %s, %s)", settings.host, settings.port, settings.feed,
             ",".join(settings.symbols), "development server" if settings.dev else "gevent")
    serve(app, settings)


def __getattr__(name: str) -> Any:
    # ``server = app.server`` for gunicorn (``gunicorn app:server``), built on first access, not at import.
    if name == "server":
        return create_app().server
    raise AttributeError(name)


if __name__ == "__main__":
    main(sys.argv[1:])
