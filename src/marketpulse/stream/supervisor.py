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

One launch path: `platform up` and a restart start the same argv (`job_launch`: spark-submit of the job's
entry point, the way a cluster runs it) under the job's launch lock, and both wait for the same readiness
(`job_readiness`: the start marker and heartbeat the job writes itself, never a log line). A job is only judged
by what its current run wrote: a heartbeat older than its process is another run's, and a job that has not yet
reported its queries running is "starting" (left alone) for `JobHealth.startup_grace_s`. Each job's thresholds
are defined once, in `StreamJob.health`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
import psycopg
from confluent_kafka import Consumer, TopicPartition

from marketpulse.config import Settings
from marketpulse.contracts import Topics
from marketpulse.errors import StackError
from marketpulse.kafka_config import client_config
from marketpulse.stack.process import find_process, start_process, stop_process, tail
from marketpulse.stack.services import SparkService
from marketpulse.stores.redis_store import read_heartbeat, read_started, redis_client, write_started
from marketpulse.stream import keeper
from marketpulse.stream.keeper import report_running

if TYPE_CHECKING:
    from marketpulse.stream.jobs import StreamJobApp

log = logging.getLogger(__name__)

#: The spark-submit entry points (repository folder `spark/`).
SPARK_APPS = Path(__file__).resolve().parents[3] / "spark"
MARKET_JOB = "market-job"
SENTIMENT_JOB = "sentiment-job"


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


@dataclass(frozen=True)
class JobHealth:
    """A job's health thresholds: `platform status`/readiness, the supervisor and the quality check read these."""

    #: `platform status` calls a running job unhealthy when its last micro-batch is older than this.
    stale_after_s: float
    #: The supervisor restarts a job that made no micro-batch for this long while Kafka holds input.
    stuck_after_s: float
    #: A launched job that has not reported its queries running is "starting" (never restarted) this long.
    startup_grace_s: float

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
    #: Seconds without a micro-batch after which `platform status` calls it unhealthy (input is continuous for the
    #: market job; texts arrive minutes apart for the sentiment job).
    stale_after_s: float = 120.0

    def health(self, settings: Settings) -> JobHealth:
        """The one definition of this job's thresholds (the supervisor's come from `airflow.*` settings)."""
        return JobHealth(
            stale_after_s=self.stale_after_s,
            stuck_after_s=settings.airflow.stuck_after_s,
            startup_grace_s=settings.airflow.restart_timeout_s,
        )

    def app(self, settings: Settings) -> StreamJobApp:
        """The platform process (pid file, log, folder, environment) that `platform up` starts for this job."""
        from marketpulse.stream.jobs import MarketJobApp, SentimentJobApp

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
            stale_after_s=300.0,
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
    return batch_offsets(root / "offsets" / str(max(commits)))


def batch_offsets(path: Path) -> dict[str, dict[int, int]]:
    """End offsets {topic: {partition: offset}} one offset-log file of a checkpoint names (after its version and
    metadata lines, one line per source; a source without offsets, such as a rate source, is not a JSON object)."""
    offsets: dict[str, dict[int, int]] = {}
    for line in path.read_text().splitlines()[2:]:
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
    consumer = Consumer(client_config(settings, **{"group.id": "marketpulse-supervisor"}))
    try:
        lag = 0
        for topic in known:
            for partition, offset in committed[topic].items():
                high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
                lag += max(0, high - offset)
        return lag
    finally:
        consumer.close()


def query_health(
    settings: Settings, query: str, topics: tuple[str, ...], started_at: float | None = None
) -> QueryHealth:
    """Heartbeat (written by the job after each micro-batch) and Kafka lag of one query. A heartbeat older than
    `started_at` (the job's process start) was left by another run: it says nothing of this one."""
    client = redis_client(settings)
    try:
        beat = read_heartbeat(client, query)
    finally:
        client.close()
    checkpoint = settings.checkpoint_location(query)
    lag = kafka_lag(settings, checkpoint_offsets(checkpoint), topics)
    running_s = batch_running_s(checkpoint)
    if beat is None or not beat.since(started_at):
        return QueryHealth(query, None, None, None, lag, running_s)
    return QueryHealth(query, beat.batch_id, beat.age_s(), beat.pid, lag, running_s)


