"""CLI commands of the price models: `train price`, `evaluate`, `models list|promote|rollback`, `scorecard update`,
`ensemble refit`. `marketpulse.cli` registers them; they show rich progress bars for long steps."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from marketpulse.config import Settings

SettingsOf = Callable[[typer.Context], Settings]
SymbolsOption = Annotated[str | None, typer.Option(help="Comma-separated symbols; default models.symbols.")]
EpochsOption = Annotated[int | None, typer.Option(help="Epochs of the sequence model; default models.epochs.")]
SeedOption = Annotated[int | None, typer.Option(help="Seed; default models.seed (same seed, same model).")]


def _with_overrides(settings: Settings, epochs: int | None, seed: int | None) -> Settings:
    updates = {k: v for k, v in (("epochs", epochs), ("seed", seed)) if v is not None}
    return settings.model_copy(update={"models": settings.models.model_copy(update=updates)}) if updates else settings


@contextmanager
def _progress_bars(console: Console) -> Iterator[tuple[Any, Any]]:
    """(folds callback, epochs callback) feeding two progress bars."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        folds = progress.add_task("preparing data", total=None)
        epochs = progress.add_task("epochs", total=None, visible=False)

        # Without a terminal (CI logs, `platform up`'s log files) the bars do not redraw: print one line per step.
        lines = not console.is_terminal

        def on_stage(what: str, done: int, total: int) -> None:
            progress.update(folds, description=what, completed=done, total=total)
            if lines:
                console.print(f"[{done}/{total}] {what}", highlight=False)

        def on_epoch(epoch: int, total: int, loss: float, cal: float) -> None:
            description = f"loss {loss:.4f} · cal {cal:.5f}"
            progress.update(epochs, visible=True, completed=epoch, total=total, description=description)
            if lines:
                console.print(f"  epoch {epoch}/{total}: {description}", highlight=False)

        yield on_stage, on_epoch


def _summary_table(metrics: dict[str, Any], horizon: str) -> Table:
    table = Table(title=f"held-out, horizon {horizon} (pooled over folds)")
    for column in ("model", "rows", "log-loss", "Brier", "AUC", "dir. acc.", "IC", "long/flat net", "buy & hold"):
        table.add_column(column)
    for model, by_horizon in metrics.items():
        entry = by_horizon.get(horizon)
        if entry is None:
            continue
        p, bt = entry["pooled"], entry["backtest"]["pooled_equal_weight"]

        def f(value: float) -> str:
            return "nan" if math.isnan(value) else f"{value:.4f}"

        table.add_row(
            model,
            str(p["rows"]),
            f(p["log_loss"]),
            f(p["brier"]),
            f(p["auc"]),
            f(p["directional_accuracy"]),
            f(p["ic"]),
            f(bt["strategy_log_return"]),
            f(bt["buy_hold_log_return"]),
        )
    return table


def _serving_table(decision: Any) -> Table:
    """Per horizon: the family served and why (the paired comparisons are in the report)."""
    table = Table(title="served per horizon (walk-forward winner; a baseline unless a candidate beats them all)")
    for column in ("horizon", "family", "why"):
        table.add_column(column)
    for horizon, choice in decision.serving.items():
        table.add_row(horizon, choice.family, choice.reason)
    return table


def train_and_store(
    settings: Settings, console: Console, out: Console, *, force: bool, symbols: list[str] | None
) -> str:
    """Walk-forward evaluation of every family; all stored with the per-horizon selection, which is promoted
    unless production does better on the newest held-out fold (or anyway, when forced)."""
    from marketpulse.models.pipeline import run_evaluation, save_candidate
    from marketpulse.models.registry import ModelRegistry

    started = time.monotonic()
    with _progress_bars(console) as (on_stage, on_epoch):
        run = run_evaluation(settings, symbols=symbols, progress=on_stage, on_epoch=on_epoch)
    for horizon in settings.models.horizons:
        out.print(_summary_table(run.evaluation.metrics, horizon))
    out.print(_serving_table(run.decision))
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


