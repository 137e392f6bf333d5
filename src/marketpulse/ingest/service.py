"""The long-lived ingest service: a source's ticks -> Kafka, clean shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from prometheus_client import start_http_server

from marketpulse.config import Settings
from marketpulse.contracts import Tick, Topics
from marketpulse.errors import ConfigError
from marketpulse.ingest import metrics
from marketpulse.ingest.producer import EventProducer


class StoppableSource(Protocol):
    """What the service needs of a source: ticks, and a way to end them early."""

    def __iter__(self) -> object: ...

    def stop(self) -> None: ...


def stop_on_signals(source: StoppableSource) -> None:
    """SIGTERM/SIGINT end the source's loop; the service then flushes what it accepted and exits 0."""

    def handler(signum: int, _frame: object) -> None:
        source.stop()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def pump(
    ticks: Iterable[Tick],
    producer: EventProducer,
    source_name: str,
    report: Callable[[int, float], None] | None = None,
    report_every_s: float = 5.0,
) -> int:
    """Send every tick; every report_every_s call report(sent, rate). Returns the number sent (after flush)."""
    sent = 0
    started = last_report = time.monotonic()
    for tick in ticks:
        producer.ingest_ticks([tick], source_name)
        sent += 1
        now = time.monotonic()
        if now - last_report >= report_every_s:
            metrics.SOURCE_LAST_EVENT.labels(source_name).set(time.time())
            if report:
                report(sent, sent / (now - started))
            last_report = now
    producer.flush()
    return sent


def pump_wire(pairs: Iterable[tuple[bytes, bytes]], producer: EventProducer, source_name: str) -> int:
    """Fast path for pre-encoded, already valid wire records (the synthetic load generator)."""
    sent = 0
    for key, value in pairs:
        producer.send_wire(Topics.TICKS, key, value)
        sent += 1
    metrics.EVENTS_IN.labels(source_name).inc(sent)
    producer.flush()
    return sent


def serve_metrics(settings: Settings) -> None:
    """Expose /metrics for Prometheus on the ingest metrics port."""
    port = settings.ingest.metrics_port
    try:
        start_http_server(port, addr=settings.stack.host)
    except OSError as exc:
        raise ConfigError(
            f"the ingest /metrics port {port} is taken ({exc.strerror}), probably by another ingest process; "
            "give this one its own with MARKETPULSE_INGEST__METRICS_PORT=<port>"
        ) from exc
