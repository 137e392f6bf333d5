"""The read API: `create_app(settings)` builds a FastAPI app over Redis (latest state) and Cassandra (history)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from marketpulse import __version__
from marketpulse.api.deps import Resources
from marketpulse.api.errors import DependencyUnavailableError, install_error_handlers
from marketpulse.api.history import History
from marketpulse.api.metrics import ApiMetrics, MetricsMiddleware
from marketpulse.api.routes import bars, health, indicators, predictions, symbols
from marketpulse.config import Settings
from marketpulse.stores.redis_store import redis_client

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """The API app; clients are opened by its lifespan (serve it with uvicorn or enter a TestClient)."""
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        history = History(settings)
        redis = redis_client(settings)
        try:
            await run_in_threadpool(history.connect)  # early, so the first request is fast; retried on use
        except DependencyUnavailableError as exc:
            log.warning("starting without Cassandra, will retry on use: %s", exc)
        app.state.resources = Resources(settings=settings, redis=redis, history=history, metrics=metrics)
        try:
            yield
        finally:
            redis.close()
            await run_in_threadpool(history.close)

    app = FastAPI(
        title="MarketPulse API",
        version=__version__,
        summary="Latest state and history of stock symbols.",
        lifespan=lifespan,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    install_error_handlers(app)
    for module in (health, symbols, bars, indicators, predictions):
        app.include_router(module.router)
    return app
