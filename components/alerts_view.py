"""The alerts page's pieces: the form that makes a rule of each condition of docs/alerts.md, the rules grid (with
delete) and the alert-history grid. The form shows only the fields its condition and frequency use
(``visible_fields``, a pure rule applied by the page's callback); the browser (assets/pages_rules.js) POSTs the
rule to ``/api/v1/alerts`` and shows the API's JSON error under the form when it is refused."""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
import dash_mantine_components as dmc
from dash import html

from components import ids
from feeds.models import ALL_TIMEFRAMES

# (condition, label) in the order the form offers them (docs/alerts.md "Conditions").
CONDITIONS: tuple[tuple[str, str], ...] = (
    ("price_above", "Price crosses above"),
    ("price_below", "Price crosses below"),
    ("percent_move", "Percent move over a window"),
    ("consensus", "Consensus signal"),
    ("new_fvg", "New fair value gap"),
    ("structure_break", "Structure break (BOS / CHOCH)"),
    ("unusual_options", "Unusual options activity"),
    ("order_filled", "Paper order filled"),
)
CONDITION_HELP: dict[str, str] = {
    "price_above": "Fires when the price crosses the level upwards (it must have been below it).",
    "price_below": "Fires when the price crosses the level downwards (it must have been above it).",
    "percent_move": "Fires while the price is at least the move away from its price the window ago.",
    "consensus": "Fires when the signal engine sends a consensus signal of the timeframe with that action.",
    "new_fvg": "Fires when a candle of the timeframe closes and confirms a fair value gap.",
    "structure_break": "Fires when a candle of the timeframe closes beyond the held swing (BOS or CHOCH).",
    "unusual_options": "Fires when a contract of the nearest expiration is newly flagged unusual (checked every 60 s).",
    "order_filled": "Fires when a paper order of the symbol (leave it empty: any symbol) is filled.",
}
FREQUENCIES: tuple[tuple[str, str], ...] = (("once", "Once"), ("once_per_bar", "Once per bar"),
                                            ("every_time", "Every time (cool-down)"))
LEVELS: tuple[tuple[str, str], ...] = (("info", "Info"), ("warning", "Warning"), ("critical", "Critical"))
# The form's optional fields, each wrapped in a Div with id ``alerts-field-<name>`` (pages_alerts.js reads them).
FIELDS = ("symbol", "value", "window", "move_direction", "timeframe", "action", "trend_direction", "cooldown_seconds")
PRICE_CONDITIONS = frozenset({"price_above", "price_below"})
TREND_CONDITIONS = frozenset({"new_fvg", "structure_break"})
TIMEFRAME_CONDITIONS = frozenset({"consensus", "new_fvg", "structure_break"})
# Rows each grid keeps (the API keeps 500 rules and the newest 10,000 firings).
MAX_RULE_ROWS = 500
MAX_HISTORY_ROWS = 1000
HISTORY_LIMIT = 200
# A live region that screen readers announce without interrupting.
POLITE: dict[str, Any] = {"aria-live": "polite"}


def field_id(name: str) -> str:
    return f"alerts-field-{name}"


def input_id(name: str) -> str:
    return f"alerts-input-{name}"


def visible_table() -> dict[str, dict[str, list[str]]]:
    """``visible_fields`` of every condition and frequency, for the browser (it sends only those fields)."""
    return {condition: {frequency: sorted(visible_fields(condition, frequency)) for frequency, _ in FREQUENCIES}
            for condition, _ in CONDITIONS}


def visible_fields(condition: str | None, frequency: str | None) -> frozenset[str]:
    """The optional fields a rule of ``condition`` with ``frequency`` uses (docs/alerts.md's field table).

    >>> sorted(visible_fields("percent_move", "once"))
    ['move_direction', 'symbol', 'value', 'window']
    >>> sorted(visible_fields("consensus", "every_time"))
    ['action', 'cooldown_seconds', 'symbol', 'timeframe']
    >>> sorted(visible_fields("price_above", "once_per_bar"))
    ['symbol', 'timeframe', 'value']
    """
    shown = {"symbol"}
    if condition in PRICE_CONDITIONS or condition == "percent_move":
        shown.add("value")
    if condition == "percent_move":
        shown |= {"window", "move_direction"}
    if condition in TIMEFRAME_CONDITIONS or frequency == "once_per_bar":
        shown.add("timeframe")
    if condition == "consensus":
        shown.add("action")
    if condition in TREND_CONDITIONS:
        shown.add("trend_direction")
    if frequency == "every_time":
        shown.add("cooldown_seconds")
    return frozenset(shown)


