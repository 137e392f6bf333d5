"""`marketpulse backfill` and `marketpulse ops ...`: what the Airflow DAGs run, by hand from a shell."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated

import typer

from marketpulse.cli.console import console, say
from marketpulse.cli.options import SymbolList, day_option, instant_option, symbols_option
from marketpulse.cli.settings import settings_of

app = typer.Typer(
    help="Operations the Airflow DAGs run, by hand: stream supervision, data quality, BI export, a DAG test run.",
    no_args_is_help=True,
)


def backfill(
    ctx: typer.Context,
    start: Annotated[date, day_option("First UTC day (YYYY-MM-DD).")],
    end: Annotated[date, day_option("Last UTC day, inclusive.")],
    symbols: Annotated[SymbolList | None, symbols_option("Comma-separated; default every symbol in the lake.")] = None,
) -> None:
    """Replay the raw lake through the stream's transforms into Cassandra and Postgres (idempotent)."""
    from marketpulse.stream.backfill import DayProgress, backfill_symbol, plan

    settings = settings_of(ctx)

    def report(p: DayProgress) -> None:
        say(
            f"{p.symbol} {p.day}: day {p.days_done}/{p.days_total} · {p.ticks:,} ticks -> "
            f"{p.bars_1m:,} 1-min bars, {p.indicators:,} indicator rows"
        )

    jobs = plan(settings, symbols, start, end)
    if not jobs:
        console.print("the lake holds no ticks of those symbols in that range")
    for job in jobs:
        backfill_symbol(settings, job["symbol"], start, end, progress=report)


@app.command("quality")
def quality(
    ctx: typer.Context,
    symbols: Annotated[SymbolList | None, symbols_option("Comma-separated; default every symbol.")] = None,
    start: Annotated[datetime | None, instant_option("Window start, ISO UTC; default derived.")] = None,
    end: Annotated[datetime | None, instant_option("Window end, ISO UTC; default the market clock.")] = None,
) -> None:
    """Run the data-quality checks, store the results in Postgres; exit 1 listing the breaches."""
    from marketpulse.quality.runner import run_checks, store_report

    settings = settings_of(ctx)
    report = run_checks(settings, start=start, end=end, symbols=symbols, progress=say)
    store_report(settings, report)
    for breach in report.breaches:
        console.print(f"[red]BREACH[/red] {breach.check} {breach.subject}: {breach.detail}", highlight=False)
    if report.breaches:
        raise typer.Exit(1)
    console.print(f"{len(report.results)} checks passed")


@app.command("bi-export")
def bi_export(
    ctx: typer.Context,
    full: Annotated[bool, typer.Option(help="Recompute every daily rollup.")] = False,
) -> None:
    """Reporting schema, views, rollups, retention, and the data dictionary (what the bi_export DAG does)."""
    from marketpulse.stores.reporting import _connect, export, write_dictionary

    settings = settings_of(ctx)
    result = export(settings, full=full)
    with _connect(settings) as conn:
        paths = write_dictionary(settings, conn)
    say(json.dumps(result.as_dict(), indent=2))
    console.print(f"data dictionary: {', '.join(paths)}")


@app.command("supervise")
def supervise(
    ctx: typer.Context,
    restart: Annotated[bool, typer.Option(help="Restart dead or stuck jobs (without Airflow's spark-submit).")] = False,
) -> None:
    """Judge every stream job (dead, stuck, idle, healthy, stopped); optionally restart the bad ones."""
    from marketpulse.stream.supervisor import check_streams, restart_job

    settings = settings_of(ctx)
    for verdict in check_streams(settings):
        say(f"{verdict.job}: {verdict.verdict} ({verdict.reason})")
        if restart and verdict.needs_restart:
            restart_job(settings, verdict.job, verdict=verdict.verdict, reason=verdict.reason, report=console.print)


@app.command("dag-test")
def dag_test(
    ctx: typer.Context,
    dag_id: Annotated[str, typer.Argument(help="A DAG id: the name of its file in airflow/dags.")],
    conf: Annotated[str, typer.Option(help="Run conf (params) as JSON.")] = "{}",
) -> None:
    """Run one DAG once with dag.test() in Airflow's venv against this stack; exit 1 unless it succeeds."""
    from marketpulse.orchestration.airflow import run_dag_test

    result = run_dag_test(settings_of(ctx), dag_id, json.loads(conf))
    for task, state in sorted(result.tasks.items()):
        say(f"{task}: {state}")
    console.print(f"{dag_id}: {result.state}")
    if result.state != "success":
        console.print(result.output[-3000:], markup=False, highlight=False)
        raise typer.Exit(1)
