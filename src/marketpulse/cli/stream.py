"""`marketpulse stream ...`: the Spark Structured Streaming jobs, each run until a signal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from marketpulse.cli.console import console
from marketpulse.cli.settings import settings_of
from marketpulse.config import Settings

if TYPE_CHECKING:
    from marketpulse.stream.runner import StreamJobRunner

app = typer.Typer(help="Spark Structured Streaming jobs.", no_args_is_help=True)

AvailableNow = Annotated[bool, typer.Option(help="Process what Kafka holds now, then stop.")]


def _run(
    settings: Settings, runner: type[StreamJobRunner], app_name: str, metrics: tuple[int, str], available_now: bool
) -> None:
    """Serve the job's /metrics on (port, the variable that sets it), then run it until SIGTERM/SIGINT."""
    from marketpulse.stream.runner import run_until_signalled, serve_job_metrics

    serve_job_metrics(settings, *metrics)
    run_until_signalled(
        settings, app_name, lambda spark: runner(spark, settings, available_now=available_now, report=console.print)
    )


@app.command("market")
def stream_market(ctx: typer.Context, available_now: AvailableNow = False) -> None:
    """Run the market job: ticks -> bars, indicators -> Redis, Cassandra, Postgres, S3 lake (+ DLQ)."""
    from marketpulse.stream.market_job import MarketJobRunner

    settings = settings_of(ctx)
    metrics = (settings.stream.metrics_port, "MARKETPULSE_STREAM__METRICS_PORT")
    _run(settings, MarketJobRunner, "marketpulse-market", metrics, available_now)


@app.command("sentiment")
def stream_sentiment(ctx: typer.Context, available_now: AvailableNow = False) -> None:
    """Run the sentiment job: posts + articles -> scores and windows -> Cassandra, Postgres, Redis, Kafka."""
    from marketpulse.stream.sentiment_job import SentimentJobRunner, check_model_available

    settings = settings_of(ctx)
    check_model_available(settings.sentiment.model)  # before starting Spark: a clear error, fast
    metrics = (settings.sentiment.metrics_port, "MARKETPULSE_SENTIMENT__METRICS_PORT")
    _run(settings, SentimentJobRunner, "marketpulse-sentiment", metrics, available_now)