def value_label(condition: str | None) -> str:
    """What ``value`` means for the condition."""
    return "Move (%)" if condition == "percent_move" else "Price level"


def symbol_label(condition: str | None) -> str:
    return "Symbol (empty: any)" if condition == "order_filled" else "Symbol"


def _options(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"value": value, "label": label} for value, label in pairs]


def _field(name: str, control: Any, shown: bool, wide: bool = False) -> html.Div:
    return html.Div(control, id=field_id(name), className="field field-wide" if wide else "field",
                    style=None if shown else {"display": "none"})


def rule_form(condition: str = "price_above", frequency: str = "once") -> html.Div:
    """The create form (Mantine inputs); fields the condition does not use are hidden."""
    shown = visible_fields(condition, frequency)
    size = "xs"
    return html.Div(id=ids.ALERTS_FORM, className="alert-form", children=[
        html.Div(dmc.Select(id=ids.ALERTS_CONDITION, label="Condition", data=_options(CONDITIONS), value=condition,
                            allowDeselect=False, size=size), className="field field-wide"),
        html.P(CONDITION_HELP[condition], id="alerts-condition-help", className="condition-help"),
        _field("symbol", dmc.TextInput(id=input_id("symbol"), label=symbol_label(condition), placeholder="AAPL",
                                       size=size, autoComplete="off"), "symbol" in shown),
        _field("value", dmc.NumberInput(id=input_id("value"), label=value_label(condition), size=size,
                                        hideControls=True, decimalScale=8), "value" in shown),
        _field("window", dmc.NumberInput(id=input_id("window"), label="Window (s)", size=size, min=1, max=86400,
                                         hideControls=True, placeholder="300"), "window" in shown),
        _field("move_direction", dmc.Select(id=input_id("move_direction"), label="Direction",
                                            data=_options((("up", "Up"), ("down", "Down"))), clearable=True,
                                            placeholder="either", size=size), "move_direction" in shown),
        _field("timeframe", dmc.Select(id=input_id("timeframe"), label="Timeframe",
                                       data=[tf.value for tf in ALL_TIMEFRAMES], placeholder="1m", clearable=True,
                                       size=size), "timeframe" in shown),
        _field("action", dmc.Select(id=input_id("action"), label="Action",
                                    data=_options((("BUY", "BUY"), ("SELL", "SELL"))), clearable=True,
                                    placeholder="BUY or SELL", size=size), "action" in shown),
        _field("trend_direction", dmc.Select(id=input_id("trend_direction"), label="Direction",
                                             data=_options((("bullish", "Bullish"), ("bearish", "Bearish"))),
                                             clearable=True, placeholder="either", size=size),
               "trend_direction" in shown),
        html.Div(dmc.Select(id=input_id("frequency"), label="Frequency", data=_options(FREQUENCIES), value=frequency,
                            allowDeselect=False, size=size), className="field"),
        _field("cooldown_seconds", dmc.NumberInput(id=input_id("cooldown_seconds"), label="Cool-down (s)", size=size,
                                                   min=1, hideControls=True, placeholder="60"),
               "cooldown_seconds" in shown),
        html.Div(dmc.Select(id=input_id("level"), label="Level", data=_options(LEVELS), value="info",
                            allowDeselect=False, size=size), className="field"),
        html.Div(dmc.TextInput(id=input_id("message"), label="Message (optional)", inputProps={"maxLength": 200},
                               size=size),
                 className="field field-wide"),
        html.Div(dmc.TextInput(id=input_id("webhook_url"), label="Webhook URL (optional)",
                               placeholder="https://example.org/hook", size=size), className="field field-wide"),
        html.Div(className="form-actions", children=[
            html.Button("Create alert", id=ids.ALERTS_CREATE, className="button button-primary", type="button"),
            html.Span(id=ids.ALERTS_FORM_MESSAGE, role="status", **POLITE),
        ]),
    ])


