"""Running a streaming job as a long-lived process: restart-on-failure, signals, its /metrics port.

Shared by the market and sentiment jobs so both recover the same way.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from prometheus_client import start_http_server

from marketpulse.config import Settings
from marketpulse.errors import ConfigError
from marketpulse.stream.session import spark_session
from marketpulse.stream.supervisor import stream_jobs

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming.query import StreamingQuery

log = logging.getLogger(__name__)


class Closeable(Protocol):
    def close(self) -> None: ...


class StreamJobRunner(ABC):
    """Runs a job's queries and restarts them from their checkpoints when one fails, up to max_restarts times.

    Why in-process: a query can fail on a transient error (a broker restart beyond the client's retries, a
    store that refuses a write on the live path); restarting from the checkpoint within seconds beats waiting
    for the supervisor's next round. (Spark 4.1.1's Kafka source NPE after a restart, SPARK-55271, which
    first motivated it, is fixed by the 4.1.3 connector.) A failure that repeats still ends the job with its
    error, for the supervisor to see.
    """

    #: How reports name the job ("<job_name> running: ...").
    job_name = "stream job"
    #: Called each time the queries are running (after a start and after each in-process restart): a launched job
    #: writes its start marker here (`supervisor.mark_started`), which launchers wait for; never a log line.
    on_running: Callable[[], None] | None = None

    def __init__(
        self,
        spark: SparkSession,
        settings: Settings,
        *,
        available_now: bool = False,
        report: Callable[[str], None] = log.info,
    ) -> None:
        self.spark = spark
        self.settings = settings
        self.available_now = available_now
        self.report = report
        self.restarts = 0
        self._stopping = False
        self._queries: list[StreamingQuery] = []

    @abstractmethod
    def start_queries(self) -> tuple[list[StreamingQuery], Closeable]:
        """Start the job's queries (from their checkpoints); return them and the sinks to close afterwards."""

    def stop(self) -> None:
        """Stop the running queries (from a signal handler); run() then returns normally."""
        self._stopping = True
        for query in self._queries:
            query.stop()

    def run(self) -> None:
        """Block until the queries finish (availableNow), are stopped, or fail more than max_restarts times."""
        from pyspark.errors import StreamingQueryException

        while True:
            self._queries, sinks = self.start_queries()
            self.report(f"{self.job_name} running: {', '.join(str(q.name) for q in self._queries)}")
            if self.on_running is not None:
                self.on_running()
            try:
                for query in self._queries:
                    query.awaitTermination()
                return
            except StreamingQueryException as exc:
                for query in self._queries:
                    query.stop()
                if self._stopping or self.restarts >= self.settings.stream.max_restarts:
                    raise
                self.restarts += 1
                first_line = str(exc).splitlines()[0][:300]
                self.report(f"a query failed ({first_line}); restart {self.restarts} from the checkpoints")
                time.sleep(min(30.0, 2.0**self.restarts))
            finally:
                sinks.close()


def serve_job_metrics(settings: Settings, port: int, setting: str) -> None:
    """Expose the job's Prometheus metrics; a taken port is a clear error naming the setting that moves it."""

    try:
        start_http_server(port, addr=settings.stack.host)
    except OSError as exc:
        raise ConfigError(f"the /metrics port {port} is taken ({exc.strerror}); set {setting}") from exc


def run_until_signalled(
    settings: Settings,
    app_name: str,
    make_runner: Callable[[SparkSession], StreamJobRunner],
    on_running: Callable[[], None] | None = None,
) -> None:
    """Check the job's checkpoints (a damaged one is a clear error, never a silent reset), start Spark, run the job
    until it ends or SIGTERM/SIGINT stop it, then stop Spark."""

    from marketpulse.stream.checkpoint import verify_job_checkpoints

    for job in stream_jobs().values():
        if job.spark_name == app_name:
            verify_job_checkpoints(settings, dict(job.queries))
    spark = spark_session(settings, app_name)
    spark.sparkContext.setLogLevel("WARN")
    runner = make_runner(spark)
    runner.on_running = on_running
    stoppers: list[threading.Thread] = []

    def stop_from_another_thread(_signum: int, _frame: object) -> None:
        # The handler runs on the main thread, which is blocked inside a py4j call (awaitTermination);
        # calling the JVM from here re-enters that socket. Another thread gets its own py4j connection.
        stopper = threading.Thread(target=runner.stop, name="stop-queries", daemon=True)
        stoppers.append(stopper)
        stopper.start()

    signal.signal(signal.SIGTERM, stop_from_another_thread)
    signal.signal(signal.SIGINT, stop_from_another_thread)
    try:
        runner.run()
    finally:
        for stopper in stoppers:  # every query stopped before the context goes
            stopper.join(timeout=60)
        spark.stop()
