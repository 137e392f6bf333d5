"""Prometheus metrics of the API: requests by route template and status, and a latency histogram.

Each app owns its registry (so several apps in one process, as in tests, never collide); /metrics serves it.
With several uvicorn workers (`api.serve`) the samples go through prometheus_client's multiprocess files and
/metrics serves the sum over every worker (`exposition`).
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import multiprocess as mp
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    def __init__(self, multiprocess: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        #: What /metrics serves: this registry, or the merge of every worker's samples.
        self.exposition = self.registry
        if multiprocess:
            self.exposition = CollectorRegistry()
            mp.MultiProcessCollector(self.exposition)  # type: ignore[no-untyped-call]
        self.requests = Counter(
            "marketpulse_api_requests_total",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "marketpulse_api_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.auth_refused = Counter(
            "marketpulse_api_auth_refused_total",
            "Requests refused by authentication, by reason (401 unauthenticated, 403 forbidden, 429 rate limited)",
            ["status"],
            registry=self.registry,
        )
        self.ws_connections = Gauge(
            "marketpulse_ws_connections",
            "Open WebSocket connections",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.worker_started = Gauge(
            "marketpulse_api_worker_start_time_seconds",
            "Start time (unix s) of each API worker; with several workers, one series per live worker pid",
            registry=self.registry,
            multiprocess_mode="liveall",
        )
        self.ws_messages = Counter(
            "marketpulse_ws_messages_total",
            "Messages queued to WebSocket clients, by channel",
            ["channel"],
            registry=self.registry,
        )
        self.ws_dropped = Counter(
            "marketpulse_ws_dropped_total", "WebSocket clients dropped, by reason", ["reason"], registry=self.registry
        )
        self.stage_latency = Histogram(
            "marketpulse_pipeline_stage_latency_seconds",
            "Latency of one pipeline stage (seen by the API: Redis publish -> WebSocket fan-out)",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )


class MetricsMiddleware:
    """Pure ASGI middleware; labels use the matched route's template (/v1/symbols/{symbol}/bars), never the
    raw path, so the label set stays bounded."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            if status in (401, 403, 429):
                self.metrics.auth_refused.labels(str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
