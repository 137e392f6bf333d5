"""The `marketpulse` command. Settings are built once here and passed down."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from marketpulse.config import Settings
from marketpulse.deploy.cli import infra_app
from marketpulse.deploy.local_env import LocalEnvironment
from marketpulse.errors import ConfigError, MarketPulseError
from marketpulse.ingest.social.commands import register_text_commands
from marketpulse.migrations.commands import db_app
from marketpulse.models.commands import register as register_model_commands
from marketpulse.models.sentiment_commands import register_sentiment_command
from marketpulse.orchestration.commands import register as register_operations_commands
from marketpulse.orchestration.layers import LayeredStack, full_stack
from marketpulse.stack.manager import ServiceStatus, Stack

# Wide enough for the status table when output goes to a pipe or a CI log.
console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
out = Console(width=None if sys.stdout.isatty() else 160)

app = typer.Typer(
    name="marketpulse",
    help="MarketPulse: real-time stock-market analytics. Settings come from MARKETPULSE_* variables and .env.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
stack_app = typer.Typer(
    help="The local stack: Kafka, Cassandra, Redis, PostgreSQL, SeaweedFS (S3) and Spark, run as plain processes.",
    no_args_is_help=True,
)
app.add_typer(stack_app, name="stack")
ingest_app = typer.Typer(
    help="Ingest market data into Kafka (validated; rejects go to <topic>.dlq).", no_args_is_help=True
)
app.add_typer(ingest_app, name="ingest")
stream_app = typer.Typer(help="Spark Structured Streaming jobs.", no_args_is_help=True)
app.add_typer(stream_app, name="stream")
serve_app = typer.Typer(help="Serve results: the REST + WebSocket API and the Dash dashboard.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")
alerts_app = typer.Typer(help="The alert engine, run as its own service (one per platform).", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
apikeys_app = typer.Typer(help="API keys (stored hashed in PostgreSQL, with scopes).", no_args_is_help=True)
app.add_typer(apikeys_app, name="apikeys")
train_app = typer.Typer(help="Train models (PyTorch; needs marketpulse[ml]).", no_args_is_help=True)
app.add_typer(train_app, name="train")
models_app = typer.Typer(help="The model registry in object storage.", no_args_is_help=True)
app.add_typer(models_app, name="models")
platform_app = typer.Typer(
    help="The whole platform on the local stack: services, replay ingest and the market job.", no_args_is_help=True
)
app.add_typer(platform_app, name="platform")
app.add_typer(infra_app, name="infra")
app.add_typer(db_app, name="db")

ServiceNames = Annotated[
    list[str] | None,
    typer.Argument(
        help="Services to act on (kafka, cassandra, redis, postgres, seaweedfs, spark, airflow-api, "
        "airflow-scheduler, airflow-dag-processor); default all."
    ),
]


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings), "the root callback builds Settings"
    return settings


@app.callback()
def main(ctx: typer.Context) -> None:
    """Build the Settings once for every command."""
    try:
        ctx.obj = Settings()
    except ValidationError as exc:
        console.print(f"[red]Invalid settings[/red] (MARKETPULSE_* variables or .env):\n{escape(str(exc))}")
        raise typer.Exit(2) from exc


def _progress(message: str) -> None:
    console.print(f"[dim]·[/dim] {message}")


def _print_table(rows: list[ServiceStatus], title: str) -> None:
    table = Table(title=title)
    for column in ("service", "endpoint", "ports", "pid", "health", "RSS MiB", "detail"):
        table.add_column(column)
    for row in rows:
        health = "[green]healthy[/green]" if row.healthy else "[red]down[/red]"
        rss = f"{row.rss_mb:.0f}" if row.rss_mb is not None else "-"
        table.add_row(row.name, row.endpoint, row.ports, str(row.pid or "-"), health, rss, row.detail)
    out.print(table)
    total = sum(r.rss_mb or 0 for r in rows)
    out.print(f"resident memory of the stack: {total:.0f} MiB")


@stack_app.command("install")
def stack_install(ctx: typer.Context, services: ServiceNames = None) -> None:
    """Install every missing program and jar into the stack cache (idempotent)."""
    started = time.monotonic()
    full_stack(_settings(ctx), _progress).install(services)
    console.print(f"installed in {time.monotonic() - started:.1f}s")


@stack_app.command("up")
def stack_up(ctx: typer.Context, services: ServiceNames = None) -> None:
    """Install what is missing, start every service, wait until each answers, print the table."""
    settings = _settings(ctx)
    started = time.monotonic()
    rows = full_stack(settings, _progress).up(services)
    _print_table(rows, f"MarketPulse stack '{settings.stack.name}' up in {time.monotonic() - started:.1f}s")
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@stack_app.command("down")
def stack_down(ctx: typer.Context, services: ServiceNames = None) -> None:
    """Stop the services this stack started (by pid), and only those."""
    stopped = full_stack(_settings(ctx), _progress).down(services)
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@stack_app.command("status")
def stack_status(ctx: typer.Context, services: ServiceNames = None) -> None:
    """Probe every service with a real request and print the table; exit 1 if any is down."""
    settings = _settings(ctx)
    rows = full_stack(settings).status(services)
    _print_table(rows, f"MarketPulse stack '{settings.stack.name}'")
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@stack_app.command("logs")
def stack_logs(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="Service whose log to show.")],
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines from the end.")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
) -> None:
    """Print the end of a service's log (and follow it with -f)."""
    from marketpulse.stack.process import tail

    (chosen,) = full_stack(_settings(ctx)).select([service])
    if not chosen.runs_process:
        raise MarketPulseError(f"{service} runs inside the jobs that use it and has no log of its own")
    out.print(tail(chosen.log_path, lines), markup=False, highlight=False)
    if follow:
        with chosen.log_path.open("rb") as handle:
            handle.seek(0, 2)
            while True:
                chunk = handle.read()
                if chunk:
                    sys.stdout.write(chunk.decode("utf-8", errors="replace"))
                    sys.stdout.flush()
                else:
                    time.sleep(0.5)


