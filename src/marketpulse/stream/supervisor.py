"""Stream supervision: is each streaming job alive and making progress, and restart it from its checkpoint if not.

Called by the `stream_supervisor` DAG every minute. A job is judged from what it writes itself
(per-query heartbeats in Redis: batch id, time, driver pid), from the process the stack started (pid file)
and from its Kafka lag (end offsets minus the offsets of the newest committed batch in its checkpoint):

- dead: its pid file names a process that is gone (killed, crashed, exhausted its in-process restarts);
- stuck: alive, Kafka holds unread input, and no micro-batch for `airflow.stuck_after_s` (a batch still
  running, planned in the checkpoint but not committed, counts as progress up to 3x that);
- idle: alive, no new batch, nothing to read: healthy;
- stopped: no pid file (never started here, or stopped on purpose by `platform down`): left alone.

A restart is a spark-submit (the DAG's SparkSubmitOperator submits `spark/restart_stream.py`, which calls
`restart_job`): the old process group is stopped, the job's entry point (`spark/market_job.py`,
`spark/sentiment_job.py`) is submitted detached under the same pid file, so `platform status/down` keep
owning it, and it resumes from its checkpoints. The restart is recorded in Postgres (`ops_stream_restart`),
which the operations collector exports as metrics.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from marketpulse.config import Settings
from marketpulse.contracts import Topics
from marketpulse.errors import StackError
from marketpulse.stack.process import find_process, start_process, stop_process, tail

log = logging.getLogger(__name__)

#: The spark-submit entry points (repository folder `spark/`).
SPARK_APPS = Path(__file__).resolve().parents[3] / "spark"
MARKET_JOB = "market-job"
SENTIMENT_JOB = "sentiment-job"
STARTED_KEY = "mp:stream:{job}:started"


class StreamRestartError(StackError):
    """A restarted stream did not come back; the message carries the tail of its log."""


@dataclass
class QueryHealth:
    """What one streaming query of a job last reported, and how far behind Kafka it is."""

    query: str
    batch_id: int | None
    age_s: float | None
    pid: int | None
    lag: int | None
    #: Seconds the newest planned but uncommitted micro-batch has been running (None: none running).
    running_s: float | None = None


@dataclass
class StreamVerdict:
    """The supervisor's judgement of one job."""

    job: str
    verdict: str
    reason: str
    pid: int | None
    queries: list[QueryHealth] = field(default_factory=list)

    @property
    def needs_restart(self) -> bool:
        return self.verdict in ("dead", "stuck")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StreamJob:
    """What the supervisor needs to know of one streaming job."""

    name: str
    #: Its queries and the Kafka topics each reads.
    queries: tuple[tuple[str, tuple[str, ...]], ...]
    #: The query whose first batch (or zero lag) shows a restarted job is running again.
    progress_query: str
    #: Its spark-submit entry point under spark/, and the Spark application name.
    entry: str
    spark_name: str

    def app(self, settings: Settings) -> Any:
        """The platform process (pid file, log, folder, environment) that `platform up` starts for this job."""
        from marketpulse.stack.apps import MarketJobApp, SentimentJobApp

        return {MARKET_JOB: MarketJobApp, SENTIMENT_JOB: SentimentJobApp}[self.name](settings)


def stream_jobs() -> dict[str, StreamJob]:
    """Every supervised streaming job by name."""
    from marketpulse.stream.market_job import LIVE_QUERY
    from marketpulse.stream.sentiment_job import SENTIMENT_QUERY

    ticks = (Topics.TICKS,)
    jobs = (
        StreamJob(
            MARKET_JOB,
            ((LIVE_QUERY, ticks),),
            LIVE_QUERY,
            "market_job.py",
            "marketpulse-market",
        ),
        StreamJob(
            SENTIMENT_JOB,
            ((SENTIMENT_QUERY, (Topics.SOCIAL_POSTS, Topics.NEWS_ARTICLES)),),
            SENTIMENT_QUERY,
            "sentiment_job.py",
            "marketpulse-sentiment",
        ),
    )
    return {job.name: job for job in jobs}


def stream_job(name: str) -> StreamJob:
    jobs = stream_jobs()
    if name not in jobs:
        raise StackError(f"unknown stream job {name!r}; known: {', '.join(jobs)}")
    return jobs[name]


