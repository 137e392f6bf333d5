"""Walk-forward evaluation: rolling train/calibrate/test splits in time, every forecaster trained the same way.

Each fold trains on the sessions before its test block (the last `cal_fraction` of them calibrate and pick the
epoch), then predicts the test block. Labels are purged at each boundary: a training label whose target bar
lies in the calibration or test period is dropped, so no row learns from a return it will be tested on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.errors import ConfigError
from marketpulse.models.data import Dataset
from marketpulse.models.forecasters import (
    Climatology,
    EpochCallback,
    Forecaster,
    Logistic,
    Persistence,
    SequenceModel,
    fit_sequence,
    labelled,
)
from marketpulse.models.gbm import GradientBoosted
from marketpulse.models.metrics import forecast_scores, long_flat_backtest, non_overlapping

Array = np.ndarray[Any, Any]
CANDIDATE = "tcn"
#: Learned models that must earn their place; the baselines they are compared with (any may be served).
CANDIDATES = ("tcn", "gbm")
BASELINES = ("climatology", "persistence", "logistic")
FAMILIES = (*BASELINES, *CANDIDATES)
PRODUCTION = "production"
#: Two-sided confidence level of the paired comparisons and the bootstrap resamples behind it.
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000
#: A new selection must beat production's last-fold log-loss by more than this: a retrain on the same data
#: reproduces production up to float rounding of the stored models, which must not flip the decision.
PRODUCTION_MARGIN = 1e-6


@dataclass(frozen=True)
class Split:
    """One fold: sessions to fit on, to calibrate on (right after), and to test on (right after those)."""

    fit: list[date]
    cal: list[date]
    test: list[date]


def walk_forward_splits(
    sessions: list[date], folds: int, test_sessions: int, cal_fraction: float = 0.2, train_sessions: int | None = None
) -> list[Split]:
    """`folds` back-to-back test blocks of `test_sessions` at the end; each trains on what precedes it
    (all of it, or the last `train_sessions` for a rolling window)."""
    sessions = sorted(set(sessions))
    first_test = len(sessions) - folds * test_sessions
    splits = []
    for k in range(folds):
        test_start = first_test + k * test_sessions
        train = sessions[:test_start]
        if train_sessions is not None:
            train = train[-train_sessions:]
        n_cal = max(1, math.ceil(cal_fraction * len(train)))
        if len(train) - n_cal < 2:
            raise ConfigError(
                f"{len(sessions)} sessions cannot hold {folds} test blocks of {test_sessions} sessions and still "
                f"leave >= 3 sessions to train on: use a longer range, fewer folds or shorter blocks"
            )
        splits.append(Split(train[:-n_cal], train[-n_cal:], sessions[test_start : test_start + test_sessions]))
    return splits


@dataclass(frozen=True)
class FoldRows:
    """Per horizon: labelled, window-complete dataset rows of each part of a split (purged at boundaries)."""

    fit: dict[str, Array]
    cal: dict[str, Array]
    test: dict[str, Array]


def fold_rows(data: Dataset, split: Split) -> FoldRows:
    """Rows of each part; a fit label must end before calibration starts, a cal label before the test starts."""
    sessions = data.sessions
    ts = data.ts_ns
    usable = data.window_ok

    def part(days: list[date]) -> tuple[Array, int]:
        rows = np.flatnonzero(usable & np.isin(sessions, np.array(days, dtype=object)))
        start = int(ts[np.isin(sessions, np.array(days, dtype=object))].min()) if len(rows) else 0
        return rows, start

    fit, _ = part(split.fit)
    cal, cal_start = part(split.cal)
    test, test_start = part(split.test)
    names = [h.name for h in data.horizons]
    return FoldRows(
        fit={h: labelled(data, fit, h, before_ns=cal_start) for h in names},
        cal={h: labelled(data, cal, h, before_ns=test_start) for h in names},
        test={h: labelled(data, test, h) for h in names},
    )


@dataclass
class Evaluation:
    """Out-of-sample predictions of every model on every fold, the scores, and the last fold's candidate."""

    predictions: pd.DataFrame  # fold, model, horizon, symbol, ts, end_ns, prob_up, expected_return, ret, session
    splits: list[Split]
    candidate: SequenceModel | None
    metrics: dict[str, Any] = field(default_factory=dict)
    #: Every family as fitted on the last fold (what a retrain stores; its last-fold scores are held out).
    models: dict[str, Forecaster] = field(default_factory=dict)


