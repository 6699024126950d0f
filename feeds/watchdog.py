"""The feed watchdog: from the times of the feed's iterations and each symbol's latest quote, whether the feed is
starting, running, late or stalled, and whether a symbol's data is live, stale, missing or stalled.

Pure: times in, states out. The feed records when its iterations complete (``LiveFeed``), ``/health`` asks
``check_feed`` on every request, and the WebSocket hub feeds a ``StatusBook`` from a thread of its own (never the
feed thread, which is the one that may be stuck) and announces what changed.

Limits, relative to the feed's update interval ``i`` with floors (``Limits.for_interval``):

- late (``/health`` degraded, subscribers told ``stalled``): no iteration completed for ``max(3 i, 2 s)``;
- stalled (``/health`` unhealthy, HTTP 503): none for ``max(10 i, 10 s)``;
- a subscribed symbol without a first quote for the late limit is ``no_data`` (at once when its first quote failed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

LATE_INTERVALS = 3.0
LATE_FLOOR_SECONDS = 2.0
STALLED_INTERVALS = 10.0
STALLED_FLOOR_SECONDS = 10.0
# A symbol's status changes at most once in this many seconds, except to stalled: a source that fails every other
# poll must not flood subscribers with stale/live pairs.
MIN_STATUS_GAP_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Limits:
    """Seconds without a completed feed iteration after which the feed is late (degraded) and stalled (unhealthy)."""

    late_after: float
    stalled_after: float

    @classmethod
    def for_interval(cls, interval: float) -> Limits:
        """>>> Limits.for_interval(1.0)
        Limits(late_after=3.0, stalled_after=10.0)
        >>> Limits.for_interval(0.05)
        Limits(late_after=2.0, stalled_after=10.0)
        """
        return cls(max(LATE_INTERVALS * interval, LATE_FLOOR_SECONDS),
                   max(STALLED_INTERVALS * interval, STALLED_FLOOR_SECONDS))


class FeedState(str, Enum):
    STOPPED = "stopped"  # never started (a test, or an app built with start_feed=False): nothing to watch
    STARTING = "starting"  # started, no iteration completed yet
    RUNNING = "running"
    LATE = "late"
    STALLED = "stalled"


@dataclass(frozen=True, slots=True)
class FeedCheck:
    """The feed's state at one instant; ``idle`` is the seconds since its last completed iteration (or its start)."""

    state: FeedState
    idle: float
    limits: Limits

    @property
    def overdue(self) -> bool:
        """The subscribers' data has stopped: no iteration for the late limit, the first one included."""
        return self.state is not FeedState.STOPPED and self.idle >= self.limits.late_after

    @property
    def reason(self) -> str:
        if self.state is FeedState.STARTING:
            return f"the feed has not completed its first update in {self.idle:.1f} s"
        return f"the feed has completed no update for {self.idle:.1f} s"


def check_feed(now: float, started_at: float | None, completed_at: float | None, limits: Limits) -> FeedCheck:
    """The feed's state from monotonic times: when it (last) started and when its last iteration completed."""
    if started_at is None:
        return FeedCheck(FeedState.STOPPED, 0.0, limits)
    # A restarted feed counts from its start, not from an iteration before it was stopped.
    idle = max(0.0, now - max(started_at, completed_at if completed_at is not None else started_at))
    if completed_at is None:
        return FeedCheck(FeedState.STARTING, idle, limits)
    if idle >= limits.stalled_after:
        return FeedCheck(FeedState.STALLED, idle, limits)
    if idle >= limits.late_after:
        return FeedCheck(FeedState.LATE, idle, limits)
    return FeedCheck(FeedState.RUNNING, idle, limits)


class DataState(str, Enum):
    """What a subscriber is told about one symbol's data (the ``state`` of a ``status`` message)."""

    LIVE = "live"
    STALE = "stale"
    NO_DATA = "no_data"
    STALLED = "stalled"


@dataclass(frozen=True, slots=True)
class Observation:
    """What the feed knows of one symbol: whether it streams it, has a quote, whether that quote is stale, and why
    its first quote failed (None while it has not)."""

    tracked: bool
    has_quote: bool
    stale: bool = False
    failure: str | None = None