def checkpoint_offsets(checkpoint: str) -> dict[str, dict[int, int]] | None:
    """End offsets {topic: {partition: offset}} of the newest committed batch of a local checkpoint."""
    root = Path(checkpoint.removeprefix("file:"))
    if "://" in checkpoint and not checkpoint.startswith("file:"):
        return None  # object-store checkpoints: lag unknown here, the heartbeat age still judges the job
    commits = [int(p.name) for p in (root / "commits").glob("[0-9]*") if p.name.isdigit()]
    if not commits:
        return None
    lines = (root / "offsets" / str(max(commits))).read_text().splitlines()
    offsets: dict[str, dict[int, int]] = {}
    for line in lines[2:]:
        source = json.loads(line)
        if isinstance(source, dict):
            for topic, partitions in source.items():
                offsets[topic] = {int(p): int(o) for p, o in partitions.items()}
    return offsets


def batch_running_s(checkpoint: str) -> float | None:
    """How long the newest planned, not yet committed batch of a local checkpoint has been running."""
    root = Path(checkpoint.removeprefix("file:"))
    if "://" in checkpoint and not checkpoint.startswith("file:"):
        return None
    planned = [int(p.name) for p in (root / "offsets").glob("[0-9]*") if p.name.isdigit()]
    committed = [int(p.name) for p in (root / "commits").glob("[0-9]*") if p.name.isdigit()]
    if not planned or (committed and max(committed) >= max(planned)):
        return None
    return max(0.0, time.time() - (root / "offsets" / str(max(planned))).stat().st_mtime)


def kafka_lag(settings: Settings, committed: dict[str, dict[int, int]] | None, topics: tuple[str, ...]) -> int | None:
    """Messages in the topics beyond the committed offsets (None when the checkpoint says nothing of them)."""
    known = [topic for topic in topics if committed is not None and topic in committed]
    if committed is None or not known:
        return None
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "marketpulse-supervisor"})
    try:
        lag = 0
        for topic in known:
            for partition, offset in committed[topic].items():
                high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
                lag += max(0, high - offset)
        return lag
    finally:
        consumer.close()


def query_health(settings: Settings, query: str, topics: tuple[str, ...]) -> QueryHealth:
    """Heartbeat (written by the job after each micro-batch) and Kafka lag of one query."""
    from marketpulse.stores.redis_store import heartbeat_key, redis_client

    client = redis_client(settings)
    try:
        beat = client.hgetall(heartbeat_key(query))
    finally:
        client.close()
    checkpoint = settings.checkpoint_location(query)
    lag = kafka_lag(settings, checkpoint_offsets(checkpoint), topics)
    running_s = batch_running_s(checkpoint)
    if not beat:
        return QueryHealth(query, None, None, None, lag, running_s)
    return QueryHealth(
        query,
        int(beat["batch_id"]),
        time.time() - float(beat["at"]),
        int(beat["pid"]) if beat.get("pid") else None,
        lag,
        running_s,
    )


def judge(
    pid_alive: bool | None, queries: list[QueryHealth], stuck_after_s: float, started_s_ago: float | None
) -> tuple[str, str]:
    """(verdict, reason) from the process state and each query's heartbeat age and lag."""
    if pid_alive is None:
        return "stopped", "no pid file: not started by this stack, or stopped on purpose"
    if not pid_alive:
        return "dead", "its process is gone"
    for q in queries:
        silent_s = q.age_s if q.age_s is not None else started_s_ago
        if silent_s is None or silent_s <= stuck_after_s:
            continue
        if q.running_s is not None and q.running_s <= 3 * stuck_after_s:
            continue  # a big batch (a backlog after a restart) is progress, unless it runs far too long
        if q.lag is None or q.lag > 0:
            behind = "unknown lag" if q.lag is None else f"{q.lag} messages behind"
            return "stuck", f"{q.query}: no micro-batch for {silent_s:.0f}s, {behind}"
    idle = [q.query for q in queries if q.lag == 0]
    return "healthy", ("idle, nothing to read: " + ", ".join(idle)) if idle else "batches are flowing"