@ingest_app.command("replay")
def ingest_replay(
    ctx: typer.Context,
    symbols: Annotated[str, typer.Option(help="Comma-separated: AAPL, IBM, MSFT, GOOG, FB.")] = "AAPL,IBM,MSFT,GOOG,FB",
    start: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD); history ends 2013-03-01.")] = None,
    end: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD).")] = None,
    ticks_per_day: Annotated[int, typer.Option(help="Ticks generated per symbol and day.")] = 2000,
    speedup: Annotated[float, typer.Option(help="Market time / wall time; 0 = as fast as possible.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same ticks.")] = 7,
) -> None:
    """Replay real daily bars (bokeh-sampledata) as intraday ticks (Brownian bridge, U-shaped volume)."""
    from datetime import date

    from marketpulse.ingest.producer import EventProducer
    from marketpulse.ingest.replay import ReplayProgress, ReplaySource
    from marketpulse.ingest.service import pump, serve_metrics, stop_on_signals

    settings = _settings(ctx)

    def progress(p: ReplayProgress) -> None:
        console.print(
            f"replay {p.day} · day {p.days_done}/{p.days_total} · {p.ticks_done:,}/{p.ticks_total:,} ticks "
            f"({100 * p.ticks_done / max(p.ticks_total, 1):.1f}%)",
            highlight=False,
        )

    try:
        source = ReplaySource(
            [s.strip() for s in symbols.split(",") if s.strip()],
            date.fromisoformat(start) if start else None,
            date.fromisoformat(end) if end else None,
            ticks_per_day=ticks_per_day,
            speedup=speedup,
            seed=seed,
            on_progress=progress,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    stop_on_signals(source)
    serve_metrics(settings)
    console.print(f"replaying {len(source.days)} days, {source.total_ticks():,} ticks, speedup {speedup or 'max'}")
    sent = pump(source, EventProducer(settings, "marketpulse-replay"), "replay")
    console.print(f"sent {sent:,} ticks{' (stopped early)' if source.stopped else ''}")


@ingest_app.command("live")
def ingest_live(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="finnhub or alpaca.")],
    symbols: Annotated[str | None, typer.Option(help="Comma-separated; default providers.symbols.")] = None,
    fake: Annotated[bool, typer.Option(help="Stream from a local fake replaying a recording; no keys needed.")] = False,
    recording: Annotated[Path | None, typer.Option(help="Default tests/fixtures/providers/<provider>.jsonl.")] = None,
) -> None:
    """Stream live trades (Finnhub or Alpaca WebSocket) into market.ticks (rejects to the DLQ) until Ctrl-C."""
    import asyncio

    from marketpulse.ingest.producer import EventProducer
    from marketpulse.ingest.providers.base import ProviderHealth
    from marketpulse.ingest.providers.live import run_live
    from marketpulse.ingest.service import serve_metrics

    settings = _settings(ctx)

    def report(h: ProviderHealth) -> None:
        console.print(
            f"{h['provider']} {h['state']} · {h['trades']:,} trades · {h['rejected']:,} rejected · "
            f"last message {h['last_message_age_s']}s ago · {h['reconnects']} reconnects",
            highlight=False,
        )

    chosen = [s.strip() for s in symbols.split(",") if s.strip()] if symbols else None
    if fake and recording is None:
        recording = Path("tests/fixtures/providers") / f"{provider}.jsonl"
    serve_metrics(settings)
    producer = EventProducer(settings, f"marketpulse-live-{provider}")
    try:
        health = asyncio.run(
            run_live(
                provider,
                settings.providers,
                producer,
                symbols=chosen,
                fake_recording=recording if fake else None,
                report=report,
            )
        )
    finally:
        producer.flush()
    report(health)