def judge(
    pid_alive: bool | None,
    queries: list[QueryHealth],
    stuck_after_s: float,
    started_s_ago: float | None,
    *,
    running: bool = True,
    startup_grace_s: float = 0.0,
) -> tuple[str, str]:
    """(verdict, reason) from the process state and each query's heartbeat age and lag.

    `queries` carry only this run's heartbeats; `running`: the job reported its queries running (start marker of
    this run). A job still in start-up is "starting" for `startup_grace_s`: neither stuck nor restarted."""
    if pid_alive is None:
        return "stopped", "no pid file: not started by this stack, or stopped on purpose"
    if not pid_alive:
        return "dead", "its process is gone"
    if not running:
        if started_s_ago is None or started_s_ago <= startup_grace_s:
            return "starting", f"launched {started_s_ago or 0:.0f}s ago; its queries are not running yet"
        return "stuck", f"launched {started_s_ago:.0f}s ago and its queries never reported running"
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


def started_since(settings: Settings, job: str, since: float) -> bool:
    """The job reported its queries running since `since` (its driver's start; a marker of an older run does not
    count)."""
    client = redis_client(settings)
    try:
        marker = read_started(client, job)
    finally:
        client.close()
    return marker is not None and marker.since(since)


#: The module a job's keeper runs (`python -m`): it starts the job's driver again when it dies.
KEEPER_MODULE = keeper.__name__


def is_keeper(argv: list[str]) -> bool:
    return KEEPER_MODULE in argv


def keeper_argv(job: str, status: Path, driver_argv: list[str]) -> list[str]:
    """The command of a job's keeper, which runs `driver_argv` and writes nothing but its log lines."""
    return [sys.executable, "-m", KEEPER_MODULE, "--job", job, "--status", str(status), "--", *driver_argv]


def driver_started_at(proc: psutil.Process) -> float | None:
    """When the job's current driver started: the newest child of its keeper, or the process itself when it was
    launched without one. None while a keeper waits to start its driver again."""
    try:
        if not is_keeper(proc.cmdline()):
            return float(proc.create_time())
        children = proc.children()
        return max(child.create_time() for child in children) if children else None
    except psutil.Error:
        return None


def check_job(settings: Settings, job: StreamJob) -> StreamVerdict:
    """One job's verdict, from its process and every one of its queries (only what its current run wrote)."""
    app = job.app(settings)
    proc = find_process(app.pid_path)
    pid_alive: bool | None = True if proc is not None else (False if app.pid_path.exists() else None)
    # A keeper between two drivers counts as a driver starting now.
    started_at = (driver_started_at(proc) or time.time()) if proc is not None else None
    queries = [query_health(settings, query, topics, started_at) for query, topics in job.queries]
    started_s_ago = time.time() - started_at if started_at is not None else None
    health = job.health(settings)
    verdict, reason = judge(
        pid_alive,
        queries,
        health.stuck_after_s,
        started_s_ago,
        running=started_at is None or started_since(settings, job.name, started_at),
        startup_grace_s=health.startup_grace_s,
    )
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
    seen = str(verdict.pid) if verdict.pid is not None else "none"
    return {
        "application": str(SPARK_APPS / "restart_stream.py"),
        "application_args": [verdict.job, "--verdict", verdict.verdict, "--reason", verdict.reason, "--pid", seen],
        "name": f"marketpulse-restart-{verdict.job}",
        "driver_memory": "256m",
        "conf": {"spark.pyspark.python": python, "spark.pyspark.driver.python": python},
        "env_vars": spark_env(),
    }


