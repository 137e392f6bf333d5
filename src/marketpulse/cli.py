"""The `marketpulse` command. Settings are built once here and passed down."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from marketpulse.config import Settings
from marketpulse.errors import MarketPulseError
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
    help="The local stack: Kafka, Cassandra, Redis, PostgreSQL, MinIO (S3) and Spark, run as plain processes.",
    no_args_is_help=True,
)
app.add_typer(stack_app, name="stack")

ServiceNames = Annotated[
    list[str] | None,
    typer.Argument(help="Services to act on (kafka, cassandra, redis, postgres, minio, spark); default all."),
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
    Stack(_settings(ctx), _progress).install(services)
    console.print(f"installed in {time.monotonic() - started:.1f}s")


@stack_app.command("up")
def stack_up(ctx: typer.Context, services: ServiceNames = None) -> None:
    """Install what is missing, start every service, wait until each answers, print the table."""
    settings = _settings(ctx)
    started = time.monotonic()
    rows = Stack(settings, _progress).up(services)
    _print_table(rows, f"MarketPulse stack '{settings.stack.name}' up in {time.monotonic() - started:.1f}s")
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@stack_app.command("down")
def stack_down(ctx: typer.Context, services: ServiceNames = None) -> None:
    """Stop the services this stack started (by pid), and only those."""
    stopped = Stack(_settings(ctx), _progress).down(services)
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@stack_app.command("status")
def stack_status(ctx: typer.Context, services: ServiceNames = None) -> None:
    """Probe every service with a real request and print the table; exit 1 if any is down."""
    settings = _settings(ctx)
    rows = Stack(settings).status(services)
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

    (chosen,) = Stack(_settings(ctx)).select([service])
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


def run() -> None:
    """Entry point: turn MarketPulse errors into a clear message and exit code 1, not a traceback."""
    try:
        app()
    except MarketPulseError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(1)
