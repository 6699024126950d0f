"""Market domain values (quotes, ticks, candles, options) and the parsing of symbols, timeframes and periods."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum

# docs/protocol.md "Common rules": 1–20 characters of A–Z 0–9 . - = ^, starting with a letter, digit or ^.
_SYMBOL_RE = re.compile(r"^[A-Z0-9^][A-Z0-9.\-=^]{0,19}$")
_DAYS_RE = re.compile(r"^([1-9][0-9]{0,4})d$")

SECONDS_PER_DAY = 86_400


class InvalidInput(ValueError):
    """A value from outside (symbol, timeframe, period) that does not follow docs/protocol.md."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Timeframe(str, Enum):
    """Candle widths; the value is the wire name."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    @property
    def seconds(self) -> int:
        return _TIMEFRAME_SECONDS[self]

    @property
    def default_period(self) -> str:
        return _DEFAULT_PERIOD[self]

    def bucket_start(self, t: float) -> int:
        """Open time (Unix seconds) of the candle containing instant t; buckets are aligned to the Unix epoch (UTC)."""
        width = _TIMEFRAME_SECONDS[self]
        return int(t // width) * width

    @classmethod
    def parse(cls, value: object) -> Timeframe:
        if not isinstance(value, str):
            raise InvalidInput("invalid_timeframe", f"timeframe must be a string, got {type(value).__name__}")
        text = value.strip().lower()
        text = _TIMEFRAME_ALIASES.get(text, text)
        try:
            return cls(text)
        except ValueError:
            names = " ".join(t.value for t in cls)
            raise InvalidInput("invalid_timeframe", f"unknown timeframe {value!r}; use one of {names}") from None


_TIMEFRAME_SECONDS = {
    Timeframe.M1: 60,
    Timeframe.M5: 300,
    Timeframe.M15: 900,
    Timeframe.M30: 1800,
    Timeframe.H1: 3600,
    Timeframe.H4: 14_400,
    Timeframe.D1: SECONDS_PER_DAY,
}
_TIMEFRAME_ALIASES = {"60m": "1h", "1hr": "1h", "240m": "4h", "1440m": "1d"}
_DEFAULT_PERIOD = {
    Timeframe.M1: "1d",
    Timeframe.M5: "5d",
    Timeframe.M15: "1mo",
    Timeframe.M30: "1mo",
    Timeframe.H1: "1mo",
    Timeframe.H4: "3mo",
    Timeframe.D1: "1y",
}
ALL_TIMEFRAMES: tuple[Timeframe, ...] = tuple(Timeframe)

_PERIOD_DAYS = {"1mo": 30, "3mo": 91, "6mo": 182, "1y": 365, "2y": 730, "5y": 1826}
MAX_PERIOD = "max"


@dataclass(frozen=True, slots=True)
class Period:
    """A history window ending now: its wire name and its length in days (None for ``max``)."""

    name: str
    days: int | None

    @property
    def seconds(self) -> int | None:
        return None if self.days is None else self.days * SECONDS_PER_DAY

    @classmethod
    def parse(cls, value: object) -> Period:
        if not isinstance(value, str):
            raise InvalidInput("invalid_period", "period must be a string")
        text = value.strip().lower()
        if text == MAX_PERIOD:
            return cls(MAX_PERIOD, None)
        if text in _PERIOD_DAYS:
            return cls(text, _PERIOD_DAYS[text])
        match = _DAYS_RE.match(text)
        if match:
            return cls(text, int(match.group(1)))
        raise InvalidInput(
            "invalid_period", f"unknown period {value!r}; use 1d 5d 1mo 3mo 6mo 1y 2y 5y max or Nd (a number of days)"
        )


def parse_symbol(value: object) -> str:
    """Validate a symbol and return it upper-cased, or raise InvalidInput(code="invalid_symbol")."""
    if not isinstance(value, str):
        raise InvalidInput("invalid_symbol", "symbol must be a string")
    if not value.isascii():
        # Checked before upper-casing: Unicode case mapping turns "ß" into "SS" and "ı" into "I", which would
        # make a different, valid-looking ticker out of a symbol the client never sent.
        raise InvalidInput(
            "invalid_symbol", f"invalid symbol {value!r}: only ASCII letters, digits and . - = ^ are allowed"
        )
    text = value.strip().upper()
    if not _SYMBOL_RE.match(text):
        raise InvalidInput(
            "invalid_symbol",
            f"invalid symbol {value!r}: 1-20 characters of A-Z 0-9 . - = ^, starting with a letter, digit or ^",
        )
    return text


# Decimals of a change in percent (0.1234 %): a hundredth of a basis point, finer than any display needs.
PERCENT_DECIMALS = 4


def decimals_of(value: float) -> int:
    """Decimals in the shortest text that reads back as ``value`` (1.08123 → 5, 190.0 → 0, 2e-05 → 5).

    Sources round prices to their instrument's precision, so this is that precision or less.
    """
    mantissa, _, exponent = repr(float(value)).partition("e")
    fraction = mantissa.partition(".")[2].rstrip("0")
    return max(0, len(fraction) - int(exponent or 0))


def price_difference(a: float, b: float) -> float:
    """``a - b`` without binary floating-point noise (1.23 - 1.08 is 0.15000000000000013 as floats).

    The difference of two decimals has no more decimals than the longer of them, so rounding to that many gives
    the exact decimal answer for any instrument's precision without knowing it.
    """
    if not (math.isfinite(a) and math.isfinite(b)):
        return a - b
    return round(a - b, min(17, max(decimals_of(a), decimals_of(b))))


@dataclass(frozen=True, slots=True)
class Quote:
    """Latest known price of a symbol. ``volume`` is the volume traded since the start of the UTC day."""

    symbol: str
    price: float
    bid: float | None
    ask: float | None
    volume: float
    previous_close: float | None
    timestamp: float
    source: str
    stale: bool = False

    @property
    def change(self) -> float | None:
        if self.previous_close is None:
            return None
        return price_difference(self.price, self.previous_close)

    @property
    def change_percent(self) -> float | None:
        if not self.previous_close:
            return None
        return round((self.price - self.previous_close) / self.previous_close * 100.0, PERCENT_DECIMALS)

    @property
    def spread(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return price_difference(self.ask, self.bid)


@dataclass(frozen=True, slots=True)
class Tick:
    """One trade-price observation: ``volume`` is what traded since the previous tick of this symbol."""

    symbol: str
    time: float
    price: float
    bid: float | None
    ask: float | None
    volume: float

    @property
    def spread(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return price_difference(self.ask, self.bid)


@dataclass(frozen=True, slots=True)
class Candle:
    """OHLCV bar; ``time`` is its open time in Unix seconds (UTC)."""

    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class OptionContract:
    contract_symbol: str
    strike: float
    last_price: float | None
    bid: float | None
    ask: float | None
    volume: int | None
    open_interest: int | None
    implied_volatility: float | None
    delta: float | None
    gamma: float | None
    theta: float | None
    vega: float | None
    unusual: bool = False


@dataclass(frozen=True, slots=True)
class OptionChain:
    symbol: str
    underlying_price: float
    expiration: str
    expirations: tuple[str, ...]
    calls: tuple[OptionContract, ...]
    puts: tuple[OptionContract, ...]