def check_job(settings: Settings, job: StreamJob) -> StreamVerdict:
    """One job's verdict, from its process and every one of its queries."""
    app = job.app(settings)
    proc = find_process(app.pid_path)
    pid_alive: bool | None = True if proc is not None else (False if app.pid_path.exists() else None)
    queries = [query_health(settings, query, topics) for query, topics in job.queries]
    started_s_ago = time.time() - proc.create_time() if proc is not None else None
    verdict, reason = judge(pid_alive, queries, settings.airflow.stuck_after_s, started_s_ago)
    return StreamVerdict(job.name, verdict, reason, proc.pid if proc else None, queries)


def check_market_job(settings: Settings) -> StreamVerdict:
    """The market job's verdict (both of its queries)."""
    return check_job(settings, stream_job(MARKET_JOB))


def check_streams(settings: Settings) -> list[StreamVerdict]:
    """Every supervised job's verdict: the market job and the sentiment job."""
    return [check_job(settings, job) for job in stream_jobs().values()]


def spark_submit() -> Path:
    """spark-submit of the project venv's pyspark (same Spark version as the connector jars)."""
    return Path(sys.executable).parent / "spark-submit"


def spark_env() -> dict[str, str]:
    """SPARK_HOME of the project venv's pyspark: spark-submit otherwise asks whatever python3 is on PATH."""
    import pyspark

    # Inside a spark-submit driver pyspark is imported from pyspark.zip, and SPARK_HOME is already right.
    home = os.environ.get("SPARK_HOME") or str(Path(pyspark.__file__).parent)
    return {"SPARK_HOME": home, "PYSPARK_PYTHON": sys.executable}


def restart_submit_kwargs(settings: Settings, verdict: StreamVerdict) -> dict[str, Any]:
    """SparkSubmitOperator arguments that restart one job (expand_kwargs of the DAG)."""
    python = sys.executable
    return {
        "application": str(SPARK_APPS / "restart_stream.py"),
        "application_args": [verdict.job, "--verdict", verdict.verdict, "--reason", verdict.reason],
        "name": f"marketpulse-restart-{verdict.job}",
        "driver_memory": "256m",
        "conf": {"spark.pyspark.python": python, "spark.pyspark.driver.python": python},
        "env_vars": spark_env(),
    }


def job_submit_argv(settings: Settings, job: StreamJob) -> list[str]:
    """spark-submit argv of a job (spark/<entry>), with the stack's connector jars."""
    from marketpulse.stack.services import SparkService

    jars = SparkService(settings).connector_jars()
    if not jars:
        raise StackError("Spark connector jars are not installed; run `marketpulse stack install spark`")
    python = sys.executable
    return [
        str(spark_submit()),
        "--master",
        settings.spark.master,
        "--name",
        job.spark_name,
        "--driver-memory",
        settings.spark.driver_memory,
        "--jars",
        ",".join(str(jar) for jar in jars),
        "--conf",
        f"spark.pyspark.python={python}",
        "--conf",
        f"spark.pyspark.driver.python={python}",
        str(SPARK_APPS / job.entry),
    ]


def mark_started(settings: Settings, job: str) -> None:
    """Called by a job once its queries run: lets a restart tell the new process from the old one."""
    from marketpulse.stores.redis_store import redis_client

    client = redis_client(settings)
    try:
        client.hset(STARTED_KEY.format(job=job), mapping={"pid": os.getpid(), "at": time.time()})
    finally:
        client.close()


def _family(pid: int) -> set[int]:
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:  # exited: reap it (it is our child) and say so
            proc.wait(timeout=1)
            return set()
        return {pid, *(child.pid for child in proc.children(recursive=True))}
    except psutil.Error:
        return set()


