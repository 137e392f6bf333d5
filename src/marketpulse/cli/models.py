"""`marketpulse models ...` (the model registry) and `marketpulse evaluate` (a walk-forward without promoting)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from marketpulse.cli.console import out
from marketpulse.cli.model_output import progress_bars, serving_table, summary_table
from marketpulse.cli.settings import settings_of
from marketpulse.cli.train import Epochs, ModelSymbols, Seed, with_overrides
from marketpulse.config import Settings

app = typer.Typer(help="The model registry in object storage.", no_args_is_help=True)

ModelName = Annotated[str | None, typer.Option(help="Model name; default models.price_name.")]
#: --data values that read bars the platform holds (the others are shipped or real sets, read offline).
PLATFORM_DATA = ("auto", "replay", "lake")


def evaluate(
    ctx: typer.Context,
    symbols: ModelSymbols = None,
    epochs: Epochs = None,
    seed: Seed = None,
    data: Annotated[
        str,
        typer.Option(
            help="Bars: auto, replay or lake (as models.data_source), daily (the real daily history), or a real "
            "set shipped with the package (models.real_bars.REAL_SETS): eurusd-1h, es-1min, etf-daily."
        ),
    ] = "auto",
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Write the report to this folder instead of the registry (no stack needed)."),
    ] = None,
    folds: Annotated[int | None, typer.Option(help="Walk-forward folds; default models.folds.")] = None,
    test_sessions: Annotated[int | None, typer.Option(help="Sessions (or blocks) per test fold.")] = None,
) -> None:
    """Walk-forward evaluation of every family (baselines, tcn, gbm) and the choice per horizon; report to
    object storage, or with --out to a local folder."""
    from marketpulse.models.pipeline import run_evaluation
    from marketpulse.models.report import horizon_order

    settings = with_overrides(settings_of(ctx), epochs, seed)
    updates: dict[str, Any] = {k: v for k, v in (("folds", folds), ("test_sessions", test_sessions)) if v is not None}
    if data in ("replay", "lake"):
        updates["data_source"] = data
    if updates:
        settings = settings.model_copy(update={"models": settings.models.model_copy(update=updates)})
    if out_dir is None and data in PLATFORM_DATA:
        with progress_bars() as (on_stage, on_epoch):
            run = run_evaluation(settings, symbols=symbols, progress=on_stage, on_epoch=on_epoch)
        metrics, decision = run.evaluation.metrics, run.decision
        where = f"s3://{settings.s3.buckets['models']}/{run.report_prefix}report.html (and report.md)"
    else:
        metrics, decision, where = _evaluate_offline(settings, data, symbols, out_dir or Path("reports") / data)
    for horizon in sorted({h for by_h in metrics.values() for h in by_h}, key=horizon_order):
        out.print(summary_table(metrics, horizon))
    out.print(serving_table(decision))
    out.print(("would PROMOTE: " if decision.promote else "would NOT promote: ") + decision.reason)
    out.print(f"report: {where}")


def _evaluate_offline(
    settings: Settings, data: str, symbols: list[str] | None, folder: Path
) -> tuple[dict[str, Any], Any, str]:
    """A walk-forward over any bar set, written to a local folder; nothing is stored in the registry."""
    from marketpulse.models.data import training_bars
    from marketpulse.models.pipeline import walk_forward
    from marketpulse.models.real_bars import REAL_SETS, real_bars
    from marketpulse.models.report import write_report

    real = REAL_SETS.get(data)
    horizons = real.horizons if real else (("1d", "5d") if data == "daily" else None)
    bars = training_bars(settings, symbols) if data in PLATFORM_DATA else real_bars(data, symbols)
    with progress_bars() as (on_stage, on_epoch):
        run = walk_forward(
            settings,
            bars,
            horizons=horizons,
            block=real.block if real else None,
            progress=on_stage,
            on_epoch=on_epoch,
            title=f"Walk-forward evaluation on {data}",
        )
    return run.evaluation.metrics, run.decision, str(write_report(folder, run.report, run.evaluation.metrics))


@app.command("list")
def models_list(
    ctx: typer.Context, name: Annotated[str | None, typer.Argument(help="Model name; default all.")] = None
) -> None:
    """List models, their versions (kind, training range, held-out log-loss) and which is in production."""
    from marketpulse.models.registry import ModelRegistry

    settings = settings_of(ctx)
    registry = ModelRegistry(settings)
    primary = settings.models.primary_horizon
    for model in [name] if name else registry.names():
        production = registry.production_version(model)
        table = Table(title=f"{model} (production: {production or 'none'})")
        for column in ("version", "kind", "serves", "trained on", "primary log-loss", "production"):
            table.add_column(column)
        for version in registry.versions(model):
            meta = registry.meta(model, version)
            kind = str(meta.get("kind", "-"))
            families = meta.get("families", {})
            family = families.get(primary, kind)
            loss = meta.get("metrics", {}).get(family, {}).get(primary, {})
            table.add_row(
                version,
                kind,
                ", ".join(f"{h}: {f}" for h, f in families.items()) or kind,
                "..".join(str(x) for x in meta.get("train_range", [])),
                f"{loss['log_loss']:.5f}" if isinstance(loss, dict) and "log_loss" in loss else "-",
                "<-" if version == production else "",
            )
        out.print(table)


@app.command("promote")
def models_promote(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version to put in production.")],
    name: ModelName = None,
) -> None:
    """Point `production` at a version; the running market job switches within models.reload_s."""
    from marketpulse.models.registry import ModelRegistry

    settings = settings_of(ctx)
    chosen = name or settings.models.price_name
    ModelRegistry(settings).promote(chosen, version)
    out.print(f"{chosen}: production -> {version}")


@app.command("rollback")
def models_rollback(ctx: typer.Context, name: ModelName = None) -> None:
    """Point `production` back at the version promoted before the current one."""
    from marketpulse.models.registry import ModelRegistry

    settings = settings_of(ctx)
    chosen = name or settings.models.price_name
    version = ModelRegistry(settings).rollback(chosen)
    out.print(f"{chosen}: production rolled back to {version}")
