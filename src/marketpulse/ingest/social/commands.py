"""CLI commands of the text pipeline: `ingest social|news|text-replay` and `stream sentiment`.

Registered on the `marketpulse` command's groups by `register_text_commands` (cli.py), so the text
pipeline's options live next to the code they drive.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from marketpulse.config import Settings

# Option types at module level: typer resolves the (string) annotations in this module's namespace.
Fake = Annotated[bool, typer.Option(help="Collect from a local fake serving recorded payloads; no keys needed.")]
Recordings = Annotated[Path | None, typer.Option(help="Folder of recordings; default tests/fixtures/social.")]
Rounds = Annotated[int | None, typer.Option(help="Stop after this many polling rounds (default: until Ctrl-C).")]


def register_text_commands(
    ingest_app: typer.Typer,
    stream_app: typer.Typer,
    settings_of: Callable[[typer.Context], Settings],
    console: Console,
) -> None:
    """Add the text pipeline's commands to the `ingest` and `stream` groups."""

    def collect(ctx: typer.Context, group: str, fake: bool, recordings: Path | None, rounds: int | None) -> None:
        from marketpulse.ingest.social.service import run_collectors

        runners = run_collectors(
            group,
            settings_of(ctx),
            fake=fake,
            recordings=recordings,
            rounds=rounds,
            report=lambda message: console.print(message, highlight=False),
        )
        if not any(runner.accepted or runner.rounds for runner in runners):
            raise typer.Exit(1)

    @ingest_app.command("social")
    def ingest_social(
        ctx: typer.Context, fake: Fake = False, recordings: Recordings = None, rounds: Rounds = None
    ) -> None:
        """Collect X (recent search) and Reddit posts about social.symbols into social.posts until Ctrl-C."""
        collect(ctx, "social", fake, recordings, rounds)

    @ingest_app.command("news")
    def ingest_news(
        ctx: typer.Context, fake: Fake = False, recordings: Recordings = None, rounds: Rounds = None
    ) -> None:
        """Collect NewsAPI articles about social.symbols into news.articles until Ctrl-C (daily quota kept)."""
        collect(ctx, "news", fake, recordings, rounds)

    @ingest_app.command("text-replay")
    def ingest_text_replay(
        ctx: typer.Context,
        symbols: Annotated[str, typer.Option(help="Comma-separated replay symbols.")] = "AAPL,IBM,MSFT,GOOG,FB",
        start: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD); history ends 2013-03-01.")] = None,
        end: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD).")] = None,
        texts_per_day: Annotated[int, typer.Option(help="Sample texts per symbol and day.")] = 24,
        speedup: Annotated[float, typer.Option(help="Market time / wall time; 0 = as fast as possible.")] = 0.0,
        seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same texts.")] = 7,
    ) -> None:
        """Replay the project's sample posts and headlines for the replay days, in market time, into Kafka."""
        import signal
        from datetime import date

        from marketpulse.ingest.producer import EventProducer
        from marketpulse.ingest.social.replay import TextReplaySource
        from marketpulse.ingest.social.service import KafkaTextSink

        source = TextReplaySource(
            [s.strip() for s in symbols.split(",") if s.strip()],
            date.fromisoformat(start) if start else None,
            date.fromisoformat(end) if end else None,
            texts_per_day=texts_per_day,
            speedup=speedup,
            seed=seed,
            on_day=lambda day, n: console.print(f"text replay {day} · {n} texts", highlight=False),
        )
        signal.signal(signal.SIGTERM, lambda _signum, _frame: source.stop())
        signal.signal(signal.SIGINT, lambda _signum, _frame: source.stop())
        sink = KafkaTextSink(EventProducer(settings_of(ctx), "marketpulse-text-replay"))
        console.print(f"replaying sample texts for {len(source.days)} days, speedup {speedup or 'max'}")
        for item in source:
            sink(item)
        sink.producer.flush()
        console.print(f"sent {sink.sent:,} texts{' (stopped early)' if source.stopped else ''}")

    @stream_app.command("sentiment")
    def stream_sentiment(
        ctx: typer.Context,
        available_now: Annotated[bool, typer.Option(help="Process what Kafka holds now, then stop.")] = False,
    ) -> None:
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
