"""Black-Scholes, Greeks and implied volatility against Hull's worked examples; chain builders; unusual activity."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from feeds.models import OptionChain
from feeds.options import (
    bs_greeks,
    bs_price,
    contract_from_market,
    implied_volatility,
    is_unusual,
    occ_symbol,
    price_chain,
    standard_expirations,
    strike_grid,
    strike_step,
    synthetic_chain,
    year_fraction,
)

FRIDAY_AFTER_CLOSE = pd.Timestamp("2024-01-12 21:30", tz="UTC").timestamp()
FRIDAY_MORNING = pd.Timestamp("2024-01-12 15:00", tz="UTC").timestamp()


@pytest.mark.parametrize(("kind", "expected"), [("call", 4.76), ("put", 0.81)])
def test_hull_example_15_6(kind: str, expected: float) -> None:
    # Hull, Options Futures and Other Derivatives, Example 15.6: S=42, K=40, r=10 %, sigma=20 %, T=0.5.
    assert round(bs_price(kind, 42, 40, 0.5, 0.10, 0.20), 2) == expected


def test_hull_greek_letters_example() -> None:
    # Hull ch. 19 running example: S=49, K=50, r=5 %, sigma=20 %, T=20 weeks. Call price 2.40, delta 0.522,
    # gamma 0.066, vega 12.1 per 1.00 of volatility, theta -4.31 per year.
    g = bs_greeks("call", 49, 50, 20 / 52, 0.05, 0.20)
    assert round(g.price, 2) == 2.40
    assert round(g.delta, 3) == 0.522
    assert round(g.gamma, 3) == 0.066
    assert g.vega == pytest.approx(12.1 / 100, abs=5e-4)  # per 1 vol point
    assert g.theta == pytest.approx(-4.31 / 365, abs=1e-4)  # per calendar day


def test_hull_index_put_theta() -> None:
    # Hull Example 19.2: 4-month put on an index, S=305, K=300, q=3 %, r=8 %, sigma=25 %: theta -18.15 a year.
    g = bs_greeks("put", 305, 300, 4 / 12, 0.08, 0.25, q=0.03)
    assert g.theta * 365 == pytest.approx(-18.15, abs=0.01)
    assert -1 < g.delta < 0


@pytest.mark.parametrize(
    ("spot", "strike", "t", "rate", "vol", "q"),
    [(42, 40, 0.5, 0.1, 0.2, 0.0), (100, 130, 2.0, 0.03, 0.45, 0.01), (10, 5, 0.02, 0.0, 0.9, 0.0)],
)
def test_put_call_parity(spot: float, strike: float, t: float, rate: float, vol: float, q: float) -> None:
    call = bs_greeks("call", spot, strike, t, rate, vol, q)
    put = bs_greeks("put", spot, strike, t, rate, vol, q)
    assert call.price - put.price == pytest.approx(spot * math.exp(-q * t) - strike * math.exp(-rate * t))
    assert call.delta - put.delta == pytest.approx(math.exp(-q * t))
    assert call.gamma == pytest.approx(put.gamma) and call.vega == pytest.approx(put.vega)


def test_expired_option_is_intrinsic() -> None:
    g = bs_greeks("call", 110, 100, 0.0, 0.05, 0.3)
    assert (g.price, g.delta, g.gamma, g.theta, g.vega) == (10.0, 1.0, 0.0, 0.0, 0.0)
    assert bs_greeks("put", 110, 100, 0.0, 0.05, 0.3).price == 0.0


@pytest.mark.parametrize("kind", ["call", "put"])
@pytest.mark.parametrize("strike", [50, 90, 100, 115, 200])
@pytest.mark.parametrize("t", [3 / 365, 0.25, 2.0])
def test_implied_volatility_round_trip(kind: str, strike: float, t: float) -> None:
    vol = 0.35
    price = bs_price(kind, 100, strike, t, 0.04, vol)
    if price < 1e-6:  # nothing left to invert: the price does not depend on volatility any more
        return
    solved = implied_volatility(kind, price, 100, strike, t, 0.04)
    assert solved is not None
    assert bs_price(kind, 100, strike, t, 0.04, solved) == pytest.approx(price, abs=1e-6)


def test_implied_volatility_rejects_impossible_prices() -> None:
    assert implied_volatility("call", 1.0, 100, 50, 0.5, 0.0) is None  # below intrinsic value
    assert implied_volatility("call", 120.0, 100, 50, 0.5, 0.0) is None  # above the stock price
    assert implied_volatility("put", 1.0, 100, 100, 0.0, 0.0) is None  # expired
    assert implied_volatility("call", float("nan"), 100, 100, 0.5, 0.0) is None


@pytest.mark.parametrize(
    ("volume", "open_interest", "typical", "expected"),
    [
        (None, 100, None, False),
        (50, 0, None, False),  # too few contracts to mean anything
        (500, 100, None, True),  # 5x open interest
        (300, 200, None, False),  # 1.5x open interest
        (150, 0, None, True),  # new positions
        (1000, 5000, 150, True),  # 6.7x usual volume
        (1000, 5000, 400, False),
        (1000, None, None, False),
    ],
)
def test_is_unusual(volume: int | None, open_interest: int | None, typical: float | None, expected: bool) -> None:
    assert is_unusual(volume, open_interest, typical) is expected


def test_expirations_after_friday_close() -> None:
    assert standard_expirations(FRIDAY_AFTER_CLOSE) == (
        "2024-01-19", "2024-01-26", "2024-02-02", "2024-02-09", "2024-02-16", "2024-03-15",
    )


def test_expirations_before_friday_close_include_today() -> None:
    exps = standard_expirations(FRIDAY_MORNING)
    assert exps[0] == "2024-01-12" and "2024-01-19" in exps and "2024-03-15" in exps


def test_year_fraction_to_16h_new_york() -> None:
    assert year_fraction(FRIDAY_AFTER_CLOSE, "2024-01-19") == pytest.approx((7 * 86_400 - 30 * 60) / (365 * 86_400))
    assert year_fraction(FRIDAY_AFTER_CLOSE, "2024-01-12") == 0.0


@pytest.mark.parametrize(("spot", "step"), [(190.0, 5.0), (42.0, 1.0), (4783.0, 100.0), (9.5, 0.25), (0.5, 0.01)])
def test_strike_step(spot: float, step: float) -> None:
    assert strike_step(spot) == pytest.approx(step)


def test_strike_grid_centred() -> None:
    grid = strike_grid(187.0, 3)
    assert grid == (170.0, 175.0, 180.0, 185.0, 190.0, 195.0, 200.0)


def test_occ_symbol() -> None:
    assert occ_symbol("AAPL", "2024-01-19", "call", 192.5) == "AAPL240119C00192500"
    assert occ_symbol("^GSPC", "2024-03-15", "put", 4800) == "GSPC240315P04800000"


def test_synthetic_chain_is_deterministic_and_priced() -> None:
    chain = synthetic_chain("AAPL", 187.0, FRIDAY_AFTER_CLOSE, 0.25, 42)
    again = synthetic_chain("AAPL", 187.0, FRIDAY_AFTER_CLOSE, 0.25, 42)
    other = synthetic_chain("AAPL", 187.0, FRIDAY_AFTER_CLOSE, 0.25, 43)
    assert isinstance(chain, OptionChain) and chain == again and chain != other
    assert chain.expiration == "2024-01-19" and chain.expirations == standard_expirations(FRIDAY_AFTER_CLOSE)
    assert len(chain.calls) == len(chain.puts) == 21
    t = year_fraction(FRIDAY_AFTER_CLOSE, chain.expiration)
    for call, put in zip(chain.calls, chain.puts, strict=True):
        assert call.strike == put.strike and call.contract_symbol.startswith("AAPL240119C")
        theo = bs_greeks("call", 187.0, call.strike, t, 0.04, call.implied_volatility)
        assert call.delta == pytest.approx(theo.delta) and call.last_price == round(theo.price, 2)
        assert call.bid is not None and call.ask is not None and call.bid <= call.last_price <= call.ask
        assert call.volume is not None and call.open_interest is not None and call.open_interest >= 0
        assert call.unusual == is_unusual(call.volume, call.open_interest, 0.15 * call.open_interest)
    ivs = [c.implied_volatility for c in chain.calls]
    atm = ivs[10]
    assert ivs[0] > atm and ivs[-1] > atm * 0.99  # a smile, steeper on the downside
    assert ivs[0] > ivs[-1]


def test_synthetic_chain_other_expiration_and_unknown_one() -> None:
    chain = synthetic_chain("GC=F", 2050.0, FRIDAY_AFTER_CLOSE, 0.15, 1, expiration="2024-03-15")
    assert chain.expiration == "2024-03-15" and chain.calls[0].contract_symbol.startswith("GCF240315C")
    with pytest.raises(ValueError, match="available"):
        synthetic_chain("AAPL", 187.0, FRIDAY_AFTER_CLOSE, 0.25, 42, expiration="2024-01-20")


def test_price_chain_and_contract_from_market() -> None:
    chain = price_chain("AAPL", 100.0, [90.0, 100.0, 110.0], "2024-02-16", ("2024-02-16",), FRIDAY_AFTER_CLOSE, 0.3)
    t = year_fraction(FRIDAY_AFTER_CLOSE, "2024-02-16")
    assert chain.calls[1].last_price == pytest.approx(bs_price("call", 100, 100, t, 0.04, 0.3), abs=1e-4)
    contract = contract_from_market(
        kind="put", contract_symbol="X", strike=100.0, spot=100.0, t=t, implied_volatility=None, last_price=1.0,
        bid=None, ask=None, volume=10, open_interest=5,
    )
    assert contract.delta is None and contract.unusual is False
