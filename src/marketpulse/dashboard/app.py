"""`create_dashboard(settings)`: a Dash app with one module per page under dashboard/pages."""

from __future__ import annotations

from pathlib import Path

import dash
from dash import Dash, dcc, html

from marketpulse.config import Settings
from marketpulse.dashboard.client import ApiClient, install_client

NAV = [("Market", "/"), ("Scorecard", "/scorecard"), ("Pipeline health", "/health")]


def create_dashboard(settings: Settings) -> Dash:
    install_client(ApiClient(settings))
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder=str(Path(__file__).parent / "pages"),
        title="MarketPulse",
        suppress_callback_exceptions=True,
    )
    app.layout = html.Div(
        [
            html.Nav(
                [html.Strong("MarketPulse", style={"marginRight": "2em"})]
                + [dcc.Link(label, href=href, style={"marginRight": "1.5em"}) for label, href in NAV],
                style={"padding": "0.8em", "borderBottom": "1px solid #ddd", "fontFamily": "sans-serif"},
            ),
            # One clock for every page: live values refresh on its ticks.
            dcc.Interval(id="clock", interval=int(settings.dashboard.refresh_s * 1000)),
            html.Main(dash.page_container, style={"padding": "1em", "fontFamily": "sans-serif"}),
        ]
    )
    add_metrics_route(app)
    return app


def add_metrics_route(app: Dash) -> None:
    """/metrics of the dashboard's Flask server: requests served, for Prometheus."""
    import time

    from flask import Response, g, request
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

    registry = CollectorRegistry()
    requests = Counter(
        "marketpulse_dashboard_requests_total", "Dashboard HTTP requests", ["kind", "status"], registry=registry
    )
    latency = Histogram(
        "marketpulse_dashboard_request_duration_seconds", "Dashboard request latency", ["kind"], registry=registry
    )
    server = app.server

    def kind() -> str:
        return "callback" if request.path.startswith("/_dash-update-component") else "page"

    @server.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @server.after_request
    def _count(response: Response) -> Response:
        if request.path != "/metrics":
            requests.labels(kind(), str(response.status_code)).inc()
            latency.labels(kind()).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        return response

    @server.route("/metrics")
    def _metrics() -> Response:
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
