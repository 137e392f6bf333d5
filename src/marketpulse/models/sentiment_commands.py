"""CLI command of the sentiment model: `marketpulse train sentiment [--finetune]`. `marketpulse.cli` registers it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from marketpulse.config import Settings


def register_sentiment_command(
    train_app: typer.Typer, settings_of: Callable[[typer.Context], Settings], console: Console, out: Console
) -> None:
    """Add `train sentiment` to the CLI's `train` group."""

    @train_app.command("sentiment")
    def train_sentiment_cmd(
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
            typer.Option(
                help="--finetune: export and report this checkpoint (a finetune-seed*.pt) instead of training."
            ),
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
