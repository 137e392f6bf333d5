"""The platform's own processes (ingest, market job, API), run and checked like the stack's services."""

from __future__ import annotations

import sys
import time
from typing import ClassVar

from marketpulse.config import Settings
from marketpulse.errors import StackError
from marketpulse.stack.install import Progress
from marketpulse.stack.services import Service


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
        }


class ReplayIngestApp(_App):
    """Replays real daily history (bokeh-sampledata) as intraday ticks into Kafka, paced in real time."""

    name = "ingest"
    cli_args: ClassVar[list[str]] = ["ingest", "replay", "--speedup", "60", "--start", "2013-01-02"]

    def ports(self) -> dict[str, int]:
        return {"metrics": self.settings.ingest.metrics_port}

    def check(self) -> str:
        import httpx

        body = httpx.get(f"http://{self.host}:{self.settings.ingest.metrics_port}/metrics", timeout=2).text
        sent = [line for line in body.splitlines() if line.startswith("marketpulse_ingest_events_in_total{")]
        return f"replay ingest, {sent[0].split()[-1] if sent else 0} ticks in"

    def endpoint(self) -> str:
        return f"http://{self.host}:{self.settings.ingest.metrics_port}/metrics"


class MarketJobApp(_App):
    """The Spark market job (both queries); healthy while its heartbeat in Redis is fresh."""

    name = "market-job"
    cli_args: ClassVar[list[str]] = ["stream", "market"]

    def ports(self) -> dict[str, int]:
        return {"metrics": self.settings.stream.metrics_port}

    def check(self) -> str:
        from marketpulse.stores.redis_store import heartbeat_key, redis_client
        from marketpulse.stream.market_job import FEATURES_QUERY

        client = redis_client(self.settings)
        try:
            beat = client.hgetall(heartbeat_key(FEATURES_QUERY))
        finally:
            client.close()
        if not beat:
            raise StackError("no micro-batch yet")
        age = time.time() - float(beat["at"])
        if age > 120:
            raise StackError(f"last micro-batch {age:.0f}s ago")
        return f"Spark market job, batch {beat['batch_id']} {age:.0f}s ago"

    def endpoint(self) -> str:
        return self.settings.spark.master


class ApiApp(_App):
    """The REST API; healthy when /healthz answers 200."""

    name = "api"
    cli_args: ClassVar[list[str]] = ["serve", "api"]

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


def all_apps(settings: Settings) -> list[Service]:
    """The platform's processes, in start order."""
    return [MarketJobApp(settings), ReplayIngestApp(settings), ApiApp(settings)]
