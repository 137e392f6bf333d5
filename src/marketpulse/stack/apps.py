"""The platform's own processes (ingest, market job, alert engine, API), run and checked like the stack's services."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, ClassVar

from marketpulse.config import Settings
from marketpulse.errors import StackError
from marketpulse.stack.install import Progress
from marketpulse.stack.process import find_process
from marketpulse.stack.services import Service

if TYPE_CHECKING:
    import psutil

    from marketpulse.stream.supervisor import StreamJob

#: bokeh-sampledata's daily history ends here; past it the replay starts over (after `make clean`).
LAST_REPLAY_DAY = date(2013, 3, 1)


class _App(Service):
    """A MarketPulse process started through its own CLI command with the venv's interpreter."""

    cli_args: ClassVar[list[str]]

    def install(self, progress: Progress) -> None:
        return None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "marketpulse", *self.cli_args]

    def env(self) -> dict[str, str]:
        # The child builds its own Settings from the environment (cwd is its folder): pin it to this stack.
        return {
            "MARKETPULSE_STACK__ROOT": str(self.settings.stack.root),
            "MARKETPULSE_STACK__NAME": self.settings.stack.name,
            # glibc's default of 8 malloc arenas per core keeps freed memory of many threads resident (py4j,
            # Kafka clients, the Spark JVMs these processes start); two arenas are enough on a laptop.
            "MALLOC_ARENA_MAX": "2",
        }


class ReplayIngestApp(_App):
    """Replays real daily history (bokeh-sampledata) as intraday ticks into Kafka, paced at 60x market time."""

    name = "ingest"
    first_day = date(2013, 1, 2)

    def command(self) -> list[str]:
        start = self.resume_day()
        return [sys.executable, "-m", "marketpulse", "ingest", "replay", "--speedup", "60", "--start", str(start)]

    def resume_day(self) -> date:
        """The day after the newest tick the stream already holds: replaying older days would only be late."""
        from marketpulse.stores.redis_store import SYMBOLS_KEY, latest_key, redis_client

        client = redis_client(self.settings)
        try:
            stamps = [client.hget(latest_key(symbol), "tick.ts") for symbol in client.smembers(SYMBOLS_KEY)]
        finally:
            client.close()
        seen = [datetime.fromisoformat(stamp).date() for stamp in stamps if stamp]
        if not seen or max(seen) >= LAST_REPLAY_DAY:
            return self.first_day
        return max(seen) + timedelta(days=1)

    def ports(self) -> dict[str, int]:
        return {"metrics": self.settings.ingest.metrics_port}

    def check(self) -> str:
        import httpx

        body = httpx.get(f"http://{self.host}:{self.settings.ingest.metrics_port}/metrics", timeout=2).text
        sent = [line for line in body.splitlines() if line.startswith("marketpulse_ingest_events_in_total{")]
        return f"replay ingest, {sent[0].split()[-1] if sent else 0} ticks in"

    def endpoint(self) -> str:
        return f"http://{self.host}:{self.settings.ingest.metrics_port}/metrics"


#: JVM options of the Spark jobs under `make run` (read by the JVM the job's driver starts). G1 grows a job's heap
#: to most of spark.driver.memory (the least Spark accepts is ~0.45 GiB) whatever the live heap (~0.1-0.25 GiB
#: here); the serial collector starting from 64 MiB grows it only as far as the live heap needs: ~0.2 GiB less RSS
#: per job, with the same tick latency under `make run` (decision 0013). The bench and deployments keep G1.
SPARK_JOB_JVM_OPTIONS = "-XX:+UseSerialGC -Xms64m"


class _StreamJobApp(_App):
    """A Spark streaming job: spark-submit of its entry point under spark/, the same argv and environment whether
    `platform up` or a supervisor restart starts it (`stream.supervisor.launch_job`, under the job's launch lock);
    ready and healthy from the start marker and heartbeat it writes itself (`stream.supervisor.job_readiness`)."""

    #: Spark master of the job under `make run` (None: spark.master).
    master: ClassVar[str | None] = None

    @staticmethod
    def jobs() -> ModuleType:
        """marketpulse.stream.supervisor, which launches, stops and judges the jobs (imported on use: it sits above
        the stack layer)."""
        from marketpulse.stream import supervisor

        return supervisor

    def spec(self) -> StreamJob:
        return self.jobs().stream_job(self.name)  # type: ignore[no-any-return]

    def command(self) -> list[str]:
        """spark-submit of the job's entry point, run by the job's keeper (`marketpulse.stream.keeper`: it starts the
        driver again when it dies), or alone with `stream.keep_driver` off."""
        jobs = self.jobs()
        driver: list[str] = jobs.job_submit_argv(self.settings, self.spec(), master=self.master)
        if not self.settings.stream.keep_driver:
            return driver
        return jobs.keeper_argv(self.name, self.pid_path.with_suffix(".running"), driver)  # type: ignore[no-any-return]

    def env(self) -> dict[str, str]:
        from marketpulse.orchestration.airflow import settings_env

        extra = {"MARKETPULSE_SPARK__MASTER": self.master} if self.master else {}
        # Every setting explicitly (a restart from Airflow rebuilds the same Settings), then what this app adds.
        return {
            **settings_env(self.settings),
            **super().env(),
            **self.jobs().spark_env(),
            "JAVA_TOOL_OPTIONS": SPARK_JOB_JVM_OPTIONS,
            **extra,
        }

    def start(self) -> psutil.Process:
        return self.jobs().launch_job(self.settings, self.name)  # type: ignore[no-any-return]

    def stop(self) -> None:
        """Under the job's launch lock: a supervisor restart never starts a job that `platform down` is stopping."""
        self.jobs().stop_job(self.settings, self.name)

    def readiness(self) -> str:
        """The detail of a ready job; StackError while it starts or when its last batch is stale."""
        proc = find_process(self.pid_path)
        if proc is None:
            raise StackError("not running")
        jobs = self.jobs()
        ready, detail = jobs.job_readiness(self.settings, self.spec(), jobs.driver_started_at(proc))
        if not ready:
            raise StackError(detail)
        return str(detail)


