"""The stream_supervisor DAG, run with dag.test() against the test stack, really restarts a killed market job:
SparkSubmitOperator submits the restart, the job comes back under the stack's pid file from its checkpoint,
processes the ticks that arrived while it was dead, and the restart is recorded and exported as a metric."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from integration.orchestration.test_airflow_stack import airflow_db, airflow_settings  # noqa: F401  (fixtures)
from kafka_helpers import produce
from marketpulse.config import Settings, StreamSettings
from marketpulse.contracts import Tick, Topics
from marketpulse.orchestration.airflow import run_dag_test
from marketpulse.quality.metrics import OperationsCollector
from marketpulse.stack.process import find_process, stop_process, tail
from marketpulse.stores.redis_store import heartbeat_key, redis_client
from marketpulse.stream.jobs import MarketJobApp
from marketpulse.stream.market_job import LIVE_QUERY
from marketpulse.stream.supervisor import MARKET_JOB, QueryHealth, check_market_job, launch_job

pytestmark = pytest.mark.slow

START = datetime(2013, 3, 4, 14, 30, tzinfo=UTC)


def produce_minutes(settings: Settings, symbol: str, first_minute: int, minutes: int, seed: int) -> None:
    """A few ticks per second of event time for `minutes` minutes, into market.ticks."""
    rng = np.random.default_rng(seed)
    count = minutes * 30
    offsets_ms = first_minute * 60_000 + np.sort(rng.choice(minutes * 60_000, size=count, replace=False))
    prices = 40 * np.exp(np.cumsum(rng.normal(0, 0.0005, count)))
    ticks = [
        Tick(
            symbol=symbol,
            ts=datetime.fromtimestamp(START.timestamp() + offset / 1000, tz=UTC),
            price=float(price),
            size=10.0,
            source="test",
            seq=first_minute * 10_000 + seq,
        )
        for seq, (offset, price) in enumerate(zip(offsets_ms, prices, strict=True))
    ]
    produce(settings, Topics.TICKS, [(symbol, tick) for tick in ticks])


def ensure_ticks_topic(settings: Settings) -> None:
    """market.ticks must exist before a job starts at `latest` (other tests may have removed it)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    if Topics.TICKS not in admin.list_topics(timeout=10).topics:
        futures = admin.create_topics([NewTopic(Topics.TICKS, num_partitions=settings.kafka.default_partitions)])
        for future in futures.values():
            try:
                future.result(30)
            except Exception as exc:  # created meanwhile by someone else: fine
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise


def bars_of(settings: Settings, symbol: str) -> int:
    import psycopg

    with psycopg.connect(settings.postgres_dsn()) as conn:
        row = conn.execute("SELECT count(*) FROM fact_bar_1m WHERE symbol = %s", (symbol,)).fetchone()
    return int(row[0]) if row else 0


def wait_for(predicate: object, what: str, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(1)
    raise AssertionError(f"{what} within {timeout_s:.0f}s; job log:\n{tail(log, 40)}")


def _live_query(settings: Settings) -> QueryHealth:
    return next(q for q in check_market_job(settings).queries if q.query == LIVE_QUERY)


def test_supervisor_restarts_a_killed_stream_from_its_checkpoint(
    airflow_db: Settings,  # noqa: F811
    unique: str,
    tmp_path: Path,
) -> None:
    settings = airflow_db.model_copy(
        update={
            "stream": StreamSettings(
                checkpoint_root=str(tmp_path / "ckpt"),
                starting_offsets="latest",
                trigger_interval="1 second",
                metrics_port=54109,
            )
        }
    )
    symbol = f"SV{unique[:6].upper()}"
    app = MarketJobApp(settings)
    ensure_ticks_topic(settings)
    first = launch_job(settings, MARKET_JOB)  # what `platform up` does
    try:
        # Running and caught up: the first ticks become bars.
        wait_for(lambda: _live_query(settings).lag is not None, "no committed batch", 240, app.log_path)
        produce_minutes(settings, symbol, 0, 5, seed=1)
        wait_for(lambda: bars_of(settings, symbol) >= 4, "first bars", 180, app.log_path)

        os.killpg(first.pid, signal.SIGKILL)  # driver and JVM at once, no clean shutdown
        first.wait(timeout=30)
        wait_for(lambda: check_market_job(settings).verdict == "dead", "not judged dead", 30, app.log_path)
        produce_minutes(settings, symbol, 5, 5, seed=2)  # arrives while the job is dead

        run = run_dag_test(settings, "stream_supervisor")

        assert run.state == "success", run.output[-6000:]
        assert run.tasks == {"check_streams": "success", "restart_stream[0]": "success"}
        assert "market-job: dead (its process is gone)" in run.output
        assert "spark-submit" in run.output  # the SparkSubmitOperator's command line, in its task log
        second = find_process(app.pid_path)
        assert second is not None and second.pid != first.pid
        # From the checkpoint: the ticks produced while it was dead become bars too (minute 9 closes at the last).
        wait_for(lambda: bars_of(settings, symbol) >= 9, "bars of the downtime ticks", 180, app.log_path)
        client = redis_client(settings)
        try:
            beat = client.hgetall(heartbeat_key(LIVE_QUERY))
        finally:
            client.close()
        assert int(beat["pid"]) in {second.pid, *(child.pid for child in second.children(recursive=True))}

        import psycopg

        with psycopg.connect(settings.postgres_dsn()) as conn:
            recorded = conn.execute(
                "SELECT verdict, old_pid FROM ops_stream_restart WHERE job = 'market-job' AND new_pid = %s",
                (second.pid,),
            ).fetchall()
        assert recorded == [("dead", None)]
        registry = CollectorRegistry()
        registry.register(OperationsCollector(settings))
        assert (
            'marketpulse_stream_restarts_total{job="market-job",verdict="dead"}' in generate_latest(registry).decode()
        )
        assert bars_of(settings, symbol) == 9  # nothing duplicated: bars are keyed upserts, one per minute
    finally:
        proc = find_process(app.pid_path)
        if proc is not None:
            stop_process(proc, 30)
        app.pid_path.unlink(missing_ok=True)
