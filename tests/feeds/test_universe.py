"""The shipped symbol universe: real tickers with consistent metadata, currency pair aliases, ranked search."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from feeds.models import parse_symbol
from feeds.universe import MAX_RESULTS, AssetClass, Universe, load, shipped

ROOT = Path(__file__).resolve().parents[2]


def test_every_row_is_a_valid_canonical_symbol_with_sound_metadata() -> None:
    universe = shipped()
    assert len(universe) >= 2000
    counts = {c: 0 for c in AssetClass}
    for instrument in universe:
        counts[instrument.asset_class] += 1
        assert parse_symbol(instrument.symbol) == instrument.symbol
        assert instrument.name and instrument.name == instrument.name.strip()
        assert instrument.tick_size > 0 and instrument.precision >= 0
        # The tick is expressible with the instrument's decimals (0.25 with 2, 1/64 = 0.015625 with 6).
        assert round(instrument.tick_size, instrument.precision) == instrument.tick_size, instrument
        assert instrument.reference_price is None or instrument.reference_price > 0
    assert counts[AssetClass.EQUITY] > 1500 and counts[AssetClass.ETF] > 100
    assert min(counts.values()) >= 30, counts


@pytest.mark.parametrize(("symbol", "asset_class", "tick_size", "precision"), [
    ("AAPL", AssetClass.EQUITY, 0.01, 2),
    ("BRK-B", AssetClass.EQUITY, 0.01, 2),
    ("SPY", AssetClass.ETF, 0.01, 2),
    ("^GSPC", AssetClass.INDEX, 0.01, 2),
    ("^VIX", AssetClass.INDEX, 0.01, 2),
    ("ES=F", AssetClass.FUTURE, 0.25, 2),
    ("GC=F", AssetClass.FUTURE, 0.1, 1),
    ("ZN=F", AssetClass.FUTURE, 0.015625, 6),
    ("EURUSD=X", AssetClass.CURRENCY, 0.00001, 5),
    ("JPY=X", AssetClass.CURRENCY, 0.001, 3),
    ("BTC-USD", AssetClass.CRYPTO, 0.01, 2),
])
def test_known_rows(symbol: str, asset_class: AssetClass, tick_size: float, precision: int) -> None:
    instrument = shipped().get(symbol)
    assert instrument is not None
    assert (instrument.asset_class, instrument.tick_size, instrument.precision) == (asset_class, tick_size, precision)


@pytest.mark.parametrize(("written", "listed"), [
    ("EURUSD", "EURUSD=X"), ("GBPUSD", "GBPUSD=X"), ("AUDUSD", "AUDUSD=X"), ("NZDUSD", "NZDUSD=X"),
    ("USDJPY", "JPY=X"), ("USDCAD", "CAD=X"), ("USDCHF", "CHF=X"), ("USDJPY=X", "JPY=X"), ("EURJPY", "EURJPY=X"),
    ("EURUSD=X", "EURUSD=X"),
])
def test_currency_pairs_resolve_without_the_yahoo_suffix(written: str, listed: str) -> None:
    instrument = shipped().resolve(written)
    assert instrument is not None and instrument.symbol == listed
    assert written in shipped()


@pytest.mark.parametrize("symbol", ["ZZZZ", "ABCDEF", "USDXYZ", "EURUSD=F", "BRK.B", "aapl"])
def test_other_symbols_are_not_in_the_universe(symbol: str) -> None:
    assert shipped().resolve(symbol) is None
    assert symbol not in shipped()


@pytest.mark.parametrize(("query", "first"), [
    ("aapl", "AAPL"), ("AAPL", "AAPL"), ("apple", "AAPL"), ("eurusd", "EURUSD=X"), ("usdjpy", "JPY=X"),
    ("gspc", "^GSPC"), ("^gsp", "^GSPC"), ("gold", "GC=F"), ("btc", "BTC-USD"), ("brkb", "BRK-B"),
    ("credit agricole", "ACA.PA"), ("Crédit Agricole", "ACA.PA"), ("toyota", "7203.T"), ("eur", "EURUSD=X"),
])
def test_search_ranks_the_obvious_match_first(query: str, first: str) -> None:
    assert shipped().search(query, 5)[0].symbol == first


def test_search_orders_prefixes_and_names() -> None:
    symbols = [i.symbol for i in shipped().search("aap", 10)]
    assert symbols[:2] == ["AAP", "AAPL"]
    gold = [i.symbol for i in shipped().search("gold", 10)]
    # Names holding the word "gold" come before names that only start a word with it (Goldman Sachs).
    assert gold.index("GLD") < gold.index("GS")


def test_search_bounds() -> None:
    universe = shipped()
    assert len(universe.search("a", 3)) == 3
    assert len(universe.search("a", 1000)) == MAX_RESULTS
    assert universe.search("", 10) == [] and universe.search("   ", 10) == []
    assert universe.search("no such thing at all", 10) == []
    assert universe.search("a" * 10_000, 10) == []


def test_duplicate_rows_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "symbols.csv"
    path.write_text("symbol,name,asset_class,tick_size,precision,reference_price\n"
                    "AAPL,Apple,equity,0.01,2,\nAAPL,Apple again,equity,0.01,2,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="AAPL"):
        load(path)
    path.write_text("symbol,name,asset_class,tick_size,precision,reference_price\nX,Y,equity,0.01,2,5\n",
                    encoding="utf-8")
    small = load(path)
    assert isinstance(small, Universe) and len(small) == 1 and small.get("X").reference_price == 5.0  # type: ignore[union-attr]


def test_loaded_once_on_first_use_not_at_import() -> None:
    code = ("import app, feeds.universe as u; assert u._shipped is None, 'read at import'; "
            "a = u.shipped(); assert a is u.shipped(); print(len(a))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 2000