def register(
    app: typer.Typer,
    train_app: typer.Typer,
    models_app: typer.Typer,
    settings_of: SettingsOf,
    console: Console,
    out: Console,
) -> None:
    """Add the model commands to the CLI's typer apps."""

    @train_app.command("price")
    def train_price(
        ctx: typer.Context,
        symbols: SymbolsOption = None,
        epochs: EpochsOption = None,
        seed: SeedOption = None,
        force: Annotated[
            bool, typer.Option(help="Promote the new selection even if production did better on the last fold.")
        ] = False,
    ) -> None:
        """Walk-forward every family (baselines, tcn, gbm); store them and serve, per horizon, the winner."""
        chosen = [s.strip() for s in symbols.split(",") if s.strip()] if symbols else None
        train_and_store(_with_overrides(settings_of(ctx), epochs, seed), console, out, force=force, symbols=chosen)

    @app.command("evaluate")
    def evaluate_cmd(
        ctx: typer.Context,
        symbols: SymbolsOption = None,
        epochs: EpochsOption = None,
        seed: SeedOption = None,
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

        settings = _with_overrides(settings_of(ctx), epochs, seed)
        updates: dict[str, Any] = {
            k: v for k, v in (("folds", folds), ("test_sessions", test_sessions)) if v is not None
        }
        if data in ("replay", "lake"):
            updates["data_source"] = data
        if updates:
            settings = settings.model_copy(update={"models": settings.models.model_copy(update=updates)})
        chosen = [s.strip() for s in symbols.split(",") if s.strip()] if symbols else None
        if out_dir is None and data in ("auto", "replay", "lake"):
            with _progress_bars(console) as (on_stage, on_epoch):
                run = run_evaluation(settings, symbols=chosen, progress=on_stage, on_epoch=on_epoch)
            metrics, decision = run.evaluation.metrics, run.decision
            where = f"s3://{settings.s3.buckets['models']}/{run.report_prefix}report.html (and report.md)"
        else:
            metrics, decision, where = _evaluate_offline(settings, data, chosen, out_dir or Path("reports") / data)
        from marketpulse.models.report import horizon_order

        for horizon in sorted({h for by_h in metrics.values() for h in by_h}, key=horizon_order):
            out.print(_summary_table(metrics, horizon))
        out.print(_serving_table(decision))
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
        bars = training_bars(settings, symbols) if data in ("auto", "replay", "lake") else real_bars(data, symbols)
        with _progress_bars(console) as (on_stage, on_epoch):
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

    @models_app.command("list")
    def models_list(
        ctx: typer.Context, name: Annotated[str | None, typer.Argument(help="Model name; default all.")] = None
    ) -> None:
        """List models, their versions (kind, training range, held-out log-loss) and which is in production."""
        from marketpulse.models.registry import ModelRegistry

        registry = ModelRegistry(settings_of(ctx))
        for model in [name] if name else registry.names():
            production = registry.production_version(model)
            table = Table(title=f"{model} (production: {production or 'none'})")
            for column in ("version", "kind", "serves", "trained on", "primary log-loss", "production"):
                table.add_column(column)
            primary = settings_of(ctx).models.primary_horizon
            for version in registry.versions(model):
                meta = registry.meta(model, version)
                kind = str(meta.get("kind", "mlp"))
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

    @models_app.command("promote")
    def models_promote(
        ctx: typer.Context,
        version: Annotated[str, typer.Argument(help="Version to put in production.")],
        name: Annotated[str | None, typer.Option(help="Model name; default models.price_name.")] = None,
    ) -> None:
        """Point `production` at a version; the running market job switches within models.reload_s."""
        from marketpulse.models.registry import ModelRegistry

        settings = settings_of(ctx)
        chosen = name or settings.models.price_name
        ModelRegistry(settings).promote(chosen, version)
        out.print(f"{chosen}: production -> {version}")

    @models_app.command("rollback")
    def models_rollback(
        ctx: typer.Context,
        name: Annotated[str | None, typer.Option(help="Model name; default models.price_name.")] = None,
    ) -> None:
        """Point `production` back at the version promoted before the current one."""
        from marketpulse.models.registry import ModelRegistry

        settings = settings_of(ctx)
        chosen = name or settings.models.price_name
        version = ModelRegistry(settings).rollback(chosen)
        out.print(f"{chosen}: production rolled back to {version}")

    scorecard_app = typer.Typer(help="The live prediction scorecard (PostgreSQL, /v1/scorecard).", no_args_is_help=True)
    app.add_typer(scorecard_app, name="scorecard")

    @scorecard_app.command("update")
    def scorecard_update(
        ctx: typer.Context,
        every: Annotated[float, typer.Option(help="Repeat every this many seconds; 0 = once.")] = 0.0,
    ) -> None:
        """Score every prediction whose horizon has passed (idempotent)."""
        import psycopg

        from marketpulse.models.scorecard import update_scorecard

        settings = settings_of(ctx)
        while True:
            try:
                result = update_scorecard(settings)
                console.print(f"scored {result.scored:,} predictions; {result.pending:,} wait for their target bar")
            except psycopg.OperationalError as exc:
                if every <= 0:
                    raise
                # A repeating updater outlives a PostgreSQL restart: nothing is lost, the next round scores it.
                console.print(f"PostgreSQL unavailable ({str(exc).splitlines()[0]}); retrying in {every:g}s")
            if every <= 0:
                return
            time.sleep(every)

    ensemble_app = typer.Typer(help="The market + sentiment ensemble.", no_args_is_help=True)
    app.add_typer(ensemble_app, name="ensemble")

    @ensemble_app.command("refit")
    def ensemble_refit(
        ctx: typer.Context,
        lookback_days: Annotated[int, typer.Option(help="Days of scored predictions to fit on.")] = 30,
    ) -> None:
        """Re-fit the ensemble weights from the scorecard, store them as a new version and promote it."""
        from marketpulse.models.ensemble import refit_ensemble

        version = refit_ensemble(settings_of(ctx), lookback_days=lookback_days)
        out.print(f"ensemble {version} promoted")


def ensure_price_model(settings: Settings, console: Console, out: Console) -> None:
    """The market job scores with the production model: train a first selection if none exists. With no
    production to compare with, the walk-forward winner per horizon (often a baseline) is promoted: no --force."""
    from marketpulse.models.registry import ModelRegistry

    if ModelRegistry(settings).production_version(settings.models.price_name) is None:
        console.print("no production price model yet: training and selecting a first one")
        train_and_store(settings, console, out, force=False, symbols=None)
