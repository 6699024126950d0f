"""Read access to market data for request handlers: the feed's fresh snapshot first, the cache second, the source last.

Every answer can be had labelled (``*_sourced``): which source produced it and whether it is stale (the last good
value from the cache because every source failed), so REST can say so. The plain methods return just the value.
"""

from __future__ import annotations

from feeds.failover import FailoverSource, Sourced
from feeds.live import LiveFeed
from feeds.models import Candle, OptionChain, Period, Quote, Timeframe
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
    """Quotes, history and option chains for REST and pages.

    Thread-safe: it only reads feed snapshots and calls the source (FailoverSource and the sources are themselves
    thread-safe). A remote source is called on the request path only when neither the feed nor the cache holds a
    fresh value.
    """

    def __init__(self, source: MarketSource, feed: LiveFeed) -> None:
        self.source = source
        self.feed = feed

    @property
    def _failover(self) -> FailoverSource | None:
        return self.source if isinstance(self.source, FailoverSource) else None

    # -- labelled ----------------------------------------------------------------------------------------------

    def quote_sourced(self, symbol: str) -> Sourced[Quote]:
        latest = self.feed.latest_quote(symbol)
        # Three feed intervals: a tracked symbol's snapshot is never older than that while its source answers.
        max_age = max(5.0, 3 * self.feed.interval)
        if latest is not None and self.feed.clock() - latest.timestamp <= max_age:
            return Sourced(latest, latest.source, stale=latest.stale, cached=True, as_of=latest.timestamp)
        failover = self._failover
        if failover is None:
            quote = self.source.quote(symbol)
            return Sourced(quote, quote.source, stale=quote.stale)
        if failover.cache is not None:
            # A quote fetched less than the quote TTL ago (a closed market's last price, an untracked symbol
            # asked for again) is answered from disk instead of calling the provider once per request.
            fresh = failover.cache.get_quote(symbol)
            if fresh is not None:
                return Sourced(fresh.value, fresh.source, stale=False, cached=True, as_of=fresh.written_at)
        return failover.quote_sourced(symbol)

    def history_sourced(self, symbol: str, period: Period, timeframe: Timeframe, end: float | None = None,
                        limit: int | None = None) -> Sourced[list[Candle]]:
        failover = self._failover
        if failover is not None:
            sourced = failover.history_sourced(symbol, period, timeframe, end, limit)
        else:
            sourced = Sourced(self.source.history(symbol, period, timeframe, end=end, limit=limit), self.source.name)
        candles = sourced.value
        if end is None and candles and not sourced.stale:
            # The forming candle as the feed built it, so REST and the stream agree on the last bar. A copy:
            # the list may be the cache's own value.
            live = self.feed.latest_candle(symbol, timeframe)
            if live is not None and live.time == candles[-1].time and live != candles[-1]:
                candles = [*candles[:-1], live]
                sourced = Sourced(candles, sourced.source, sourced.stale, sourced.cached, sourced.as_of)
        return sourced

    def options_sourced(self, symbol: str, expiration: str | None = None) -> Sourced[OptionChain]:
        failover = self._failover
        if failover is not None:
            return failover.options_chain_sourced(symbol, expiration)
        return Sourced(self.source.options_chain(symbol, expiration), self.source.name)

    # -- plain values (pages) ----------------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        return self.quote_sourced(symbol).value

    def history(self, symbol: str, period: Period, timeframe: Timeframe, end: float | None = None,
                limit: int | None = None) -> list[Candle]:
        return self.history_sourced(symbol, period, timeframe, end, limit).value

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        return self.options_sourced(symbol, expiration).value
