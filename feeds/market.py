"""Read access to market data for request handlers: the feed's fresh snapshot first, the source second."""

from __future__ import annotations

from feeds.live import LiveFeed
from feeds.models import Candle, Period, Quote, Timeframe
from feeds.source import MarketSource

# History intervals chosen for a period when the caller names none (about 100–1500 candles each).
_INTERVAL_FOR_DAYS = ((1, Timeframe.M5), (5, Timeframe.M15), (31, Timeframe.H1), (92, Timeframe.H4))


def default_interval(period: Period) -> Timeframe:
    if period.days is None:
        return Timeframe.D1
    for max_days, timeframe in _INTERVAL_FOR_DAYS:
        if period.days <= max_days:
            return timeframe
    return Timeframe.D1


class MarketService:
    """Quotes and history for REST and pages. Thread-safe: it only reads feed snapshots and calls the source."""

    def __init__(self, source: MarketSource, feed: LiveFeed) -> None:
        self.source = source
        self.feed = feed

    def quote(self, symbol: str) -> Quote:
        latest = self.feed.latest_quote(symbol)
        max_age = max(5.0, 3 * self.feed.interval)
        if latest is not None and self.feed.clock() - latest.timestamp <= max_age:
            return latest
        return self.source.quote(symbol)

    def history(self, symbol: str, period: Period, timeframe: Timeframe, end: float | None = None,
                limit: int | None = None) -> list[Candle]:
        candles = self.source.history(symbol, period, timeframe, end=end, limit=limit)
        if end is None and candles:
            # The forming candle as the feed built it, so REST and the stream agree on the last bar.
            live = self.feed.latest_candle(symbol, timeframe)
            if live is not None and live.time == candles[-1].time:
                candles[-1] = live
        return candles