def _fn(expression: str) -> dict[str, str]:
    return {"function": expression}


def rule_column_defs() -> list[dict[str, Any]]:
    """Columns of the rules grid (GET /api/v1/alerts ``rules``)."""
    return [
        {"field": "symbol", "headerName": "Symbol", "minWidth": 80, "width": 85,
         "valueFormatter": _fn("params.value || 'any'")},
        {"field": "condition", "headerName": "Rule", "minWidth": 120, "width": 200,
         "valueGetter": _fn("tsRuleSummary(params.data)")},
        {"field": "frequency", "headerName": "Frequency", "minWidth": 95, "width": 100,
         "valueFormatter": _fn("(params.value || '').replace(/_/g, ' ')")},
        {"field": "level", "headerName": "Level", "minWidth": 85, "width": 90},
        {"field": "fired_count", "headerName": "Fired", "type": "rightAligned", "minWidth": 65, "width": 70},
        # A text, not AG Grid's checkbox for booleans: "done" is a `once` rule that fired.
        {"field": "enabled", "headerName": "State", "minWidth": 65, "width": 70, "cellDataType": "text",
         "valueGetter": _fn("params.data.enabled ? 'armed' : 'done'")},
        {"field": "rule_id", "headerName": "", "cellRenderer": "DeleteRuleButton", "sortable": False, "minWidth": 95,
         "maxWidth": 100},
    ]


def history_column_defs() -> list[dict[str, Any]]:
    """Columns of the alert-history grid (GET /api/v1/alerts/history items and ``alert`` messages)."""
    return [
        {"field": "time", "headerName": "Time", "sort": "desc", "minWidth": 160, "width": 165,
         "valueFormatter": _fn("tsIsoTime(params.value)")},
        {"field": "level", "headerName": "Level", "minWidth": 90, "width": 95},
        {"field": "symbol", "headerName": "Symbol", "minWidth": 80, "width": 85,
         "valueFormatter": _fn("params.value || '—'")},
        {"field": "message", "headerName": "Message", "minWidth": 160, "width": 300, "wrapText": True,
         "autoHeight": True,
         "cellStyle": {"lineHeight": "18px", "paddingTop": "5px", "paddingBottom": "5px"}},
        {"field": "webhook", "headerName": "Webhook", "minWidth": 90, "width": 95,
         "valueFormatter": _fn("params.value ? params.value.status + (params.value.error ? ': ' + "
                               "params.value.error : '') : '—'"),
         "tooltipValueGetter": _fn("params.value && params.value.error")},
    ]


def _grid(grid_id: str, columns: list[dict[str, Any]], row_id: str, class_name: str, empty: str,
          row_class_rules: dict[str, str]) -> dag.AgGrid:
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=[],
        columnSize="responsiveSizeToFit",
        defaultColDef={"sortable": True, "resizable": True, "suppressHeaderMenuButton": True, "filter": False},
        dashGridOptions={"animateRows": False, "rowHeight": 30, "headerHeight": 32, "suppressCellFocus": True,
                         "tooltipShowDelay": 300, "rowClassRules": row_class_rules,
                         "localeText": {"noRowsToShow": empty}},
        getRowId=f"params.data.{row_id}",
        className=f"grid {class_name}",
        style={"height": None},
    )


def rules_grid() -> dag.AgGrid:
    return _grid(ids.ALERTS_RULES_GRID, rule_column_defs(), "rule_id", "grid-rules", "No alert rules yet.",
                 {"rule-disabled": "!params.data.enabled"})


def history_grid() -> dag.AgGrid:
    return _grid(ids.ALERTS_HISTORY_GRID, history_column_defs(), "alert_id", "grid-history", "No alerts fired yet.",
                 {"level-warning": "params.data.level === 'warning'",
                  "level-critical": "params.data.level === 'critical'"})
