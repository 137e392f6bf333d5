"""The stream jobs as platform processes: spark-submit of their entry points under spark/, run by their keepers.

`platform up`, `platform status/down` and the stream supervisor all see a job through these classes: its pid file,
log, folder, environment and command; starting and stopping go through the supervisor's launch path (one argv,
under the job's launch lock), readiness through the start marker and heartbeat the job writes itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from marketpulse.config import settings_env
from marketpulse.errors import StackError
from marketpulse.models.sentiment import DEFAULT_MODEL_PATH
from marketpulse.stack.apps import App
from marketpulse.stack.process import find_process
from marketpulse.stream.supervisor import (
    StreamJob,
    driver_started_at,
    job_readiness,
    job_submit_argv,
    keeper_argv,
    launch_job,
    spark_env,
    stop_job,
    stream_job,
)

if TYPE_CHECKING:
    import psutil


#: JVM options of the Spark jobs under `make run` (read by the JVM the job's driver starts). G1 grows a job's heap
#: to most of spark.driver.memory (the least Spark accepts is ~0.45 GiB) whatever the live heap (~0.1-0.25 GiB
#: here); the serial collector starting from 64 MiB grows it only as far as the live heap needs: ~0.2 GiB less RSS
#: per job, with the same tick latency under `make run` (decision 0013). The bench and deployments keep G1.
SPARK_JOB_JVM_OPTIONS = "-XX:+UseSerialGC -Xms64m"


class StreamJobApp(App):
    """A Spark streaming job: spark-submit of its entry point under spark/, the same argv and environment whether
    `platform up` or a supervisor restart starts it (`stream.supervisor.launch_job`, under the job's launch lock);
    ready and healthy from the start marker and heartbeat it writes itself (`stream.supervisor.job_readiness`)."""

    #: Spark master of the job under `make run` (None: spark.master).
    master: ClassVar[str | None] = None

    def spec(self) -> StreamJob:
        return stream_job(self.name)

    def command(self) -> list[str]:
        """spark-submit of the job's entry point, run by the job's keeper (`marketpulse.stream.keeper`: it starts the
        driver again when it dies), or alone with `stream.keep_driver` off."""
        driver = job_submit_argv(self.settings, self.spec(), master=self.master)
        if not self.settings.stream.keep_driver:
            return driver
        return keeper_argv(self.name, self.pid_path.with_suffix(".running"), driver)

    def env(self) -> dict[str, str]:
        extra = {"MARKETPULSE_SPARK__MASTER": self.master} if self.master else {}
        # Every setting explicitly (a restart from Airflow rebuilds the same Settings), then what this app adds.
        return {
            **settings_env(self.settings),
            **super().env(),
            **spark_env(),
            "JAVA_TOOL_OPTIONS": SPARK_JOB_JVM_OPTIONS,
            **extra,
        }

    def start(self) -> psutil.Process:
        return launch_job(self.settings, self.name)

    def stop(self) -> None:
        """Under the job's launch lock: a supervisor restart never starts a job that `platform down` is stopping."""
        stop_job(self.settings, self.name)

    def readiness(self) -> str:
        """The detail of a ready job; StackError while it starts or when its last batch is stale."""
        proc = find_process(self.pid_path)
        if proc is None:
            raise StackError("not running")
        ready, detail = job_readiness(self.settings, self.spec(), driver_started_at(proc))
        if not ready:
            raise StackError(detail)
        return detail


class MarketJobApp(StreamJobApp):
    """The Spark market job; healthy while its heartbeat in Redis is fresh."""

    name = "market-job"

    def ports(self) -> dict[str, int]:
        return {"metrics": self.settings.stream.metrics_port}

    def check(self) -> str:
        return f"Spark market job, {self.readiness()}"

    def endpoint(self) -> str:
        return self.settings.spark.master


class SentimentJobApp(StreamJobApp):
    """The Spark sentiment job; healthy while its heartbeat in Redis is fresh."""

    name = "sentiment-job"
    # Under `make run` texts arrive a few per second: one task thread is plenty (the driver scores them; the job
    # starts no Python workers).
    master = "local[1]"

    def model(self) -> str:
        """The configured model, or the lexicon baseline while the minilm ONNX file is absent (make run works
        on a fresh clone; predictions name the model version they used, so the substitution is visible)."""
        configured = self.settings.sentiment.model
        return "vader" if configured == "minilm" and not DEFAULT_MODEL_PATH.exists() else configured

    def env(self) -> dict[str, str]:
        return {**super().env(), "MARKETPULSE_SENTIMENT__MODEL": self.model()}

    def ports(self) -> dict[str, int]:
        return {"metrics": self.settings.sentiment.metrics_port}

    def check(self) -> str:
        return f"Spark sentiment job ({self.model()}), {self.readiness()}"

    def endpoint(self) -> str:
        return f"http://{self.host}:{self.settings.sentiment.metrics_port}/metrics"
