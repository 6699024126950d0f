"""Builds the market source the settings ask for: the simulated market alone, or a failover chain with its cache.

``--feed sim`` (the default) gives a :class:`SimulatedSource` on its own (its quotes checked like every source's):
it is never put in a failover chain, so fake prices can never stand in for real ones. ``--feed yahoo`` gives a
:class:`FailoverSource` over ``settings.source_chain`` (``TICKSTREAM_SOURCES``, default ``yahoo`` alone) and
``--feed replay`` one over the replay folder, both with a :class:`MarketCache` under ``settings.cache_dir`` (in
memory only, with a warning, when that directory cannot be used: the cache is an optimisation, never a reason not
to start). The network seams of the sources (Yahoo's client, the requests sessions of Polygon and Alpaca) can be
injected so tests run on recorded data.

``build_source`` also returns the clock the feed must run on: wall time, except for replay, whose feed, cache
and failover all live on the replay clock (a replayed quote from 2024 is fresh in replay time). A replay's chain is
a :class:`ReplayChain`, which also hands the feed the replay's path between two samples so that live candles are
the file's candles at any speed.

Which sources a real-data feed uses is settled in settings.py (``TICKSTREAM_SOURCES``, or the sources whose API
keys are set); the factory logs the chain it builds and which sources the keys enabled.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from feeds.cache import MarketCache
from feeds.failover import FailoverSource
from feeds.log_throttle import LogThrottle
from feeds.models import Quote
from feeds.quote_validation import InvalidQuote, quote_problem
from feeds.simulated import SimulatedSource
from feeds.source import MarketSource
from feeds.universe import shipped
from settings import Settings, check_sources

if TYPE_CHECKING:
    import requests

    from feeds.replay import ReplaySource
    from feeds.yahoo_client import YahooClient

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class ReplayChain(FailoverSource):
    """The failover chain over one ReplaySource (cache, breaker, the stale fallback once the files end) that also
    gives the feed the replay's path between two samples (``LiveFeed`` applies it; see feeds/replay.py)."""

    def __init__(self, replay: ReplaySource, cache: MarketCache, clock: Clock, call_timeout: float) -> None:
        super().__init__([replay], cache, clock, call_timeout=call_timeout)
        self.replay = replay

    def path_quotes(self, symbol: str, after: float, until: float, limit: int) -> list[Quote]:
        # Straight to the replay: in-memory arrays, and only asked after the chain answered for ``until`` itself.
        # Checked like every other quote: an invalid one is dropped (and counted), the rest of the path is kept.
        kept = []
        for quote in self.replay.path_quotes(symbol, after, until, limit):
            try:
                kept.append(self.vet_quote(self.replay.name, quote))
            except InvalidQuote:
                continue
        return kept


