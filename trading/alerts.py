"""Alert rules (pure): their conditions, their frequencies, and the engine that turns observations into firings.

Nothing here reads a clock, a socket or a file: every observation carries its own time, so a test drives a whole
scripted price path with hand-made times. ``trading/alert_service.py`` feeds the engine from the bus and persists and
announces what it returns.

Conditions (docs/alerts.md):

- ``price_above`` / ``price_below``: the price *crosses* the level ``value`` — the previous price of the symbol was
  below it (above it) and this one is at or above it (at or below it), as TradingView's "Crossing Up" / "Crossing
  Down". A price already beyond the level when the rule is made does not fire until it comes back and crosses.
- ``percent_move``: the price moved by at least ``value`` percent (absolute; ``direction`` ``up`` or ``down`` to
  choose one side) against the price ``window`` seconds ago. Level-triggered: true on every price while the move
  lasts, so the frequency decides how often it fires. Not true before the engine has seen ``window`` seconds of
  prices of the symbol.
- ``consensus``: a consensus signal of the rule's ``timeframe`` with the action ``action`` (``BUY`` or ``SELL``;
  none = either, never ``HOLD``).
- ``new_fvg`` / ``structure_break``: a fair value gap confirmed, or a structure break (BOS or CHOCH), on the close of
  a candle of the rule's ``timeframe``; ``direction`` ``bullish``/``bearish`` to choose one side.
- ``unusual_options``: a contract of the symbol's option chain is flagged unusual that was not in the previous
  refresh of that chain.
- ``order_filled``: a paper order of the symbol (any symbol when the rule has none) reached ``filled``.

Frequencies, as TradingView users know them: ``once`` (the rule is disabled after it fires), ``once_per_bar`` (at
most once per candle of the rule's ``timeframe``, the first time the condition holds in it), ``every_time`` (each
time the condition holds, but not within ``cooldown_seconds`` of the previous firing).
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from feeds.models import Timeframe

# Bounds (docs/alerts.md "Limits").
MAX_MESSAGE_LENGTH = 500  # an alert's whole message
MAX_RULE_MESSAGE_LENGTH = 200  # the rule's own text, put in front of the generated description
MAX_WINDOW_SECONDS = 86_400  # percent_move looks back at most one day
MIN_COOLDOWN_SECONDS = 1.0  # every_time: a level-triggered rule must not fire on every tick
MAX_COOLDOWN_SECONDS = 7 * 86_400
DEFAULT_COOLDOWN_SECONDS = 60.0
# Prices one symbol's percent_move window keeps at most; samples are spaced so that this many cover the longest window.
PRICE_SAMPLES = 2_000
# Unusual contracts named in one alert message.
NAMED_CONTRACTS = 3


class Condition(str, Enum):
    PRICE_ABOVE = "price_above"
    PRICE_BELOW = "price_below"
    PERCENT_MOVE = "percent_move"
    CONSENSUS = "consensus"
    NEW_FVG = "new_fvg"
    STRUCTURE_BREAK = "structure_break"
    UNUSUAL_OPTIONS = "unusual_options"
    ORDER_FILLED = "order_filled"


class Frequency(str, Enum):
    ONCE = "once"
    ONCE_PER_BAR = "once_per_bar"
    EVERY_TIME = "every_time"


class Level(str, Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


# Conditions evaluated on every price of their symbol.
PRICE_CONDITIONS = frozenset({Condition.PRICE_ABOVE, Condition.PRICE_BELOW, Condition.PERCENT_MOVE})
# Conditions that need a symbol (order_filled may leave it out: any symbol).
SYMBOL_CONDITIONS = frozenset(set(Condition) - {Condition.ORDER_FILLED})
# Conditions that read candles or signals of the rule's timeframe.
TIMEFRAME_CONDITIONS = frozenset({Condition.CONSENSUS, Condition.NEW_FVG, Condition.STRUCTURE_BREAK})
# ``direction`` values each condition accepts.
DIRECTIONS: dict[Condition, frozenset[str]] = {
    Condition.PERCENT_MOVE: frozenset({"up", "down"}),
    Condition.NEW_FVG: frozenset({"bullish", "bearish"}),
    Condition.STRUCTURE_BREAK: frozenset({"bullish", "bearish"}),
}
ACTIONS = frozenset({"BUY", "SELL"})


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A rule as the user made it, plus its firing state (``enabled``, ``fired_count``, ``last_fired_at``,
    ``last_bar``), which only the engine changes."""

    rule_id: str
    condition: Condition
    symbol: str | None = None
    value: float | None = None
    window: float | None = None
    timeframe: Timeframe = Timeframe.M1
    action: str | None = None
    direction: str | None = None
    frequency: Frequency = Frequency.ONCE
    cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS
    level: Level = Level.INFO
    message: str = ""
    webhook_url: str | None = None
    created_at: float = 0.0
    enabled: bool = True
    fired_count: int = 0
    last_fired_at: float | None = None
    last_bar: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The rule on the wire (REST) and in the store; times in Unix seconds."""
        return {
            "rule_id": self.rule_id,
            "condition": self.condition.value,
            "symbol": self.symbol,
            "value": self.value,
            "window": self.window,
            "timeframe": self.timeframe.value,
            "action": self.action,
            "direction": self.direction,
            "frequency": self.frequency.value,
            "cooldown_seconds": self.cooldown_seconds,
            "level": self.level.value,
            "message": self.message,
            "webhook_url": self.webhook_url,
            "created_at": self.created_at,
            "enabled": self.enabled,
            "fired_count": self.fired_count,
            "last_fired_at": self.last_fired_at,
            "last_bar": self.last_bar,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertRule:
        return cls(
            rule_id=str(data["rule_id"]),
            condition=Condition(data["condition"]),
            symbol=data.get("symbol"),
            value=data.get("value"),
            window=data.get("window"),
            timeframe=Timeframe(data.get("timeframe") or Timeframe.M1.value),
            action=data.get("action"),
            direction=data.get("direction"),
            frequency=Frequency(data.get("frequency") or Frequency.ONCE.value),
            cooldown_seconds=float(data.get("cooldown_seconds") or 0.0),
            level=Level(data.get("level") or Level.INFO.value),
            message=str(data.get("message") or ""),
            webhook_url=data.get("webhook_url"),
            created_at=float(data.get("created_at") or 0.0),
            enabled=bool(data.get("enabled", True)),
            fired_count=int(data.get("fired_count") or 0),
            last_fired_at=data.get("last_fired_at"),
            last_bar=data.get("last_bar"),
        )


class InvalidRule(ValueError):
    """A rule that cannot work; ``field`` names the culprit for the REST error message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_rule(rule: AlertRule) -> AlertRule:
    """``rule`` if its fields make sense together for its condition, else ``InvalidRule`` saying why."""
    condition = rule.condition
    if condition in SYMBOL_CONDITIONS and not rule.symbol:
        raise InvalidRule("symbol", f"a {condition.value} rule needs a symbol")
    if condition in (Condition.PRICE_ABOVE, Condition.PRICE_BELOW):
        if rule.value is None or not rule.value > 0:
            raise InvalidRule("value", f"a {condition.value} rule needs the price level as a positive value")
    if condition is Condition.PERCENT_MOVE:
        if rule.value is None or not 0 <= rule.value <= 1000:
            raise InvalidRule("value", "a percent_move rule needs the move in percent, 0 to 1000")
        if rule.window is None or not 1 <= rule.window <= MAX_WINDOW_SECONDS:
            raise InvalidRule("window", f"a percent_move rule needs a window of 1 to {MAX_WINDOW_SECONDS} seconds")
    if rule.action is not None and (condition is not Condition.CONSENSUS or rule.action not in ACTIONS):
        raise InvalidRule("action", "action is BUY or SELL, and only for a consensus rule")
    if rule.direction is not None:
        allowed = DIRECTIONS.get(condition, frozenset())
        if rule.direction not in allowed:
            names = " or ".join(sorted(allowed)) if allowed else "not taken by this condition"
            raise InvalidRule("direction", f"direction of a {condition.value} rule: {names}")
    if rule.frequency is Frequency.EVERY_TIME and not (
            MIN_COOLDOWN_SECONDS <= rule.cooldown_seconds <= MAX_COOLDOWN_SECONDS):
        raise InvalidRule("cooldown_seconds",
                          f"cooldown_seconds of an every_time rule: {MIN_COOLDOWN_SECONDS:g} to {MAX_COOLDOWN_SECONDS}")
    if len(rule.message) > MAX_RULE_MESSAGE_LENGTH:
        raise InvalidRule("message", f"at most {MAX_RULE_MESSAGE_LENGTH} characters")
    return rule


