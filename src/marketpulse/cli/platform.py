"""`marketpulse platform ...`: the whole platform on the local stack (services, jobs, ingest, API, dashboard)."""

from __future__ import annotations

import time

import typer

from marketpulse.auth.keys import local_key
from marketpulse.cli.console import console, out, print_status_table, progress
from marketpulse.cli.settings import settings_of
from marketpulse.cli.train import ensure_price_model
from marketpulse.config import Settings
from marketpulse.deploy.local_env import LocalEnvironment
from marketpulse.orchestration.airflow import dag_ids
from marketpulse.orchestration.layers import LayeredStack, full_stack
from marketpulse.platform.apps import all_apps
from marketpulse.platform.memory import memory_table, platform_memory
from marketpulse.stack.manager import Stack

app = typer.Typer(
    help="The whole platform on the local stack: services, replay ingest and the market job.", no_args_is_help=True
)


def _platform(settings: Settings) -> tuple[LayeredStack, Stack]:
    return full_stack(settings, progress), Stack(settings, progress, services=all_apps(settings))


def _airflow_password_hint(settings: Settings) -> str:
    """The local default password is printed; any other one is only named (it is a secret)."""
    password = settings.airflow.admin_password.get_secret_value()
    default = settings.environment == "local" and password == "marketpulse"
    return password if default else "see MARKETPULSE_AIRFLOW__ADMIN_PASSWORD"


@app.command("up")
def platform_up(ctx: typer.Context) -> None:
    """Start the stack, the market job and the replay ingest; print where to look."""
    settings = settings_of(ctx)
    started = time.monotonic()
    stack, apps = _platform(settings)
    rows = stack.up()
    # Buckets and topics (partitions, retention) come from terraform/envs/local, as in a cloud deployment.
    LocalEnvironment(settings, progress=progress).apply()
    # The market job scores with the production model: a first one is trained on replay history if none exists.
    ensure_price_model(settings)
    rows += apps.up()
    print_status_table(rows, f"MarketPulse platform '{settings.stack.name}' up in {time.monotonic() - started:.1f}s")
    key_file = settings.stack.run_dir / "keys" / "local.key"
    local_key(settings, "local", ["read"])
    out.print(
        "\nWhere to look:\n"
        f"  API            http://{settings.stack.host}:{settings.api.port}/docs  "
        f"(e.g. /v1/symbols, /v1/symbols/AAPL/latest, /v1/symbols/AAPL/bars?interval=1min&start=2013-01-02, "
        "/v1/symbols/AAPL/sentiment, /v1/scorecard)\n"
        f'  API key        curl -H "X-API-Key: $(cat {key_file})" {settings.api_base_url}/v1/symbols  '
        "(more: marketpulse apikeys create NAME)\n"
        f"  dashboard      http://{settings.stack.host}:{settings.dashboard.port}  "
        f"(live WebSocket: ws://{settings.stack.host}:{settings.api.port}/v1/ws)\n"
        f"  latest state   redis-cli -p {settings.redis.port} HGETALL mp:latest:AAPL\n"
        f"  metrics        http://{settings.stack.host}:{settings.ingest.metrics_port}/metrics (ingest), "
        f"http://{settings.stack.host}:{settings.stream.metrics_port}/metrics (market job), "
        f"http://{settings.stack.host}:{settings.api.port}/metrics (API)\n"
        f"  Airflow UI     http://{settings.stack.host}:{settings.airflow.port}  "
        f"(login {settings.airflow.admin_user} / {_airflow_password_hint(settings)}; DAGs: "
        f"{', '.join(dag_ids(settings.airflow.dags_folder))})\n"
        f"  object store   {settings.s3_endpoint}  (S3 API of SeaweedFS; key {settings.s3.access_key} / "
        "see MARKETPULSE_S3__SECRET_KEY)\n"
        f"  logs           .venv/bin/marketpulse stack logs kafka  (apps: .stack/{settings.stack.name}/<app>/)\n"
        "  stop           make down"
    )


@app.command("down")
def platform_down(ctx: typer.Context) -> None:
    """Stop the platform's processes, then the stack."""
    stack, apps = _platform(settings_of(ctx))
    stopped = apps.down() + stack.down()
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@app.command("status")
def platform_status(ctx: typer.Context) -> None:
    """Probe every service and platform process."""
    stack, apps = _platform(settings_of(ctx))
    rows = stack.status() + apps.status()
    print_status_table(rows, "MarketPulse platform")
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@app.command("memory")
def platform_memory_report(ctx: typer.Context) -> None:
    """Resident memory (RSS, PSS) of every process this checkout's platform started, per role, and the total."""
    out.print(memory_table(platform_memory(settings_of(ctx))))
