"""Alerts (/alerts): the alert rules (a create form for each condition, the list with delete) and, beside them, the
alert history, live: each new ``alert`` message becomes the top row (assets/pages_rules.js)."""

from __future__ import annotations

from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, html

from components import ids
from components.alerts_view import (
    CONDITION_HELP,
    FIELDS,
    HISTORY_LIMIT,
    MAX_HISTORY_ROWS,
    MAX_RULE_ROWS,
    field_id,
    history_grid,
    input_id,
    rule_form,
    rules_grid,
    symbol_label,
    value_label,
    visible_fields,
    visible_table,
)
from components.live_page import connection_badge, live_page, section

dash.register_page(__name__, path="/alerts", title="Alerts · Tickstream", name="Alerts", nav_order=5,
                   nav_label="Alerts", bundles=("dash_ag_grid", "dash_mantine_components"))

# The form's inputs, in the order the create callback receives them (assets/pages_alerts.js repeats it).
FORM_INPUTS = ("symbol", "value", "window", "move_direction", "timeframe", "action", "trend_direction", "frequency",
               "cooldown_seconds", "level", "message", "webhook_url")


def layout(**_: Any) -> Any:
    return live_page(
        "alerts",
        [
            html.Div(className="page-head", children=[html.H1("Alerts"), connection_badge("alerts-conn")]),
            html.Div(className="alerts-layout", children=[
                html.Div(children=[
                    section("New alert rule", [rule_form()]),
                    section("Rules", [rules_grid()]),
                ]),
                section("History", [history_grid()]),
            ]),
        ],
        {"historyLimit": HISTORY_LIMIT, "maxRuleRows": MAX_RULE_ROWS, "maxHistoryRows": MAX_HISTORY_ROWS,
         "inputs": list(FORM_INPUTS),
         # The fields each condition and frequency uses: the browser sends only those.
         "visible": visible_table()},
    )


@dash.callback(
    *[Output(field_id(name), "style") for name in FIELDS],
    Output(input_id("value"), "label"),
    Output(input_id("symbol"), "label"),
    Output("alerts-condition-help", "children"),
    Input(ids.ALERTS_CONDITION, "value"),
    Input(input_id("frequency"), "value"),
    prevent_initial_call=True,
)
def show_fields(condition: str | None, frequency: str | None) -> tuple[Any, ...]:
    shown = visible_fields(condition, frequency)
    styles = [None if name in shown else {"display": "none"} for name in FIELDS]
    return (*styles, value_label(condition), symbol_label(condition), CONDITION_HELP.get(condition or "", ""))


# The create button POSTs the rule from the browser (assets/pages_rules.js), so the API's own JSON errors are shown
# as they are.
dash.clientside_callback(
    ClientsideFunction(namespace="tickstream_alerts", function_name="create"),
    Output(ids.ALERTS_FORM_MESSAGE, "children"),
    Input(ids.ALERTS_CREATE, "n_clicks"),
    State(ids.ALERTS_CONDITION, "value"),
    *[State(input_id(name), "value") for name in FORM_INPUTS],
    prevent_initial_call=True,
)
