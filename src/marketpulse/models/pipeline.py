"""Retraining end to end: training data from our stores -> walk-forward evaluation of every family (baselines and
candidates) and the production model -> report in object storage -> every family and the per-horizon selection in
the registry -> the selection promoted unless production does better on the newest held-out fold.

`retrain` is what Airflow calls; `marketpulse train price` and `marketpulse evaluate` call the same steps.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from marketpulse import __version__
from marketpulse.config import Settings
from marketpulse.models.data import Dataset, NotEnoughDataError, TrainingBars, build_dataset, training_bars
from marketpulse.models.forecasters import WINDOW, EpochCallback, Forecaster
from marketpulse.models.metrics import calibration_bins
from marketpulse.models.registry import ModelNotFoundError, ModelRegistry
from marketpulse.models.report import Report, build_report, store_report
from marketpulse.models.selection import SELECTION_KIND, load_forecaster, selection_weights
from marketpulse.models.walk_forward import (
    CANDIDATES,
    CONFIDENCE,
    Decision,
    Evaluation,
    Split,
    evaluate,
    promotion_decision,
    walk_forward_splits,
)

log = logging.getLogger(__name__)

#: progress(stage, done, total): stages are "data", "fold k/n: ...", "scoring", "report", "registry".
Progress = Callable[[str, int, int], None]


@dataclass
class RetrainResult:
    """What a retrain did: the candidate it stored, whether it was promoted and why, and its held-out scores."""

    promoted: bool
    candidate_version: str | None
    production_version: str | None
    metrics: dict[str, Any]
    reason: str
    report_prefix: str | None = None
    data_source: str = ""
    training_range: list[str] = field(default_factory=list)


def code_version() -> str:
    """Package version plus the git commit of the checkout, when running from one."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{sha}" if sha else __version__


def production_forecaster(registry: ModelRegistry, name: str) -> tuple[str | None, Forecaster | None, dict[str, Any]]:
    """(version, forecaster, meta) of the production model, or Nones when there is none."""
    version = registry.production_version(name)
    if version is None:
        return None, None, {}
    try:
        artifact = registry.load(name, version)
        return version, load_forecaster(registry, artifact), artifact.meta
    except ModelNotFoundError:
        log.warning("production pointer of %s names %s, which is missing: evaluating without it", name, version)
        return version, None, {}


@dataclass
class EvaluationRun:
    bars: TrainingBars
    data: Dataset
    evaluation: Evaluation
    decision: Decision
    production_version: str | None
    report_id: str
    report_prefix: str


@dataclass
class WalkForward:
    """A walk-forward run before anything is stored: data, folds, scores, the per-horizon choice, the report."""

    bars: TrainingBars
    data: Dataset
    splits: list[Split]
    evaluation: Evaluation
    decision: Decision
    report: Report


def walk_forward(
    settings: Settings,
    bars: TrainingBars,
    *,
    horizons: Sequence[str] | None = None,
    block: str | None = None,
    production: tuple[str | None, Forecaster | None, dict[str, Any]] = (None, None, {}),
    progress: Progress | None = None,
    on_epoch: EpochCallback | None = None,
    candidates: tuple[str, ...] = CANDIDATES,
    title: str = "Walk-forward evaluation",
) -> WalkForward:
    """Every family on the same purged folds of `bars` (and production on the last fold), the choice per horizon
    and the report. `block` splits by blocks of that length instead of sessions (see Dataset.block)."""
    cfg = settings.models
    chosen = list(horizons or cfg.horizons)
    data = build_dataset(bars.bars, chosen, WINDOW, block)
    if progress:
        progress(f"data: {len(bars.bars):,} bars from {bars.source} {bars.start}..{bars.end}", 1, 1)
    splits = walk_forward_splits(sorted(set(data.sessions.tolist())), cfg.folds, cfg.test_sessions)
    production_version, production_model, production_meta = production
    evaluation = evaluate(
        data,
        splits,
        epochs=cfg.epochs,
        seed=cfg.seed,
        cost_bps=cfg.cost_bps,
        production=production_model,
        progress=progress,
        on_epoch=on_epoch,
        candidates=candidates,
    )
    primary = cfg.primary_horizon if cfg.primary_horizon in chosen else chosen[0]
    decision = promotion_decision(evaluation.predictions, chosen, primary, len(splits))
    last = splits[-1]
    unit = f"blocks of {block}" if block else "sessions"
    context = {
        "data": f"{bars.source}, {', '.join(sorted(set(bars.bars['symbol'])))}, {bars.start}..{bars.end}",
        "folds": f"{len(splits)} x {cfg.test_sessions} {unit}; last fold trains {last.fit[0]}..{last.cal[-1]}",
        "candidates": f"tcn over {WINDOW} bars ({cfg.epochs} epochs), gbm (LightGBM, tabular inputs), seed {cfg.seed}",
        "comparison": f"paired per-bar log-loss differences, {CONFIDENCE:.0%} block bootstrap over {unit}",
        "production": production_version or "none",
        "production_trained": production_meta.get("train_range", "-"),
        "cost_bps": cfg.cost_bps,
        "decision": ("PROMOTE: " if decision.promote else "KEEP PRODUCTION: ") + decision.reason,
    }
    context.update({f"serving {h}": c.reason for h, c in decision.serving.items()})
    if progress:
        progress("report", 0, 1)
    report = build_report(evaluation, decision, title, context)
    return WalkForward(bars, data, splits, evaluation, decision, report)


