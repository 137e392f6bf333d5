"""Pipeline health: stream heartbeats, ingest throughput, DLQ and source freshness, from /v1/pipeline/status."""

from __future__ import annotations

import time
from typing import Any

import dash
from dash import Input, Output, callback, dash_table, html

from marketpulse.dashboard.client import ApiUnavailableError, api

dash.register_page(__name__, path="/health", name="Pipeline health")

_last: dict[str, tuple[float, float]] = {}  # series -> (time, value) of the previous refresh, for rates


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.H2("Pipeline health"),
            html.Div(id="health-status"),
            html.H3("Streams"),
            dash_table.DataTable(
                id="health-streams",
                columns=[{"name": c, "id": c} for c in ("query", "batch_id", "rows", "age_s")],
                data=[],
            ),
            html.H3("Services"),
            dash_table.DataTable(
                id="health-services",
                columns=[{"name": c, "id": c} for c in ("service", "up", "series", "value", "per_s")],
                data=[],
            ),
        ]
    )


def _rate(name: str, value: float, now: float) -> str:
    previous = _last.get(name)
    _last[name] = (now, value)
    if previous is None or now <= previous[0]:
        return "-"
    return f"{(value - previous[1]) / (now - previous[0]):.1f}"


@callback(
    Output("health-streams", "data"),
    Output("health-services", "data"),
    Output("health-status", "children"),
    Input("clock", "n_intervals"),
)
def refresh(_: int | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    try:
        status = api().get("/v1/pipeline/status")
    except ApiUnavailableError as exc:
        return [], [], str(exc)
    now = time.time()
    services = []
    for name, scrape in status["services"].items():
        if not scrape["values"]:
            services.append(
                {"service": name, "up": "yes" if scrape["up"] else "no", "series": scrape.get("error") or "-"}
            )
        for series, value in sorted(scrape["values"].items()):
            freshness = "timestamp_seconds" in series
            services.append(
                {
                    "service": name,
                    "up": "yes" if scrape["up"] else "no",
                    "series": series + (" (age s)" if freshness else ""),
                    "value": f"{now - value:.1f}" if freshness else f"{value:,.0f}",
                    "per_s": "-" if freshness else _rate(f"{name}:{series}", value, now),
                }
            )
    return status["streams"], services, f"{status['symbols']} symbols"
