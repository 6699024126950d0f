"""Black-Scholes pricing, Greeks, implied volatility, unusual-activity rule and option-chain builders (pure, no I/O).

Formulas are the Black-Scholes-Merton ones with a continuous dividend yield ``q`` as in J. Hull, *Options, Futures,
and Other Derivatives* (ch. 15 "The Black-Scholes-Merton model", ch. 19 "The Greek letters"). Units used
throughout this module and in :class:`feeds.models.OptionContract`:

- ``t`` is in years (calendar days / 365); ``rate``, ``q`` and ``vol`` are annual decimals (0.05 = 5 %, 0.2 = 20 %);
- ``delta``: change of the option price per 1.00 change of the underlying price;
- ``gamma``: change of delta per 1.00 change of the underlying price;
- ``theta``: change of the option price per **calendar day** that passes (annual theta / 365; usually negative);
- ``vega``: change of the option price per **1 volatility point** (vol 20 % → 21 %; annual vega / 100).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from feeds.models import OptionChain, OptionContract

DAYS_PER_YEAR = 365.0
SECONDS_PER_YEAR = DAYS_PER_YEAR * 86_400
# Yahoo does not publish the rate it used for its implied volatilities; a flat short rate is close enough for Greeks.
DEFAULT_RATE = 0.04
# US equity options stop trading at 16:00 New York time on their expiration day.
_EXPIRY_ZONE = ZoneInfo("America/New_York")
_EXPIRY_TIME = time(16, 0)
# Below one minute to expiry the Greeks blow up; we treat such contracts as expired.
_MIN_T = 60.0 / SECONDS_PER_YEAR

# Unusual-activity thresholds (see is_unusual).
UNUSUAL_MIN_VOLUME = 100
UNUSUAL_OI_RATIO = 2.0
UNUSUAL_TYPICAL_RATIO = 5.0


class OptionKind(str, Enum):
    CALL = "call"
    PUT = "put"


@dataclass(frozen=True, slots=True)
class Greeks:
    """Theoretical price and Greeks of one option, in the units given in the module docstring."""

    price: float
    delta: float
    gamma: float
    theta: float
    vega: float


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _kind(kind: OptionKind | str) -> OptionKind:
    return kind if isinstance(kind, OptionKind) else OptionKind(str(kind).lower())


def _intrinsic(kind: OptionKind, spot: float, strike: float) -> float:
    return max(spot - strike, 0.0) if kind is OptionKind.CALL else max(strike - spot, 0.0)


def bs_price(
    kind: OptionKind | str, spot: float, strike: float, t: float, rate: float, vol: float, q: float = 0.0
) -> float:
    """Black-Scholes-Merton price (Hull eq. 15.20/15.21 with yield q); intrinsic value at or after expiry.

    >>> round(bs_price("call", 42, 40, 0.5, 0.1, 0.2), 2), round(bs_price("put", 42, 40, 0.5, 0.1, 0.2), 2)
    (4.76, 0.81)
    """
    return bs_greeks(kind, spot, strike, t, rate, vol, q).price


def bs_greeks(
    kind: OptionKind | str, spot: float, strike: float, t: float, rate: float, vol: float, q: float = 0.0
) -> Greeks:
    """Price and Greeks (Hull ch. 19, Table 19.6 with dividend yield q); units in the module docstring."""
    k = _kind(kind)
    if spot <= 0 or strike <= 0:
        raise ValueError("spot and strike must be positive")
    if t < _MIN_T or vol <= 0:
        # At expiry (or with no volatility) the option is worth its intrinsic value and only delta is left.
        price = _intrinsic(k, spot, strike)
        delta = (1.0 if spot > strike else 0.0) if k is OptionKind.CALL else (-1.0 if spot < strike else 0.0)
        return Greeks(price=price, delta=delta, gamma=0.0, theta=0.0, vega=0.0)
    sqrt_t = math.sqrt(t)
    d1 = (math.log(spot / strike) + (rate - q + 0.5 * vol * vol) * t) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    disc_q = math.exp(-q * t)
    disc_r = math.exp(-rate * t)
    pdf_d1 = _norm_pdf(d1)
    gamma = disc_q * pdf_d1 / (spot * vol * sqrt_t)
    vega_annual = spot * disc_q * pdf_d1 * sqrt_t
    decay = -spot * disc_q * pdf_d1 * vol / (2.0 * sqrt_t)
    if k is OptionKind.CALL:
        price = spot * disc_q * _norm_cdf(d1) - strike * disc_r * _norm_cdf(d2)
        delta = disc_q * _norm_cdf(d1)
        theta_annual = decay - rate * strike * disc_r * _norm_cdf(d2) + q * spot * disc_q * _norm_cdf(d1)
    else:
        price = strike * disc_r * _norm_cdf(-d2) - spot * disc_q * _norm_cdf(-d1)
        delta = disc_q * (_norm_cdf(d1) - 1.0)
        theta_annual = decay + rate * strike * disc_r * _norm_cdf(-d2) - q * spot * disc_q * _norm_cdf(-d1)
    return Greeks(
        price=price, delta=delta, gamma=gamma, theta=theta_annual / DAYS_PER_YEAR, vega=vega_annual / 100.0
    )


def implied_volatility(
    kind: OptionKind | str,
    price: float,
    spot: float,
    strike: float,
    t: float,
    rate: float,
    q: float = 0.0,
    *,
    low: float = 1e-4,
    high: float = 5.0,
    tol: float = 1e-8,
    max_iter: int = 200,
) -> float | None:
    """Volatility that reproduces ``price``, or None when no volatility in [low, high] does.

    Safeguarded Newton: a Newton step on vega when it stays inside the bracket that holds the root, a bisection
    step otherwise, so it converges for deep in/out-of-the-money contracts where vega is tiny (plain Newton
    diverges there). Prices outside the no-arbitrage bounds, or with no time left, give None.
    """
    k = _kind(kind)
    if not (price > 0 and spot > 0 and strike > 0) or t < _MIN_T:
        return None
    if not (math.isfinite(price) and math.isfinite(spot) and math.isfinite(strike)):
        return None
    price_low = bs_price(k, spot, strike, t, rate, low, q)
    price_high = bs_price(k, spot, strike, t, rate, high, q)
    if price < price_low - tol or price > price_high + tol:
        return None
    lo, hi = low, high
    vol = 0.3 if low < 0.3 < high else 0.5 * (low + high)
    for _ in range(max_iter):
        g = bs_greeks(k, spot, strike, t, rate, vol, q)
        diff = g.price - price
        if abs(diff) < tol:
            return vol
        # The price grows with volatility, so the sign of diff says which side of the root vol lies on.
        if diff > 0:
            hi = vol
        else:
            lo = vol
        vega_annual = g.vega * 100.0
        candidate = vol - diff / vega_annual if vega_annual > 1e-12 else -1.0
        vol = candidate if lo < candidate < hi else 0.5 * (lo + hi)
        if hi - lo < 1e-12:
            return vol
    return vol


def is_unusual(volume: float | None, open_interest: float | None, typical_volume: float | None = None) -> bool:
    """Unusual options activity: today's volume far above what is normal for the contract.

    A contract is unusual when its volume is at least ``UNUSUAL_MIN_VOLUME`` (100 contracts — below that a few
    lots make any ratio meaningless) and either

    - volume > ``UNUSUAL_OI_RATIO`` (2) × open interest: more contracts traded today than twice the open
      positions, i.e. new positioning rather than routine turnover (contracts with no open interest count too), or
    - volume ≥ ``UNUSUAL_TYPICAL_RATIO`` (5) × ``typical_volume`` (the contract's usual daily volume, when known).
    """
    if volume is None or not math.isfinite(volume) or volume < UNUSUAL_MIN_VOLUME:
        return False
    if open_interest is not None and math.isfinite(open_interest) and volume > UNUSUAL_OI_RATIO * open_interest:
        return True
    return (
        typical_volume is not None
        and math.isfinite(typical_volume)
        and typical_volume > 0
        and volume >= UNUSUAL_TYPICAL_RATIO * typical_volume
    )


def expiry_timestamp(expiration: str) -> float:
    """Unix time at which a contract expiring on ISO date ``expiration`` stops trading (16:00 New York)."""
    day = date.fromisoformat(expiration)
    return datetime.combine(day, _EXPIRY_TIME, tzinfo=_EXPIRY_ZONE).timestamp()


def year_fraction(now: float, expiration: str) -> float:
    """Years (calendar, /365) from Unix time ``now`` to the expiry of ``expiration``; 0 once expired."""
    return max(0.0, (expiry_timestamp(expiration) - now) / SECONDS_PER_YEAR)


_ROOT_RE = re.compile(r"[^A-Z0-9]")


def occ_symbol(underlying: str, expiration: str, kind: OptionKind | str, strike: float) -> str:
    """OCC-style contract symbol: root + YYMMDD + C/P + strike × 1000 on 8 digits (``AAPL240119C00150000``).

    Characters that cannot appear in a root (``^``, ``=``, ``-``, ``.``) are dropped, so ``^GSPC`` → ``GSPC``.
    """
    root = _ROOT_RE.sub("", underlying.upper())[:6] or "X"
    day = date.fromisoformat(expiration)
    letter = "C" if _kind(kind) is OptionKind.CALL else "P"
    return f"{root}{day:%y%m%d}{letter}{round(strike * 1000):08d}"


def contract_from_market(
    *,
    kind: OptionKind | str,
    contract_symbol: str,
    strike: float,
    spot: float,
    t: float,
    implied_volatility: float | None,
    last_price: float | None,
    bid: float | None,
    ask: float | None,
    volume: int | None,
    open_interest: int | None,
    typical_volume: float | None = None,
    rate: float = DEFAULT_RATE,
    q: float = 0.0,
) -> OptionContract:
    """An OptionContract from a provider's quote, with Greeks computed from its implied volatility.

    Greeks are None when the provider gave no usable volatility (missing, zero or NaN).
    """
    delta = gamma = theta = vega = None
    iv = implied_volatility if implied_volatility is not None and math.isfinite(implied_volatility) else None
    if iv is not None and iv > 0 and spot > 0 and strike > 0:
        g = bs_greeks(kind, spot, strike, t, rate, iv, q)
        delta, gamma, theta, vega = g.delta, g.gamma, g.theta, g.vega
    return OptionContract(
        contract_symbol=contract_symbol,
        strike=float(strike),
        last_price=last_price,
        bid=bid,
        ask=ask,
        volume=volume,
        open_interest=open_interest,
        implied_volatility=iv,
        delta=delta,
        gamma=gamma,
        theta=theta,
        vega=vega,
        unusual=is_unusual(volume, open_interest, typical_volume),
    )


def price_chain(
    symbol: str,
    spot: float,
    strikes: Sequence[float],
    expiration: str,
    expirations: Sequence[str],
    now: float,
    vol: float | Callable[[float, float], float],
    *,
    rate: float = DEFAULT_RATE,
    q: float = 0.0,
) -> OptionChain:
    """A theoretical chain: every strike priced with Black-Scholes at ``vol`` (a number or ``vol(strike, t)``).

    Bid/ask/last are the theoretical price (no market), volume and open interest unknown (None).
    """
    t = year_fraction(now, expiration)
    def vol_at(strike: float, years: float) -> float:
        return vol(strike, years) if callable(vol) else float(vol)

    sides: dict[OptionKind, list[OptionContract]] = {OptionKind.CALL: [], OptionKind.PUT: []}
    for strike in strikes:
        sigma = vol_at(strike, t)
        for kind, contracts in sides.items():
            g = bs_greeks(kind, spot, strike, t, rate, sigma, q)
            price = round(g.price, 4)
            contracts.append(
                OptionContract(
                    contract_symbol=occ_symbol(symbol, expiration, kind, strike),
                    strike=float(strike),
                    last_price=price,
                    bid=price,
                    ask=price,
                    volume=None,
                    open_interest=None,
                    implied_volatility=sigma,
                    delta=g.delta,
                    gamma=g.gamma,
                    theta=g.theta,
                    vega=g.vega,
                )
            )
    return OptionChain(
        symbol=symbol,
        underlying_price=spot,
        expiration=expiration,
        expirations=tuple(expirations),
        calls=tuple(sides[OptionKind.CALL]),
        puts=tuple(sides[OptionKind.PUT]),
    )


def _third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    first_friday = first + timedelta(days=(4 - first.weekday()) % 7)
    return first_friday + timedelta(days=14)


def standard_expirations(now: float, weeks: int = 4, months: int = 3) -> tuple[str, ...]:
    """ISO dates of the next ``weeks`` weekly Fridays and the next ``months`` monthly third Fridays, sorted.

    Only contracts that still trade at ``now`` (expiry 16:00 New York) are listed; exchange holidays are ignored.
    """
    today = datetime.fromtimestamp(now, tz=_EXPIRY_ZONE).date()
    found: set[date] = set()
    day = today + timedelta(days=(4 - today.weekday()) % 7)
    while len(found) < weeks:
        if expiry_timestamp(day.isoformat()) > now:
            found.add(day)
        day += timedelta(days=7)
    year, month, monthly = today.year, today.month, 0
    while monthly < months:
        friday = _third_friday(year, month)
        if expiry_timestamp(friday.isoformat()) > now:
            found.add(friday)
            monthly += 1
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return tuple(d.isoformat() for d in sorted(found))


def strike_step(spot: float) -> float:
    """Strike spacing of about 2.5 % of spot rounded to a 1-2-2.5-5 × 10^k value (e.g. 190 → 5, 42 → 1)."""
    if spot <= 0:
        raise ValueError("spot must be positive")
    raw = spot * 0.025
    exponent = math.floor(math.log10(raw))
    candidates = [m * 10.0**e for e in (exponent - 1, exponent, exponent + 1) for m in (1.0, 2.0, 2.5, 5.0)]
    return min(candidates, key=lambda c: abs(math.log(c / raw)))


def strike_grid(spot: float, each_side: int = 10) -> tuple[float, ...]:
    """``2 × each_side + 1`` strikes on the strike_step grid centred on the strike nearest to spot."""
    step = strike_step(spot)
    centre = round(spot / step)
    strikes = (round((centre + i) * step, 6) for i in range(-each_side, each_side + 1))
    return tuple(s for s in strikes if s > 0)


def smile_vol(base_vol: float, spot: float, strike: float, t: float) -> float:
    """A small equity-like smile: volatility rises away from the money, more on the downside (put skew).

    Moneyness is scaled by sqrt(t) so short-dated smiles are steeper in strike, as in real markets.
    """
    x = math.log(strike / spot) / math.sqrt(max(t, 1.0 / DAYS_PER_YEAR))
    factor = 1.0 - 0.08 * x + 0.05 * x * x
    return min(max(base_vol * factor, 0.5 * base_vol), 3.0 * base_vol)


def synthetic_chain(
    symbol: str,
    spot: float,
    now: float,
    vol: float,
    rng_seed: int,
    expiration: str | None = None,
    *,
    rate: float = DEFAULT_RATE,
    strikes_each_side: int = 10,
) -> OptionChain:
    """Chain of the simulated market: Black-Scholes prices on a smile, deterministic volume and open interest.

    ``expiration`` (ISO date) must be one of ``standard_expirations(now)``; default the nearest. Volume and open
    interest come from a generator seeded with (rng_seed, symbol, expiration), so the same inputs always give the
    same chain; about 3 % of contracts get a volume spike that ``is_unusual`` flags.
    """
    expirations = standard_expirations(now)
    chosen = expirations[0] if expiration is None else expiration
    if chosen not in expirations:
        raise ValueError(f"no expiration {chosen!r}; available: {', '.join(expirations)}")
    t = year_fraction(now, chosen)
    strikes = strike_grid(spot, strikes_each_side)
    # A str seed is hashed with SHA-512 by random.Random, so this is stable across processes (unlike hash()).
    rng = random.Random(f"{rng_seed}:{symbol}:{chosen}")
    sides: dict[OptionKind, list[OptionContract]] = {OptionKind.CALL: [], OptionKind.PUT: []}
    for strike in strikes:
        sigma = smile_vol(vol, spot, strike, t)
        distance = math.log(strike / spot) / (vol * math.sqrt(max(t, 1.0 / DAYS_PER_YEAR)))
        for kind, contracts in sides.items():
            g = bs_greeks(kind, spot, strike, t, rate, sigma)
            # Open interest concentrates near the money and in longer expiries.
            open_interest = int(4000 * math.exp(-0.5 * distance * distance) * (0.5 + min(t, 0.5))
                                * rng.uniform(0.5, 1.5))
            typical = 0.15 * open_interest
            volume = int(typical * rng.uniform(0.3, 1.7))
            if rng.random() < 0.03:
                volume = int(UNUSUAL_MIN_VOLUME + open_interest * rng.uniform(2.5, 6.0))
            theo = g.price
            half_spread = max(0.005, 0.015 * theo)
            contracts.append(
                OptionContract(
                    contract_symbol=occ_symbol(symbol, chosen, kind, strike),
                    strike=strike,
                    last_price=round(theo, 2),
                    bid=round(max(theo - half_spread, 0.0), 2),
                    ask=round(theo + half_spread, 2),
                    volume=volume,
                    open_interest=open_interest,
                    implied_volatility=sigma,
                    delta=g.delta,
                    gamma=g.gamma,
                    theta=g.theta,
                    vega=g.vega,
                    unusual=is_unusual(volume, open_interest, typical),
                )
            )
    return OptionChain(
        symbol=symbol,
        underlying_price=spot,
        expiration=chosen,
        expirations=expirations,
        calls=tuple(sides[OptionKind.CALL]),
        puts=tuple(sides[OptionKind.PUT]),
    )


def median(values: Iterable[float]) -> float | None:
    """Median of the finite values, None when there are none (used as a chain's typical contract volume)."""
    finite = sorted(v for v in values if v is not None and math.isfinite(v))
    if not finite:
        return None
    mid = len(finite) // 2
    return finite[mid] if len(finite) % 2 else 0.5 * (finite[mid - 1] + finite[mid])


__all__ = [
    "DEFAULT_RATE",
    "UNUSUAL_MIN_VOLUME",
    "UNUSUAL_OI_RATIO",
    "UNUSUAL_TYPICAL_RATIO",
    "Greeks",
    "OptionKind",
    "bs_greeks",
    "bs_price",
    "contract_from_market",
    "expiry_timestamp",
    "implied_volatility",
    "is_unusual",
    "median",
    "occ_symbol",
    "price_chain",
    "smile_vol",
    "standard_expirations",
    "strike_grid",
    "strike_step",
    "synthetic_chain",
    "year_fraction",
]
