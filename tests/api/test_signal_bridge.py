"""The signal engine bridge: trackers seeded and fed like the feed thread does, events and snapshots out."""

from __future__ import annotations

import threading

from tests_support import FakeClock, wait_for

from api import protocol as p
from api.signal_bridge import (
    HISTORY_CANDLES,
    MAX_HISTORY_SIGNALS,
    SEED_WINDOW,
    SIGNAL_SCAN_CANDLES,
    HistorySignals,
    SignalEngine,
    levels_from_history,
    seed_window,
)
from feeds.bus import InProcessBus
from feeds.candles import CandleEvent
from feeds.live import LiveFeed
from feeds.models import Period, Timeframe
from feeds.simulated import SimulatedSource
from signals import SignalTracker
from signals.ideas import IdeaStatus

NOW = 1_763_700_000.0


def history(symbol: str = "AAPL", timeframe: Timeframe = Timeframe.M5):  # type: ignore[no-untyped-def]
    source = SimulatedSource(seed=3, clock=lambda: NOW)
    return source.history(symbol, Period.parse("5d"), timeframe)[:-1]


def test_seed_uses_the_last_window_and_matches_a_tracker_fed_by_hand() -> None:
    candles = history()
    engine = SignalEngine()
    engine.seed("AAPL", Timeframe.M5, candles)
    window = seed_window(candles, Timeframe.M5, SEED_WINDOW)
    assert SEED_WINDOW <= len(window) < len(candles)
    by_hand = SignalTracker("AAPL", Timeframe.M5)
    by_hand.seed(window)
    assert engine.overlays("AAPL", Timeframe.M5) == by_hand.snapshot.overlays()
    assert engine.tracker("AAPL", Timeframe.M5).snapshot.candle_count == len(window)  # type: ignore[union-attr]


def test_closed_candles_produce_channel_events_only_when_something_changes() -> None:
    candles = history()
    engine = SignalEngine()
    engine.seed("AAPL", Timeframe.M5, candles[:-300])
    topics: list[str] = []
    events: list[p.ChannelEvent] = []
    for candle in candles[-300:]:
        for topic, event in engine.candle_closed(CandleEvent("AAPL", Timeframe.M5, candle, True, candle.time + 300)):
            topics.append(topic)
            events.append(event)
    signals = [e for e in events if e.type is p.MessageType.SIGNAL]
    assert signals, "300 candles of the simulated market move the consensus at least once"
    assert len(signals) < 300, "a signal goes out on a change, not on every candle"
    first = signals[0].data
    assert set(first) >= {"signal_id", "symbol", "signal_type", "side", "confidence", "strength", "strength_label",
                          "reasoning", "model", "timeframe", "price", "agents_consensus"}
    assert first["signal_type"] in ("BUY", "SELL") and first["side"] == first["signal_type"].lower()
    assert 0 <= first["confidence"] <= 1 and 0 <= first["strength"] <= 1
    assert set(topics) <= {"signals.AAPL", "ideas.AAPL", "payloads.AAPL"}
    payloads = [e for e in events if e.type is p.MessageType.PREPARED_PAYLOAD]
    born = [e for e in events if e.type is p.MessageType.IDEA and e.data.get("status") == "pending"]
    assert len(payloads) == len(born)


def test_unknown_tracker_and_old_candles_are_ignored() -> None:
    engine = SignalEngine()
    candles = history()
    assert engine.candle_closed(CandleEvent("MSFT", Timeframe.M5, candles[-1], True, NOW)) == []
    engine.seed("AAPL", Timeframe.M5, candles)
    assert engine.candle_closed(CandleEvent("AAPL", Timeframe.M5, candles[-5], True, NOW)) == []


def test_reader_views() -> None:
    engine = SignalEngine(timeframes=(Timeframe.M5, Timeframe.H1))
    engine.seed("AAPL", Timeframe.M5, history())
    engine.seed("AAPL", Timeframe.H1, history(timeframe=Timeframe.H1))
    engine.seed("AAPL", Timeframe.M1, history(timeframe=Timeframe.M1))  # not an engine timeframe: skipped
    status = engine.ws_status()
    assert status["active_trackers"] == 2 and set(status["trackers"]) == {"AAPL_5m", "AAPL_1h"}
    entry = status["trackers"]["AAPL_5m"]
    assert set(entry) == {"last_candle_count", "last_update_time", "cached_signals_count"}
    agents = engine.agent_status()["agents"]
    assert len(agents) >= 8 and all({"name", "status", "last_vote"} <= set(a) for a in agents)
    merged = engine.signal_list("AAPL", None)
    assert [s["timestamp"] for s in merged] == sorted((s["timestamp"] for s in merged), reverse=True)
    only_hour = engine.signal_list("AAPL", Timeframe.H1)
    assert all(s["timeframe"] == "1h" for s in only_hour)
    assert engine.overlays("MSFT", Timeframe.M5) == {"pivot_points": [], "fvg_zones": [], "break_signals": [],
                                                       "pivot_levels": []}


