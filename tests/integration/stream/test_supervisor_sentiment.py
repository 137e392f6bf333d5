"""The stream supervisor restarts the sentiment job too: spark-submit of spark/sentiment_job.py, from its checkpoint.

The DAG path (SparkSubmitOperator → spark/restart_stream.py → restart_job) is exercised for the market job in
test_airflow_supervisor; this test calls restart_job for the sentiment job directly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from kafka_helpers import produce
from marketpulse.config import Settings, StreamSettings
from marketpulse.contracts import Topics
from marketpulse.contracts.text import SocialPost
from marketpulse.sections.text import SentimentSettings
from marketpulse.stack.manager import Stack
from marketpulse.stack.process import find_process, stop_process
from marketpulse.stores.redis_store import heartbeat_key, redis_client
from marketpulse.stream.sentiment_job import SENTIMENT_QUERY
from marketpulse.stream.supervisor import SENTIMENT_JOB, check_job, restart_job, stream_job

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _posts(unique: str, count: int) -> list[SocialPost]:
    published = datetime(2013, 1, 2, 15, 0, tzinfo=UTC)
    return [
        SocialPost(
            source="reddit",
            id=f"reddit:{unique}-{k}",
            author=f"a{k}",
            url=f"https://example.invalid/{unique}/{k}",
            text=f"$IBM beats estimates and raises guidance ({unique} {k})",
            published_at=published + timedelta(minutes=k),
            ingested_at=published + timedelta(minutes=k, seconds=30),
            symbols=["IBM"],
        )
        for k in range(count)
    ]


def test_supervisor_restarts_the_sentiment_job(settings: Settings, stack: Stack, unique: str, tmp_path: Path) -> None:
    settings = settings.model_copy(
        update={
            "stream": StreamSettings(checkpoint_root=str(tmp_path / "ckpt"), starting_offsets="earliest"),
            # The lexicon model: no weights to load in the Spark workers, so the restart is quick.
            "sentiment": SentimentSettings(model="vader", metrics_port=settings.sentiment.metrics_port),
        }
    )
    job = stream_job(SENTIMENT_JOB)
    app = job.app(settings)
    assert check_job(settings, job).verdict == "stopped"  # never started here: left alone
    # The input waits (read from the earliest offset): "running again" = a batch ran.
    produce(settings, Topics.SOCIAL_POSTS, [(b"IBM", post) for post in _posts(unique, 3)])
    try:
        outcome = restart_job(settings, SENTIMENT_JOB, verdict="manual", reason=f"test {unique}")

        proc = find_process(app.pid_path)
        assert proc is not None and proc.pid == outcome["new_pid"]
        family = {proc.pid, *(child.pid for child in proc.children(recursive=True))}
        client = redis_client(settings)
        try:
            beat = client.hgetall(heartbeat_key(SENTIMENT_QUERY))
        finally:
            client.close()
        assert int(beat["pid"]) in family  # the heartbeat is the new driver's
        verdict = check_job(settings, job)
        assert verdict.verdict == "healthy", verdict
        assert verdict.pid == proc.pid
        with psycopg.connect(settings.postgres_dsn()) as conn:
            recorded = conn.execute(
                "SELECT verdict, reason FROM ops_stream_restart WHERE job = %s AND new_pid = %s",
                (SENTIMENT_JOB, proc.pid),
            ).fetchall()
        assert recorded == [("manual", f"test {unique}")]
    finally:
        running = find_process(app.pid_path)
        if running is not None:
            stop_process(running, 30)
        app.pid_path.unlink(missing_ok=True)
