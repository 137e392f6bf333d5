"""`create_dashboard(settings)`: a Dash app with one module per page under dashboard/pages.

Live data arrives by push: `assets/live.js` keeps one WebSocket to the API (`/v1/ws`, with the dashboard's read
key, which the page therefore carries: the dashboard is an operator's tool on the stack's host) and merges every
update into the `live-store`; views drawn from it run in the browser (`assets/views.js`). The header's
indicator says "live" while updates arrive and "stale since ..." once none came for `dashboard.stale_s`.
Server callbacks still build what needs history (bars, sparklines, charts) on slower timers.
"""

from __future__ import annotations

import time
from pathlib import Path

import dash
from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html
from flask import Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

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
    ws_url = settings.api_base_url.replace("http://", "ws://").replace("https://", "wss://") + "/v1/ws"
    app.layout = html.Div(
        [
            html.Nav(
                [html.Strong("MarketPulse", style={"marginRight": "2em"})]
                + [dcc.Link(label, href=href, style={"marginRight": "1.5em"}) for label, href in NAV]
                + [html.Span(id="live-indicator")],
                style={"padding": "0.8em", "borderBottom": "1px solid #ddd", "fontFamily": "sans-serif"},
            ),
            # What live.js connects to; it fills live-store with every symbol's pushed state.
            html.Div(
                id="live-config",
                hidden=True,
                **{"data-url": ws_url, "data-key": settings.dashboard.api_key.get_secret_value()},
            ),
            dcc.Store(id="live-store", data={}),
            dcc.Store(id="live-stale-s", data=settings.dashboard.stale_s),
            dcc.Interval(id="live-clock", interval=1000),  # redraws the indicator in the browser only
            # Pages whose views need history refresh on this clock.
            dcc.Interval(id="clock", interval=int(settings.dashboard.refresh_s * 1000)),
            html.Main(dash.page_container, style={"padding": "1em", "fontFamily": "sans-serif"}),
        ]
    )
    app.clientside_callback(
        ClientsideFunction(namespace="marketpulse", function_name="indicator"),
        Output("live-indicator", "children"),
        Output("live-indicator", "style"),
        Input("live-clock", "n_intervals"),
        State("live-store", "data"),
        State("live-stale-s", "data"),
    )
    add_metrics_route(app)
    return app


def add_metrics_route(app: Dash) -> None:
    """/metrics of the dashboard's Flask server: requests served, for Prometheus."""
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
