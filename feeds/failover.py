"""FailoverSource: an ordered chain of sources with a circuit breaker each, hard call limits and a cache fallback.

How one call (``quote``, ``history``, ``options_chain``) is answered:

1. ``history`` and ``options_chain`` first look for a *fresh* cache entry (TTLs in feeds/cache.py). ``quote`` does
   not: the feed thread polls quotes to make ticks, and a 30 s old price would freeze the chart.
2. The sources are tried in order. A source whose breaker is open is skipped. Each call runs under a hard
   wall-clock limit (``call_timeout``) in a small pool of daemon worker threads (:class:`DeadlineCaller`); the
   limit starts when a worker takes the call, and the wait for a free worker is limited on its own
   (``queue_timeout``). A source that says it limits its own network calls (``limits_own_calls = True``, as
   YahooSource does) is called directly instead: wrapping it again would time its local throttling (spacing,
   queueing) as if the provider were slow. The first answer wins, is written to the cache and returned.
3. What a source's error means for the chain:
   - ``SourceBusy``: the source did not ask its provider because its own throttling had no free slot soon
     enough (or no worker was free here). Not the provider's failure: the breaker counts nothing, the source is
     skipped like an open circuit (next source, else the stale value).
   - ``SourceError`` (network, provider, time-out, empty data, rate limit) or any unexpected exception: a failure
     — counted by the breaker, next source.
   - ``UnknownSymbol``: the source *answered* (the breaker counts a success) but does not know the ticker. The next
     source is still asked, because providers cover different markets (a replay folder holds a few files, Polygon
     has no ``GC=F``…): a symbol is unknown only if no source knows it.
   - ``InvalidInput``/``UnsupportedRequest``: also an answer; the next source may serve the request (Yahoo keeps
     1-minute bars for 30 days only, Polygon further back).
4. If no source answered with data:
   - every source that was asked answered UnknownSymbol/UnsupportedRequest (none failed): that answer is raised
     (UnknownSymbol first → REST 404, else 400) — no stale data for a ticker the providers say does not exist;
   - some source failed or was skipped: the cache's last good value is returned marked stale (``Quote.stale`` /
     ``Sourced.stale``) with the source that produced it; without one, UnknownSymbol or UnsupportedRequest if a
     source said so, else :class:`NoSourceAvailable` (REST 503).

5. Every quote a source answers is checked (feeds/quote_validation.py: finite, positive, bid not above ask) before
   it is cached or returned, and every history candle too (high/low containing open and close). A rejected quote
   is dropped like a failed call (next source, else the stale value) without counting against the breaker (the
   provider answered); rejected candles are left out of the history. Both are counted per source
   (``rejected_quotes``, ``rejected_candles``, ``last_rejection`` in ``health()``).

Repeated failures (a provider down, a replay that ended) are logged once per source and kind per minute with a
count (feeds/log_throttle.py), not on every poll.

``quote()``/``history()``/``options_chain()`` follow the MarketSource protocol and return plain values (the
Quote itself carries ``source`` and ``stale``); the ``*_sourced`` variants return :class:`Sourced` values that say
where a history or chain came from, whether it is stale, and its age, for the REST layer to label.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from feeds.breaker import DEFAULT_CALL_TIMEOUT, BreakerState, CircuitBreaker, DeadlineCaller
from feeds.cache import MarketCache
from feeds.cache_entries import CacheEntry
from feeds.errors import NoSourceAvailable, RateLimited, SourceBusy
from feeds.log_throttle import LogThrottle
from feeds.models import Candle, InvalidInput, OptionChain, Period, Quote, Timeframe
from feeds.quote_validation import InvalidQuote, candle_problem, quote_problem
from feeds.source import MarketSource, SourceError, UnknownSymbol

log = logging.getLogger(__name__)

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------------------------
# Failover


def _limits_own_calls(source: MarketSource) -> bool:
    """Does ``source`` put its network calls under its own hard limit (and throttle locally before them)?"""
    return getattr(source, "limits_own_calls", False) is True


@dataclass(frozen=True, slots=True)
class Sourced(Generic[T]):
    """A value with where it came from.

    ``source``: the name of the source that produced it; ``stale``: every source failed and this is the last good
    value from the cache; ``cached``: served from the cache (fresh or stale) instead of a live call; ``as_of``: when
    it was fetched (clock seconds).
    """

    value: T
    source: str
    stale: bool = False
    cached: bool = False
    as_of: float | None = None

    def age(self, now: float) -> float | None:
        return None if self.as_of is None else now - self.as_of


@dataclass(slots=True)
class _Attempts:
    """What happened while trying the chain for one call."""

    failures: list[str]
    unknown: UnknownSymbol | None = None
    invalid: InvalidInput | None = None
    # The soonest a busy or rate-limited source said it could answer again (for Retry-After).
    retry_after: float | None = None

    def could_retry_in(self, seconds: float | None) -> None:
        if seconds is not None:
            self.retry_after = seconds if self.retry_after is None else min(self.retry_after, seconds)

    @property
    def failed(self) -> bool:
        return bool(self.failures)


class FailoverSource:
    """MarketSource over an ordered list of sources, with breakers, hard call limits and the cache fallback.

    Thread-safe: the feed thread and REST handlers may call it at once.
    """

    name = "failover"

    def __init__(
        self,
        sources: Sequence[MarketSource],
        cache: MarketCache | None = None,
        clock: Callable[[], float] = time.time,
        *,
        call_timeout: float | None = DEFAULT_CALL_TIMEOUT,
        queue_timeout: float = 1.0,
        max_workers_per_source: int = 4,
        failure_threshold: int = 3,
        base_backoff: float = 5.0,
        backoff_factor: float = 1.5,
        max_backoff: float = 30.0,
        log_throttle: LogThrottle | None = None,
    ) -> None:
        if not sources:
            raise ValueError("FailoverSource needs at least one source")
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise ValueError(f"source names must be unique, got {names}")
        self.sources: tuple[MarketSource, ...] = tuple(sources)
        self.cache = cache
        self._clock = clock
        self.call_timeout = call_timeout
        self.queue_timeout = queue_timeout
        self.breakers: dict[str, CircuitBreaker] = {
            s.name: CircuitBreaker(
                clock,
                failure_threshold=failure_threshold,
                base_backoff=base_backoff,
                backoff_factor=backoff_factor,
                max_backoff=max_backoff,
            )
            for s in sources
        }
        self._throttle = log_throttle or LogThrottle(log)
        # Values a source answered that failed validation: {name: {"quotes", "candles", "last"}}.
        self._rejections_lock = threading.Lock()
        self._rejections: dict[str, dict[str, Any]] = {
            s.name: {"quotes": 0, "candles": 0, "last": None} for s in sources}
        self._callers: dict[str, DeadlineCaller] = (
            {
                s.name: DeadlineCaller(f"failover-{s.name}", max_workers_per_source)
                for s in sources
                if not _limits_own_calls(s)
            }
            if call_timeout is not None
            else {}
        )

    # -- MarketSource ------------------------------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        return self.quote_sourced(symbol).value

    def history(
        self,
        symbol: str,
        period: Period,
        timeframe: Timeframe,
        end: float | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        return self.history_sourced(symbol, period, timeframe, end, limit).value

    def options_chain(self, symbol: str, expiration: str | None = None) -> OptionChain:
        return self.options_chain_sourced(symbol, expiration).value

    # -- labelled variants -------------------------------------------------------------------------------------

    def quote_sourced(self, symbol: str) -> Sourced[Quote]:
        cache = self.cache
        result = self._run(
            f"quote {symbol}",
            lambda s: s.quote(symbol),
            vet=self.vet_quote,
            store=(lambda q, _name: cache.put_quote(q)) if cache else None,
            last_good=(lambda: cache.last_quote(symbol)) if cache else None,
        )
        if result.stale and not result.value.stale:
            result = replace(result, value=replace(result.value, stale=True))
        return result

    def history_sourced(
        self,
        symbol: str,
        period: Period,
        timeframe: Timeframe,
        end: float | None = None,
        limit: int | None = None,
    ) -> Sourced[list[Candle]]:
        cache = self.cache
        if cache is not None:
            fresh = cache.get_history(symbol, period, timeframe, end, limit)
            if fresh is not None:
                return Sourced(fresh.value, fresh.source, stale=False, cached=True, as_of=fresh.written_at)
        return self._run(
            f"history {symbol} {period.name} {timeframe.value}",
            lambda s: s.history(symbol, period, timeframe, end, limit),
            vet=self.vet_candles,
            store=(lambda v, name: cache.put_history(symbol, period, timeframe, end, limit, v, name))
            if cache
            else None,
            last_good=(lambda: cache.last_history(symbol, period, timeframe, end, limit)) if cache else None,
        )

    def options_chain_sourced(self, symbol: str, expiration: str | None = None) -> Sourced[OptionChain]:
        cache = self.cache
        if cache is not None:
            fresh = cache.get_options(symbol, expiration)
            if fresh is not None:
                return Sourced(fresh.value, fresh.source, stale=False, cached=True, as_of=fresh.written_at)
        return self._run(
            f"options {symbol} {expiration or 'nearest'}",
            lambda s: s.options_chain(symbol, expiration),
            store=(lambda v, name: cache.put_options(v, name, expiration)) if cache else None,
            last_good=(lambda: cache.last_options(symbol, expiration)) if cache else None,
        )

    # -- validation --------------------------------------------------------------------------------------------

    def _reject(self, name: str, kind: str, count: int, reason: str) -> None:
        with self._rejections_lock:
            counts = self._rejections.setdefault(name, {"quotes": 0, "candles": 0, "last": None})
            counts[kind] += count
            counts["last"] = reason
        self._throttle.warning(f"rejected {kind} {name}", "source %s: dropped %d invalid %s: %s", name, count, kind,
                               reason)

    def vet_quote(self, name: str, quote: Quote) -> Quote:
        """``quote`` from source ``name`` if it is usable; else it is counted and InvalidQuote raised."""
        problem = quote_problem(quote)
        if problem is None:
            return quote
        reason = f"quote {getattr(quote, 'symbol', '?')}: {problem}"
        self._reject(name, "quotes", 1, reason)
        raise InvalidQuote(f"invalid {reason}")

    def vet_candles(self, name: str, candles: list[Candle]) -> list[Candle]:
        """``candles`` from source ``name`` without the unusable ones (counted)."""
        problems = [(c, p) for c in candles if (p := candle_problem(c)) is not None]
        if not problems:
            return candles
        first, problem = problems[0]
        self._reject(name, "candles", len(problems), f"candle at {first.time}: {problem}")
        bad = {id(c) for c, _ in problems}
        return [c for c in candles if id(c) not in bad]

    # -- the chain ---------------------------------------------------------------------------------------------

    def _call(self, source: MarketSource, fn: Callable[[MarketSource], T]) -> T:
        caller = self._callers.get(source.name)
        if self.call_timeout is None or caller is None:
            return fn(source)
        return caller.call(lambda: fn(source), self.call_timeout, queue_timeout=self.queue_timeout)

    def _run(
        self,
        what: str,
        fn: Callable[[MarketSource], T],
        *,
        vet: Callable[[str, T], T] | None = None,
        store: Callable[[T, str], None] | None,
        last_good: Callable[[], CacheEntry[T] | None] | None,
    ) -> Sourced[T]:
        attempts = _Attempts(failures=[])
        for source in self.sources:
            breaker = self.breakers[source.name]
            if not breaker.allow():
                attempts.failures.append(f"{source.name}: circuit open")
                continue
            try:
                value = self._call(source, fn)
                if vet is not None:
                    value = vet(source.name, value)
            except InvalidQuote as exc:
                # The provider answered (no breaker failure); its value is dropped like a failed call.
                breaker.record_success()
                attempts.failures.append(f"{source.name}: {exc}")
                continue
            except UnknownSymbol as exc:
                breaker.record_success()
                attempts.unknown = attempts.unknown or exc
                continue
            except InvalidInput as exc:
                breaker.record_success()
                attempts.invalid = attempts.invalid or exc
                continue
            except SourceBusy as exc:
                breaker.record_skipped()
                attempts.failures.append(f"{source.name}: busy: {exc}")
                attempts.could_retry_in(exc.retry_after)
                self._throttle.log(logging.INFO, f"{source.name} busy", "%s: skipped %s, busy: %s", what,
                                   source.name, exc)
                continue
            except SourceError as exc:
                was = breaker.state
                breaker.record_failure(exc)
                attempts.failures.append(f"{source.name}: {exc}")
                if isinstance(exc, RateLimited):
                    attempts.could_retry_in(exc.retry_after)
                self._throttle.warning(f"{source.name} {type(exc).__name__}", "%s: %s failed: %s", what,
                                       source.name, exc)
                self._log_transition(source.name, was, breaker.state)
                continue
            except Exception as exc:
                # A bug or an exception type the source did not translate: still only this source's failure.
                was = breaker.state
                breaker.record_failure(exc)
                attempts.failures.append(f"{source.name}: {type(exc).__name__}: {exc}")
                self._throttle.error(f"{source.name} unexpected {type(exc).__name__}",
                                     "%s: %s raised an unexpected error", what, source.name, exc_info=exc)
                self._log_transition(source.name, was, breaker.state)
                continue
            breaker.record_success()
            if store is not None:
                store(value, source.name)
            return Sourced(value, source.name, stale=False, cached=False, as_of=self._clock())
        return self._fallback(what, attempts, last_good)

    def _fallback(
        self, what: str, attempts: _Attempts, last_good: Callable[[], CacheEntry[T] | None] | None
    ) -> Sourced[T]:
        if attempts.failed and last_good is not None:
            entry = last_good()
            if entry is not None:
                self._throttle.warning(f"stale {entry.source}", "%s: serving the stale value from %s (%s)", what,
                                       entry.source, "; ".join(attempts.failures))
                return Sourced(entry.value, entry.source, stale=True, cached=True, as_of=entry.written_at)
        if attempts.unknown is not None:
            raise attempts.unknown
        if attempts.invalid is not None:
            raise attempts.invalid
        failures = "; ".join(attempts.failures)
        raise NoSourceAvailable(f"{what}: no source could answer and nothing is cached ({failures})",
                                retry_after=attempts.retry_after)

    @staticmethod
    def _log_transition(name: str, before: BreakerState, after: BreakerState) -> None:
        if before is not after and after is BreakerState.OPEN:
            log.warning("circuit for source %s is now open", name)

    # -- health ------------------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``{name, status: ok|degraded|down, sources: [{name, state, consecutive_failures, last_error,
        last_success, …, lingering_calls, rejected_quotes, rejected_candles, last_rejection, details}], cache}``.
        Times are clock seconds. ``lingering_calls`` counts the calls past their time limit still running in this
        chain's workers and in the source's own (a source that limits its own calls reports them in its health as
        ``lingering_calls``)."""
        entries = []
        for source in self.sources:
            entry: dict[str, Any] = {"name": source.name, **self.breakers[source.name].snapshot()}
            with self._rejections_lock:
                rejected = dict(self._rejections[source.name])
            entry.update(rejected_quotes=rejected["quotes"], rejected_candles=rejected["candles"],
                         last_rejection=rejected["last"])
            caller = self._callers.get(source.name)
            try:
                details = source.health()
            except Exception as exc:
                log.exception("health() of source %s failed", source.name)
                details = {"error": f"{type(exc).__name__}: {exc}"}
            own = details.get("lingering_calls") if isinstance(details, dict) else None
            entry["lingering_calls"] = (caller.lingering if caller else 0) + (
                own if isinstance(own, int) and not isinstance(own, bool) else 0
            )
            entry["details"] = details
            entries.append(entry)
        closed = sum(1 for e in entries if e["state"] == BreakerState.CLOSED.value)
        status = "ok" if closed == len(entries) else "degraded" if closed else "down"
        return {
            "name": self.name,
            "status": status,
            "sources": entries,
            "cache": self.cache.stats() if self.cache is not None else None,
        }

    def close(self) -> None:
        for caller in self._callers.values():
            caller.close()