# -- frequencies -------------------------------------------------------------------------------------------------


def may_fire(rule: AlertRule, now: float) -> bool:
    """Whether the frequency lets ``rule`` fire at ``now`` (its condition being true)."""
    if not rule.enabled:
        return False
    if rule.frequency is Frequency.ONCE_PER_BAR:
        return rule.last_bar != rule.timeframe.bucket_start(now)
    if rule.frequency is Frequency.EVERY_TIME:
        return rule.last_fired_at is None or now - rule.last_fired_at >= rule.cooldown_seconds
    return True


def after_firing(rule: AlertRule, now: float) -> AlertRule:
    """The rule's state once it fired at ``now``: ``once`` rules are disabled."""
    return replace(rule, fired_count=rule.fired_count + 1, last_fired_at=now,
                   last_bar=rule.timeframe.bucket_start(now), enabled=rule.frequency is not Frequency.ONCE)


# -- observations and firings ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnusualContract:
    contract_symbol: str
    volume: int | None = None
    open_interest: int | None = None


@dataclass(frozen=True, slots=True)
class OrderFill:
    order_id: str
    symbol: str
    side: str
    quantity: float | None
    price: float | None


@dataclass(frozen=True, slots=True)
class Firing:
    """One alert: what the ``alert`` message, the history row and the webhook carry. ``rule`` is the rule's state
    after this firing (to be persisted with it)."""

    alert_id: str
    rule_id: str
    level: Level
    symbol: str | None
    message: str
    time: float
    condition: Condition
    rule: AlertRule
    details: dict[str, Any]