@ingest_app.command("synthetic")
def ingest_synthetic(
    ctx: typer.Context,
    symbols: Annotated[int, typer.Option(help="Number of synthetic symbols (SYN0001...).")] = 100,
    rate: Annotated[float, typer.Option(help="Target ticks/s, open loop; 0 = unthrottled.")] = 10_000,
    count: Annotated[int | None, typer.Option(help="Stop after this many ticks.")] = None,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for prices.")] = 7,
) -> None:
    """Synthetic load: any number of symbols at a target rate (for benchmarks)."""
    from marketpulse.ingest.producer import EventProducer
    from marketpulse.ingest.service import pump_wire, stop_on_signals
    from marketpulse.ingest.synthetic import SyntheticSource

    if count is None and duration is None:
        raise ConfigError("give --count or --duration, or the generator never stops")
    source = SyntheticSource(symbols, rate, seed=seed, count=count, duration_s=duration)
    stop_on_signals(source)
    started = time.monotonic()
    sent = pump_wire(source.iter_wire(), EventProducer(_settings(ctx), "marketpulse-synthetic"), "synthetic")
    elapsed = time.monotonic() - started
    console.print(f"sent {sent:,} ticks in {elapsed:.1f}s ({sent / max(elapsed, 1e-9):,.0f}/s)")


@stream_app.command("market")
def stream_market(
    ctx: typer.Context,
    available_now: Annotated[bool, typer.Option(help="Process what Kafka holds now, then stop.")] = False,
) -> None:
    """Run the market job: ticks -> bars, indicators -> Redis, Cassandra, Postgres, S3 lake (+ DLQ)."""
    from marketpulse.stream.market_job import MarketJobRunner
    from marketpulse.stream.runner import run_until_signalled, serve_job_metrics

    settings = _settings(ctx)
    serve_job_metrics(settings, settings.stream.metrics_port, "MARKETPULSE_STREAM__METRICS_PORT")
    run_until_signalled(
        settings,
        "marketpulse-market",
        lambda spark: MarketJobRunner(spark, settings, available_now=available_now, report=console.print),
    )


@serve_app.command("api")
def serve_api(ctx: typer.Context) -> None:
    """Serve the REST API with api.workers processes on api.port (OpenAPI docs at /docs, Prometheus at /metrics)."""
    from marketpulse.api.serve import serve

    serve(_settings(ctx))


@alerts_app.command("run")
def alerts_run(ctx: typer.Context) -> None:
    """Run the alert engine: evaluates every rule on the live updates, stores and publishes firings, posts webhooks."""
    import asyncio
    import logging

    from marketpulse.alerts.service import run_alert_service

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_alert_service(_settings(ctx)))


@serve_app.command("dashboard")
def serve_dashboard(ctx: typer.Context) -> None:
    """Serve the Dash dashboard; it reads through the API with dashboard.api_key (MARKETPULSE_DASHBOARD__API_KEY)."""
    from marketpulse.dashboard.app import create_dashboard

    settings = _settings(ctx)
    create_dashboard(settings).run(host=settings.stack.host, port=settings.dashboard.port, debug=False)


@apikeys_app.command("create")
def apikeys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who or what uses the key (shown in lists).")],
    scope: Annotated[list[str] | None, typer.Option("--scope", help="read or admin; repeat for both.")] = None,
    rate: Annotated[float | None, typer.Option(help="Requests/s allowed; default api.rate_limit_per_s.")] = None,
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from marketpulse.auth.keys import ApiKeyStore

    store = ApiKeyStore(_settings(ctx))
    try:
        key, plain = store.create(name, scope or ["read"], rate)
    finally:
        store.close()
    console.print(f"created key {key.key_id} ({name}, scopes {', '.join(key.scopes)}); it is shown only now:")
    out.print(plain, markup=False, highlight=False)


