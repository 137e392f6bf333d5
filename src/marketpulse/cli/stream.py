"""`marketpulse stream ...`: the Spark Structured Streaming jobs, each run until a signal."""

from __future__ import annotations

from typing import Annotated

import typer

from marketpulse.cli.console import console
from marketpulse.cli.settings import settings_of

app = typer.Typer(help="Spark Structured Streaming jobs.", no_args_is_help=True)

AvailableNow = Annotated[bool, typer.Option(help="Process what Kafka holds now, then stop.")]


@app.command("market")
def stream_market(ctx: typer.Context, available_now: AvailableNow = False) -> None:
    """Run the market job: ticks -> bars, indicators -> Redis, Cassandra, Postgres, S3 lake (+ DLQ)."""
    from marketpulse.stream.market_job import MarketJobRunner
    from marketpulse.stream.runner import run_until_signalled, serve_job_metrics

    settings = settings_of(ctx)
    serve_job_metrics(settings, settings.stream.metrics_port, "MARKETPULSE_STREAM__METRICS_PORT")
    run_until_signalled(
        settings,
        "marketpulse-market",
        lambda spark: MarketJobRunner(spark, settings, available_now=available_now, report=console.print),
    )


@app.command("sentiment")
def stream_sentiment(ctx: typer.Context, available_now: AvailableNow = False) -> None:
    """Run the sentiment job: posts + articles -> scores and windows -> Cassandra, Postgres, Redis, Kafka."""
    from marketpulse.stream.runner import run_until_signalled, serve_job_metrics
    from marketpulse.stream.sentiment_job import SentimentJobRunner, check_model_available

    settings = settings_of(ctx)
    check_model_available(settings.sentiment.model)  # before starting Spark: a clear error, fast
    serve_job_metrics(settings, settings.sentiment.metrics_port, "MARKETPULSE_SENTIMENT__METRICS_PORT")
    run_until_signalled(
        settings,
        "marketpulse-sentiment",
        lambda spark: SentimentJobRunner(spark, settings, available_now=available_now, report=console.print),
    )


@app.command("repair-checkpoint")
def stream_repair_checkpoint(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="The query whose checkpoint to repair (market-live, sentiment).")],
    apply: Annotated[bool, typer.Option("--apply", help="Do it (without: only say what it would do).")] = False,
) -> None:
    """Roll a damaged checkpoint back to its newest consistent batch (the rest moved to quarantine-<time>/)."""
    from marketpulse.stream.checkpoint import apply_repair, job_checkpoints, plan_repair

    settings = settings_of(ctx)
    [(query, checkpoint, state_dir)] = job_checkpoints(settings, [query])
    plan = plan_repair(query, checkpoint, state_dir)
    console.print(plan.describe())
    if not plan.possible:
        raise typer.Exit(1)
    if apply and plan.moves:
        console.print(f"moved aside into {apply_repair(plan)}; the job resumes after batch {plan.resume_after}")
    elif plan.moves:
        console.print(f"run again with --apply to do it: marketpulse stream repair-checkpoint {query} --apply")