ProgressFn = Callable[[str, int, int], None]  # (what, done, total)


def evaluate(
    data: Dataset,
    splits: list[Split],
    *,
    epochs: int,
    seed: int,
    cost_bps: float,
    production: Forecaster | None = None,
    progress: ProgressFn | None = None,
    on_epoch: EpochCallback | None = None,
    candidates: tuple[str, ...] = CANDIDATES,
) -> Evaluation:
    """Train and test every forecaster on every fold; the production model (if any) is scored on the last fold."""
    frames = []
    models: dict[str, Forecaster] = {}
    for k, split in enumerate(splits, start=1):
        if progress:
            progress(f"fold {k}/{len(splits)}: test {split.test[0]}..{split.test[-1]}", k - 1, len(splits))
        rows = fold_rows(data, split)
        models = fit_families(data, rows, epochs=epochs, seed=seed + k, on_epoch=on_epoch, candidates=candidates)
        scored = {**models, PRODUCTION: production} if production is not None and k == len(splits) else models
        for name, model in scored.items():
            frames.extend(_prediction_frames(data, rows.test, model, name, k))
    if progress:
        progress("scoring", len(splits), len(splits))
    predictions = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    candidate = models.get(CANDIDATE)
    evaluation = Evaluation(predictions, splits, candidate if isinstance(candidate, SequenceModel) else None)
    evaluation.metrics = score_predictions(predictions, cost_bps)
    evaluation.models = models
    return evaluation


def fit_families(
    data: Dataset,
    rows: FoldRows,
    *,
    epochs: int,
    seed: int,
    on_epoch: EpochCallback | None = None,
    candidates: tuple[str, ...] = CANDIDATES,
) -> dict[str, Forecaster]:
    """Every baseline and candidate fitted on one fold's fit rows (calibrated on its cal rows)."""
    models: dict[str, Forecaster] = {
        "climatology": Climatology.fit(data, rows.fit),
        "persistence": Persistence.fit(data, rows.fit),
        "logistic": Logistic.fit(data, rows.fit, rows.cal),
    }
    if "tcn" in candidates:
        models["tcn"] = fit_sequence(data, rows.fit, rows.cal, epochs=epochs, seed=seed, on_epoch=on_epoch)
    if "gbm" in candidates:
        models["gbm"] = GradientBoosted.fit(data, rows.fit, rows.cal, seed=seed)
    return models


def _prediction_frames(
    data: Dataset, test: dict[str, Array], model: Forecaster, name: str, fold: int
) -> list[pd.DataFrame]:
    frames: list[pd.DataFrame] = []
    every = np.unique(np.concatenate(list(test.values()))) if test else np.zeros(0, dtype=np.int64)
    if not len(every):
        return frames
    sessions = data.sessions  # the walk-forward unit: the paired comparisons resample whole ones
    predicted = model.predict(data, every)
    position = {row: i for i, row in enumerate(every.tolist())}
    for horizon, rows in test.items():
        if horizon not in predicted or not len(rows):
            continue
        prob, expected = predicted[horizon]
        idx = np.array([position[r] for r in rows.tolist()], dtype=np.int64)
        frames.append(
            pd.DataFrame(
                {
                    "fold": fold,
                    "model": name,
                    "horizon": horizon,
                    "symbol": data.frame["symbol"].to_numpy()[rows],
                    "ts": data.frame["ts"].to_numpy()[rows],
                    "end_ns": data.end_ns[horizon][rows],
                    "prob_up": prob[idx],
                    "expected_return": expected[idx],
                    "ret": data.ret[horizon][rows],
                    "session": sessions[rows].astype(str),
                }
            )
        )
    return frames