def price_text(value: float) -> str:
    # Enough digits for any instrument's precision without trailing float noise (190.12, 1.08457, 0.00001234).
    return format(value, ",.10g") if abs(value) >= 1 else format(value, ".6g")


def _message(rule: AlertRule, description: str) -> str:
    text = f"{rule.message}: {description}" if rule.message else description
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[:MAX_MESSAGE_LENGTH - 1] + "…"


class _PriceWindow:
    """Recent (time, price) samples of one symbol, enough to look back the longest percent_move window.

    Samples are at least ``spacing`` seconds apart (the newest price is compared directly, not sampled), so the
    window holds at most about ``PRICE_SAMPLES`` of them; the price "``window`` seconds ago" is the newest sample at
    or before that instant, at most ``spacing`` older than it.
    """

    __slots__ = ("times", "prices", "span", "spacing")

    def __init__(self, span: float, spacing: float) -> None:
        self.times: deque[float] = deque()
        self.prices: deque[float] = deque()
        self.span = span
        self.spacing = spacing

    def add(self, t: float, price: float) -> None:
        if not self.times or t - self.times[-1] >= self.spacing:
            self.times.append(t)
            self.prices.append(price)
        cut = t - self.span
        # Keep the newest sample at or before the cut: it is the reference of the longest window.
        while len(self.times) >= 2 and self.times[1] <= cut:
            self.times.popleft()
            self.prices.popleft()

    def price_at(self, t: float) -> float | None:
        i = bisect_right(self.times, t) - 1
        return self.prices[i] if i >= 0 else None


