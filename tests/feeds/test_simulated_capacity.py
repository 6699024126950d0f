"""The simulated market's caches hold what a feed of 200 symbols needs, whatever history is asked for meanwhile."""

from __future__ import annotations

from collections import Counter

import numpy as np

from feeds.models import Period, Timeframe
from feeds.simulated import SimulatedSource

NOW = 1_763_700_030.0
# 200 real tickers (S&P 500 members): the simulated market answers its universe only.
SYMBOLS = (
    "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "GOOG", "META", "TSLA", "AVGO", "BRK-B", "JPM", "LLY", "V", "UNH",
    "XOM", "MA", "JNJ", "PG", "HD", "COST", "ABBV", "MRK", "CVX", "KO", "PEP", "ADBE", "WMT", "BAC", "CRM", "NFLX",
    "AMD", "TMO", "ACN", "MCD", "CSCO", "LIN", "ABT", "ORCL", "DHR", "INTC", "WFC", "DIS", "TXN", "VZ", "PM",
    "CMCSA", "NEE", "AMGN", "INTU", "IBM", "QCOM", "CAT", "UNP", "LOW", "SPGI", "HON", "GE", "BA", "AMAT", "RTX",
    "NOW", "ISRG", "GS", "ELV", "PLD", "BKNG", "MS", "T", "DE", "SYK", "BLK", "MDT", "LMT", "TJX", "ADP", "VRTX",
    "GILD", "CB", "ADI", "SCHW", "C", "LRCX", "MDLZ", "REGN", "CVS", "CI", "BSX", "PGR", "ZTS", "MO", "SO", "ETN",
    "TMUS", "BDX", "DUK", "SLB", "EOG", "AON", "ITW", "APD", "CME", "MU", "PNC", "CSX", "KLAC", "SNPS", "CDNS",
    "ICE", "NOC", "EQIX", "SHW", "CL", "WM", "USB", "MCK", "FDX", "EMR", "HUM", "TGT", "ORLY", "MPC", "PSX", "APH",
    "NSC", "MAR", "PH", "GD", "MCO", "ROP", "ECL", "AJG", "CTAS", "TDG", "AZO", "MSI", "HCA", "NXPI", "ADSK", "CARR",
    "EW", "MET", "AIG", "PCAR", "TT", "TRV", "OXY", "PSA", "WELL", "AFL", "SRE", "ROST", "MNST", "KMB", "DXCM",
    "CHTR", "JCI", "HLT", "AEP", "PAYX", "FTNT", "KHC", "GIS", "SPG", "CCI", "MCHP", "F", "GM", "DOW", "O", "IDXX",
    "YUM", "COF", "BK", "AMP", "KMI", "ALL", "CPRT", "EXC", "CTSH", "ODFL", "VLO", "BIIB", "A", "PRU", "FAST",
    "OTIS", "KR", "XEL", "IQV", "LHX", "DLR", "SYY", "AME", "CMI", "GWW", "ED", "HSY", "ROK", "DD", "EA",
)


class CountingSource(SimulatedSource):
    """Counts the random generators it makes, by level (2: a day's minutes, 3: a minute's path): each one is a
    piece of the path built (again)."""

    def __init__(self) -> None:
        super().__init__(seed=9, clock=lambda: NOW)
        self.built: Counter[int] = Counter()

    def _rng(self, symbol: str, level: int, index: int) -> np.random.Generator:
        self.built[level] += 1
        return super()._rng(symbol, level, index)


def test_quotes_of_200_symbols_reuse_their_minute_paths() -> None:
    source = CountingSource()
    for symbol in SYMBOLS:
        source.quote(symbol)
    source.built.clear()
    for symbol in SYMBOLS:
        source.quote(symbol)
    assert source.built[3] == 0, "every quote rebuilt its minute's path"


def test_a_long_hourly_history_does_not_push_the_live_days_out() -> None:
    source = CountingSource()
    for symbol in SYMBOLS:
        source.quote(symbol)
    source.history("SPY", Period.parse("1y"), Timeframe.D1)
    source.history("SPY", Period.parse("3mo"), Timeframe.H4)
    source.built.clear()
    for symbol in SYMBOLS:
        source.quote(symbol)
    assert source.built[2] == 0, "the streamed symbols' days were built again"