def score_predictions(predictions: pd.DataFrame, cost_bps: float) -> dict[str, Any]:
    """{model: {horizon: {pooled, per_symbol, per_fold, backtest}}} from out-of-sample predictions."""
    out: dict[str, Any] = {}
    if predictions.empty:
        return out
    for (model, horizon), group in predictions.groupby(["model", "horizon"], sort=True):
        entry: dict[str, Any] = {
            "pooled": forecast_scores(group["prob_up"].to_numpy(), group["ret"].to_numpy()),
            "per_symbol": {
                str(s): forecast_scores(g["prob_up"].to_numpy(), g["ret"].to_numpy())
                for s, g in group.groupby("symbol", sort=True)
            },
            "per_fold": {
                int(f): forecast_scores(g["prob_up"].to_numpy(), g["ret"].to_numpy())
                for f, g in group.groupby("fold", sort=True)
            },
        }
        entry["backtest"] = backtest(group, cost_bps)
        out.setdefault(str(model), {})[str(horizon)] = entry
    return out


def backtest(group: pd.DataFrame, cost_bps: float) -> dict[str, Any]:
    """Long/flat after costs vs buy-and-hold per symbol on back-to-back holding periods, and their mean."""
    per_symbol = {}
    for symbol, g in group.sort_values(["symbol", "ts"]).groupby("symbol", sort=True):
        ts_ns = g["ts"].astype("int64").to_numpy() if hasattr(g["ts"], "dt") else g["ts"].to_numpy().astype("int64")
        chosen = non_overlapping(g["symbol"].to_numpy(), ts_ns, g["end_ns"].to_numpy())
        per_symbol[str(symbol)] = long_flat_backtest(
            g["prob_up"].to_numpy()[chosen], g["ret"].to_numpy()[chosen], cost_bps
        )
    keys = ("strategy_log_return", "strategy_gross_log_return", "buy_hold_log_return", "exposure")
    pooled = {key: float(np.mean([v[key] for v in per_symbol.values()])) for key in keys} if per_symbol else {}
    pooled["cost_bps"] = cost_bps
    return {"pooled_equal_weight": pooled, "per_symbol": per_symbol}


