"""Operations: liveness of the stores the API reads, and Prometheus metrics."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from marketpulse.api.deps import ResourcesDep
from marketpulse.api.schemas import DependencyHealth, Health

router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_S = 2.0


def _check(probe: Callable[[], object]) -> DependencyHealth:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:
        return DependencyHealth(status="down", error=f"{type(exc).__name__}: {exc}"[:300])
    return DependencyHealth(status="up", latency_ms=round((time.perf_counter() - started) * 1000, 2))


@router.get(
    "/healthz",
    response_model=Health,
    response_model_exclude_none=True,
    summary="Health of the API and the stores it reads",
    responses={503: {"model": Health, "description": "A store is down"}},
)
def healthz(resources: ResourcesDep, response: Response) -> Health:
    dependencies = {
        "redis": _check(resources.redis.ping),
        "cassandra": _check(lambda: resources.history.ping(CHECK_TIMEOUT_S)),
    }
    healthy = all(dep.status == "up" for dep in dependencies.values())
    if not healthy:
        response.status_code = 503
    return Health(status="ok" if healthy else "degraded", dependencies=dependencies)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(resources: ResourcesDep) -> Response:
    return Response(generate_latest(resources.metrics.exposition), media_type=CONTENT_TYPE_LATEST)
