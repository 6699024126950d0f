"""The chart's order ticket: a paper order on the chart's symbol (POST /api/v1/orders, docs/trading.md). Clicking a
price on the chart while the ticket is open makes it a limit order at that price (assets/order_ticket.js)."""

from __future__ import annotations

from dash import dcc, html

TICKET = "order-ticket"
TOGGLE = "order-ticket-toggle"
RESULT = "order-ticket-result"


def _field(label: str, control: object, name: str) -> html.Label:
    return html.Label([html.Span(label, className="ticket-label"), control], className=f"ticket-field ticket-{name}")


def _select(select_id: str, options: tuple[tuple[str, str], ...]) -> html.Select:
    # A plain <select> the browser code reads (no Dash state: nothing on the server depends on it); first is chosen.
    return html.Select([html.Option(label, value=value, selected=index == 0)
                        for index, (value, label) in enumerate(options)], id=select_id, className="ticket-select")


def order_ticket_toggle() -> html.Button:
    return html.Button("Trade", id=TOGGLE, type="button", className="chart-toggle ticket-toggle",
                       **{"aria-pressed": "false", "aria-controls": TICKET})


def order_ticket() -> html.Form:
    """Side, type, quantity, prices, time in force; the answer (accepted, filled, refused and why) is announced."""
    return html.Form(
        id=TICKET,
        className="order-ticket",
        hidden=True,
        **{"aria-label": "Paper order"},
        children=[
            html.Div([html.Button("Buy", type="button", className="ticket-side ticket-buy",
                                  **{"data-side": "buy", "aria-pressed": "true"}),
                      html.Button("Sell", type="button", className="ticket-side ticket-sell",
                                  **{"data-side": "sell", "aria-pressed": "false"})],
                     className="ticket-sides", role="group", **{"aria-label": "Side"}),
            _field("Type", _select("ticket-type", (("market", "Market"), ("limit", "Limit"), ("stop", "Stop"))),
                   "type"),
            _field("Quantity", dcc.Input(id="ticket-quantity", type="number", min=0, step="any", value=10,
                                         className="ticket-input"), "quantity"),
            _field("Limit", dcc.Input(id="ticket-limit", type="number", min=0, step="any",
                                      className="ticket-input", placeholder="click the chart"), "limit"),
            _field("Stop", dcc.Input(id="ticket-stop", type="number", min=0, step="any", className="ticket-input"),
                   "stop"),
            _field("Time in force", _select("ticket-tif", (("day", "Day"), ("gtc", "GTC"), ("ioc", "IOC"),
                                                           ("fok", "FOK"))), "tif"),
            html.Button("Place paper order", type="submit", className="ticket-submit"),
            html.Span("", id=RESULT, className="ticket-result", role="status", **{"aria-live": "polite"}),
        ],
    )