def row_losses(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per-bar log-loss of every model, one column per model, rows keyed by (fold, horizon, symbol, ts, session):
    models compared on exactly the same bars."""
    y = (predictions["ret"].to_numpy() > 0).astype(np.float64)
    p = np.clip(predictions["prob_up"].to_numpy(dtype=np.float64), 1e-7, 1 - 1e-7)
    frame = predictions[["fold", "horizon", "symbol", "ts", "session", "model"]].assign(
        loss=-(y * np.log(p) + (1 - y) * np.log(1 - p))
    )
    return frame.pivot_table(
        index=["fold", "horizon", "symbol", "ts", "session"], columns="model", values="loss", aggfunc="first"
    )


def paired_bootstrap(
    diff: Array, blocks: Array, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> tuple[float, float, float]:
    """(mean, lower, upper) of the mean per-bar loss difference, with a CONFIDENCE interval from a block
    bootstrap that resamples whole blocks (sessions): bars of one session, and of all symbols in it, move together,
    so their correlation (and overlapping multi-bar labels) does not make the interval too narrow."""
    if len(diff) == 0:
        return math.nan, math.nan, math.nan
    codes, index = np.unique(blocks, return_inverse=True)
    sums = np.bincount(index, weights=diff, minlength=len(codes))
    counts = np.bincount(index, minlength=len(codes)).astype(np.float64)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(codes), size=(resamples, len(codes)))
    means = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    return float(diff.mean()), float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


@dataclass(frozen=True)
class Choice:
    """The family served at one horizon, why, and the paired comparisons behind it."""

    horizon: str
    family: str
    reason: str
    log_loss: dict[str, float]  # pooled held-out log-loss per family (same bars)
    #: candidate -> baseline -> {"diff": mean loss difference (negative: candidate better), "lower", "upper"}
    comparisons: dict[str, dict[str, dict[str, float]]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "horizon": self.horizon,
            "family": self.family,
            "reason": self.reason,
            "log_loss": self.log_loss,
            "comparisons": self.comparisons,
        }


def choose_family(losses: pd.DataFrame, horizon: str) -> Choice:
    """The model to serve at `horizon`: the candidate with the lowest log-loss among those that beat EVERY
    baseline with the upper end of the CONFIDENCE interval of the paired difference below 0; else the baseline
    with the lowest log-loss. `losses` are row_losses of that horizon (all folds; production excluded)."""
    families = [m for m in FAMILIES if m in losses.columns]
    common = losses[families].dropna()
    if common.empty:
        raise ValueError(f"no held-out bars scored by every model at {horizon}")
    blocks = common.index.get_level_values("session").to_numpy()
    mean = {m: float(common[m].mean()) for m in families}
    baselines = [m for m in BASELINES if m in families]
    comparisons: dict[str, dict[str, dict[str, float]]] = {}
    for candidate in (m for m in CANDIDATES if m in families):
        comparisons[candidate] = {}
        for baseline in baselines:
            diff, lower, upper = paired_bootstrap((common[candidate] - common[baseline]).to_numpy(), blocks)
            comparisons[candidate][baseline] = {"diff": diff, "lower": lower, "upper": upper}
    best_baseline = min(baselines, key=lambda m: mean[m])
    winners = [c for c, vs in comparisons.items() if vs and all(v["upper"] < 0 for v in vs.values())]
    level = f"{CONFIDENCE:.0%}"
    if winners:
        family = min(winners, key=lambda m: mean[m])
        versus = comparisons[family][best_baseline]
        reason = (
            f"{family} beats every baseline at {horizon}: held-out log-loss {mean[family]:.5f} vs best baseline "
            f"{best_baseline} {mean[best_baseline]:.5f} (paired diff {versus['diff']:+.5f}, {level} CI "
            f"[{versus['lower']:+.5f}, {versus['upper']:+.5f}], session block bootstrap, {len(common):,} bars)"
        )
    else:
        family = best_baseline
        details = "; ".join(
            f"{c} vs {best_baseline} {vs[best_baseline]['diff']:+.5f} [{vs[best_baseline]['lower']:+.5f}, "
            f"{vs[best_baseline]['upper']:+.5f}]"
            for c, vs in comparisons.items()
        )
        reason = (
            f"no candidate beats every baseline at {horizon} ({level} CI of the paired log-loss difference "
            f"below 0): serving the baseline {family} (log-loss {mean[family]:.5f}); {details or 'no candidates'}"
        )
    return Choice(horizon, family, reason, mean, comparisons)


def choose_families(predictions: pd.DataFrame, horizons: list[str]) -> dict[str, Choice]:
    """choose_family for every horizon with held-out predictions."""
    losses = row_losses(predictions[predictions["model"] != PRODUCTION])
    found = set(losses.index.get_level_values("horizon"))
    return {h: choose_family(losses.xs(h, level="horizon"), h) for h in horizons if h in found}


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    serving: dict[str, Choice] = field(default_factory=dict)


def promotion_decision(predictions: pd.DataFrame, horizons: list[str], primary: str, folds: int) -> Decision:
    """Per horizon the family to serve (choose_family); the new selection replaces production unless production's
    log-loss on the primary horizon's last fold is at least as good (the same bars, held out from both)."""
    if predictions.empty:
        return Decision(False, "no held-out predictions")
    serving = choose_families(predictions, horizons)
    if primary not in serving:
        return Decision(False, f"no held-out predictions of every model for horizon {primary}", serving)
    summary = "; ".join(f"{h}: {c.family}" for h, c in serving.items())
    production = predictions[(predictions["model"] == PRODUCTION) & (predictions["horizon"] == primary)]
    if not production.empty:
        last = predictions[(predictions["fold"] == folds) & (predictions["horizon"] == primary)]
        losses = row_losses(last)
        chosen = serving[primary].family
        both = losses[[chosen, PRODUCTION]].dropna()
        mine, theirs = float(both[chosen].mean()), float(both[PRODUCTION].mean())
        if not mine < theirs - PRODUCTION_MARGIN:
            return Decision(
                False,
                f"serving {summary}, but on the last fold at {primary} the new {chosen} log-loss {mine:.5f} "
                f">= production {theirs:.5f}",
                serving,
            )
        summary += f" (last fold at {primary}: {mine:.5f} < production {theirs:.5f})"
    return Decision(True, f"serving {summary}. {primary}: {serving[primary].reason}", serving)
