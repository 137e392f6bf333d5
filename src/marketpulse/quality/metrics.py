"""Operations metrics for Prometheus, read from Postgres at scrape time: data-quality results and stream restarts.

The DAG tasks that produce them are short-lived processes, so they store results and this collector
exports the newest state from any long-running /metrics endpoint (the API registers it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import psycopg
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from marketpulse.config import Settings

log = logging.getLogger(__name__)


class OperationsCollector(Collector):
    """marketpulse_dq_* (newest data-quality run) and marketpulse_stream_restarts_* (supervisor restarts)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def describe(self) -> list[Any]:
        # Nothing up front: registering must not query Postgres (the series exist once results do).
        return []

    def collect(self) -> Iterator[Any]:
        try:
            with psycopg.connect(self.settings.postgres_dsn()) as conn:
                yield from _quality_metrics(conn)
                yield from _restart_metrics(conn)
        except psycopg.Error as exc:
            # A scrape must still answer while Postgres is down; the gap in these series is the signal.
            log.warning("operations metrics unavailable: %s", exc)


def _table_exists(conn: Any, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
    return bool(row and row[0])


def _quality_metrics(conn: Any) -> Iterator[Any]:
    if not _table_exists(conn, "dq_run"):
        return
    run = conn.execute(
        "SELECT run_key, extract(epoch FROM checked_at), breaches FROM dq_run ORDER BY checked_at DESC LIMIT 1"
    ).fetchone()
    if run is None:
        return
    run_key, checked_at, breaches = run
    last = GaugeMetricFamily("marketpulse_dq_last_run_timestamp_seconds", "When the newest data-quality run ended")
    last.add_metric([], float(checked_at))
    total = GaugeMetricFamily("marketpulse_dq_breaches", "Failing checks in the newest data-quality run")
    total.add_metric([], float(breaches))
    ok = GaugeMetricFamily(
        "marketpulse_dq_check_ok",
        "1 when a check passed for a subject in the newest run, 0 on a breach",
        labels=["check", "subject"],
    )
    value = GaugeMetricFamily(
        "marketpulse_dq_check_value",
        "Measured value of a check (gap minutes, sigmas, lag minutes, rate)",
        labels=["check", "subject"],
    )
    rows = conn.execute(
        "SELECT check_name, subject, ok, value FROM dq_result WHERE run_key = %s", (run_key,)
    ).fetchall()
    for check, subject, passed, measured in rows:
        ok.add_metric([check, subject], 1.0 if passed else 0.0)
        if measured is not None:
            value.add_metric([check, subject], float(measured))
    yield from (last, total, ok, value)


def _restart_metrics(conn: Any) -> Iterator[Any]:
    if not _table_exists(conn, "ops_stream_restart"):
        return
    restarts = CounterMetricFamily(
        "marketpulse_stream_restarts",
        "Streams restarted by the supervisor, by job and verdict",
        labels=["job", "verdict"],
    )
    last = GaugeMetricFamily(
        "marketpulse_stream_last_restart_timestamp_seconds", "When the supervisor last restarted a job", labels=["job"]
    )
    newest_by_job: dict[str, float] = {}
    for job, verdict, count, newest in conn.execute(
        "SELECT job, verdict, count(*), extract(epoch FROM max(restarted_at)) FROM ops_stream_restart "
        "GROUP BY job, verdict"
    ).fetchall():
        restarts.add_metric([job, verdict], float(count))
        newest_by_job[job] = max(float(newest), newest_by_job.get(job, 0.0))
    for job, newest in newest_by_job.items():
        last.add_metric([job], newest)
    yield from (restarts, last)
