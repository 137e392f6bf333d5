"""Pipeline health: per-stage latency p50/p99 over time (ingest -> Kafka -> batch -> stores -> Redis ->
WebSocket), DLQ rate by topic and stage, supervisor restarts, stream heartbeats, ingest throughput and source
freshness, all from /v1/pipeline/status (which reads the metrics the platform's processes export).

Latency quantiles are computed per refresh window from the difference of two cumulative histograms (what
Prometheus' histogram_quantile over rate() does), so the chart shows the recent latency, not the average since
each process started."""

from __future__ import annotations

import time
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dash_table, dcc, html

from marketpulse.dashboard.client import ApiUnavailableError, api
from marketpulse.dashboard.quantiles import window_quantile

dash.register_page(__name__, path="/health", name="Pipeline health")

_last: dict[str, tuple[float, float]] = {}  # series -> (time, value) of the previous refresh, for rates


def layout(**_: Any) -> html.Div:
    return html.Div(
        [
            html.H2("Pipeline health"),
            html.Div(id="health-status"),
            dcc.Store(id="health-history", data={}),
            dcc.Graph(id="health-latency", style={"height": "360px"}),
            dcc.Graph(id="health-dlq", style={"height": "260px"}),
            html.H3("Supervisor restarts"),
            html.Div(id="health-restarts"),
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


HISTORY_POINTS = 150


def update_history(history: dict[str, Any], status: dict[str, Any], now: float) -> dict[str, Any]:
    """Append this refresh's p50/p99 per stage and DLQ rate per topic/stage to the rolling history."""
    previous = history.get("previous", {})
    series: dict[str, list[list[float | None]]] = history.get("series", {})
    dlq: dict[str, list[list[float]]] = history.get("dlq", {})
    current: dict[str, Any] = {"t": now, "stages": {}, "dlq": {}}
    for service, scrape in status["services"].items():
        for stage, hist in scrape.get("stages", {}).items():
            name = f"{service}: {stage}"
            counts = [*hist["counts"], hist["count"]]
            current["stages"][name] = counts
            before = previous.get("stages", {}).get(name)
            if before is not None and len(before) == len(counts):
                bounds = hist["bounds_s"]
                p50 = window_quantile(bounds, counts, before, 0.5)
                p99 = window_quantile(bounds, counts, before, 0.99)
                series.setdefault(name, []).append([now, p50, p99])
        for key, value in scrape.get("dlq", {}).items():
            current["dlq"][key] = value
            before_value = previous.get("dlq", {}).get(key)
            if before_value is not None and now > previous["t"]:
                dlq.setdefault(key, []).append([now, (value - before_value) / (now - previous["t"])])
    trim = {name: points[-HISTORY_POINTS:] for name, points in series.items()}
    return {"previous": current, "series": trim, "dlq": {k: v[-HISTORY_POINTS:] for k, v in dlq.items()}}


def latency_figure(series: dict[str, list[list[float | None]]]) -> go.Figure:
    fig = go.Figure()
    for name, points in sorted(series.items()):
        x = [time.strftime("%H:%M:%S", time.gmtime(p[0] or 0)) for p in points]
        for index, (quantile, dash_style) in enumerate((("p50", "dot"), ("p99", "solid")), start=1):
            y = [value * 1000 if (value := p[index]) is not None else None for p in points]
            fig.add_trace(go.Scatter(x=x, y=y, name=f"{name} {quantile}", line={"dash": dash_style}))
    fig.update_layout(
        title="Per-stage latency, ms (p50 dotted, p99 solid; per refresh window)",
        yaxis={"type": "log", "title": "ms"},
        margin={"t": 40, "b": 30},
        legend={"font": {"size": 10}},
    )
    return fig


def dlq_figure(dlq: dict[str, list[list[float]]]) -> go.Figure:
    fig = go.Figure()
    for key, points in sorted(dlq.items()):
        x = [time.strftime("%H:%M:%S", time.gmtime(p[0])) for p in points]
        fig.add_trace(go.Scatter(x=x, y=[p[1] for p in points], name=key, mode="lines"))
    fig.update_layout(title="Dead-lettered records/s by topic and stage", margin={"t": 40, "b": 30})
    return fig


@callback(
    Output("health-history", "data"),
    Output("health-latency", "figure"),
    Output("health-dlq", "figure"),
    Output("health-restarts", "children"),
    Input("clock", "n_intervals"),
    State("health-history", "data"),
)
def refresh_charts(_: int | None, history: dict[str, Any] | None) -> tuple[dict[str, Any], go.Figure, go.Figure, str]:
    try:
        status = api().get("/v1/pipeline/status")
    except ApiUnavailableError as exc:
        return history or {}, go.Figure(), go.Figure(), str(exc)
    updated = update_history(history or {}, status, time.time())
    restarts = {k: v for scrape in status["services"].values() for k, v in scrape.get("restarts", {}).items()}
    text = ", ".join(f"{k}: {v:.0f}" for k, v in sorted(restarts.items())) or "none recorded"
    return updated, latency_figure(updated["series"]), dlq_figure(updated["dlq"]), text
