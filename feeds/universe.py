"""The symbol universe shipped with the project: real tickers with name, asset class, tick size and precision.

``feeds/data/symbols.csv`` holds about 2,200 instruments in Yahoo's spelling: US equities (the S&P 500, S&P 600,
NASDAQ 100 and Dow constituents; share classes as ``BRK-B``), the constituents of the main European indices and of
the Nikkei 225, US ETFs, indices (``^GSPC``, ``^VIX``…), futures (``GC=F``, ``ES=F``…), currency pairs
(``EURUSD=X``; USD-based pairs as Yahoo lists them, ``JPY=X`` for USD/JPY) and crypto (``BTC-USD``). The equities
and their names were extracted at development time from the index lists of the ``pytickersymbols`` package
(version 1.17.10, MIT licence, copyright 2023 portfolio+); the other rows were written by hand. ``reference_price``
is a rough level of the instrument, used only to give the simulation a plausible price (blank where any price is
plausible). The package is not a dependency: the CSV is all that is read, once, on first use.

The simulated market answers only these symbols (``TICKSTREAM_SIM_ANY_SYMBOL=1`` lifts that), and the REST symbol
search suggests them.
"""

from __future__ import annotations

import csv
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

DATA_PATH = Path(__file__).resolve().parent / "data" / "symbols.csv"
MAX_QUERY_LENGTH = 50
MAX_RESULTS = 50


class AssetClass(str, Enum):
    EQUITY = "equity"
    ETF = "etf"
    INDEX = "index"
    FUTURE = "future"
    CURRENCY = "currency"
    CRYPTO = "crypto"


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable symbol. ``precision`` is the number of decimals its prices carry; ``tick_size`` the smallest
    price step (0.25 for ``ES=F``, so a price may have fewer significant decimals than ``precision`` allows)."""

    symbol: str
    name: str
    asset_class: AssetClass
    tick_size: float
    precision: int
    reference_price: float | None = None


def _fold(text: str) -> str:
    """Lower case without accents, so that "credit agricole" finds "Crédit Agricole"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _compact(symbol: str) -> str:
    # "gspc" finds "^GSPC", "brkb" finds "BRK-B": punctuation is not something a user remembers.
    return "".join(c for c in symbol if c.isalnum())


def _words(folded: str) -> tuple[str, ...]:
    return tuple("".join(c if c.isalnum() else " " for c in folded).split())


# Ties in the search go to the kinds of instrument a user most often means.
_CLASS_ORDER = {AssetClass.EQUITY: 0, AssetClass.ETF: 1, AssetClass.INDEX: 2, AssetClass.CRYPTO: 3,
                AssetClass.CURRENCY: 4, AssetClass.FUTURE: 5}


@dataclass(frozen=True, slots=True)
class _Entry:
    instrument: Instrument
    compact: str
    name: str
    # The name's words with a space before and after each (" gold futures "), so that word and word-start
    # tests are substring tests.
    padded: str
    # Sort key after the rank: length of the symbol's first part (BTC of BTC-USD), kind, length, file order.
    order: tuple[int, int, int, int]