def job_submit_argv(settings: Settings, job: StreamJob, master: str | None = None) -> list[str]:
    """spark-submit argv of a job (spark/<entry>), with the stack's connector jars."""
    jars = SparkService(settings).connector_jars()
    if not jars:
        raise StackError("Spark connector jars are not installed; run `marketpulse stack install spark`")
    python = sys.executable
    return [
        str(spark_submit()),
        "--master",
        master or settings.spark.master,
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
    """Called by a job once its queries run: lets a launcher tell the new process from the old one, tells the job's
    keeper that this driver ran, and records the restart the keeper made (if it made one)."""
    restart = report_running(os.getpid())
    if restart is not None:
        try:
            record_restart(
                settings,
                job,
                "crashed",
                str(restart["reason"]),
                int(restart["old_pid"]),
                os.getpid(),
                float(restart["ready_s"]),
            )
        except Exception as exc:  # PostgreSQL down: the restart happened all the same; the log says so
            log.warning("restart of %s not recorded in PostgreSQL: %s", job, exc)
    client = redis_client(settings)
    try:
        write_started(client, job)
    finally:
        client.close()


# --- launching: one path for `platform up` and the supervisor ----------------------------------------------------


@contextlib.contextmanager
def launch_lock(pid_path: Path) -> Iterator[None]:
    """Held while a job is stopped or started (by `platform up` or a supervisor restart): never both at once."""
    lock_path = pid_path.with_suffix(".launch.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def launch_job(settings: Settings, job: str) -> psutil.Process:
    """Start `job` (spark-submit of its entry point, from its checkpoints) unless a live process already holds its pid
    file; under the job's launch lock. What `platform up` and a supervisor restart both call."""
    app = stream_job(job).app(settings)
    with launch_lock(app.pid_path):
        running = find_process(app.pid_path)
        if running is not None:
            return running
        app.prepare()
        return start_process(app.command(), log_path=app.log_path, pid_path=app.pid_path, cwd=app.home, env=app.env())


def stop_job(settings: Settings, job: str) -> bool:
    """Stop `job` and remove its pid file, under its launch lock (what `platform down` does): a restart that was
    decided meanwhile then finds no pid file, judges the job "stopped" and leaves it so. True if it was running."""
    app = stream_job(job).app(settings)
    with launch_lock(app.pid_path):
        proc = find_process(app.pid_path)
        if proc is not None:
            stop_process(proc, settings.stack.stop_timeout_s)
        app.pid_path.unlink(missing_ok=True)
    return proc is not None


def _family(pid: int) -> set[int]:
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:  # exited: reap it (it is our child) and say so
            proc.wait(timeout=1)
            return set()
        return {pid, *(child.pid for child in proc.children(recursive=True))}
    except psutil.Error:
        return set()


def job_readiness(settings: Settings, job: StreamJob, started_at: float | None) -> tuple[bool, str]:
    """(ready, detail) of a launched job whose driver started at `started_at` (`driver_started_at`; None: its keeper
    is about to start it again), from what it writes itself: its start marker (queries running) and the heartbeat
    of its progress query, both from this driver; with no batch yet, ready once nothing waits in Kafka. A running
    job whose last batch is older than its `stale_after_s` is not ready (unhealthy)."""
    if started_at is None:
        return False, "its keeper is starting the driver again"
    client = redis_client(settings)
    try:
        marker = read_started(client, job.name)
        beat = read_heartbeat(client, job.progress_query)
    finally:
        client.close()
    if marker is None or not marker.since(started_at):
        return False, "starting: its queries are not running yet"
    if beat is not None and beat.since(started_at):
        age = beat.age_s()
        if age > job.health(settings).stale_after_s:
            return False, f"last micro-batch {age:.0f}s ago"
        return True, f"batch {beat.batch_id} {age:.0f}s ago"
    topics = dict(job.queries)[job.progress_query]
    if query_health(settings, job.progress_query, topics, started_at).lag == 0:
        return True, "running, nothing to read yet"
    return False, "running, no micro-batch from this run yet"


def _wait_until_running(
    settings: Settings, job: StreamJob, proc: psutil.Process, log_path: Path, timeout_s: float
) -> float:
    """Seconds until the new job is ready (`job_readiness`); an error with its log when it exits or times out."""
    started = time.monotonic()
    detail = "not probed"
    while time.monotonic() - started < timeout_s:
        if not _family(proc.pid):
            raise StreamRestartError(f"{job.name} exited during its restart; log {log_path}:\n{tail(log_path, 30)}")
        ready, detail = job_readiness(settings, job, driver_started_at(proc))
        if ready:
            return time.monotonic() - started
        time.sleep(1.0)
    raise StreamRestartError(
        f"{job.name} did not run a micro-batch within {timeout_s:.0f}s of its restart ({detail}); "
        f"log {log_path}:\n{tail(log_path, 30)}"
    )


def record_restart(
    settings: Settings, job: str, verdict: str, reason: str, old_pid: int | None, new_pid: int, ready_s: float
) -> None:
    # ops_stream_restart comes from the schema migrations (`marketpulse db migrate`, run by `stack up`).
    with psycopg.connect(settings.postgres_dsn()) as conn:
        conn.execute(
            "INSERT INTO ops_stream_restart (job, verdict, reason, old_pid, new_pid, ready_s) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (job, verdict, reason, old_pid, new_pid, ready_s),
        )
        conn.commit()


#: `restart_job(seen_pid=ANY_PID)`: restart whatever runs (a manual restart), not only the process a verdict saw.
ANY_PID = -1


def restart_job(
    settings: Settings,
    job: str,
    *,
    verdict: str,
    reason: str,
    seen_pid: int | None = ANY_PID,
    report: Callable[[str], None] = log.info,
) -> dict[str, Any]:
    """Stop what is left of `job`, start it again (it resumes from its checkpoints), wait until it runs.

    `seen_pid`: the process the verdict was about (None: none ran). Under the launch lock the job is judged again:
    when another launcher (`platform up`, an earlier restart) has started it since, or it recovered, nothing is
    done and the outcome says `skipped`."""
    spec = stream_job(job)
    app = spec.app(settings)
    with launch_lock(app.pid_path):
        old = find_process(app.pid_path)
        now_pid = old.pid if old is not None else None
        if seen_pid != ANY_PID:
            if now_pid != seen_pid:
                skip = f"{job} was launched by someone else since the verdict (pid {now_pid}, verdict saw {seen_pid})"
                report(f"not restarting: {skip}")
                return {"job": job, "verdict": verdict, "reason": reason, "skipped": skip}
            again = check_job(settings, spec)
            if not again.needs_restart:
                skip = f"{job} is {again.verdict} now ({again.reason})"
                report(f"not restarting: {skip}")
                return {"job": job, "verdict": verdict, "reason": reason, "skipped": skip}
        if old is not None:
            report(f"stopping the {verdict} {job} (pid {old.pid}): {reason}")
            stop_process(old, settings.stack.stop_timeout_s)
        app.pid_path.unlink(missing_ok=True)
        app.prepare()
        proc = start_process(app.command(), log_path=app.log_path, pid_path=app.pid_path, cwd=app.home, env=app.env())
    report(f"submitted {job} again (pid {proc.pid}); waiting for it to run from its checkpoints")
    ready_s = _wait_until_running(settings, spec, proc, app.log_path, settings.airflow.restart_timeout_s)
    record_restart(settings, job, verdict, reason, now_pid, proc.pid, ready_s)
    report(f"{job} is running again after {ready_s:.0f}s (pid {proc.pid})")
    return {"job": job, "verdict": verdict, "reason": reason, "new_pid": proc.pid, "ready_s": ready_s}


def run_submitted_sentiment_job(settings: Settings) -> None:
    """Body of spark/sentiment_job.py: the sentiment job inside spark-submit's driver, until stopped or failed."""
    from marketpulse.stream.sentiment_job import SentimentJobRunner, check_model_available

    check_model_available(settings.sentiment.model)  # before starting Spark: a clear error, fast
    _run_submitted(settings, SENTIMENT_JOB, settings.sentiment.metrics_port, "SENTIMENT", SentimentJobRunner)


def run_submitted_market_job(settings: Settings) -> None:
    """Body of spark/market_job.py: the market job inside spark-submit's driver, until stopped or failed."""
    from marketpulse.stream.market_job import MarketJobRunner

    _run_submitted(settings, MARKET_JOB, settings.stream.metrics_port, "STREAM", MarketJobRunner)


def _run_submitted(settings: Settings, name: str, metrics_port: int, section: str, runner: type[Any]) -> None:
    """Serve the job's /metrics, run it until signalled, and write its start marker whenever its queries run."""
    from marketpulse.stream.runner import run_until_signalled, serve_job_metrics

    serve_job_metrics(settings, metrics_port, f"MARKETPULSE_{section}__METRICS_PORT")
    run_until_signalled(
        settings,
        stream_job(name).spark_name,
        lambda spark: runner(spark, settings, report=_print),
        on_running=lambda: mark_started(settings, name),
    )


def _print(message: str) -> None:
    print(message, flush=True)
