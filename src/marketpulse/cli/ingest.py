"""`marketpulse ingest ...`: market data (replay, live providers, synthetic load) and text (social, news, text
replay) into Kafka. Producers and sources are imported per command: the CLI itself stays light."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from marketpulse.cli.console import console, say
from marketpulse.cli.options import SymbolList, day_option, symbols_option
from marketpulse.cli.settings import settings_of
from marketpulse.errors import ConfigError

app = typer.Typer(help="Ingest market data into Kafka (validated; rejects go to <topic>.dlq).", no_args_is_help=True)

#: The replay history's symbols, in the order the replays generate them.
REPLAY_SYMBOLS = SymbolList(["AAPL", "IBM", "MSFT", "GOOG", "FB"])

FirstDay = Annotated[date | None, day_option("First day (YYYY-MM-DD); history ends 2013-03-01.")]
LastDay = Annotated[date | None, day_option("Last day (YYYY-MM-DD).")]
Speedup = Annotated[float, typer.Option(help="Market time / wall time; 0 = as fast as possible.")]
Fake = Annotated[bool, typer.Option(help="Collect from a local fake serving recorded payloads; no keys needed.")]
Recordings = Annotated[
    Path | None, typer.Option(help="Folder of recordings; default the ones shipped with the package.")
]
Rounds = Annotated[int | None, typer.Option(help="Stop after this many polling rounds (default: until Ctrl-C).")]


@app.command("replay")
def ingest_replay(
    ctx: typer.Context,
    symbols: Annotated[SymbolList | None, symbols_option("Comma-separated: AAPL, IBM, MSFT, GOOG, FB.")] = (
        REPLAY_SYMBOLS
    ),
    start: FirstDay = None,
    end: LastDay = None,
    ticks_per_day: Annotated[int, typer.Option(help="Ticks generated per symbol and day.")] = 2000,
    speedup: Speedup = 0.0,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same ticks.")] = 7,
) -> None:
    """Replay real daily bars (bokeh-sampledata) as intraday ticks (Brownian bridge, U-shaped volume)."""
    from marketpulse.ingest.producer import EventProducer
    from marketpulse.ingest.replay import ReplayProgress, ReplaySource
    from marketpulse.ingest.service import pump, serve_metrics, stop_on_signals

    settings = settings_of(ctx)

    def report(p: ReplayProgress) -> None:
        say(
            f"replay {p.day} · day {p.days_done}/{p.days_total} · {p.ticks_done:,}/{p.ticks_total:,} ticks "
            f"({100 * p.ticks_done / max(p.ticks_total, 1):.1f}%)"
        )

    try:
        source = ReplaySource(
            symbols, start, end, ticks_per_day=ticks_per_day, speedup=speedup, seed=seed, on_progress=report
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    stop_on_signals(source)
    serve_metrics(settings)
    console.print(f"replaying {len(source.days)} days, {source.total_ticks():,} ticks, speedup {speedup or 'max'}")
    sent = pump(source, EventProducer(settings, "marketpulse-replay"), "replay")
    console.print(f"sent {sent:,} ticks{' (stopped early)' if source.stopped else ''}")


@app.command("live")
def ingest_live(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="finnhub or alpaca.")],
    symbols: Annotated[SymbolList | None, symbols_option("Comma-separated; default providers.symbols.")] = None,
    fake: Annotated[bool, typer.Option(help="Stream from a local fake replaying a recording; no keys needed.")] = False,
    recording: Annotated[
        Path | None, typer.Option(help="Default the <provider>.jsonl recording shipped with the package.")
    ] = None,
) -> None:
    """Stream live trades (Finnhub or Alpaca WebSocket) into market.ticks (rejects to the DLQ) until Ctrl-C."""
    import asyncio

    from marketpulse.ingest.producer import EventProducer
    from marketpulse.ingest.providers.base import ProviderHealth
    from marketpulse.ingest.providers.fakes import default_recording
    from marketpulse.ingest.providers.live import run_live
    from marketpulse.ingest.service import serve_metrics

    settings = settings_of(ctx)

    def report(h: ProviderHealth) -> None:
        say(
            f"{h['provider']} {h['state']} · {h['trades']:,} trades · {h['rejected']:,} rejected · "
            f"last message {h['last_message_age_s']}s ago · {h['reconnects']} reconnects"
        )

    if fake and recording is None:
        recording = default_recording(provider)
    serve_metrics(settings)
    producer = EventProducer(settings, f"marketpulse-live-{provider}")
    try:
        health = asyncio.run(
            run_live(
                provider,
                settings.providers,
                producer,
                symbols=symbols,
                fake_recording=recording if fake else None,
                report=report,
            )
        )
    finally:
        producer.flush()
    report(health)


@app.command("synthetic")
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
    sent = pump_wire(source.iter_wire(), EventProducer(settings_of(ctx), "marketpulse-synthetic"), "synthetic")
    elapsed = time.monotonic() - started
    console.print(f"sent {sent:,} ticks in {elapsed:.1f}s ({sent / max(elapsed, 1e-9):,.0f}/s)")


def _collect(ctx: typer.Context, group: str, fake: bool, recordings: Path | None, rounds: int | None) -> None:
    from marketpulse.ingest.social.service import run_collectors

    runners = run_collectors(group, settings_of(ctx), fake=fake, recordings=recordings, rounds=rounds, report=say)
    if not any(runner.accepted or runner.rounds for runner in runners):
        raise typer.Exit(1)


@app.command("social")
def ingest_social(ctx: typer.Context, fake: Fake = False, recordings: Recordings = None, rounds: Rounds = None) -> None:
    """Collect X (recent search) and Reddit posts about social.symbols into social.posts until Ctrl-C."""
    _collect(ctx, "social", fake, recordings, rounds)


@app.command("news")
def ingest_news(ctx: typer.Context, fake: Fake = False, recordings: Recordings = None, rounds: Rounds = None) -> None:
    """Collect NewsAPI articles about social.symbols into news.articles until Ctrl-C (daily quota kept)."""
    _collect(ctx, "news", fake, recordings, rounds)


@app.command("text-replay")
def ingest_text_replay(
    ctx: typer.Context,
    symbols: Annotated[SymbolList | None, symbols_option("Comma-separated replay symbols.")] = REPLAY_SYMBOLS,
    start: FirstDay = None,
    end: LastDay = None,
    texts_per_day: Annotated[int, typer.Option(help="Sample texts per symbol and day.")] = 24,
    speedup: Speedup = 0.0,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same texts.")] = 7,
) -> None:
    """Replay the project's sample posts and headlines for the replay days, in market time, into Kafka."""
    from marketpulse.ingest.producer import EventProducer
    from marketpulse.ingest.service import stop_on_signals
    from marketpulse.ingest.social.replay import TextReplaySource
    from marketpulse.ingest.social.service import KafkaTextSink

    source = TextReplaySource(
        symbols,
        start,
        end,
        texts_per_day=texts_per_day,
        speedup=speedup,
        seed=seed,
        on_day=lambda day, n: say(f"text replay {day} · {n} texts"),
    )
    stop_on_signals(source)
    sink = KafkaTextSink(EventProducer(settings_of(ctx), "marketpulse-text-replay"))
    console.print(f"replaying sample texts for {len(source.days)} days, speedup {speedup or 'max'}")
    for item in source:
        sink(item)
    sink.producer.flush()
    console.print(f"sent {sink.sent:,} texts{' (stopped early)' if source.stopped else ''}")