class MarketJobApp(_StreamJobApp):
    """The Spark market job; healthy while its heartbeat in Redis is fresh."""

    name = "market-job"

    def ports(self) -> dict[str, int]:
        return {"metrics": self.settings.stream.metrics_port}

    def check(self) -> str:
        return f"Spark market job, {self.readiness()}"

    def endpoint(self) -> str:
        return self.settings.spark.master


class ApiApp(_App):
    """The REST API; healthy when /healthz answers 200."""

    name = "api"
    cli_args: ClassVar[list[str]] = ["serve", "api"]

    def env(self) -> dict[str, str]:
        # One process under `make run`: one local user, ~35 ticks/s; each extra worker (and the supervisor that
        # several need) holds ~0.1 GiB. Deployments keep api.workers.
        return {**super().env(), "MARKETPULSE_API__WORKERS": "1"}

    def ports(self) -> dict[str, int]:
        return {"http": self.settings.api.port}

    def check(self) -> str:
        import httpx

        response = httpx.get(f"http://{self.host}:{self.settings.api.port}/healthz", timeout=3)
        if response.status_code != 200:
            raise StackError(f"/healthz answered {response.status_code}")
        return "FastAPI, /docs"

    def endpoint(self) -> str:
        return f"http://{self.host}:{self.settings.api.port}"


class AlertsApp(_App):
    """The alert engine (`marketpulse alerts run`): one per platform, so API workers stay stateless."""

    name = "alerts"
    cli_args: ClassVar[list[str]] = ["alerts", "run"]

    def ports(self) -> dict[str, int]:
        return {"metrics": self.settings.api.alerts_metrics_port}

    def check(self) -> str:
        import httpx

        body = httpx.get(self.endpoint(), timeout=3).text
        fired = [line for line in body.splitlines() if line.startswith("marketpulse_alerts_fired_total ")]
        return f"alert engine, {float(fired[0].split()[-1]) if fired else 0:.0f} alerts fired"

    def endpoint(self) -> str:
        return f"http://{self.host}:{self.settings.api.alerts_metrics_port}/metrics"


class DashboardApp(_App):
    """The Dash dashboard; reads through the API with a local read key created on first start."""

    name = "dashboard"
    cli_args: ClassVar[list[str]] = ["serve", "dashboard"]

    def env(self) -> dict[str, str]:
        from marketpulse.auth.keys import local_key

        key = self.settings.dashboard.api_key.get_secret_value() or local_key(self.settings, "dashboard", ["read"])
        return {**super().env(), "MARKETPULSE_DASHBOARD__API_KEY": key}

    def ports(self) -> dict[str, int]:
        return {"http": self.settings.dashboard.port}

    def check(self) -> str:
        import httpx

        response = httpx.get(f"http://{self.host}:{self.settings.dashboard.port}/", timeout=3)
        if response.status_code != 200:
            raise StackError(f"/ answered {response.status_code}")
        return "Dash: market, symbol, scorecard, pipeline health"

    def endpoint(self) -> str:
        return f"http://{self.host}:{self.settings.dashboard.port}"


class SentimentJobApp(_StreamJobApp):
    """The Spark sentiment job; healthy while its heartbeat in Redis is fresh."""

    name = "sentiment-job"
    # Under `make run` texts arrive a few per second: one task thread is plenty (the driver scores them; the job
    # starts no Python workers).
    master = "local[1]"

    def model(self) -> str:
        """The configured model, or the lexicon baseline while the minilm ONNX file is absent (make run works
        on a fresh clone; predictions name the model version they used, so the substitution is visible)."""
        from marketpulse.models.sentiment import DEFAULT_MODEL_PATH

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


class TextReplayApp(ReplayIngestApp):
    """The project's sample posts and headlines for the replay symbols, paced like the tick replay (60x)."""

    name = "text-replay"

    def command(self) -> list[str]:
        start = self.resume_day()
        return [sys.executable, "-m", "marketpulse", "ingest", "text-replay", "--speedup", "60", "--start", str(start)]

    def ports(self) -> dict[str, int]:
        return {}

    def check(self) -> str:
        from marketpulse.stack.process import tail

        lines = [line for line in tail(self.log_path, 20).splitlines() if line.startswith(("text replay", "replaying"))]
        return lines[-1] if lines else "replaying sample texts"

    def endpoint(self) -> str:
        return "Kafka social.posts, news.articles"


class ScorecardApp(_App):
    """Scores every stored prediction once its horizon has passed (PostgreSQL scorecard, /v1/scorecard)."""

    name = "scorecard"
    cli_args: ClassVar[list[str]] = ["scorecard", "update", "--every", "15"]

    def ports(self) -> dict[str, int]:
        return {}

    def check(self) -> str:
        from marketpulse.stack.process import tail

        lines = [line for line in tail(self.log_path, 20).splitlines() if line.startswith("scored")]
        return lines[-1] if lines else "scoring predictions every 15 s"

    def endpoint(self) -> str:
        return "PostgreSQL scorecard_outcome, /v1/scorecard"


def all_apps(settings: Settings) -> list[Service]:
    """The platform's processes, in start order."""
    return [
        MarketJobApp(settings),
        SentimentJobApp(settings),
        ReplayIngestApp(settings),
        TextReplayApp(settings),
        AlertsApp(settings),
        ApiApp(settings),
        DashboardApp(settings),
        ScorecardApp(settings),
    ]
