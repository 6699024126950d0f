"""The feed thread: polls the source for the tracked symbols, builds candles and publishes events on the bus."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any, Protocol

from feeds import cpu_pool
from feeds.breaker import RestartBackoff
from feeds.bus import InProcessBus
from feeds.candles import CandleBuilder, CandleEvent
from feeds.close_queue import CloseQueue
from feeds.log_throttle import LogThrottle
from feeds.models import ALL_TIMEFRAMES, Candle, Period, Quote, Tick, Timeframe
from feeds.source import MarketSource
from feeds.stats import FeedStats
from feeds.watchdog import FeedCheck, Limits, Observation, check_feed

log = logging.getLogger(__name__)

# At most this many path quotes (see LiveFeed) per symbol and iteration: a feed that stalled resumes without a flood.
MAX_PATH_QUOTES = 2000
# Share of the interval an iteration may spend on the listener's closed-candle work (see CloseQueue); the rest of
# that work waits for the next iterations. A tracker takes about 0.2-0.5 ms a candle: at 0.1 s, 50-100 a go.
CLOSE_BUDGET_SHARE = 0.25


class CandleCloseListener(Protocol):
    """Called on the feed thread for every closed candle; returns (topic, event) pairs to publish (signals…).

    Seeding a symbol's state from its history is split in two so that the costly part can run off the feed thread:
    ``prepare`` (any thread, no shared state) builds it from the closed candles, ``install`` (feed thread) puts it
    in place; ``seed`` does both at once.
    """

    def candle_closed(self, event: CandleEvent) -> list[tuple[str, Any]]: ...

    def prepare(self, symbol: str, timeframe: Timeframe, candles: list[Candle]) -> Any: ...

    def install(self, prepared: Any) -> None: ...

    def seed(self, symbol: str, timeframe: Timeframe, candles: list[Candle]) -> None: ...

    # Optional: ``drop_symbol(symbol)``, called on the feed thread when the feed stops tracking a symbol, so the
    # listener can let go of that symbol's state.


def market_topic(symbol: str) -> str:
    return f"market_data.{symbol}"


def tick_topic(symbol: str) -> str:
    return f"ticks.{symbol}"


def candle_topic(symbol: str, timeframe: Timeframe) -> str:
    return f"candles.{symbol}.{timeframe.value}"


class LiveFeed:
    """Owns the source, the candle builder and the latest snapshots of every tracked symbol.

    One thread (``tickstream-feed``) runs ``run_once`` every ``interval`` seconds under a supervisor that logs,
    counts and restarts it after any exception (``SystemExit`` included: test servers raise it in every thread).
    Builder and listener state is touched only by that thread; ``latest_quote``/``latest_candle`` read immutable
    values from dicts that the feed thread replaces item by item, so readers need no lock. ``add_symbol`` and
    ``remove_symbol`` may be called from any thread: they only queue the change (under ``_pending_lock``), which the
    feed thread applies at the start of its next iteration; a removal also drops the symbol's builder state,
    snapshots and listener state (``drop_symbol``) there, and the source's caches of it (``forget_symbols``, when the
    source has it). Adding a symbol whose removal is still queued cancels the removal.

    A source may also offer ``path_quotes(symbol, after, until, limit)``: the prices it passed through between two
    samples (a replay's candle waypoints). They are applied before the sampled quote, so candles come out whole
    however coarse the sampling.

    Closed candles: the listener's work on them (the trackers recompute) goes through a ``CloseQueue`` that each
    iteration serves for at most ``close_budget`` seconds (a quarter of the interval by default), in order per
    (symbol, timeframe), so the iteration where hundreds of candles close at once does not hold up the ticks.

    ``latest_quote(symbol).stale`` says whether the latest price is still current: it turns true when the source
    fails for the symbol or answers with its stale cache fallback (whose timestamp is not newer, so it is no new
    tick), and false again when the source answers live. Neither change is published as a tick.

    Watchdog bookkeeping: the feed records when it started and when its last iteration completed, on the monotonic
    clock ``monotonic``; ``watchdog_check()`` (any thread) turns them into the feed's state under
    ``watchdog_limits`` (feeds/watchdog.py), and ``observe(symbols)`` says what it knows of each symbol.
    """

    def __init__(
        self,
        source: MarketSource,
        bus: InProcessBus,
        symbols: Iterable[str],
        interval: float = 1.0,
        timeframes: Iterable[Timeframe] = ALL_TIMEFRAMES,
        listener: CandleCloseListener | None = None,
        stats: FeedStats | None = None,
        max_symbols: int = 200,
        clock: Callable[[], float] = time.time,
        seed_in_background: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
        close_budget: float | None = None,
    ) -> None:
        self.source = source
        self.bus = bus
        self.interval = interval
        self.timeframes = tuple(timeframes)
        self.listener = listener
        self.stats = stats or FeedStats(clock=clock)
        self.max_symbols = max_symbols
        self.clock = clock
        self._builder = CandleBuilder(self.timeframes)
        # Closed candles waiting for the listener, and the seconds per iteration spent on them.
        self.close_budget = CLOSE_BUDGET_SHARE * interval if close_budget is None else close_budget
        self._closes = CloseQueue(max_waiting=4 * max_symbols * len(self.timeframes))
        self._symbols: tuple[str, ...] = ()
        self._pending: list[str] = list(dict.fromkeys(symbols))
        # Symbols to stop tracking at the next iteration.
        self._removing: list[str] = []
        self._pending_lock = threading.Lock()
        # (symbol, timeframe) pairs whose listener state (signal trackers) is still to be seeded.
        self._listener_backlog: deque[tuple[str, Timeframe]] = deque()
        # With seed_in_background, the seed being prepared off the feed thread and the closed candles of its
        # (symbol, timeframe) seen meanwhile, which the listener replays once the seed is installed.
        self.seed_in_background = seed_in_background
        self._seeding: tuple[tuple[str, Timeframe], Future[Any], list[CandleEvent]] | None = None
        self._seed_jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._seed_worker: threading.Thread | None = None
        # Symbols whose first quote failed: (next attempt on the monotonic clock, failures so far).
        self._retry: dict[str, tuple[float, int]] = {}
        # Why the first quote of a symbol in ``_retry`` failed (its last error), for subscribers' no_data status.
        self._first_quote_errors: dict[str, str] = {}
        # Symbols the feed thread is starting right now: out of the pending list, not yet tracked or retrying.
        self._admitting: tuple[str, ...] = ()
        self._quotes: dict[str, Quote] = {}
        self._candles: dict[tuple[str, Timeframe], Candle] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self.iterations = 0
        self.monotonic = monotonic
        self.watchdog_limits = Limits.for_interval(interval)
        # Monotonic times of the last start() and of the last completed iteration (None: not yet).
        self._started_at: float | None = None
        self._completed_at: float | None = None

    # -- snapshots (any thread) ---------------------------------------------------------------------------------

    @property
    def symbols(self) -> tuple[str, ...]:
        """Tracked symbols, then those waiting to start (new, or retrying after a failed first quote)."""
        with self._pending_lock:
            waiting = [s for s in (*self._admitting, *self._pending, *self._retry) if s not in self._symbols]
            return tuple(s for s in (*self._symbols, *dict.fromkeys(waiting)) if s not in self._removing)

    def latest_quote(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    def latest_candle(self, symbol: str, timeframe: Timeframe) -> Candle | None:
        return self._candles.get((symbol, timeframe))

    def watchdog_check(self) -> FeedCheck:
        """The feed's state now: stopped (never started), starting, running, late or stalled."""
        return check_feed(self.monotonic(), self._started_at, self._completed_at, self.watchdog_limits)

    def observe(self, symbols: Iterable[str]) -> dict[str, Observation]:
        """What the feed knows of each of ``symbols``: streamed or not, its quote, why its first quote failed."""
        streamed = set(self.symbols)
        with self._pending_lock:
            failures = {s: self._first_quote_errors[s] for s in symbols if s in self._first_quote_errors}
        seen: dict[str, Observation] = {}
        for symbol in symbols:
            quote = self._quotes.get(symbol)
            seen[symbol] = Observation(symbol in streamed, quote is not None, quote is not None and quote.stale,
                                       failures.get(symbol))
        return seen

    def add_symbol(self, symbol: str) -> bool:
        """Start tracking ``symbol`` from the next iteration; False when the symbol limit is reached."""
        with self._pending_lock:
            if symbol in self._removing:
                # Still tracked (or on its way in): wanted again before the feed thread let it go.
                self._removing.remove(symbol)
                return True
            if symbol in self._symbols or symbol in self._pending or symbol in self._retry \
                    or symbol in self._admitting:
                return True
            # Every symbol on its way in counts against the limit, not only those already tracked.
            wanted = {*self._symbols, *self._admitting, *self._pending, *self._retry}.difference(self._removing)
            if len(wanted) >= self.max_symbols:
                return False
            self._pending.append(symbol)
            return True

    def remove_symbol(self, symbol: str) -> None:
        """Stop tracking ``symbol`` from the next iteration (its quotes, candles and listener state go)."""
        with self._pending_lock:
            if symbol in self._pending:
                self._pending.remove(symbol)
            # Queued even when it is nowhere to be seen: the feed thread may be starting it right now.
            if symbol not in self._removing:
                self._removing.append(symbol)

    # -- thread management ----------------------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        with self._thread_lock:
            if self.is_running:
                return
            self._stop.clear()
            self._started_at = self.monotonic()
            self._thread = threading.Thread(target=self._supervise, name="tickstream-feed", daemon=True)
            self._thread.start()

    def ensure_running(self) -> None:
        """Bring the thread back if something killed it outright (counted as a restart)."""
        if self._thread is not None and not self.is_running and not self._stop.is_set():
            self.stats.record_restart("feed thread found dead; restarted")
            log.warning("feed thread found dead; restarting")
            self.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # The supervisor's clock for its restart back-off (tests move a fake one).
    supervisor_clock: Callable[[], float] = staticmethod(time.monotonic)

    def _supervise(self) -> None:
        # 0.1 s doubling to 5 s for crashes in a row; a minute of healthy running forgets the earlier crashes.
        backoff = RestartBackoff(self.supervisor_clock)
        errors = LogThrottle(log)
        while not self._stop.is_set():
            backoff.started()
            try:
                self._loop()
                return
            except BaseException as exc:
                if self._stop.is_set():
                    return
                delay = backoff.crashed()
                self.stats.record_restart(f"{type(exc).__name__}: {exc}")
                errors.error(type(exc).__name__, "feed thread failed (%d in a row); restarting in %.1f s",
                             backoff.failures, delay, exc_info=exc)
                self._stop.wait(delay)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.run_once()
            remaining = self.interval - (time.monotonic() - started)
            if remaining > 0:
                self._stop.wait(remaining)

    # -- one iteration (feed thread, or a test) ---------------------------------------------------------------------

    def run_once(self) -> None:
        started = self.monotonic()
        self._apply_removals()
        self._admit_pending()
        newest = 0.0
        for symbol in self._symbols:
            try:
                quote = self.source.quote(symbol)
            except Exception as exc:
                self.stats.record_error(f"{symbol}: {type(exc).__name__}: {exc}")
                log.debug("quote for %s failed", symbol, exc_info=True)
                self._mark_stale(symbol, True)
                continue
            newest = max(newest, quote.timestamp)
            self._follow_path(quote)
            self._on_quote(quote)
        # Close candles of quiet symbols once their bucket has clearly ended (two intervals of grace).
        if newest:
            self._publish_candle_events(self._builder.close_due(newest - max(2 * self.interval, 2.0)))
        if len(self._closes):
            self._closes.drain(self._handle_candle_event, self.close_budget)
        self._seed_one_listener()
        self.iterations += 1
        self._completed_at = self.monotonic()
        self.stats.record_iteration(self._completed_at - started)

    def _apply_removals(self) -> None:
        with self._pending_lock:
            removing, self._removing = self._removing, []
            if not removing:
                return
            self._symbols = tuple(s for s in self._symbols if s not in removing)
            for symbol in removing:
                self._retry.pop(symbol, None)
                self._first_quote_errors.pop(symbol, None)
        gone = set(removing)
        self._closes.forget(gone)
        for symbol in removing:
            self._builder.forget(symbol)
            self._quotes.pop(symbol, None)
            for timeframe in self.timeframes:
                self._candles.pop((symbol, timeframe), None)
        self._listener_backlog = deque(item for item in self._listener_backlog if item[0] not in gone)
        forget = getattr(self.source, "forget_symbols", None)
        if self._seeding is not None and self._seeding[0][0] in gone:
            # What the worker prepares for it is thrown away, and what its history request cached goes then.
            (seeded, _), future, _ = self._seeding
            self._seeding = None
            if forget is not None:
                future.add_done_callback(lambda _: forget([seeded]))
        drop = getattr(self.listener, "drop_symbol", None)
        if drop is not None:
            for symbol in removing:
                drop(symbol)
        if forget is not None:
            forget(removing)
        log.info("stopped tracking %s", ", ".join(removing))

    def _admit_pending(self) -> None:
        now = time.monotonic()
        with self._pending_lock:
            pending, self._pending = self._pending, []
            for symbol, (due, _) in list(self._retry.items()):
                if due <= now and symbol not in pending:
                    pending.append(symbol)
            self._admitting = tuple(pending)
        try:
            for symbol in pending:
                if symbol in self._symbols:
                    continue
                try:
                    quote = self.source.quote(symbol)
                except Exception as exc:
                    # Keep trying with backoff (1 s, 2 s … 60 s): a provider that is down at start-up comes back.
                    with self._pending_lock:
                        failures = self._retry.get(symbol, (0.0, 0))[1] + 1
                        self._retry[symbol] = (now + min(60.0, 2.0 ** (failures - 1)), failures)
                        self._first_quote_errors[symbol] = f"{type(exc).__name__}: {exc}"[:200]
                    self.stats.record_error(f"{symbol}: {type(exc).__name__}: {exc}")
                    log.warning("cannot start tracking %s (attempt %d): %s", symbol, failures, exc)
                    continue
                self._seed(symbol, quote)
                with self._pending_lock:
                    self._retry.pop(symbol, None)
                    self._first_quote_errors.pop(symbol, None)
                    self._symbols = (*self._symbols, symbol)
        finally:
            with self._pending_lock:
                self._admitting = ()

    def _seed(self, symbol: str, quote: Quote) -> None:
        self._quotes[symbol] = quote
        for timeframe in self.timeframes:
            candle = self._forming_candle(symbol, timeframe, quote.timestamp)
            if candle is not None:
                self._builder.seed(symbol, timeframe, candle, quote.timestamp)
                self._candles[(symbol, timeframe)] = candle
            if self.listener is not None:
                self._listener_backlog.append((symbol, timeframe))

    def _seed_one_listener(self) -> None:
        """Seed one (symbol, timeframe) of the listener at a time, so ticks flow while trackers warm up.

        In the background mode the history request and the seeding (about 0.2 ms a candle: half a second for a
        1-minute tracker) run on a worker thread; the feed thread only installs the result and replays the candles
        of that (symbol, timeframe) that closed meanwhile. Otherwise one seed runs per iteration, inline.
        """
        if self.listener is None:
            return
        if self._seeding is not None:
            key, future, closed_meanwhile = self._seeding
            if not future.done():
                worker = self._seed_worker
                if worker is None or not worker.is_alive():
                    # The worker died mid-job (test servers raise SystemExit in every thread): start that one again.
                    future.cancel()
                    self._seeding = None
                    self._listener_backlog.appendleft(key)
                return
            self._seeding = None
            try:
                prepared = future.result()
            except Exception as exc:
                self.stats.record_error(f"{key[0]} {key[1].value} history: {exc}")
                prepared = None
            if prepared is not None:
                self.listener.install(prepared)
                for event in closed_meanwhile:
                    for topic, extra in self.listener.candle_closed(event):
                        self.bus.publish(topic, extra)
        if not self._listener_backlog:
            return
        symbol, timeframe = self._listener_backlog.popleft()
        now = self.clock()
        if not self.seed_in_background:
            try:
                self.listener.install(self._prepare_listener(symbol, timeframe, now))
            except Exception as exc:
                self.stats.record_error(f"{symbol} {timeframe.value} history: {exc}")
            return
        future: Future[Any] = Future()

        def job() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(self._prepare_listener(symbol, timeframe, now))
                except BaseException as exc:
                    future.set_exception(exc)

        self._seeding = ((symbol, timeframe), future, [])
        self._ensure_seed_worker()
        self._seed_jobs.put(job)

    def _prepare_listener(self, symbol: str, timeframe: Timeframe, now: float) -> Any:
        """The listener's seed of (symbol, timeframe) from its closed history; on any thread."""
        assert self.listener is not None
        # At least two days, so a listener can start from the previous whole UTC day (floor pivots need it).
        period = Period.parse(timeframe.default_period)
        if period.days is not None and period.days < 2:
            period = Period.parse("2d")
        history = self.source.history(symbol, period, timeframe)
        closed = [c for c in history if c.time + timeframe.seconds <= now]
        # Seeding is CPU work (about 0.2 ms a candle): on a native thread, so under gevent the loop keeps serving.
        return cpu_pool.run(self.listener.prepare, symbol, timeframe, closed)

    def _ensure_seed_worker(self) -> None:
        # A daemon thread rather than an executor: a history request stuck in a provider must not hold up exit.
        if self._seed_worker is None or not self._seed_worker.is_alive():
            self._seed_worker = threading.Thread(target=self._run_seed_jobs, name="tickstream-seed", daemon=True)
            self._seed_worker.start()

    def _run_seed_jobs(self) -> None:
        while True:
            self._seed_jobs.get()()

    def _forming_candle(self, symbol: str, timeframe: Timeframe, t: float) -> Candle | None:
        """The source's own view of the candle containing t, so live candles continue history exactly."""
        exact = getattr(self.source, "forming_candle", None)
        try:
            if exact is not None:
                candle: Candle = exact(symbol, timeframe, t)
                return candle
            recent = self.source.history(symbol, Period.parse("1d" if timeframe.seconds < 86_400 else "5d"),
                                         timeframe, limit=1)
        except Exception as exc:
            self.stats.record_error(f"{symbol} {timeframe.value} seed: {exc}")
            return None
        if recent and recent[-1].time == timeframe.bucket_start(t):
            return recent[-1]
        return None

    def _mark_stale(self, symbol: str, stale: bool) -> None:
        """Record whether the symbol's latest price is still current, keeping the price (no tick: nothing traded)."""
        previous = self._quotes.get(symbol)
        if previous is not None and previous.stale != stale:
            self._quotes[symbol] = replace(previous, stale=stale)

    def _follow_path(self, quote: Quote) -> None:
        """Apply the prices the source passed through since the previous sample, oldest first (class docstring)."""
        path = getattr(self.source, "path_quotes", None)
        previous = self._quotes.get(quote.symbol)
        if path is None or previous is None or quote.stale or quote.timestamp <= previous.timestamp:
            return
        try:
            points: list[Quote] = path(quote.symbol, previous.timestamp, quote.timestamp, MAX_PATH_QUOTES)
        except Exception as exc:
            self.stats.record_error(f"{quote.symbol} path: {type(exc).__name__}: {exc}")
            log.debug("path quotes for %s failed", quote.symbol, exc_info=True)
            return
        for point in points:
            self._on_quote(point)

    def _on_quote(self, quote: Quote) -> None:
        symbol = quote.symbol
        previous = self._quotes.get(symbol)
        if previous is not None and quote.timestamp <= previous.timestamp:
            # Not newer: the same price again, or the cache's last good value when every source failed.
            self._mark_stale(symbol, quote.stale)
            return
        volume = quote.volume - previous.volume if previous is not None else 0.0
        if volume < 0:  # a new UTC day reset the day volume
            volume = quote.volume
        self._quotes[symbol] = quote
        self.stats.record_quote(quote.timestamp)
        tick = Tick(symbol, quote.timestamp, quote.price, quote.bid, quote.ask, volume)
        self.bus.publish(market_topic(symbol), quote)
        self.bus.publish(tick_topic(symbol), tick)
        self._publish_candle_events(self._builder.apply(tick))

    def _publish_candle_events(self, events: list[CandleEvent]) -> None:
        """Publish candle events; with a listener a closed candle waits in the close queue for its turn (handled
        later in this iteration when the budget allows), and so do the later events of its (symbol, timeframe)."""
        closed = 0
        for event in events:
            key = (event.symbol, event.timeframe)
            if event.closed:
                closed += 1
                if self.listener is None:
                    self._handle_candle_event(event)
                else:
                    self._closes.push(event)
                continue
            if event.candle.time != self._candles.get(key, event.candle).time:
                # Now, not when published: the builder's next ticks continue the reseeded candle.
                event = self._reseed_new_candle(event)
            self._candles[key] = event.candle
            if self._closes.waiting(key):
                self._closes.push(event)
            else:
                self.bus.publish(candle_topic(event.symbol, event.timeframe), event)
        if closed:
            self.stats.record_closed(closed)

    def _handle_candle_event(self, event: CandleEvent) -> None:
        """Publish a candle event whose turn has come; a closed one goes through the listener first."""
        if not event.closed:
            self.bus.publish(candle_topic(event.symbol, event.timeframe), event)
            return
        if self._seeding is not None and self._seeding[0] == (event.symbol, event.timeframe):
            self._seeding[2].append(event)
        # The listener first: the closed candle's subscribers read its overlays, which must already include what
        # this candle confirmed.
        extras = self.listener.candle_closed(event) if self.listener is not None else []
        self.bus.publish(candle_topic(event.symbol, event.timeframe), event)
        for topic, extra in extras:
            self.bus.publish(topic, extra)

    def _reseed_new_candle(self, event: CandleEvent) -> CandleEvent:
        """A new bucket began: take the source's exact view of it (open at the bucket edge) when it has one."""
        exact = getattr(self.source, "forming_candle", None)
        if exact is None:
            return event
        try:
            candle: Candle = exact(event.symbol, event.timeframe, event.event_time)
        except Exception as exc:
            self.stats.record_error(f"{event.symbol} reseed: {exc}")
            return event
        if candle.time != event.candle.time:
            return event
        self._builder.seed(event.symbol, event.timeframe, candle, event.event_time)
        return CandleEvent(event.symbol, event.timeframe, candle, False, event.event_time)
