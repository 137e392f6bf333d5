"""The platform's processes under the local stack: what `platform up` starts (in order), `platform status` probes and
`platform down` stops: ingest replays, the stream jobs (`marketpulse.stream.jobs`), the alert engine, the API, the
dashboard and the scorecard. This package sits above stack, stream and orchestration."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from typing import ClassVar

import httpx

from marketpulse.auth.keys import local_key
from marketpulse.config import Settings
from marketpulse.errors import StackError
from marketpulse.stack.apps import App
from marketpulse.stack.process import tail
from marketpulse.stack.services import Service
from marketpulse.stores.redis_store import SYMBOLS_KEY, latest_key, redis_client
from marketpulse.stream.jobs import MarketJobApp, SentimentJobApp

#: bokeh-sampledata's daily history ends here; past it the replay starts over (after `make clean`).
LAST_REPLAY_DAY = date(2013, 3, 1)


class ReplayIngestApp(App):
    """Replays real daily history (bokeh-sampledata) as intraday ticks into Kafka, paced at 60x market time."""

    name = "ingest"
    first_day = date(2013, 1, 2)

    def command(self) -> list[str]:
        start = self.resume_day()
        return [sys.executable, "-m", "marketpulse", "ingest", "replay", "--speedup", "60", "--start", str(start)]

    def resume_day(self) -> date:
        """The day after the newest tick the stream already holds: replaying older days would only be late."""
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
        body = httpx.get(f"http://{self.host}:{self.settings.ingest.metrics_port}/metrics", timeout=2).text
        sent = [line for line in body.splitlines() if line.startswith("marketpulse_ingest_events_in_total{")]
        return f"replay ingest, {sent[0].split()[-1] if sent else 0} ticks in"

    def endpoint(self) -> str:
        return f"http://{self.host}:{self.settings.ingest.metrics_port}/metrics"


class ApiApp(App):
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
        response = httpx.get(f"http://{self.host}:{self.settings.api.port}/healthz", timeout=3)
        if response.status_code != 200:
            raise StackError(f"/healthz answered {response.status_code}")
        return "FastAPI, /docs"

    def endpoint(self) -> str:
        return f"http://{self.host}:{self.settings.api.port}"


class AlertsApp(App):
    """The alert engine (`marketpulse alerts run`): one per platform, so API workers stay stateless."""

    name = "alerts"
    cli_args: ClassVar[list[str]] = ["alerts", "run"]

    def ports(self) -> dict[str, int]:
        return {"metrics": self.settings.api.alerts_metrics_port}

    def check(self) -> str:
        body = httpx.get(self.endpoint(), timeout=3).text
        fired = [line for line in body.splitlines() if line.startswith("marketpulse_alerts_fired_total ")]
        return f"alert engine, {float(fired[0].split()[-1]) if fired else 0:.0f} alerts fired"

    def endpoint(self) -> str:
        return f"http://{self.host}:{self.settings.api.alerts_metrics_port}/metrics"


class DashboardApp(App):
    """The Dash dashboard; reads through the API with a local read key created on first start."""

    name = "dashboard"
    cli_args: ClassVar[list[str]] = ["serve", "dashboard"]

    def env(self) -> dict[str, str]:
        key = self.settings.dashboard.api_key.get_secret_value() or local_key(self.settings, "dashboard", ["read"])
        return {**super().env(), "MARKETPULSE_DASHBOARD__API_KEY": key}

    def ports(self) -> dict[str, int]:
        return {"http": self.settings.dashboard.port}

    def check(self) -> str:
        response = httpx.get(f"http://{self.host}:{self.settings.dashboard.port}/", timeout=3)
        if response.status_code != 200:
            raise StackError(f"/ answered {response.status_code}")
        return "Dash: market, symbol, scorecard, pipeline health"

    def endpoint(self) -> str:
        return f"http://{self.host}:{self.settings.dashboard.port}"


class TextReplayApp(ReplayIngestApp):
    """The project's sample posts and headlines for the replay symbols, paced like the tick replay (60x)."""

    name = "text-replay"

    def command(self) -> list[str]:
        start = self.resume_day()
        return [sys.executable, "-m", "marketpulse", "ingest", "text-replay", "--speedup", "60", "--start", str(start)]

    def ports(self) -> dict[str, int]:
        return {}

    def check(self) -> str:
        lines = [line for line in tail(self.log_path, 20).splitlines() if line.startswith(("text replay", "replaying"))]
        return lines[-1] if lines else "replaying sample texts"

    def endpoint(self) -> str:
        return "Kafka social.posts, news.articles"


class ScorecardApp(App):
    """Scores every stored prediction once its horizon has passed (PostgreSQL scorecard, /v1/scorecard)."""

    name = "scorecard"
    cli_args: ClassVar[list[str]] = ["scorecard", "update", "--every", "15"]

    def ports(self) -> dict[str, int]:
        return {}

    def check(self) -> str:
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
