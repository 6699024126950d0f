"""Market-data cache: fresh values within a TTL and the last good value for stale fallback, in memory and on disk.

Each entry is ``(value, source, written_at)``. ``written_at`` comes from the injected clock, so a value is *fresh*
while ``clock() - written_at <= ttl`` (tests move the clock instead of waiting) and, once older, is still the
*last good* value that FailoverSource serves marked stale when every source fails. diskcache's own ``expire`` is
not used: it runs on real time and would delete the last good value.

The feed thread calls the cache through FailoverSource on every quote and while it seeds history, and issue 3 asks
that it never waits on a slow disk for more than a few ms. So callers never touch the disk themselves:

- every value written or read is kept in a bounded in-memory front (least recently used first out, weighed in
  candles), which answers later reads at once and always holds this process's newest value;
- writes are queued for one background writer thread. The queue keeps only the newest value of a key and is
  bounded: when it is full a write of another key is dropped from the disk (counted in ``dropped_writes``), never
  waited for. Quotes go to disk at most once per ``quote_write_interval`` per symbol;
- a read the memory front cannot answer runs on a reader thread and is waited for at most ``read_timeout``
  (10 ms). A slower read is a miss (``slow_reads``); when it finishes it still fills the memory front, so the next
  lookup hits.

The disk is only an optimisation. When the directory cannot be used at start-up (a file where the directory
should be, a read-only or full disk: opening the store or a probe write fails) the cache runs from memory alone
(``mode`` "memory", with the ``reason``) and says so once in the log and in ``stats()``. Failures while running
(a disk that fills up) are counted in ``errors`` and logged once per kind per minute (feeds/log_throttle.py).

On disk an entry is one compact bytes value (feeds/cache_entries.py). Entries pickled by earlier versions as
``(written_at, source, value)`` tuples are still read.

Threads: any thread may call the public methods. The disk is shared with other processes using the same directory
(diskcache is SQLite); this process's writes reach it within milliseconds, or are lost if the process exits first
(only cache entries are lost). ``timeout`` is SQLite's busy timeout for the background threads.
"""

from __future__ import annotations

import logging
import pickle
import queue
import sqlite3
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any, Protocol, TypeVar

import diskcache
import orjson

from feeds.cache_entries import CacheEntry, decode_entry, encode_entry
from feeds.log_throttle import LogThrottle
from feeds.models import Candle, OptionChain, Period, Quote, Timeframe

log = logging.getLogger(__name__)

T = TypeVar("T")

QUOTE_TTL = 30.0
OPTIONS_TTL = 60.0
# Intraday history: one candle width, capped at 15 min so the forming candle is never more than 15 min old.
INTRADAY_TTL_CAP = 900.0
DAILY_TTL = 4 * 3600.0
# History that ends more than one candle in the past cannot change any more.
CLOSED_HISTORY_TTL = 24 * 3600.0
# SQLite busy timeout of the background reader and writer threads (callers never wait on it).
DEFAULT_TIMEOUT = 0.5
# How long a caller waits for a disk read the memory front could not answer.
DEFAULT_READ_TIMEOUT = 0.010
# The feed thread may make a quote per symbol every 50 ms; one disk write per symbol every few seconds is enough
# for the stale fallback of another process or of the next run.
QUOTE_WRITE_INTERVAL = 5.0
DEFAULT_SIZE_LIMIT = 256 * 1024 * 1024
# Symbols whose last quote write time is remembered (to space their disk writes); any number of symbols may be quoted.
MAX_QUOTE_SYMBOLS = 4096
# Distinct keys waiting for the writer; more means the disk cannot keep up and further writes are dropped.
MAX_PENDING_WRITES = 256
# Disk reads waiting for a reader thread; more means the disk is stuck and further reads are misses at once.
MAX_PENDING_READS = 64
READER_THREADS = 2
# Memory front size in candles (see _weight): about 48 MB.
MEMORY_WEIGHT = 200_000
# How long close() lets the writer finish what is queued.
CLOSE_TIMEOUT = 2.0
# Written once when the cache opens its directory: a store that opens but cannot write is no better than none.
_PROBE_KEY = "tickstream|probe"