def test_levels_from_history_has_the_contract_shapes() -> None:
    candles = history()
    levels = levels_from_history(candles, Timeframe.M5)
    assert set(levels) == {"pivot_points", "fvg_zones", "break_signals", "pivot_levels"}
    swing = levels["pivot_points"][0]
    assert set(swing) == {"time", "index", "kind", "price", "confirmed_time", "confirmed_index"}
    gap = levels["fvg_zones"][0]
    assert set(gap) == {"time", "index", "direction", "top", "bottom", "confirmed_index", "mitigated",
                        "mitigated_index", "mitigated_time"}


def test_intraday_trackers_start_at_the_previous_utc_day() -> None:
    source = SimulatedSource(seed=3, clock=lambda: NOW)
    minutes = source.history("AAPL", Period.parse("3d"), Timeframe.M1)[:-1]
    window = seed_window(minutes, Timeframe.M1, SEED_WINDOW)
    previous_day = Timeframe.D1.bucket_start(minutes[-1].time) - 86_400
    assert window[0].time == previous_day and window[-1] == minutes[-1]
    hours = source.history("AAPL", Period.parse("1mo"), Timeframe.H1)[:-1]
    assert seed_window(hours, Timeframe.H1, SEED_WINDOW) == hours[-SEED_WINDOW:]
    days = source.history("AAPL", Period.parse("1y"), Timeframe.D1)[:-1]
    assert seed_window(days, Timeframe.D1, SEED_WINDOW) == days[-SEED_WINDOW:]
    engine = SignalEngine(timeframes=(Timeframe.M1,))
    engine.seed("AAPL", Timeframe.M1, minutes)
    assert engine.overlays("AAPL", Timeframe.M1)["pivot_levels"], "floor pivots from the previous day at once"


def test_a_closed_candles_subscribers_see_the_overlays_it_confirmed() -> None:
    """full_update for candle T carries what T confirmed: the tracker has taken T before the event goes out."""
    clock = FakeClock(NOW)
    bus = InProcessBus()
    engine = SignalEngine(timeframes=(Timeframe.M1,))
    feed = LiveFeed(SimulatedSource(seed=1, clock=clock), bus, ["AAPL"], interval=1.0, clock=clock, listener=engine)
    seen: list[tuple[int, int | None]] = []

    def on_candle(topic: str, event: object) -> None:
        if isinstance(event, CandleEvent) and event.closed and event.timeframe is Timeframe.M1:
            tracker = engine.tracker("AAPL", Timeframe.M1)
            last = tracker.snapshot.last_candle if tracker is not None else None
            seen.append((event.candle.time, None if last is None else last.time))

    bus.subscribe(on_candle)
    for _ in range(200):
        feed.run_once()
        clock.advance(1.0)
    assert len(seen) >= 2
    assert all(closed == tracked for closed, tracked in seen), seen


def test_payload_snapshots_offer_only_pending_ideas_and_closed_ideas_are_announced() -> None:
    candles = history(timeframe=Timeframe.M1)
    engine = SignalEngine(timeframes=(Timeframe.M1,))
    engine.seed("AAPL", Timeframe.M1, candles[:300])
    subscription = p.Subscription(p.Channel.PAYLOADS, "AAPL")
    saw_active = False
    statuses: set[str] = set()
    for candle in candles[300:]:
        for _, event in engine.candle_closed(CandleEvent("AAPL", Timeframe.M1, candle, True, candle.time + 60)):
            if event.type is p.MessageType.IDEA:
                statuses.add(str(event.data["status"]))
        tracker = engine.tracker("AAPL", Timeframe.M1)
        assert tracker is not None
        ideas = tracker.snapshot.ideas
        saw_active |= any(idea.status is IdeaStatus.ACTIVE for idea in ideas)
        offered = [event.data["idea_id"] for event in engine.snapshot(subscription)]
        assert offered == [idea.id for idea in ideas if idea.status is IdeaStatus.PENDING]
    assert saw_active, "the simulated week must trigger at least one idea for this test to mean anything"
    assert {"pending", "active", "closed"} <= statuses