def _wait_until_running(settings: Settings, job: StreamJob, pid: int, log_path: Path, timeout_s: float) -> float:
    """Seconds until the new job reports its queries running (and, with input waiting, a first batch)."""
    from marketpulse.stores.redis_store import heartbeat_key, redis_client

    topics = dict(job.queries)[job.progress_query]

    started = time.monotonic()
    client = redis_client(settings)
    try:
        while time.monotonic() - started < timeout_s:
            family = _family(pid)
            if not family:
                raise StreamRestartError(f"{job.name} exited during its restart; log {log_path}:\n{tail(log_path, 30)}")
            marker = client.hgetall(STARTED_KEY.format(job=job.name))
            if marker and int(marker["pid"]) in family:
                beat = client.hgetall(heartbeat_key(job.progress_query))
                fresh = bool(beat.get("pid")) and int(beat["pid"]) in family
                lag = query_health(settings, job.progress_query, topics).lag
                if fresh or lag == 0:
                    return time.monotonic() - started
            time.sleep(1.0)
    finally:
        client.close()
    raise StreamRestartError(
        f"{job.name} did not run a micro-batch within {timeout_s:.0f}s of its restart; "
        f"log {log_path}:\n{tail(log_path, 30)}"
    )


def record_restart(
    settings: Settings, job: str, verdict: str, reason: str, old_pid: int | None, new_pid: int, ready_s: float
) -> None:
    import psycopg

    # ops_stream_restart comes from the schema migrations (`marketpulse db migrate`, run by `stack up`).
    with psycopg.connect(settings.postgres_dsn()) as conn:
        conn.execute(
            "INSERT INTO ops_stream_restart (job, verdict, reason, old_pid, new_pid, ready_s) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (job, verdict, reason, old_pid, new_pid, ready_s),
        )
        conn.commit()


def restart_job(
    settings: Settings, job: str, *, verdict: str, reason: str, report: Callable[[str], None] = log.info
) -> dict[str, Any]:
    """Stop what is left of `job`, submit it again (it resumes from its checkpoints), wait until it runs."""
    from marketpulse.orchestration.airflow import settings_env

    spec = stream_job(job)
    app = spec.app(settings)
    old = find_process(app.pid_path)
    if old is not None:
        report(f"stopping the {verdict} {job} (pid {old.pid}): {reason}")
        stop_process(old, settings.stack.stop_timeout_s)
    argv = job_submit_argv(settings, spec)
    # app.env(): what `platform up` gives the job beyond Settings (e.g. the sentiment model it runs).
    env = {**settings_env(settings), **app.env(), **spark_env()}
    proc = start_process(argv, log_path=app.log_path, pid_path=app.pid_path, cwd=app.home, env=env)
    report(f"submitted {job} again (pid {proc.pid}); waiting for it to run from its checkpoints")
    ready_s = _wait_until_running(settings, spec, proc.pid, app.log_path, settings.airflow.restart_timeout_s)
    record_restart(settings, job, verdict, reason, old.pid if old else None, proc.pid, ready_s)
    report(f"{job} is running again after {ready_s:.0f}s (pid {proc.pid})")
    return {"job": job, "verdict": verdict, "reason": reason, "new_pid": proc.pid, "ready_s": ready_s}


def run_submitted_sentiment_job(settings: Settings) -> None:
    """Body of spark/sentiment_job.py: the sentiment job inside spark-submit's driver, until stopped or failed."""
    from marketpulse.stream.runner import run_until_signalled, serve_job_metrics
    from marketpulse.stream.sentiment_job import SentimentJobRunner

    def report(message: str) -> None:
        print(message, flush=True)
        if message.startswith(f"{SentimentJobRunner.job_name} running"):
            mark_started(settings, SENTIMENT_JOB)

    serve_job_metrics(settings, settings.sentiment.metrics_port, "MARKETPULSE_SENTIMENT__METRICS_PORT")
    run_until_signalled(
        settings, "marketpulse-sentiment", lambda spark: SentimentJobRunner(spark, settings, report=report)
    )


def run_submitted_market_job(settings: Settings) -> None:
    """Body of spark/market_job.py: the market job inside spark-submit's driver, until stopped or failed."""
    from marketpulse.stream.market_job import MarketJobRunner
    from marketpulse.stream.runner import run_until_signalled, serve_job_metrics

    def report(message: str) -> None:
        print(message, flush=True)
        if message.startswith(f"{MarketJobRunner.job_name} running"):
            mark_started(settings, MARKET_JOB)

    serve_job_metrics(settings, settings.stream.metrics_port, "MARKETPULSE_STREAM__METRICS_PORT")
    run_until_signalled(settings, "marketpulse-market", lambda spark: MarketJobRunner(spark, settings, report=report))
