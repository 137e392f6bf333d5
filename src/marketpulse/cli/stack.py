"""`marketpulse stack ...`: the local stack's services, run as plain processes."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from marketpulse.cli.console import console, out, print_status_table, progress
from marketpulse.cli.settings import settings_of
from marketpulse.errors import MarketPulseError
from marketpulse.orchestration.layers import full_stack
from marketpulse.stack.install import ensure_opentofu
from marketpulse.stack.process import tail

app = typer.Typer(
    help="The local stack: Kafka, Cassandra, Redis, PostgreSQL, SeaweedFS (S3) and Spark, run as plain processes.",
    no_args_is_help=True,
)

ServiceNames = Annotated[
    list[str] | None,
    typer.Argument(
        help="Services to act on (kafka, cassandra, redis, postgres, seaweedfs, spark, airflow-api, "
        "airflow-scheduler, airflow-dag-processor); default all."
    ),
]


@app.command("install")
def stack_install(ctx: typer.Context, services: ServiceNames = None) -> None:
    """Install every missing program and jar into the stack cache (idempotent); with no services named, also
    OpenTofu, which `platform up` applies terraform/envs/local with (built from the Go module proxy once)."""
    started = time.monotonic()
    settings = settings_of(ctx)
    full_stack(settings, progress).install(services)
    if not services:
        ensure_opentofu(settings.stack.cache_dir, progress)
    console.print(f"installed in {time.monotonic() - started:.1f}s")


@app.command("up")
def stack_up(ctx: typer.Context, services: ServiceNames = None) -> None:
    """Install what is missing, start every service, wait until each answers, print the table."""
    settings = settings_of(ctx)
    started = time.monotonic()
    rows = full_stack(settings, progress).up(services)
    print_status_table(rows, f"MarketPulse stack '{settings.stack.name}' up in {time.monotonic() - started:.1f}s")
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@app.command("down")
def stack_down(ctx: typer.Context, services: ServiceNames = None) -> None:
    """Stop the services this stack started (by pid), and only those."""
    stopped = full_stack(settings_of(ctx), progress).down(services)
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@app.command("status")
def stack_status(ctx: typer.Context, services: ServiceNames = None) -> None:
    """Probe every service with a real request and print the table; exit 1 if any is down."""
    settings = settings_of(ctx)
    rows = full_stack(settings).status(services)
    print_status_table(rows, f"MarketPulse stack '{settings.stack.name}'")
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@app.command("logs")
def stack_logs(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="Service whose log to show.")],
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines from the end.")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
) -> None:
    """Print the end of a service's log (and follow it with -f)."""
    (chosen,) = full_stack(settings_of(ctx)).select([service])
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
