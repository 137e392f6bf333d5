"""`marketpulse serve api`: uvicorn with `api.workers` processes on one port.

Workers share nothing but Redis and PostgreSQL (rate limits, keys, alert rules), so any number can run. Their
Prometheus metrics are merged through prometheus_client's multiprocess mode: each worker writes its samples
under `<stack run dir>/api-metrics/`, and /metrics (answered by whichever worker) adds them all up.
"""

from __future__ import annotations

import os
import shutil

import uvicorn
from fastapi import FastAPI

from marketpulse.config import Settings

#: prometheus_client reads this variable when it is imported, in each worker.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def serve(settings: Settings) -> None:
    options = {
        "host": settings.stack.host,
        "port": settings.api.port,
        "log_level": "info",
        "access_log": settings.api.access_log,
        "ws_max_size": settings.api.ws_max_message_bytes,
    }
    if settings.api.workers == 1:
        from marketpulse.api.app import create_app

        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
        return
    metrics_dir = settings.stack.run_dir / "api-metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)  # samples of a previous run's workers
    metrics_dir.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(metrics_dir)  # inherited by the workers uvicorn spawns
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=settings.api.workers, **options)  # type: ignore[arg-type]


def worker_app() -> FastAPI:
    """The app of one worker: settings rebuilt from the same environment as the parent's."""
    from marketpulse.api.app import create_app

    return create_app(Settings(), multiprocess_metrics=bool(os.environ.get(MULTIPROC_ENV)))
