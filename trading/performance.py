"""Performance figures of a paper account, as defined in docs/trading.md (pure functions, numbers in, number out).

Sources: win rate and profit factor as backtesting.py's ``_stats.compute_stats`` ("Win Rate", "Profit Factor");
maximum drawdown as the largest fall from a running peak, 1 − equity / peak (Magdon-Ismail & Atiya, "Maximum
drawdown", Risk 2004; freqtrade ``data/metrics.py``); Sharpe ratio on daily returns, mean over sample standard
deviation, annualised by √(periods per year) (Sharpe, "The Sharpe Ratio", JPM 1994; Lo, "The Statistics of Sharpe
Ratios", FAJ 2002), with a zero risk-free rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from trading.orders import utc_day

TRADING_DAYS_PER_YEAR = 252
CALENDAR_DAYS_PER_YEAR = 365


@dataclass(frozen=True, slots=True)
class Performance:
    total_value: float
    cash: float
    daily_pnl: float
    open_positions: int
    win_rate: float | None
    profit_factor: float | None
    max_drawdown: float
    sharpe: float | None
    realized_pnl: float
    unrealized_pnl: float
    closed_trades: int


def win_rate(pnls: Sequence[float]) -> float | None:
    """Share of closed trades whose P&L is above zero; None before the first closed trade.

    >>> win_rate([10.0, -5.0, 0.0, 3.0])
    0.5
    """
    if not pnls:
        return None
    return sum(1 for p in pnls if p > 0) / len(pnls)


def profit_factor(pnls: Sequence[float]) -> float | None:
    """Gross profit over gross loss of the closed trades; None while there is no loss (it would be infinite).

    >>> profit_factor([30.0, -10.0, -5.0])
    2.0
    """
    gains = sum(p for p in pnls if p > 0)
    losses = -sum(p for p in pnls if p < 0)
    if losses <= 0:
        return None
    return gains / losses


def max_drawdown(values: Iterable[float]) -> float:
    """The largest 1 − equity / running peak over an equity series (0.0 for a series that never falls).

    >>> max_drawdown([100.0, 120.0, 90.0, 130.0, 117.0])
    0.25
    """
    peak = -math.inf
    worst = 0.0
    for value in values:
        peak = max(peak, value)
        if peak > 0:
            worst = max(worst, 1 - value / peak)
    return worst


def daily_closes(curve: Sequence[tuple[float, float]]) -> list[float]:
    """The last equity of each UTC day of ``curve`` ((time, value) oldest first), after the curve's first value
    (the day the account started), so that the first return covers the first day."""
    if not curve:
        return []
    closes = [curve[0][1]]
    day = None
    for t, value in curve:
        today = utc_day(t)
        if today != day:
            closes.append(value)
            day = today
        else:
            closes[-1] = value
    return closes


def daily_returns(curve: Sequence[tuple[float, float]]) -> list[float]:
    closes = daily_closes(curve)
    return [b / a - 1 for a, b in zip(closes, closes[1:], strict=False) if a > 0]


def sharpe(returns: Sequence[float], periods_per_year: int = TRADING_DAYS_PER_YEAR) -> float | None:
    """mean / sample standard deviation × √periods_per_year; None with fewer than two returns or no variation.

    >>> round(sharpe([0.01, -0.005, 0.02], 252), 4)
    10.5131
    """
    n = len(returns)
    if n < 2:
        return None
    mean = sum(returns) / n
    variance = sum((r - mean) ** 2 for r in returns) / (n - 1)
    if variance <= 0:
        return None
    return mean / math.sqrt(variance) * math.sqrt(periods_per_year)


def daily_pnl(total_value: float, day_start_value: float) -> float:
    """Total value now minus the total value at the last 00:00 UTC."""
    return total_value - day_start_value


def money(value: float) -> str:
    """Display string of an amount as the dashboard design shows it: ``$50,000.00``, ``-$1,200.00``."""
    if abs(value) < 0.005:
        value = 0.0
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def percent(value: float | None) -> str:
    """``0.583`` → ``58.3%``; None → ``—`` (no closed trade yet)."""
    if value is None:
        return "—"
    return f"{value * 100:.1f}%"
