"""The API: `create_app(settings)` builds a FastAPI app over Redis (latest state, live fan-out, rate limits),
Cassandra (history) and PostgreSQL (API keys, alert rules).

The app is stateless apart from caches, so `marketpulse serve api` runs `api.workers` processes on one port; the
alert engine is its own service (`marketpulse alerts run`), and rate-limit buckets live in Redis.

Every route under /v1 is included with the read-scope dependency, so a router added later is authenticated
without doing anything; only /healthz, /metrics and the docs are open.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from marketpulse import __version__
from marketpulse.alerts.store import AlertStore
from marketpulse.api.auth import API_KEY_HEADER, Authenticator, require_read
from marketpulse.api.deps import Resources
from marketpulse.api.errors import BodyLimit, DependencyUnavailableError, InvalidRequestError, install_error_handlers
from marketpulse.api.history import History
from marketpulse.api.latest import LatestQuoteLane, LatestReader
from marketpulse.api.live import LiveHub
from marketpulse.api.logs import redact_api_keys_in_logs
from marketpulse.api.metrics import ApiMetrics, MetricsMiddleware
from marketpulse.api.resp import PipelinedRedis
from marketpulse.api.routes import (
    admin,
    alerts,
    bars,
    health,
    indicators,
    models,
    pipeline,
    predictions,
    scorecard,
    sentiment,
    symbols,
    ws,
)
from marketpulse.api.schemas import ErrorBody
from marketpulse.auth.keys import ApiKeyStore
from marketpulse.config import Settings
from marketpulse.quality.metrics import OperationsCollector
from marketpulse.stores.redis_store import redis_client

log = logging.getLogger(__name__)

#: Documented on every /v1 operation, all in the one error shape (also replaces FastAPI's default 422 body).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No API key, or an unknown, revoked or expired one"},
    403: {"model": ErrorBody, "description": "The key lacks the scope this route needs"},
    404: {"model": ErrorBody, "description": "Not found"},
    422: {"model": ErrorBody, "description": "A parameter is invalid; the message says which and why"},
    429: {"model": ErrorBody, "description": "Rate limit of the key exceeded; see Retry-After"},
    503: {"model": ErrorBody, "description": "A store did not answer; retry later"},
}

#: Routers whose routes all live under /v1 and need a read key (admin routes also check the admin scope).
DATA_ROUTERS = [symbols, bars, indicators, predictions, alerts, pipeline, admin, sentiment, scorecard, models]


async def reject_nul_bytes(request: Request) -> None:
    """No text parameter may hold a NUL byte: PostgreSQL refuses them, so they would fail as a 500 deep inside a
    route (found by the schemathesis run); here they are one clear 422 for every route."""
    if "\x00" in request.url.path or any("\x00" in value for _, value in request.query_params.multi_items()):
        raise InvalidRequestError("parameters must not contain NUL (\\x00) characters")


def create_app(settings: Settings, *, multiprocess_metrics: bool = False) -> FastAPI:
    """The API app; clients are opened by its lifespan (serve it with uvicorn or enter a TestClient).
    multiprocess_metrics: one of several workers (`api.serve`), whose /metrics add up every worker's samples."""
    metrics = ApiMetrics(multiprocess=multiprocess_metrics)
    # Data-quality results and stream restarts (stored by the Airflow DAGs), read from Postgres per scrape.
    metrics.exposition.register(OperationsCollector(settings))
    redact_api_keys_in_logs()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        history = History(settings)
        redis = redis_client(settings)
        try:
            await run_in_threadpool(history.connect)  # early, so the first request is fast; retried on use
        except DependencyUnavailableError as exc:
            log.warning("starting without Cassandra, will retry on use: %s", exc)
        aredis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=10)
        # The latest-quote route's own pipelined connection: bytes in, bytes out, no pool (api.resp).
        pipelined = PipelinedRedis(settings.redis_url)
        latest = LatestReader(pipelined, settings.api.rate_limit_burst)
        app.state.resources = Resources(
            settings=settings, redis=redis, history=history, metrics=metrics, aredis=aredis, latest=latest
        )
        app.state.authenticator.share_limits(aredis)
        metrics.worker_started.set_to_current_time()
        hub = app.state.hub = LiveHub(settings.redis_url, metrics, settings.api)
        hub.start()
        try:
            yield
        finally:
            await hub.stop()
            redis.close()
            await aredis.aclose()
            await pipelined.aclose()
            await run_in_threadpool(history.close)
            await run_in_threadpool(app.state.authenticator.store.close)
            await run_in_threadpool(app.state.alert_store.close)

    app = FastAPI(
        title="MarketPulse API",
        version=__version__,
        summary="Latest state, history, live updates and alerts of stock symbols.",
        description=f"Every /v1 route needs an API key in the `{API_KEY_HEADER}` header "
        "(`marketpulse apikeys create`). Lists are pages `{items, next_cursor}`; errors are "
        "`{error: {code, message}}`. Live updates: WebSocket `/v1/ws`.",
        lifespan=lifespan,
        # Metrics are Prometheus (api.metrics); FastAPI's OpenTelemetry hook would only cost a check per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.authenticator = Authenticator(ApiKeyStore(settings), settings.api)
    app.state.alert_store = AlertStore(settings)
    # Innermost first: the latest-quote lane sits inside the metrics and CORS middlewares, so its answers are
    # counted and carry CORS headers like every other route's.
    app.add_middleware(BodyLimit, max_bytes=settings.api.max_body_bytes)
    app.add_middleware(LatestQuoteLane)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.api.cors_origins,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=[API_KEY_HEADER, "Content-Type"],
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(ws.router)  # authenticates itself: WebSocket routes take no HTTP dependencies
    for module in DATA_ROUTERS:
        dependencies = [Depends(require_read), Depends(reject_nul_bytes)]
        app.include_router(module.router, dependencies=dependencies, responses=ERROR_RESPONSES)
    return app