class AlertEngine:
    """Holds the rules, indexed by symbol and condition, and evaluates observations against them.

    Not thread-safe: its owner (AlertService) calls it under one lock. A price costs a dictionary look-up for a
    symbol without rules, and O(rules of that symbol) otherwise.
    """

    def __init__(self, rules: Iterable[AlertRule] = (), ids: Callable[[], str] = lambda: uuid.uuid4().hex) -> None:
        self._rules: dict[str, AlertRule] = {}
        self._ids = ids
        # condition → symbol (None: any symbol) → rule ids
        self._index: dict[Condition, dict[str | None, list[str]]] = {}
        self._price_symbols: dict[str, list[str]] = {}
        self._last_price: dict[str, float] = {}
        self._windows: dict[str, _PriceWindow] = {}
        self._unusual_seen: dict[str, frozenset[str]] = {}
        for rule in rules:
            self._rules[rule.rule_id] = rule
        self._reindex()

    # -- rules -----------------------------------------------------------------------------------------------

    def add(self, rule: AlertRule) -> None:
        self._rules[rule.rule_id] = check_rule(rule)
        self._reindex()

    def remove(self, rule_id: str) -> AlertRule | None:
        rule = self._rules.pop(rule_id, None)
        if rule is not None:
            self._reindex()
        return rule

    def clear(self) -> None:
        self._rules.clear()
        self._reindex()

    def get(self, rule_id: str) -> AlertRule | None:
        return self._rules.get(rule_id)

    def rules(self) -> list[AlertRule]:
        return sorted(self._rules.values(), key=lambda r: (r.created_at, r.rule_id))

    def __len__(self) -> int:
        return len(self._rules)

    def symbols(self, condition: Condition) -> list[str]:
        """Symbols that enabled rules of ``condition`` watch (for the option-chain refresh)."""
        return sorted(s for s, ids in self._index.get(condition, {}).items()
                      if s is not None and any(self._rules[i].enabled for i in ids))

    def _reindex(self) -> None:
        index: dict[Condition, dict[str | None, list[str]]] = {}
        prices: dict[str, list[str]] = {}
        for rule in self._rules.values():
            index.setdefault(rule.condition, {}).setdefault(rule.symbol, []).append(rule.rule_id)
            if rule.condition in PRICE_CONDITIONS and rule.symbol is not None:
                prices.setdefault(rule.symbol, []).append(rule.rule_id)
        self._index, self._price_symbols = index, prices
        # Price memory only for symbols that still have price rules; windows sized to their longest window.
        self._last_price = {s: p for s, p in self._last_price.items() if s in prices}
        windows: dict[str, _PriceWindow] = {}
        for symbol, ids in prices.items():
            spans = [self._rules[i].window or 0.0 for i in ids if self._rules[i].condition is Condition.PERCENT_MOVE]
            if not spans:
                continue
            span, shortest = max(spans), min(spans)
            spacing = max(shortest / 20, span / PRICE_SAMPLES)
            window = self._windows.get(symbol)
            if window is None:
                window = _PriceWindow(span, spacing)
            window.span, window.spacing = span, spacing
            windows[symbol] = window
        self._windows = windows
        self._unusual_seen = {s: seen for s, seen in self._unusual_seen.items()
                              if s in index.get(Condition.UNUSUAL_OPTIONS, {})}

    def has_price_rules(self, symbol: str) -> bool:
        """Whether a price rule watches ``symbol``. Safe without the owner's lock: the index is replaced whole."""
        return symbol in self._price_symbols

    def watches(self, condition: Condition, symbol: str, timeframe: Timeframe) -> bool:
        """Whether an enabled rule of ``condition`` watches (``symbol``, ``timeframe``): skips work on the feed path."""
        return any(r.enabled and r.timeframe is timeframe for r in self._candidates(condition, symbol))

    def _candidates(self, condition: Condition, symbol: str | None) -> list[AlertRule]:
        by_symbol = self._index.get(condition)
        if not by_symbol:
            return []
        ids = [*by_symbol.get(symbol, ()), *(by_symbol.get(None, ()) if symbol is not None else ())]
        return [self._rules[i] for i in ids]

    def _fire(self, rule: AlertRule, now: float, symbol: str | None, description: str,
              details: dict[str, Any]) -> Firing:
        fired = after_firing(rule, now)
        self._rules[rule.rule_id] = fired
        return Firing(self._ids(), rule.rule_id, rule.level, symbol, _message(rule, description), now, rule.condition,
                      fired, details)

    # -- observations ----------------------------------------------------------------------------------------

    def on_price(self, symbol: str, price: float, now: float) -> list[Firing]:
        """A new price of ``symbol`` at ``now``."""
        ids = self._price_symbols.get(symbol)
        if not ids:
            return []
        previous = self._last_price.get(symbol)
        self._last_price[symbol] = price
        window = self._windows.get(symbol)
        if window is not None:
            window.add(now, price)
        firings: list[Firing] = []
        references: dict[float, float | None] = {}  # window → price then: one look-up per window, not per rule
        rules = self._rules
        for rule_id in ids:
            rule = rules[rule_id]
            if not rule.enabled:
                continue
            condition, level = rule.condition, rule.value
            assert level is not None
            if condition is Condition.PRICE_ABOVE:
                if previous is None or not previous < level <= price:
                    continue
                description = f"{symbol} crossed above {price_text(level)} (last {price_text(price)})"
                details: dict[str, Any] = {"price": price}
            elif condition is Condition.PRICE_BELOW:
                if previous is None or not previous > level >= price:
                    continue
                description = f"{symbol} crossed below {price_text(level)} (last {price_text(price)})"
                details = {"price": price}
            else:
                span = rule.window
                if window is None or span is None:
                    continue
                if span in references:
                    reference = references[span]
                else:
                    reference = references[span] = window.price_at(now - span)
                if not reference:
                    continue
                move = (price - reference) / reference * 100.0
                direction = rule.direction
                if direction is None:
                    wanted = abs(move) >= level
                else:
                    wanted = move >= level if direction == "up" else -move >= level
                if not wanted:
                    continue
                description = (f"{symbol} moved {move:+.2f}% in {span:g} s "
                               f"({price_text(reference)} → {price_text(price)})")
                details = {"price": price, "reference_price": reference, "percent": round(move, 4)}
            if may_fire(rule, now):
                firings.append(self._fire(rule, now, symbol, description, details))
        return firings

    def on_signal(self, symbol: str, timeframe: Timeframe, action: str, now: float,
                  price: float | None = None, confidence: float | None = None,
                  signal_id: str | None = None) -> list[Firing]:
        """A consensus signal of (``symbol``, ``timeframe``) with ``action`` (BUY, SELL, HOLD)."""
        if action not in ACTIONS:
            return []
        firings: list[Firing] = []
        for rule in self._candidates(Condition.CONSENSUS, symbol):
            if rule.timeframe is not timeframe or (rule.action is not None and rule.action != action):
                continue
            if may_fire(rule, now):
                sure = f" ({confidence:.0%} confidence)" if confidence is not None else ""
                at = f" at {price_text(price)}" if price is not None else ""
                firings.append(self._fire(rule, now, symbol, f"{symbol} {timeframe.value} consensus {action}{at}{sure}",
                                          {"action": action, "price": price, "confidence": confidence,
                                           "timeframe": timeframe.value, "signal_id": signal_id}))
        return firings

    def on_structure(self, symbol: str, timeframe: Timeframe, condition: Condition, direction: str, now: float,
                     description: str, details: dict[str, Any] | None = None) -> list[Firing]:
        """A new fair value gap (``new_fvg``) or structure break (``structure_break``) of (symbol, timeframe)."""
        firings: list[Firing] = []
        for rule in self._candidates(condition, symbol):
            if rule.timeframe is not timeframe or (rule.direction is not None and rule.direction != direction):
                continue
            if may_fire(rule, now):
                firings.append(self._fire(rule, now, symbol, f"{symbol} {timeframe.value}: {description}",
                                          {"timeframe": timeframe.value, "direction": direction, **(details or {})}))
        return firings

    def on_options(self, symbol: str, unusual: Sequence[UnusualContract], now: float) -> list[Firing]:
        """A refresh of ``symbol``'s option chain, with the contracts it flags unusual."""
        rules = self._candidates(Condition.UNUSUAL_OPTIONS, symbol)
        if not rules:
            return []
        previous = self._unusual_seen.get(symbol, frozenset())
        current = frozenset(c.contract_symbol for c in unusual)
        self._unusual_seen[symbol] = current
        new = [c for c in unusual if c.contract_symbol not in previous]
        if not new:
            return []
        named = ", ".join(
            f"{c.contract_symbol} (volume {c.volume if c.volume is not None else '?'}, "
            f"open interest {c.open_interest if c.open_interest is not None else '?'})"
            for c in new[:NAMED_CONTRACTS])
        more = f" and {len(new) - NAMED_CONTRACTS} more" if len(new) > NAMED_CONTRACTS else ""
        description = f"{symbol} unusual options activity: {named}{more}"
        details = {"contracts": [c.contract_symbol for c in new[:50]]}
        return [self._fire(rule, now, symbol, description, details) for rule in rules if may_fire(rule, now)]

    def on_order_filled(self, fill: OrderFill, now: float) -> list[Firing]:
        """A paper order reached ``filled``."""
        firings: list[Firing] = []
        for rule in self._candidates(Condition.ORDER_FILLED, fill.symbol):
            if may_fire(rule, now):
                quantity = f"{fill.quantity:g} " if fill.quantity is not None else ""
                at = f" at {price_text(fill.price)}" if fill.price is not None else ""
                firings.append(self._fire(rule, now, fill.symbol,
                                          f"order {fill.order_id} filled: {fill.side} {quantity}{fill.symbol}{at}",
                                          {"order_id": fill.order_id, "side": fill.side, "quantity": fill.quantity,
                                           "price": fill.price}))
        return firings