class Universe:
    """An immutable set of instruments: lookup by symbol (currency pairs also without ``=X``) and ranked search."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_symbol: dict[str, Instrument] = {}
        for instrument in instruments:
            if instrument.symbol in self._by_symbol:
                raise ValueError(f"symbol {instrument.symbol} is listed twice")
            self._by_symbol[instrument.symbol] = instrument
        entries = []
        for index, i in enumerate(self._by_symbol.values()):
            base = _compact(i.symbol.replace("-", " ").replace("=", " ").replace(".", " ").split()[0])
            folded = _fold(i.name)
            entries.append(_Entry(i, _compact(i.symbol), folded, " " + " ".join(_words(folded)) + " ",
                                  (len(base), _CLASS_ORDER[i.asset_class], len(i.symbol), index)))
        self._entries = tuple(entries)

    def __len__(self) -> int:
        return len(self._by_symbol)

    def __contains__(self, symbol: object) -> bool:
        return isinstance(symbol, str) and self.resolve(symbol) is not None

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_symbol.values())

    def get(self, symbol: str) -> Instrument | None:
        """The instrument listed under exactly this (upper-case) symbol."""
        return self._by_symbol.get(symbol)

    def resolve(self, symbol: str) -> Instrument | None:
        """The instrument a symbol names: itself, or for a currency pair written without ``=X`` (``EURUSD``, as
        several clients write it) or as ``USDJPY(=X)`` the pair Yahoo lists (``EURUSD=X``, ``JPY=X``)."""
        found = self._by_symbol.get(symbol)
        if found is not None:
            return found
        pair = symbol.removesuffix("=X")
        if len(pair) != 6 or not pair.isalpha():
            return None
        for candidate in (pair + "=X", pair[3:] + "=X" if pair.startswith("USD") else None):
            if candidate is None:
                continue
            found = self._by_symbol.get(candidate)
            if found is not None and found.asset_class is AssetClass.CURRENCY:
                return found
        return None

    def search(self, query: str, limit: int = 10) -> list[Instrument]:
        """Instruments matching ``query``, best first, at most ``limit`` (capped at MAX_RESULTS).

        Ranks: the symbol itself (or the pair it names); symbols starting with the query (punctuation ignored:
        ``gspc`` finds ``^GSPC``); names holding every query word as a word, the name's first word first; names
        with words starting with every query word, likewise; names containing the query. Ties: shorter symbol
        roots (``SAP`` before ``SAPX``), equities, ETFs, indices, crypto, currencies, futures in that order, then
        the file's order (most traded first among the hand-written classes).

        >>> [i.symbol for i in shipped().search("apple", 2)]
        ['AAPL', 'APLE']
        """
        folded = _fold(query.strip())[:MAX_QUERY_LENGTH]
        limit = max(0, min(limit, MAX_RESULTS))
        if not folded or limit == 0:
            return []
        exact = self.resolve(folded.upper())
        compact = _compact(folded).upper()
        words = _words(folded)
        whole = [f" {w} " for w in words]
        starts = [f" {w}" for w in words]
        first_word = words[0] if words else folded
        ranked: list[tuple[int, tuple[int, int, int, int], Instrument]] = []
        for entry in self._entries:
            if entry.instrument is exact:
                rank = 0
            elif compact and entry.compact.startswith(compact):
                rank = 1
            elif first_word not in entry.name and folded not in entry.name:
                # Every name rank needs one of these: a cheap test that turns most of the list away (a search
                # costs about 1 ms instead of 8).
                continue
            elif words and all(w in entry.padded for w in whole):
                rank = 2 if entry.padded.startswith(whole[0]) else 3
            elif words and all(w in entry.padded for w in starts):
                rank = 4 if entry.padded.startswith(starts[0]) else 5
            elif folded in entry.name:
                rank = 6
            else:
                continue
            ranked.append((rank, entry.order, entry.instrument))
        ranked.sort(key=lambda item: item[:2])
        return [item[2] for item in ranked[:limit]]


def load(path: Path = DATA_PATH) -> Universe:
    """Read a universe CSV (columns symbol, name, asset_class, tick_size, precision, reference_price)."""
    instruments = []
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            reference = row.get("reference_price") or ""
            instruments.append(Instrument(
                symbol=row["symbol"],
                name=row["name"],
                asset_class=AssetClass(row["asset_class"]),
                tick_size=float(row["tick_size"]),
                precision=int(row["precision"]),
                reference_price=float(reference) if reference else None,
            ))
    return Universe(instruments)


_lock = threading.Lock()
_shipped: Universe | None = None


def shipped() -> Universe:
    """The universe of feeds/data/symbols.csv, read on first use (not at import: start-up and tests that never
    ask pay nothing)."""
    global _shipped
    if _shipped is None:
        with _lock:
            if _shipped is None:
                _shipped = load()
    return _shipped


def first_symbols(count: int, asset_class: AssetClass = AssetClass.EQUITY) -> tuple[str, ...]:
    """The first ``count`` all-letter symbols of one asset class, alphabetically (``A``, ``AAD``, ``AAPL``…): many
    real tickers for benchmarks and tests."""
    plain = sorted(i.symbol for i in shipped() if i.asset_class is asset_class and i.symbol.isalpha())
    return tuple(plain[:count])
