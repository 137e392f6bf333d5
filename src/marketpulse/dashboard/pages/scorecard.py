"""Model scorecard: what /v1/scorecard reports (walk-forward evaluation of the models), when it exists."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dash_table, html

from marketpulse.dashboard.client import ApiUnavailableError, api

dash.register_page(__name__, path="/scorecard", name="Scorecard")


def layout(**_: Any) -> html.Div:
    return html.Div([html.H2("Model scorecard"), html.Div(id="scorecard-status"), html.Div(id="scorecard-body")])


def _rows(body: Any) -> list[dict[str, Any]]:
    """Accepts a page ({items: [...]}) or a plain list of flat records."""
    items = body.get("items", []) if isinstance(body, dict) else body if isinstance(body, list) else []
    return [
        {k: v for k, v in item.items() if not isinstance(v, dict | list)} for item in items if isinstance(item, dict)
    ]


@callback(Output("scorecard-body", "children"), Output("scorecard-status", "children"), Input("clock", "n_intervals"))
def refresh(_: int | None) -> tuple[Any, str]:
    try:
        body = api().get("/v1/scorecard")
    except ApiUnavailableError as exc:
        return None, str(exc)
    if body is None:
        return None, "no scorecard yet: the API has no /v1/scorecard"
    rows = _rows(body)
    columns = sorted({k for row in rows for k in row})
    table = dash_table.DataTable(id="scorecard-table", columns=[{"name": c, "id": c} for c in columns], data=rows)
    return table, f"{len(rows)} rows"