# What diskcache/SQLite/pickle/decoding raise when the disk is locked, full or an entry was written by other code.
_CACHE_ERRORS: tuple[type[BaseException], ...] = (
    diskcache.Timeout,
    sqlite3.Error,
    OSError,
    pickle.PickleError,
    EOFError,
    AttributeError,
    ImportError,
    TypeError,
    ValueError,
    KeyError,
    struct.error,
    orjson.JSONDecodeError,
)


class CacheStore(Protocol):
    """The part of ``diskcache.Cache`` the cache uses; tests pass a slow or failing stand-in."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> Any: ...

    def clear(self) -> Any: ...

    def close(self) -> None: ...


def history_ttl(timeframe: Timeframe, end: float | None = None, now: float | None = None) -> float:
    """Seconds a history answer stays fresh: 1m → 60 s, 5m → 300 s, 15m and wider intraday → 900 s, 1d → 4 h.

    A window that ended more than one candle before ``now`` is closed and kept fresh for a day.
    """
    if end is not None and now is not None and end <= now - timeframe.seconds:
        return CLOSED_HISTORY_TTL
    if timeframe is Timeframe.D1:
        return DAILY_TTL
    return min(float(timeframe.seconds), INTRADAY_TTL_CAP)


def quote_key(symbol: str) -> str:
    return f"quote|{symbol}"


def history_key(symbol: str, period: Period, timeframe: Timeframe, end: float | None, limit: int | None) -> str:
    return f"history|{symbol}|{period.name}|{timeframe.value}|{end}|{limit}"


def options_key(symbol: str, expiration: str | None) -> str:
    return f"options|{symbol}|{expiration or ''}"


def _weight(value: object) -> int:
    """Memory-front cost of an entry in candles of about 240 bytes (measured with sys.getsizeof): a quote takes
    about 380 bytes and an option contract 500, and the entry itself (its key, CacheEntry and list node) one more.
    A chain kept under two keys (put_options) is one object counted twice: the error is on the safe side."""
    if isinstance(value, list):
        return len(value) + 1
    if isinstance(value, OptionChain):
        return 2 * (len(value.calls) + len(value.puts)) + 4
    return 3


# ---------------------------------------------------------------------------------------------------------------
# The cache


class MarketCache:
    """Quotes, history and option chains with fresh/last-good reads and hit/miss counters (see module docstring)."""

    def __init__(
        self,
        directory: str | Path,
        clock: Callable[[], float] = time.time,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        size_limit: int = DEFAULT_SIZE_LIMIT,
        quote_ttl: float = QUOTE_TTL,
        options_ttl: float = OPTIONS_TTL,
        quote_write_interval: float = QUOTE_WRITE_INTERVAL,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        max_pending_writes: int = MAX_PENDING_WRITES,
        memory_weight: int = MEMORY_WEIGHT,
        store: CacheStore | None = None,
        log_throttle: LogThrottle | None = None,
    ) -> None:
        self.directory = Path(directory)
        self._clock = clock
        self._quote_ttl = quote_ttl
        self._options_ttl = options_ttl
        self._quote_write_interval = quote_write_interval
        self._read_timeout = read_timeout
        self._max_pending_writes = max_pending_writes
        self._memory_limit = memory_weight
        self._throttle = log_throttle or LogThrottle(log)
        # None: memory only (the directory could not be used); ``reason`` says why.
        self.reason: str | None = None
        self._store: CacheStore | None = store if store is not None else self._open_store(timeout, size_limit)
        self._lock = threading.Lock()  # counters, memory front, quote write times
        self._counts = {"hits": 0, "misses": 0, "stale_reads": 0, "writes": 0, "errors": 0, "dropped_writes": 0,
                        "slow_reads": 0}
        self._memory: OrderedDict[str, CacheEntry[Any]] = OrderedDict()
        self._memory_used = 0
        # When each symbol's quote last went to disk, oldest first; bounded (_remember_quote_write).
        self._quote_written: OrderedDict[str, float] = OrderedDict()
        # The writer: keys waiting for the disk (newest value each), in arrival order.
        self._io = threading.Condition()
        self._pending: OrderedDict[str, CacheEntry[Any]] = OrderedDict()
        self._writing = False
        self._writer: threading.Thread | None = None
        self._closed = False
        # The readers: one disk read per key at a time; callers wait on its future for at most read_timeout.
        self._reads: queue.Queue[tuple[str, Future[CacheEntry[Any] | None]] | None] = queue.Queue(MAX_PENDING_READS)
        self._in_flight: dict[str, Future[CacheEntry[Any] | None]] = {}
        self._readers: list[threading.Thread] = []

    def _open_store(self, timeout: float, size_limit: int) -> CacheStore | None:
        """diskcache under ``directory`` once a probe write succeeded; None (memory only) when the disk is unusable."""
        store: diskcache.Cache | None = None
        try:
            store = diskcache.Cache(str(self.directory), timeout=timeout, size_limit=size_limit)
            store.set(_PROBE_KEY, b"")
        except Exception as exc:  # any failure to open or write the disk means the same thing: memory only
            self._use_memory_only(f"{type(exc).__name__}: {exc}")
            if store is not None:
                try:
                    store.close()
                except Exception:  # closing a store that never worked must not stop start-up
                    log.debug("closing the unusable cache store failed", exc_info=True)
            return None
        return store

    def _use_memory_only(self, reason: str) -> None:
        self.reason = f"cache directory {self.directory} is unusable ({reason})"
        log.warning("%s; the market cache runs in memory only: nothing is kept for the next run or shared with "
                    "other processes", self.reason)

    @property
    def mode(self) -> str:
        """``disk`` (memory front and diskcache) or ``memory`` (the directory could not be used; see ``reason``)."""
        return "memory" if self._store is None else "disk"

    # -- counters and memory front -----------------------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _remember(self, key: str, entry: CacheEntry[Any], *, only_if_newer: bool = False) -> None:
        with self._lock:
            old = self._memory.get(key)
            if only_if_newer and old is not None and old.written_at >= entry.written_at:
                return
            if old is not None:
                self._memory_used -= _weight(old.value)
            self._memory[key] = entry
            self._memory.move_to_end(key)
            self._memory_used += _weight(entry.value)
            while self._memory_used > self._memory_limit and len(self._memory) > 1:
                _, evicted = self._memory.popitem(last=False)
                self._memory_used -= _weight(evicted.value)

    def _recall(self, key: str) -> CacheEntry[Any] | None:
        with self._lock:
            entry = self._memory.get(key)
            if entry is not None:
                self._memory.move_to_end(key)
        return entry

    # -- writer thread ---------------------------------------------------------------------------------------------

    def _queue_write(self, key: str, entry: CacheEntry[Any]) -> None:
        with self._io:
            if self._closed or self._store is None:
                return
            if key not in self._pending and len(self._pending) >= self._max_pending_writes:
                dropped = True
            else:
                dropped = False
                self._pending[key] = entry
                if self._writer is None:
                    # Started on first use: constructing a cache starts nothing.
                    self._writer = threading.Thread(target=self._write_loop, name="tickstream-cache-writer",
                                                    daemon=True)
                    self._writer.start()
                self._io.notify_all()
        if dropped:
            self._count("dropped_writes")
            self._throttle.warning("dropped write", "cache writer is %d writes behind; dropped the write of %s",
                                   self._max_pending_writes, key)

    def _write_loop(self) -> None:
        while True:
            with self._io:
                while not self._pending and not self._closed:
                    self._io.wait()
                if not self._pending:
                    return
                key, entry = self._pending.popitem(last=False)
                self._writing = True
            try:
                written, _ = self._on_disk("write", key, self._store_entry, entry)
                if written:
                    self._count("writes")
            finally:
                with self._io:
                    self._writing = False
                    self._io.notify_all()

    def _store_entry(self, key: str, entry: CacheEntry[Any]) -> None:
        if self._store is not None:
            self._store.set(key, encode_entry(entry))

    def _load_entry(self, key: str) -> CacheEntry[Any] | None:
        return None if self._store is None else decode_entry(self._store.get(key))

    def _on_disk(self, what: str, key: str, operation: Callable[..., T], *args: Any) -> tuple[bool, T | None]:
        """Run ``operation(key, *args)`` on a background thread: (True, its result), or (False, None) once the
        failure is counted and logged. Never raises, so that one bad entry cannot end the writer or a reader."""
        try:
            return True, operation(key, *args)
        except Exception as exc:
            # A full or broken disk fails every call: one traceback per kind, then a line a minute with a count.
            self._count("errors")
            expected = isinstance(exc, _CACHE_ERRORS)
            self._throttle.log(logging.WARNING if expected else logging.ERROR, f"{what} {type(exc).__name__}",
                               "cache %s of %s failed: %s", what, key, exc,
                               exc_info=None if isinstance(exc, diskcache.Timeout) else exc)
        return False, None

    def flush(self, timeout: float = CLOSE_TIMEOUT) -> bool:
        """Wait until every queued write has reached the disk (or failed); False if ``timeout`` passed first."""
        with self._io:
            return self._io.wait_for(lambda: not self._pending and not self._writing, timeout)

    # -- reader threads --------------------------------------------------------------------------------------------

    def _read_disk(self, key: str) -> CacheEntry[Any] | None:
        """The disk's entry for ``key`` if a reader gets it within ``read_timeout``; None otherwise (a miss)."""
        with self._io:
            if self._closed or self._store is None:
                return None
            future = self._in_flight.get(key)
            if future is None:
                future = Future()
                try:
                    self._reads.put_nowait((key, future))
                except queue.Full:
                    future = None
                else:
                    self._in_flight[key] = future
                    if len(self._readers) < READER_THREADS:
                        thread = threading.Thread(target=self._read_loop, daemon=True,
                                                  name=f"tickstream-cache-reader-{len(self._readers)}")
                        thread.start()
                        self._readers.append(thread)
        if future is None:
            self._count("slow_reads")
            return None
        try:
            return future.result(timeout=self._read_timeout)
        except FutureTimeout:
            self._count("slow_reads")
            return None

    def _read_loop(self) -> None:
        while True:
            item = self._reads.get()
            if item is None:
                return
            key, future = item
            _, entry = self._on_disk("read", key, self._load_entry)
            if entry is not None:
                # A read that finished after its caller gave up still serves the next lookup from memory.
                self._remember(key, entry, only_if_newer=True)
            with self._io:
                self._in_flight.pop(key, None)
            future.set_result(entry)

    # -- entries ---------------------------------------------------------------------------------------------------

    def _write(self, key: str, value: object, source: str, *, to_disk: bool = True) -> None:
        entry = CacheEntry(value=value, source=source, written_at=self._clock())
        self._remember(key, entry)
        if to_disk:
            self._queue_write(key, entry)

    def _copy(self, entry: CacheEntry[Any]) -> CacheEntry[Any]:
        # Callers may change a list they get back; the memory front's own list must stay as written.
        if isinstance(entry.value, list):
            return CacheEntry(list(entry.value), entry.source, entry.written_at)
        return entry

    def get_fresh(self, key: str, ttl: float) -> CacheEntry[Any] | None:
        """The entry under ``key`` if it was written at most ``ttl`` seconds ago (counts a hit or a miss)."""
        now = self._clock()
        entry = self._recall(key)
        if entry is None or entry.age(now) > ttl:
            # Not in memory, or too old there: another process sharing the directory may have a newer one.
            stored = self._read_disk(key)
            if stored is not None and (entry is None or stored.written_at > entry.written_at):
                entry = stored
        if entry is not None and entry.age(now) <= ttl:
            self._count("hits")
            return self._copy(entry)
        self._count("misses")
        return None

    def get_last_good(self, key: str) -> CacheEntry[Any] | None:
        """The entry under ``key`` whatever its age (the stale fallback)."""
        entry = self._recall(key) or self._read_disk(key)
        if entry is None:
            return None
        self._count("stale_reads")
        return self._copy(entry)

    # -- typed helpers -----------------------------------------------------------------------------------------

    def put_quote(self, quote: Quote) -> None:
        """Keep ``quote``; it goes to disk at most once per ``quote_write_interval`` seconds per symbol."""
        now = self._clock()
        with self._lock:
            last = self._quote_written.get(quote.symbol)
            to_disk = last is None or now - last >= self._quote_write_interval
            if to_disk:
                self._remember_quote_write(quote.symbol, now)
        self._write(quote_key(quote.symbol), quote, quote.source, to_disk=to_disk)

    def _remember_quote_write(self, symbol: str, now: float) -> None:
        # Under self._lock. A symbol whose last write is older than the interval would be written again anyway, so
        # forgetting it changes nothing; past MAX_QUOTE_SYMBOLS the oldest go too (their next quote is written).
        written = self._quote_written
        written[symbol] = now
        written.move_to_end(symbol)
        while written and (len(written) > MAX_QUOTE_SYMBOLS
                           or now - next(iter(written.values())) >= self._quote_write_interval):
            written.popitem(last=False)

    def get_quote(self, symbol: str) -> CacheEntry[Quote] | None:
        return self.get_fresh(quote_key(symbol), self._quote_ttl)

    def last_quote(self, symbol: str) -> CacheEntry[Quote] | None:
        return self.get_last_good(quote_key(symbol))

    def put_history(
        self,
        symbol: str,
        period: Period,
        timeframe: Timeframe,
        end: float | None,
        limit: int | None,
        candles: list[Candle],
        source: str,
    ) -> None:
        self._write(history_key(symbol, period, timeframe, end, limit), list(candles), source)

    def get_history(
        self, symbol: str, period: Period, timeframe: Timeframe, end: float | None = None, limit: int | None = None
    ) -> CacheEntry[list[Candle]] | None:
        ttl = history_ttl(timeframe, end, self._clock())
        return self.get_fresh(history_key(symbol, period, timeframe, end, limit), ttl)

    def last_history(
        self, symbol: str, period: Period, timeframe: Timeframe, end: float | None = None, limit: int | None = None
    ) -> CacheEntry[list[Candle]] | None:
        return self.get_last_good(history_key(symbol, period, timeframe, end, limit))

    def put_options(self, chain: OptionChain, source: str, requested: str | None = None) -> None:
        """Store ``chain`` under its own expiration and, if different, under the one asked for (None: nearest)."""
        self._write(options_key(chain.symbol, chain.expiration), chain, source)
        if requested != chain.expiration:
            self._write(options_key(chain.symbol, requested), chain, source)

    def get_options(self, symbol: str, expiration: str | None = None) -> CacheEntry[OptionChain] | None:
        return self.get_fresh(options_key(symbol, expiration), self._options_ttl)

    def last_options(self, symbol: str, expiration: str | None = None) -> CacheEntry[OptionChain] | None:
        return self.get_last_good(options_key(symbol, expiration))

    # -- reporting and lifetime ----------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters since start: hits/misses of fresh reads, hit_rate, stale_reads, writes (reached the disk),
        errors, dropped_writes, slow_reads (disk reads given up on), and the pending_writes gauge."""
        with self._lock:
            counts: dict[str, Any] = dict(self._counts)
            counts["memory_entries"] = len(self._memory)
        with self._io:
            counts["pending_writes"] = len(self._pending)
        lookups = counts["hits"] + counts["misses"]
        counts["hit_rate"] = counts["hits"] / lookups if lookups else None
        counts["directory"] = str(self.directory)
        counts["mode"] = self.mode
        counts["reason"] = self.reason
        return counts

    def clear(self) -> None:
        """Forget everything, in memory and on disk (on the calling thread: meant for start-up)."""
        with self._io:
            self._pending.clear()
        with self._lock:
            self._memory.clear()
            self._memory_used = 0
            self._quote_written.clear()
        if self._store is None:
            return
        try:
            self._store.clear()
        except Exception as exc:  # an entry left on disk could come back as a wrong value: stop using the disk
            self._use_memory_only(f"clearing it failed: {type(exc).__name__}: {exc}")
            store, self._store = self._store, None
            try:
                store.close()
            except Exception:  # the store is already given up
                log.debug("closing the unusable cache store failed", exc_info=True)

    def close(self) -> None:
        """Let the writer finish what is queued (up to CLOSE_TIMEOUT), stop the threads and close the store."""
        self.flush(CLOSE_TIMEOUT)
        with self._io:
            self._closed = True
            self._io.notify_all()
            readers = list(self._readers)
        for _ in readers:
            try:
                self._reads.put_nowait(None)
            except queue.Full:
                break  # the readers are stuck on the disk; they are daemon threads and end with the process
        if self._store is not None:
            self._store.close()
