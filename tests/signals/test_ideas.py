"""Trade ideas: birth from a break + zone, every way an idea ends, and the prepared order payload."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from feeds.models import Timeframe
from signals.bars import Bars
from signals.enums import Action, Direction
from signals.fvg import FairValueGap
from signals.ideas import (
    CloseReason,
    Idea,
    IdeaBook,
    IdeaConfig,
    IdeaStatus,
    prepared_payload,
)
from signals.structure import BreakKind, StructureBreak
from signals.tracker import SignalTracker, TrackerConfig

WalkFactory = Callable[..., Bars]
ATR = 2.0
BULL_BREAK = StructureBreak(10, 10, Direction.BULLISH, BreakKind.BOS, 103.0, 5, 5)
BEAR_BREAK = StructureBreak(10, 10, Direction.BEARISH, BreakKind.CHOCH, 97.0, 5, 5)
BULL_ZONE = FairValueGap(7, 7, Direction.BULLISH, 102.0, 100.0, 8)
BEAR_ZONE = FairValueGap(7, 7, Direction.BEARISH, 100.0, 98.0, 8)
DISTRACTIONS = (
    FairValueGap(3, 3, Direction.BULLISH, 101.5, 99.0, 4),  # formed before the broken swing
    FairValueGap(8, 8, Direction.BEARISH, 110.0, 108.0, 9),  # wrong direction
    FairValueGap(9, 9, Direction.BULLISH, 104.5, 103.5, 10),  # not below the close
)


def born_long(config: IdeaConfig | None = None) -> tuple[IdeaBook, Idea]:
    book = IdeaBook("AAPL", "1h", config)
    changes = book.update(10, 10, (103.0, 104.5, 102.8, 104.0), ATR, [BULL_BREAK], [BULL_ZONE, *DISTRACTIONS])
    (idea,) = changes.born
    return book, idea


def test_long_idea_is_born_from_break_and_zone() -> None:
    _, idea = born_long()
    # Entry at the zone top, stop 0.1 ATR under the zone, target 2R above the entry.
    assert (idea.side, idea.entry, idea.stop) == (Action.BUY, 102.0, pytest.approx(99.8))
    assert idea.target == pytest.approx(102.0 + 2 * 2.2)
    assert idea.risk_reward == pytest.approx(2.0)
    assert (idea.zone_index, idea.break_index, idea.born_index, idea.status) == (7, 10, 10, IdeaStatus.PENDING)
    assert idea.id == "AAPL-1h-idea-10-buy"


def test_short_idea_mirrors_the_long_one() -> None:
    book = IdeaBook("AAPL", "1h")
    (idea,) = book.update(10, 10, (97.0, 97.2, 95.5, 96.0), ATR, [BEAR_BREAK], [BEAR_ZONE]).born
    assert (idea.side, idea.entry, idea.stop) == (Action.SELL, 98.0, pytest.approx(100.2))
    assert idea.target == pytest.approx(98.0 - 2 * 2.2)
    # Rally into the zone (entry), then a drop to the target.
    assert book.update(11, 11, (96.0, 98.5, 95.8, 98.2), ATR, [], []).triggered[0].triggered_index == 11
    (closed,) = book.update(12, 12, (98.2, 98.3, 93.0, 93.5), ATR, [], []).closed
    assert closed.reason is CloseReason.TARGET_HIT


def test_no_idea_without_a_matching_zone() -> None:
    book = IdeaBook("AAPL", "1h")
    assert book.update(10, 10, (103.0, 104.5, 102.8, 104.0), ATR, [BULL_BREAK], list(DISTRACTIONS)).born == ()
    assert book.update(11, 11, (103.0, 104.5, 102.8, 104.0), ATR, [], [BULL_ZONE]).born == ()


@pytest.mark.parametrize(
    ("bars", "reason", "closed_at", "triggered_at"),
    [
        pytest.param(
            [(104, 104.5, 101.5, 103), (103, 106.5, 102.5, 106)], CloseReason.TARGET_HIT, 12, 11, id="entry-then-target"
        ),
        pytest.param([(104, 104.5, 99.0, 99.5)], CloseReason.STOPPED_OUT, 11, 11, id="entry-and-stop-same-bar"),
        pytest.param([(99.5, 100.5, 99.0, 100.0)], CloseReason.STOP_BEFORE_ENTRY, 11, None, id="gap-below-the-stop"),
        pytest.param(
            [(104, 107.0, 103.0, 106.8)], CloseReason.TARGET_BEFORE_ENTRY, 11, None, id="target-without-pullback"
        ),
        pytest.param(
            [(104, 104.5, 101.5, 103), (103, 103.2, 99.85, 99.9)],
            CloseReason.ZONE_BROKEN,
            12,
            11,
            id="close-through-zone",
        ),
        pytest.param(
            [(104, 104.5, 101.5, 103), (103, 103.2, 99.5, 101)], CloseReason.STOPPED_OUT, 12, 11, id="stopped-later"
        ),
    ],
)
def test_life_cycle(
    bars: list[tuple[float, float, float, float]], reason: CloseReason, closed_at: int, triggered_at: int | None
) -> None:
    book, _ = born_long()
    closed: list[Idea] = []
    for offset, bar in enumerate(bars, start=11):
        closed.extend(book.update(offset, offset, bar, ATR, [], []).closed)
    (idea,) = closed
    assert (idea.reason, idea.closed_index, idea.triggered_index, idea.status) == (
        reason,
        closed_at,
        triggered_at,
        IdeaStatus.CLOSED,
    )
    assert book.live() == () and book.closed() == (idea,)


def test_opposite_break_closes_the_idea() -> None:
    book, _ = born_long()
    opposite = StructureBreak(11, 11, Direction.BEARISH, BreakKind.CHOCH, 102.9, 9, 9)
    (idea,) = book.update(11, 11, (104, 104.5, 102.5, 102.6), ATR, [opposite], []).closed
    assert idea.reason is CloseReason.OPPOSITE_BREAK


def test_pending_ideas_expire_after_the_age_limit() -> None:
    book, _ = born_long(IdeaConfig(max_pending_bars=5))
    closed: list[Idea] = []
    for index in range(11, 20):
        closed.extend(book.update(index, index, (104, 105, 103, 104), ATR, [], []).closed)
    (idea,) = closed
    assert (idea.reason, idea.closed_index) == (CloseReason.AGE_LIMIT, 15)


def test_one_idea_per_zone_and_a_bounded_book() -> None:
    book, _ = born_long(IdeaConfig(max_live=2))
    again = StructureBreak(11, 11, Direction.BULLISH, BreakKind.BOS, 104.0, 6, 6)
    assert book.update(11, 11, (104, 104.8, 103, 104.7), ATR, [again], [BULL_ZONE]).born == ()
    for index, zone_index in ((12, 8), (13, 9)):
        zone = FairValueGap(zone_index, zone_index, Direction.BULLISH, 103.0, 101.0, zone_index + 1)
        brk = StructureBreak(index, index, Direction.BULLISH, BreakKind.BOS, 104.0, 6, 6)
        book.update(index, index, (104, 104.9, 103.9, 104.8), ATR, [brk], [zone])
    assert [i.zone_index for i in book.live()] == [8, 9]
    assert book.closed()[0].reason is CloseReason.DROPPED


def test_prepared_payload() -> None:
    _, idea = born_long()
    payload = prepared_payload(idea)
    assert payload == {
        "symbol": "AAPL",
        "side": "buy",
        "order_type": "limit",
        "quantity": 45.4545,  # 100 / 2.2 rounded down to 4 decimals
        "limit_price": 102.0,
        "stop_loss": idea.stop,
        "take_profit": idea.target,
        "time_in_force": "gtc",
        "idea_id": idea.id,
    }
    assert prepared_payload(idea, quantity=3)["quantity"] == 3
    assert set(idea.to_dict()) >= {"idea_id", "side", "entry", "stop_loss", "take_profit", "risk_reward", "status"}


def test_tracker_reports_ideas(walk: WalkFactory) -> None:
    tracker = SignalTracker("AAA", Timeframe.H1, TrackerConfig(ideas=IdeaConfig(max_live=5, history=10)))
    born: list[Idea] = []
    for candle in walk(4_000, seed=21).candles():
        update = tracker.on_candle_closed(candle)
        born.extend(update.ideas.born)
        assert len(tracker.snapshot.ideas) <= 5
    assert born, "a 4000-candle random walk should produce at least one set-up"
    for idea in born:
        if idea.side is Action.BUY:
            assert idea.stop < idea.zone_bottom <= idea.zone_top == idea.entry < idea.target
        else:
            assert idea.target < idea.entry == idea.zone_bottom <= idea.zone_top < idea.stop
    assert len(tracker.snapshot.closed_ideas) <= 10
