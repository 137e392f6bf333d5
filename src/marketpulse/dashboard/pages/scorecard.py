"""Model scorecard: /v1/scorecard (every stored prediction scored once its horizon passed): totals per model
version, per-symbol rows, and the calibration of the predicted probabilities."""

from __future__ import annotations

from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, callback, dash_table, dcc, html

from marketpulse.dashboard.client import ApiUnavailableError, api

dash.register_page(__name__, path="/scorecard", name="Scorecard")


def layout(**_: Any) -> html.Div:
    return html.Div([html.H2("Model scorecard"), html.Div(id="scorecard-status"), html.Div(id="scorecard-body")])


def flat_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Table rows: nested values (calibration bins) left out, floats rounded."""
    return [
        {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items() if not isinstance(v, dict | list)}
        for row in rows
    ]


def _table(table_id: str, rows: list[dict[str, Any]]) -> dash_table.DataTable:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return dash_table.DataTable(
        id=table_id, columns=[{"name": c, "id": c} for c in columns], data=rows, page_size=20, sort_action="native"
    )


def calibration_figure(summary: list[dict[str, Any]]) -> go.Figure:
    """Observed up-rate against mean predicted P(up) per decile, pooled over symbols, per model version."""
    pooled: dict[str, dict[int, list[float]]] = {}
    for row in summary:
        label = f"{row.get('model_name')} {row.get('model_version')} {row.get('horizon')}"
        for b in row.get("calibration", []):
            n, slot = b["n"], pooled.setdefault(label, {}).setdefault(b["bin"], [0.0, 0.0, 0.0])
            slot[0] += n
            slot[1] += n * (b["mean_prob"] or 0.0)
            slot[2] += n * (b["up_rate"] or 0.0)
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot"}))
    for label, bins in pooled.items():
        points = [(s[1] / s[0], s[2] / s[0]) for _, s in sorted(bins.items()) if s[0]]
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], name=label, mode="lines+markers"))
    fig.update_layout(title="Calibration", xaxis_title="predicted P(up)", yaxis_title="observed up rate")
    return fig


@callback(Output("scorecard-body", "children"), Output("scorecard-status", "children"), Input("clock", "n_intervals"))
def refresh(_: int | None) -> tuple[Any, str]:
    try:
        body = api().get("/v1/scorecard")
    except ApiUnavailableError as exc:
        return None, str(exc)
    if not isinstance(body, dict):
        return None, "no scorecard yet: the API has no /v1/scorecard"
    summary, totals = list(body.get("summary", [])), list(body.get("totals", []))
    if not summary and not totals:
        return None, "no scored predictions yet (a prediction is scored once its horizon has passed)"
    children = [
        html.H3("Per model version"),
        _table("scorecard-totals", flat_rows(totals)),
        dcc.Graph(id="scorecard-calibration", figure=calibration_figure(summary)),
        html.H3("Per symbol"),
        _table("scorecard-table", flat_rows(summary)),
    ]
    return children, f"{len(summary)} rows"