class GatedHistorySource(SimulatedSource):
    """The simulated market whose history requests wait until the test opens the gate (a slow provider)."""

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.gate = threading.Event()

    def history(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.gate.wait(30)
        return super().history(*args, **kwargs)


def test_background_seeding_frees_the_feed_thread_and_ends_like_inline_seeding() -> None:
    """A tracker prepared off the feed thread, then caught up with the candles closed meanwhile, is the tracker the
    inline seeding gives on the same market; the feed keeps ticking while the history request hangs."""
    clocks = FakeClock(NOW), FakeClock(NOW)
    engines = SignalEngine(timeframes=(Timeframe.M1,)), SignalEngine(timeframes=(Timeframe.M1,))
    gated = GatedHistorySource(seed=1, clock=clocks[1])
    ticks: list[object] = []
    background_bus = InProcessBus()
    background_bus.subscribe(lambda topic, event: ticks.append(event), prefix="ticks.")
    inline = LiveFeed(SimulatedSource(seed=1, clock=clocks[0]), InProcessBus(), ["AAPL"], interval=1.0,
                      clock=clocks[0], listener=engines[0], timeframes=(Timeframe.M1,))
    background = LiveFeed(gated, background_bus, ["AAPL"], interval=1.0, clock=clocks[1], listener=engines[1],
                          timeframes=(Timeframe.M1,), seed_in_background=True)

    def step(count: int) -> None:
        for _ in range(count):
            inline.run_once()
            background.run_once()
            for clock in clocks:
                clock.advance(1.0)

    step(200)  # more than three minutes: candles close while the history request hangs
    assert engines[0].tracker("AAPL", Timeframe.M1) is not None
    assert engines[1].tracker("AAPL", Timeframe.M1) is None
    assert len(ticks) >= 195, "the feed thread kept ticking"
    gated.gate.set()
    wait_for(lambda: (step(1), engines[1].tracker("AAPL", Timeframe.M1))[1], 20, 0.01, "the background seed")
    step(130)
    first, second = (engine.tracker("AAPL", Timeframe.M1) for engine in engines)
    assert first is not None and second is not None
    assert second.snapshot.candle_count == first.snapshot.candle_count
    assert second.snapshot.last_candle == first.snapshot.last_candle
    assert second.snapshot.overlays() == first.snapshot.overlays()
    assert second.snapshot.consensus == first.snapshot.consensus


def test_untracked_signals_come_from_a_bounded_history_and_are_cached_briefly() -> None:
    """HistorySignals: no tracker, no feed; at most HISTORY_CANDLES candles analysed and the newest
    SIGNAL_SCAN_CANDLES scanned for signals; an answer is reused until its time is up, in an LRU of ``size``."""
    candles = history("NVDA", Timeframe.M1)  # 5 days of minutes: far more than is used
    asked: list[tuple[str, Timeframe]] = []

    def fetch(symbol: str, timeframe: Timeframe) -> list:  # type: ignore[type-arg]
        asked.append((symbol, timeframe))
        return candles

    clock = FakeClock()
    untracked = HistorySignals(fetch, (Timeframe.M1,), size=2, ttl=10.0, clock=clock)
    items = untracked.signal_list("NVDA", Timeframe.M1)
    assert 0 < len(items) <= MAX_HISTORY_SIGNALS
    first_scanned = candles[-SIGNAL_SCAN_CANDLES - 1].time  # the newest candle is left out: it may be forming
    assert all(first_scanned <= int(str(item["id"]).rsplit("-", 1)[1]) < candles[-1].time for item in items)
    assert [item["timestamp"] for item in items] == sorted((item["timestamp"] for item in items), reverse=True)
    assert untracked.signal_list("NVDA", None) == items and untracked.computed == 1, "cached"
    levels = untracked.overlays("NVDA", Timeframe.M1)
    assert levels == levels_from_history(candles[-HISTORY_CANDLES - 1:], Timeframe.M1)
    assert untracked.computed == 2
    clock.advance(10.0)
    untracked.signal_list("NVDA", Timeframe.M1)
    assert untracked.computed == 3, "expired"
    untracked.signal_list("AMD", Timeframe.M1)  # a third entry: the least recently used one (levels) goes
    untracked.overlays("NVDA", Timeframe.M1)
    assert untracked.computed == 5 and len(asked) == 5
