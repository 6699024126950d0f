"""Wiring of the paper broker into the application: its store under the data directory, its service on the bus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api import protocol as p
from feeds.bus import InProcessBus
from feeds.universe import AssetClass, shipped
from settings import Settings
from trading.broker import Broker, BrokerConfig, Instrument
from trading.fills import FillRules
from trading.service import TRADING_CHANNELS, TradingService
from trading.store import TradingStore

STORE_NAME = "trading.sqlite3"
# How long the feed keeps a symbol the broker needs after each reminder (the service reminds it every minute).
KEEP_SECONDS = 300.0


def instrument_of(symbol: str) -> Instrument | None:
    """The universe's tick size; crypto trades every day (√365 in the Sharpe ratio)."""
    listed = shipped().resolve(symbol)
    if listed is None:
        return None
    return Instrument(symbol, listed.tick_size, every_day=listed.asset_class is AssetClass.CRYPTO)


def broker_config(settings: Settings) -> BrokerConfig:
    return BrokerConfig(
        starting_cash=settings.paper_cash,
        rules=FillRules(slippage_bps=settings.paper_slippage_bps, max_volume_share=settings.paper_max_volume_share,
                        commission_per_order=settings.paper_commission_per_order,
                        commission_per_share=settings.paper_commission_per_share),
        allow_short=settings.paper_allow_short,
    )


def build_trading(settings: Settings, bus: InProcessBus, feed: Any, market: Any, signals: Any) -> TradingService:
    store = TradingStore(settings.data_dir / STORE_NAME)

    def every_day(symbol: str) -> bool:
        found = instrument_of(symbol)
        return found is not None and found.every_day

    broker = Broker(store, broker_config(settings), clock=feed.clock, every_day=every_day)

    def idea_lookup(idea_id: str) -> dict[str, Any] | None:
        # An idea born before the service saw its payload (or pushed out of its map): ask the trackers.
        from signals import prepared_payload

        for tracker in signals.trackers():
            for idea in tracker.snapshot.ideas:
                if idea.id == idea_id:
                    payload: dict[str, Any] = prepared_payload(idea)
                    return payload
        return None

    return TradingService(broker, bus, latest_quote=feed.latest_quote, fetch_quote=market.quote,
                          instrument=instrument_of, idea_lookup=idea_lookup, clock=feed.clock,
                          running=lambda: feed.is_running)


def keep_symbol_streamed(feed: Any, hub: Any) -> Callable[[str], None]:
    """A symbol with working orders or a position stays in the feed (its quotes fill and mark them)."""

    def keep(symbol: str) -> None:
        feed.add_symbol(symbol)
        hub.lease_symbol(symbol, None, KEEP_SECONDS)

    return keep


def combine_snapshots(others: Callable[[p.Subscription], list[p.ChannelEvent]],
                      trading: TradingService) -> Callable[[p.Subscription], list[p.ChannelEvent]]:
    """The hub's snapshot provider: the broker's channels from the broker, the rest from ``others``."""

    def snapshot(subscription: p.Subscription) -> list[p.ChannelEvent]:
        if subscription.channel in TRADING_CHANNELS:
            return trading.snapshot(subscription)
        return others(subscription)

    return snapshot