class CheckedSimulatedSource(SimulatedSource):
    """The simulated market with its quotes checked like every other source's (feeds/quote_validation.py): an
    unusable one raises InvalidQuote (the feed counts an error and keeps the last price) and is counted in
    ``health()["rejected_quotes"]``. A subclass, so it is still a SimulatedSource wherever one is expected."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rejections_lock = threading.Lock()
        self.rejected_quotes = 0
        self.last_rejection: str | None = None
        self._throttle = LogThrottle(log)

    def quote(self, symbol: str) -> Quote:
        quote = super().quote(symbol)
        problem = quote_problem(quote)
        if problem is None:
            return quote
        with self._rejections_lock:
            self.rejected_quotes += 1
            self.last_rejection = f"quote {symbol}: {problem}"
        self._throttle.warning("rejected quotes", "source %s: dropped an invalid quote %s: %s", self.name, symbol,
                               problem)
        raise InvalidQuote(f"invalid quote {symbol}: {problem}")

    def health(self) -> dict[str, Any]:
        with self._rejections_lock:
            return {**super().health(), "rejected_quotes": self.rejected_quotes,
                    "last_rejection": self.last_rejection}


def market_cache_dir(settings: Settings) -> Path:
    """Where the failover cache of this feed lives.

    Live providers share one folder (their values are real whichever provider gave them, and each entry keeps its
    source). A replay gets a folder per replay directory: replayed prices must never come back as stale fallback
    for a live feed, nor for another folder's files.
    """
    base = settings.cache_dir / "market"
    if settings.feed == "replay" and settings.replay_dir is not None:
        digest = hashlib.blake2b(str(settings.replay_dir.resolve()).encode(), digest_size=6).hexdigest()
        return base / f"replay-{digest}"
    return base / "live"


def build_source(
    settings: Settings,
    *,
    yahoo_client: YahooClient | None = None,
    session_factory: Callable[[], requests.Session] | None = None,
    wall_clock: Clock = time.time,
) -> tuple[MarketSource, Clock]:
    """The feed's source and clock for ``settings`` (see module docstring).

    Raises ValueError naming what is missing (an API key, the replay folder) or wrong (sim mixed into a chain).
    """
    check_sources(settings)
    if settings.feed == "sim":
        log.info("market data: the simulated market (seed %d%s)", settings.seed,
                 ", any symbol" if settings.sim_any_symbol else "")
        if not settings.sim_any_symbol:
            unknown = [s for s in settings.symbols if s not in shipped()]
            if unknown:
                log.warning("the simulated market has no symbol %s: it will not stream (use --sim-any-symbol to "
                            "price any ticker)", ", ".join(unknown))
        source = CheckedSimulatedSource(seed=settings.seed, clock=wall_clock, any_symbol=settings.sim_any_symbol)
        return source, wall_clock

    clock = wall_clock
    chain: list[MarketSource] = []
    for name in settings.source_chain:
        source, source_clock = _build_one(name, settings, yahoo_client, session_factory, wall_clock)
        if source_clock is not None:
            clock = source_clock
        chain.append(source)
    cache = MarketCache(market_cache_dir(settings), clock=clock)
    if settings.feed == "replay":
        # The replay clock starts over on every run, so last run's entries would look fresh (or even come from the
        # future of this run); a replay cache is only good for the run that wrote it.
        cache.clear()
    if settings.keyed_sources:
        log.info("market data: %s enabled because %s set", ", ".join(settings.keyed_sources),
                 "its API key is" if len(settings.keyed_sources) == 1 else "their API keys are")
    log.info("market data: failover chain %s", " → ".join(settings.source_chain))
    if settings.source_chain == ("replay",):
        return ReplayChain(cast("ReplaySource", chain[0]), cache, clock, settings.source_timeout), clock
    return FailoverSource(chain, cache, clock=clock, call_timeout=settings.source_timeout), clock


def _build_one(
    name: str,
    settings: Settings,
    yahoo_client: YahooClient | None,
    session_factory: Callable[[], requests.Session] | None,
    wall_clock: Clock,
) -> tuple[MarketSource, Clock | None]:
    """One source of the chain, and its clock when the feed must follow it (replay)."""
    # Imported here: yfinance, requests-based clients and pandas file readers cost start-up time and are needed
    # only when chosen (the simulated default must not pay for them).
    if name == "yahoo":
        from feeds.yahoo import YahooSource

        try:
            return YahooSource(yahoo_client, cache_dir=settings.cache_dir / "yfinance", clock=wall_clock,
                               call_timeout=settings.source_timeout), None
        except OSError as exc:
            # yfinance's own caches (time zones, cookies) are an optimisation too: an unusable cache directory
            # leaves them where yfinance keeps them by default (it copes with an unwritable one by itself).
            log.warning("cannot use %s for yfinance's caches (%s); yfinance keeps its default location",
                        settings.cache_dir / "yfinance", exc)
            return YahooSource(yahoo_client, cache_dir=None, clock=wall_clock,
                               call_timeout=settings.source_timeout), None
    if name == "polygon":
        from feeds.polygon import PolygonSource

        kwargs: dict[str, Any] = {"session_factory": session_factory} if session_factory else {}
        return PolygonSource(settings.polygon_api_key or "", clock=wall_clock, **kwargs), None
    if name == "alpaca":
        from feeds.alpaca import AlpacaSource

        kwargs = {"session_factory": session_factory} if session_factory else {}
        return AlpacaSource(settings.alpaca_api_key or "", settings.alpaca_secret_key or "", clock=wall_clock,
                            **kwargs), None
    if name == "replay":
        from feeds.replay import ReplaySource

        if settings.replay_dir is None:
            raise ValueError("source replay needs TICKSTREAM_REPLAY_DIR (or --replay-dir), which is not set")
        replay = ReplaySource(settings.replay_dir, speed=settings.replay_speed, clock=wall_clock)
        return replay, replay.clock
    raise ValueError(f"unknown source {name!r}")