@apikeys_app.command("revoke")
def apikeys_revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument(help="Key id (apikeys list).")]) -> None:
    """Revoke a key; running APIs refuse it within api.key_cache_ttl_s seconds."""
    from marketpulse.auth.keys import ApiKeyStore

    store = ApiKeyStore(_settings(ctx))
    try:
        key = store.revoke(key_id)
    finally:
        store.close()
    out.print(f"revoked {key.key_id} ({key.name})")


@apikeys_app.command("list")
def apikeys_list(ctx: typer.Context) -> None:
    """List keys: id, name, scopes, rate limit, created, revoked (never the keys themselves)."""
    from marketpulse.auth.keys import ApiKeyStore

    store = ApiKeyStore(_settings(ctx))
    try:
        keys = store.list()
    finally:
        store.close()
    table = Table(title="API keys")
    for column in ("id", "name", "scopes", "rate/s", "created", "revoked"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key.key_id,
            key.name,
            ",".join(key.scopes),
            f"{key.rate_limit_per_s:g}" if key.rate_limit_per_s else "default",
            key.created_at.isoformat(timespec="seconds"),
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "-",
        )
    out.print(table)


# train sentiment [--finetune]
register_sentiment_command(train_app, _settings, console, out)
# train price, evaluate, models list|promote|rollback, scorecard update, ensemble refit
register_model_commands(app, train_app, models_app, _settings, console, out)
register_operations_commands(app)
# ingest social|news|text-replay, stream sentiment
register_text_commands(ingest_app, stream_app, _settings, console)


def _platform(settings: Settings) -> tuple[LayeredStack, Stack]:
    from marketpulse.stack.apps import all_apps

    return full_stack(settings, _progress), Stack(settings, _progress, services=all_apps(settings))


@platform_app.command("up")
def platform_up(ctx: typer.Context) -> None:
    """Start the stack, the market job and the replay ingest; print where to look."""
    settings = _settings(ctx)
    started = time.monotonic()
    stack, apps = _platform(settings)
    rows = stack.up()
    # Buckets and topics (partitions, retention) come from terraform/envs/local, as in a cloud deployment.
    LocalEnvironment(settings, progress=_progress).apply()
    _ensure_price_model(ctx, settings)
    rows += apps.up()
    _print_table(rows, f"MarketPulse platform '{settings.stack.name}' up in {time.monotonic() - started:.1f}s")
    from marketpulse.auth.keys import local_key

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
        f"(login {settings.airflow.admin_user} / {_airflow_password_hint(settings)}; DAGs: stream_supervisor, "
        "data_quality, bi_export, backfill, retrain_models)\n"
        f"  object store   {settings.s3_endpoint}  (S3 API of SeaweedFS; key {settings.s3.access_key} / "
        "see MARKETPULSE_S3__SECRET_KEY)\n"
        f"  logs           .venv/bin/marketpulse stack logs kafka  (apps: .stack/{settings.stack.name}/<app>/)\n"
        "  stop           make down"
    )


def _airflow_password_hint(settings: Settings) -> str:
    """The local default password is printed; any other one is only named (it is a secret)."""
    password = settings.airflow.admin_password.get_secret_value()
    default = settings.environment == "local" and password == "marketpulse"
    return password if default else "see MARKETPULSE_AIRFLOW__ADMIN_PASSWORD"


def _ensure_price_model(ctx: typer.Context, settings: Settings) -> None:
    """The market job scores with the production model: train a first one on replay history if none exists."""
    from marketpulse.models.commands import ensure_price_model

    ensure_price_model(settings, console, out)


@platform_app.command("down")
def platform_down(ctx: typer.Context) -> None:
    """Stop the platform's processes, then the stack."""
    stack, apps = _platform(_settings(ctx))
    stopped = apps.down() + stack.down()
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@platform_app.command("status")
def platform_status(ctx: typer.Context) -> None:
    """Probe every service and platform process."""
    stack, apps = _platform(_settings(ctx))
    rows = stack.status() + apps.status()
    _print_table(rows, "MarketPulse platform")
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@platform_app.command("memory")
def platform_memory_report(ctx: typer.Context) -> None:
    """Resident memory (RSS, PSS) of every process this checkout's platform started, per role, and the total."""
    from marketpulse.stack.memory import memory_table, platform_memory

    out.print(memory_table(platform_memory(_settings(ctx))))


def run() -> None:
    """Entry point: turn MarketPulse errors into a clear message and exit code 1, not a traceback."""
    try:
        app()
    except MarketPulseError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(1)
