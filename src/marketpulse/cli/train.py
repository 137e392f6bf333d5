"""`marketpulse train price|sentiment`: train the price models (walk-forward, the winner per horizon served) and
the sentiment model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from marketpulse.cli.console import console, out
from marketpulse.cli.model_output import progress_bars, serving_table, summary_table
from marketpulse.cli.options import SymbolList, symbols_option
from marketpulse.cli.settings import settings_of
from marketpulse.config import Settings

app = typer.Typer(help="Train models (PyTorch; needs marketpulse\\[ml]).", no_args_is_help=True)

ModelSymbols = Annotated[SymbolList | None, symbols_option("Comma-separated symbols; default models.symbols.")]
Epochs = Annotated[int | None, typer.Option(help="Epochs of the sequence model; default models.epochs.")]
Seed = Annotated[int | None, typer.Option(help="Seed; default models.seed (same seed, same model).")]


def with_overrides(settings: Settings, epochs: int | None, seed: int | None) -> Settings:
    """settings with models.epochs and models.seed replaced where given."""
    updates = {k: v for k, v in (("epochs", epochs), ("seed", seed)) if v is not None}
    return settings.model_copy(update={"models": settings.models.model_copy(update=updates)}) if updates else settings


def train_and_store(settings: Settings, *, force: bool, symbols: list[str] | None) -> str:
    """Walk-forward evaluation of every family; all stored with the per-horizon selection, which is promoted
    unless production does better on the newest held-out fold (or anyway, when forced)."""
    from marketpulse.models.pipeline import run_evaluation, save_candidate
    from marketpulse.models.registry import ModelRegistry

    started = time.monotonic()
    with progress_bars() as (on_stage, on_epoch):
        run = run_evaluation(settings, symbols=symbols, progress=on_stage, on_epoch=on_epoch)
    for horizon in settings.models.horizons:
        out.print(summary_table(run.evaluation.metrics, horizon))
    out.print(serving_table(run.decision))
    version = save_candidate(settings, run)
    name = settings.models.price_name
    out.print(f"{name} {version} stored; report: s3://{settings.s3.buckets['models']}/{run.report_prefix}report.html")
    registry = ModelRegistry(settings)
    if run.decision.promote:
        registry.promote(name, version, reason=run.decision.reason)
        out.print(f"promoted {version} to production: {run.decision.reason}")
    elif force:
        registry.promote(name, version, reason=f"forced although {run.decision.reason}")
        out.print(f"promoted {version} to production because --force was given: {run.decision.reason}")
    else:
        out.print(f"kept production {registry.production_version(name)}: {run.decision.reason}")
    console.print(f"done in {time.monotonic() - started:.0f}s")
    return version


def ensure_price_model(settings: Settings) -> None:
    """The market job scores with the production model: train a first selection if none exists. With no
    production to compare with, the walk-forward winner per horizon (often a baseline) is promoted: no --force."""
    from marketpulse.models.registry import ModelRegistry

    if ModelRegistry(settings).production_version(settings.models.price_name) is None:
        console.print("no production price model yet: training and selecting a first one")
        train_and_store(settings, force=False, symbols=None)


@app.command("sentiment")
def train_sentiment(
    ctx: typer.Context,
    data: Annotated[Path, typer.Option(help="CSV with text,label (e.g. ../shared/data/sentiment/...train.csv).")],
    finetune: Annotated[
        bool,
        typer.Option(
            help="Fine-tune the whole MiniLM encoder and write the int8 ONNX model the stream serves "
            "(default: train the frozen-encoder head, the earlier model)."
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed for the split and the training.")] = 7,
    validation: Annotated[float, typer.Option(help="Share of each label held out for validation.")] = 0.2,
    epochs: Annotated[int, typer.Option(help="--finetune: most epochs (early stopping before).")] = 3,
    dev_fraction: Annotated[
        float,
        typer.Option(help="--finetune: share of the training part for early stopping; 0: the validation split."),
    ] = 0.1,
    max_length: Annotated[int, typer.Option(help="--finetune: word pieces kept per training text.")] = 64,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="File to write; default the one shipped in the package.")
    ] = None,
    threads: Annotated[int, typer.Option(help="Torch threads (1 is fastest on busy shared cores).")] = 1,
    resume: Annotated[
        Path | None,
        typer.Option(help="--finetune: export and report this checkpoint (a finetune-seed*.pt) instead of training."),
    ] = None,
) -> None:
    """Train the sentiment model; report it, the earlier model and the VADER baseline on the validation split."""
    cache_dir = settings_of(ctx).stack.cache_dir / "sentiment"
    if finetune:
        from marketpulse.models.sentiment_finetune import FinetuneConfig, run_finetune

        run_finetune(
            data,
            seed=seed,
            validation=validation,
            out_path=out_path,
            threads=threads,
            config=FinetuneConfig(epochs=epochs, max_length=max_length, dev_fraction=dev_fraction),
            cache_dir=cache_dir,
            resume=resume,
            console=console,
            out=out,
        )
        return
    from marketpulse.models.sentiment_training import run_sentiment_training

    run_sentiment_training(
        data,
        seed=seed,
        validation=validation,
        out_path=out_path,
        threads=threads,
        cache_dir=cache_dir,
        console=console,
        out=out,
    )


@app.command("price")
def train_price(
    ctx: typer.Context,
    symbols: ModelSymbols = None,
    epochs: Epochs = None,
    seed: Seed = None,
    force: Annotated[
        bool, typer.Option(help="Promote the new selection even if production did better on the last fold.")
    ] = False,
) -> None:
    """Walk-forward every family (baselines, tcn, gbm); store them and serve, per horizon, the winner."""
    train_and_store(with_overrides(settings_of(ctx), epochs, seed), force=force, symbols=symbols)
