"""Domain values: symbols checked as ASCII before case folding, price differences without binary noise."""

from __future__ import annotations

import pytest

from feeds.models import InvalidInput, Quote, Tick, decimals_of, parse_symbol, price_difference


@pytest.mark.parametrize("raw", ["aaplß", "ı", "ıbm", "ＡＡＰＬ", "AAPL\u00a0", "\u00a0AAPL", "ÅAPL", "ǆ", "ﬀ"])
def test_non_ascii_symbols_are_refused_before_upper_casing(raw: str) -> None:
    # Upper-casing first made "aaplß" the valid "AAPLSS", "ı" the valid "I" and the ligature "ﬀ" "FF".
    with pytest.raises(InvalidInput) as caught:
        parse_symbol(raw)
    assert caught.value.code == "invalid_symbol"
    assert "ASCII" in caught.value.message and repr(raw) in caught.value.message


@pytest.mark.parametrize(("raw", "parsed"), [("aapl", "AAPL"), (" gc=f ", "GC=F"), ("^gspc", "^GSPC"),
                                             ("brk-b", "BRK-B"), ("eurusd=x", "EURUSD=X")])
def test_ascii_symbols_are_still_folded(raw: str, parsed: str) -> None:
    assert parse_symbol(raw) == parsed


@pytest.mark.parametrize(("value", "decimals"), [(1.08123, 5), (190.0, 0), (190.1, 1), (2e-05, 5), (1.5e-07, 8),
                                                 (0.015625, 6), (1e21, 0), (65000.12, 2)])
def test_decimals_of(value: float, decimals: int) -> None:
    assert decimals_of(value) == decimals


@pytest.mark.parametrize(("a", "b", "difference"), [
    (1.23, 1.08, 0.15), (0.3, 0.1, 0.2), (1.08123, 1.08, 0.00123), (190.12, 189.97, 0.15), (2350.1, 2350.3, -0.2),
    (0.00003, 0.00001, 0.00002), (5200.25, 5199.5, 0.75),
])
def test_price_difference_is_the_decimal_difference(a: float, b: float, difference: float) -> None:
    # Plain subtraction gives 0.1499999999999999, 0.15000000000000568, -0.20000000000027285…
    assert price_difference(a, b) == difference
    assert repr(price_difference(a, b)) == repr(difference)


def test_quote_and_tick_derived_values_have_no_float_noise() -> None:
    quote = Quote("EURUSD", price=1.23, bid=1.22998, ask=1.23002, volume=10, previous_close=1.08, timestamp=0.0,
                  source="sim")
    assert quote.change == 0.15 and quote.spread == 0.00004
    assert quote.change_percent == 13.8889  # 13.888…%, four decimals
    tick = Tick("EURUSD", 0.0, 1.23, 1.22998, 1.23002, 3)
    assert tick.spread == 0.00004
    assert Tick("X", 0.0, 1.0, None, 1.0, 0).spread is None
    assert Quote("X", 1.0, None, None, 0, None, 0.0, "sim").change is None