def run_evaluation(
    settings: Settings,
    *,
    symbols: Sequence[str] | None = None,
    progress: Progress | None = None,
    on_epoch: EpochCallback | None = None,
    candidates: tuple[str, ...] = CANDIDATES,
) -> EvaluationRun:
    """Walk-forward evaluation of every family against the baselines and production; report stored."""
    cfg = settings.models
    registry = ModelRegistry(settings)
    if progress:
        progress("data", 0, 1)
    bars = training_bars(settings, symbols)
    production = production_forecaster(registry, cfg.price_name)
    report_id = datetime.now(UTC).strftime("r%Y%m%dT%H%M%S")
    run = walk_forward(
        settings,
        bars,
        production=production,
        progress=progress,
        on_epoch=on_epoch,
        candidates=candidates,
        title=f"Walk-forward evaluation of {cfg.price_name} ({report_id})",
    )
    prefix = store_report(registry, cfg.price_name, report_id, run.report, run.evaluation.metrics)
    return EvaluationRun(bars, run.data, run.evaluation, run.decision, production[0], report_id, prefix)


def save_candidate(settings: Settings, run: EvaluationRun) -> str:
    """Store every family fitted on the last fold (held out from that fold's test block) as its own version, then
    the selection naming the family served per horizon; return the selection's version."""
    registry = ModelRegistry(settings)
    name = settings.models.price_name
    stamp = datetime.now(UTC).strftime("v%Y%m%dT%H%M%S")
    last = run.evaluation.splits[-1]
    common = {
        "train_range": [str(last.fit[0]), str(last.fit[-1])],
        "calibration_range": [str(last.cal[0]), str(last.cal[-1])],
        "test_range": [str(last.test[0]), str(last.test[-1])],
        "data_source": run.bars.source,
        "symbols": sorted(set(run.bars.bars["symbol"])),
        "report": run.report_prefix,
        "code_version": code_version(),
        "seed": settings.models.seed,
        "epochs": settings.models.epochs,
    }
    metrics = {m: {h: e["pooled"] for h, e in by_h.items()} for m, by_h in run.evaluation.metrics.items()}
    versions = {}
    for family, model in run.evaluation.models.items():
        meta = {**model.meta(), **common, "family": family, "metrics": metrics.get(family, {})}
        versions[family] = registry.save(name, model.weights(), meta, version=f"{stamp}-{family}")
    serving = {
        h: {
            **choice.as_dict(),
            "version": versions[choice.family],
            "expected": expectation(run.evaluation, choice.family, h),
        }
        for h, choice in run.decision.serving.items()
    }
    meta = {
        "kind": SELECTION_KIND,
        "horizons": list(serving),
        "serving": serving,
        "families": {h: e["family"] for h, e in serving.items()},
        "members": versions,
        **common,
        "metrics": metrics,
        "decision": {"promote": run.decision.promote, "reason": run.decision.reason},
    }
    return registry.save(name, selection_weights(serving), meta, version=stamp)


def expectation(evaluation: Evaluation, family: str, horizon: str) -> dict[str, Any]:
    """What the walk-forward expects of `family` at `horizon` live: pooled held-out scores and calibration bins
    (the live scorecard shows them beside what it measures)."""
    pooled = dict(evaluation.metrics.get(family, {}).get(horizon, {}).get("pooled", {}))
    mine = evaluation.predictions[
        (evaluation.predictions["model"] == family) & (evaluation.predictions["horizon"] == horizon)
    ]
    bins = calibration_bins(mine["prob_up"].to_numpy(), (mine["ret"].to_numpy() > 0).astype(float))
    return {
        "rows": pooled.get("rows"),
        "hit_rate": pooled.get("directional_accuracy"),
        "brier": pooled.get("brier"),
        "log_loss": pooled.get("log_loss"),
        "auc": pooled.get("auc"),
        "up_rate": pooled.get("up_rate"),
        "calibration": bins,
    }


def retrain(
    settings: Settings, *, symbols: Sequence[str] | None = None, progress: Progress | None = None
) -> RetrainResult:
    """Build training data, train, evaluate walk-forward against production and the baselines, store the
    candidate and the report, and promote the candidate only when it beats them on held-out periods."""
    cfg = settings.models
    try:
        run = run_evaluation(settings, symbols=symbols, progress=progress)
    except NotEnoughDataError as exc:
        registry = ModelRegistry(settings)
        return RetrainResult(False, None, registry.production_version(cfg.price_name), {}, str(exc))
    if progress:
        progress("registry", 0, 1)
    version = save_candidate(settings, run)
    registry = ModelRegistry(settings)
    if run.decision.promote:
        registry.promote(cfg.price_name, version, reason=run.decision.reason)
    production = registry.production_version(cfg.price_name)
    primary = {
        model: by_h[cfg.primary_horizon]["pooled"]
        for model, by_h in run.evaluation.metrics.items()
        if cfg.primary_horizon in by_h
    }
    last = run.evaluation.splits[-1]
    return RetrainResult(
        promoted=run.decision.promote,
        candidate_version=version,
        production_version=production,
        metrics=primary,
        reason=run.decision.reason,
        report_prefix=run.report_prefix,
        data_source=run.bars.source,
        training_range=[str(last.fit[0]), str(last.cal[-1])],
    )
