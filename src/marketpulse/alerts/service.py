"""`marketpulse alerts run`: the alert engine as its own process, with Prometheus metrics on
`api.alerts_metrics_port`; stops cleanly (in-flight webhooks stay `pending` and resume at the next start)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from prometheus_client import start_http_server

from marketpulse.alerts.engine import AlertEngine
from marketpulse.alerts.metrics import AlertMetrics
from marketpulse.alerts.store import AlertStore
from marketpulse.config import Settings

log = logging.getLogger(__name__)


async def run_alert_service(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT."""
    metrics = AlertMetrics()
    store = AlertStore(settings)
    engine = AlertEngine(settings, store, metrics)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await engine.start()
    # /metrics answers (the platform's health check) once the engine listens and holds the rules.
    await engine.ready.wait()
    await engine.reload_once()
    await engine.role_known.wait()  # leader or standby: either is a healthy service
    server, thread = start_http_server(settings.api.alerts_metrics_port, settings.stack.host, metrics.registry)
    log.info("alert engine running; metrics on %s:%d", settings.stack.host, settings.api.alerts_metrics_port)
    try:
        await stop.wait()
    finally:
        await engine.stop()
        await asyncio.to_thread(store.close)
        server.shutdown()
        with contextlib.suppress(RuntimeError):
            thread.join(timeout=5)
    log.info("alert engine stopped")
