"""Metric cards: a label, a value and a note, filled live by the page's browser code (by ``data-metric``)."""

from __future__ import annotations

from collections.abc import Sequence

from dash import html

from components import ids

# The summary cards of the overview, fed by ``dashboard_update`` (docs/protocol.md): (key in its data, label).
SUMMARY_METRICS: tuple[tuple[str, str], ...] = (
    ("total_value", "Total value"),
    ("daily_pnl", "Daily P&L"),
    ("open_positions", "Open positions"),
    ("win_rate", "Win rate"),
)
NO_ACCOUNT = "no paper account yet"


def metric_card(key: str, label: str, value: str = "—", note: str = "") -> html.Div:
    return html.Div(
        className="metric-card",
        children=[
            html.Div(label, className="metric-label"),
            html.Div(value, className="metric-value"),
            html.Div(note, className="metric-note"),
        ],
        **{"data-metric": key},
    )


def metric_cards(metrics: Sequence[tuple[str, str]], element_id: str | None = None, value: str = "—",
                 note: str = "") -> html.Div:
    cards = [metric_card(key, label, value, note) for key, label in metrics]
    if element_id is None:
        return html.Div(className="metric-cards", children=cards)
    return html.Div(id=element_id, className="metric-cards", children=cards)


def summary_cards() -> html.Div:
    """Total value, daily P&L, open positions and win rate; until a ``dashboard_update`` arrives they say that there
    is no paper account yet."""
    return metric_cards(SUMMARY_METRICS, ids.SUMMARY_CARDS, value="—", note=NO_ACCOUNT)
