"""`marketpulse backfill` and `marketpulse ops ...`: what the Airflow DAGs run, by hand from a shell."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated

import typer
from rich.console import Console

from marketpulse.config import Settings

console = Console(stderr=True)
ops_app = typer.Typer(
    help="Operations the Airflow DAGs run, by hand: stream supervision, data quality, BI export, a DAG test run.",
    no_args_is_help=True,
)


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings), "the root callback builds Settings"
    return settings


def _symbols(symbols: str | None) -> list[str] | None:
    return [s.strip() for s in symbols.split(",") if s.strip()] if symbols else None


def backfill(
    ctx: typer.Context,
    start: Annotated[str, typer.Option(help="First UTC day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option(help="Last UTC day, inclusive.")],
    symbols: Annotated[str | None, typer.Option(help="Comma-separated; default every symbol in the lake.")] = None,
) -> None:
    """Replay the raw lake through the stream's transforms into Cassandra and Postgres (idempotent)."""
    from marketpulse.stream.backfill import DayProgress, backfill_symbol, plan

    settings = _settings(ctx)

    def progress(p: DayProgress) -> None:
        console.print(
            f"{p.symbol} {p.day}: day {p.days_done}/{p.days_total} · {p.ticks:,} ticks -> "
            f"{p.bars_1m:,} 1-min bars, {p.indicators:,} indicator rows",
            highlight=False,
        )

    jobs = plan(settings, _symbols(symbols), date.fromisoformat(start), date.fromisoformat(end))
    if not jobs:
        console.print("the lake holds no ticks of those symbols in that range")
    for job in jobs:
        backfill_symbol(settings, job["symbol"], date.fromisoformat(start), date.fromisoformat(end), progress=progress)


@ops_app.command("quality")
def quality(
    ctx: typer.Context,
    symbols: Annotated[str | None, typer.Option(help="Comma-separated; default every symbol.")] = None,
    start: Annotated[str | None, typer.Option(help="Window start, ISO UTC; default derived.")] = None,
    end: Annotated[str | None, typer.Option(help="Window end, ISO UTC; default the market clock.")] = None,
) -> None:
    """Run the data-quality checks, store the results in Postgres; exit 1 listing the breaches."""
    from marketpulse.quality.runner import run_checks, store_report

    settings = _settings(ctx)
    report = run_checks(
        settings,
        start=datetime.fromisoformat(start) if start else None,
        end=datetime.fromisoformat(end) if end else None,
        symbols=_symbols(symbols),
        progress=lambda message: console.print(message, highlight=False),
    )
    store_report(settings, report)
    for breach in report.breaches:
        console.print(f"[red]BREACH[/red] {breach.check} {breach.subject}: {breach.detail}", highlight=False)
    if report.breaches:
        raise typer.Exit(1)
    console.print(f"{len(report.results)} checks passed")


@ops_app.command("bi-export")
def bi_export(
    ctx: typer.Context,
    full: Annotated[bool, typer.Option(help="Recompute every daily rollup.")] = False,
) -> None:
    """Reporting schema, views, rollups, retention, and the data dictionary (what the bi_export DAG does)."""
    from marketpulse.stores.reporting import _connect, export, write_dictionary

    settings = _settings(ctx)
    result = export(settings, full=full)
    with _connect(settings) as conn:
        paths = write_dictionary(settings, conn)
    console.print(json.dumps(result.as_dict(), indent=2), highlight=False)
    console.print(f"data dictionary: {', '.join(paths)}")


@ops_app.command("supervise")
def supervise(
    ctx: typer.Context,
    restart: Annotated[bool, typer.Option(help="Restart dead or stuck jobs (without Airflow's spark-submit).")] = False,
) -> None:
    """Judge every stream job (dead, stuck, idle, healthy, stopped); optionally restart the bad ones."""
    from marketpulse.stream.supervisor import check_streams, restart_job

    settings = _settings(ctx)
    for verdict in check_streams(settings):
        console.print(f"{verdict.job}: {verdict.verdict} ({verdict.reason})", highlight=False)
        if restart and verdict.needs_restart:
            restart_job(settings, verdict.job, verdict=verdict.verdict, reason=verdict.reason, report=console.print)


@ops_app.command("dag-test")
def dag_test(
    ctx: typer.Context,
    dag_id: Annotated[str, typer.Argument(help="stream_supervisor, data_quality, bi_export, backfill, retrain_models")],
    conf: Annotated[str, typer.Option(help="Run conf (params) as JSON.")] = "{}",
) -> None:
    """Run one DAG once with dag.test() in Airflow's venv against this stack; exit 1 unless it succeeds."""
    from marketpulse.orchestration.airflow import run_dag_test

    result = run_dag_test(_settings(ctx), dag_id, json.loads(conf))
    for task, state in sorted(result.tasks.items()):
        console.print(f"{task}: {state}", highlight=False)
    console.print(f"{dag_id}: {result.state}")
    if result.state != "success":
        console.print(result.output[-3000:], markup=False, highlight=False)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `backfill` and the `ops` group to the root command."""
    app.command("backfill")(backfill)
    app.add_typer(ops_app, name="ops")