@dataclass(frozen=True, slots=True)
class SymbolStatus:
    """One symbol's data state since ``since`` (wall-clock seconds), with a reason for people."""

    symbol: str
    state: DataState
    since: float
    reason: str


def classify(feed: FeedCheck, seen: Observation, waited: float) -> tuple[DataState, str] | None:
    """A symbol's data state, or None while it is too early to say (a symbol waiting for its first quote).

    The stalled feed comes first: nothing flows for any symbol while the loop is stuck.
    """
    if feed.overdue:
        return DataState.STALLED, feed.reason
    if not seen.has_quote:
        if seen.failure is not None:
            return DataState.NO_DATA, f"no source has data for it yet: {seen.failure}"
        if waited < feed.limits.late_after:
            return None
        if not seen.tracked:
            return DataState.NO_DATA, ("the server does not stream this symbol: subscribe to its market_data or "
                                       "candles to start it")
        return DataState.NO_DATA, f"no quote yet after {waited:.1f} s"
    if seen.stale:
        return DataState.STALE, "no fresh price: the source fails for it or serves its cached last price"
    return DataState.LIVE, "data flows"


class StatusBook:
    """The data state of each watched symbol, kept between checks so that only changes are announced.

    Only symbols that are not live are stored (a symbol no check has seen yet counts as live), so the book is
    bounded by the symbols watched. A change waits until ``min_gap`` seconds have passed since the symbol's last
    one (then the state of that moment is announced), except a change to stalled, which is announced at once. Not
    thread-safe: the hub calls it under its lock.
    """

    def __init__(self, min_gap: float = MIN_STATUS_GAP_SECONDS) -> None:
        self.min_gap = min_gap
        # Monotonic time of each symbol's last announced change.
        self._changed_at: dict[str, float] = {}
        self._states: dict[str, SymbolStatus] = {}
        # Symbols seen without a quote → since when (monotonic), for the no_data grace.
        self._waiting: dict[str, float] = {}
        self._feed: FeedCheck | None = None

    def update(self, now: float, wall: float, feed: FeedCheck,
               observations: Mapping[str, Observation]) -> list[SymbolStatus]:
        """Take one check of every watched symbol; return the statuses to announce (changes only).

        ``now`` is monotonic, ``wall`` the same instant in wall-clock seconds (for ``since``).
        """
        self._feed = feed
        for gone in [s for s in self._states if s not in observations]:
            del self._states[gone]
        for gone in [s for s in self._waiting if s not in observations]:
            del self._waiting[gone]
        for gone in [s for s in self._changed_at if s not in observations]:
            del self._changed_at[gone]
        if feed.state is FeedState.STOPPED:
            return []
        changes: list[SymbolStatus] = []
        for symbol, seen in observations.items():
            if seen.has_quote:
                self._waiting.pop(symbol, None)
                waited = 0.0
            else:
                waited = now - self._waiting.setdefault(symbol, now)
            verdict = classify(feed, seen, waited)
            if verdict is None:
                continue
            state, reason = verdict
            previous = self._states.get(symbol)
            if (previous.state if previous is not None else DataState.LIVE) is state:
                continue
            if state is not DataState.STALLED and now - self._changed_at.get(symbol, now - self.min_gap) \
                    < self.min_gap:
                continue  # too soon after the last change: the state of the next check after the gap counts
            self._changed_at[symbol] = now
            if state is DataState.LIVE:
                del self._states[symbol]
                changes.append(SymbolStatus(symbol, state, wall, reason))
                continue
            since = wall - feed.idle if state is DataState.STALLED else wall - waited
            status = SymbolStatus(symbol, state, since, reason)
            self._states[symbol] = status
            changes.append(status)
        return changes

    def current(self, symbol: str, wall: float) -> SymbolStatus | None:
        """The symbol's status for a new subscriber when it is not live; None when it is (or nothing is known).

        A symbol no check has seen yet while the feed is stalled is stalled too (and stored, so the next check does
        not announce it again).
        """
        status = self._states.get(symbol)
        if status is None and self._feed is not None and self._feed.overdue:
            status = SymbolStatus(symbol, DataState.STALLED, wall - self._feed.idle, self._feed.reason)
            self._states[symbol] = status
        return status

    def not_live(self) -> list[SymbolStatus]:
        return list(self._states.values())
