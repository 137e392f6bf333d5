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
from marketpulse.models.metrics import forecast_scores, long_flat_backtest, non_overlapping

Array = np.ndarray[Any, Any]
CANDIDATE = "tcn"
BASELINES = ("climatology", "persistence", "logistic")
PRODUCTION = "production"


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

    predictions: pd.DataFrame  # fold, model, horizon, symbol, ts, end_ns, prob_up, expected_return, ret
    splits: list[Split]
    candidate: SequenceModel | None
    metrics: dict[str, Any] = field(default_factory=dict)


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
) -> Evaluation:
    """Train and test every forecaster on every fold; the production model (if any) is scored on the last fold."""
    frames = []
    candidate: SequenceModel | None = None
    for k, split in enumerate(splits, start=1):
        if progress:
            progress(f"fold {k}/{len(splits)}: test {split.test[0]}..{split.test[-1]}", k - 1, len(splits))
        rows = fold_rows(data, split)
        models: dict[str, Forecaster] = {
            "climatology": Climatology.fit(data, rows.fit),
            "persistence": Persistence.fit(data, rows.fit),
            "logistic": Logistic.fit(data, rows.fit, rows.cal),
        }
        candidate = fit_sequence(data, rows.fit, rows.cal, epochs=epochs, seed=seed + k, on_epoch=on_epoch)
        models[CANDIDATE] = candidate
        if production is not None and k == len(splits):
            models[PRODUCTION] = production
        for name, model in models.items():
            frames.extend(_prediction_frames(data, rows.test, model, name, k))
    if progress:
        progress("scoring", len(splits), len(splits))
    predictions = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    evaluation = Evaluation(predictions, splits, candidate)
    evaluation.metrics = score_predictions(predictions, cost_bps)
    return evaluation


def _prediction_frames(
    data: Dataset, test: dict[str, Array], model: Forecaster, name: str, fold: int
) -> list[pd.DataFrame]:
    frames: list[pd.DataFrame] = []
    every = np.unique(np.concatenate(list(test.values()))) if test else np.zeros(0, dtype=np.int64)
    if not len(every):
        return frames
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


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def promotion_decision(metrics: dict[str, Any], primary: str, folds: int) -> Decision:
    """Promote only if the candidate's held-out log-loss on the primary horizon beats every baseline pooled over
    all folds AND on the last fold, and beats the production model on the last fold (when there is one)."""
    if CANDIDATE not in metrics or primary not in metrics[CANDIDATE]:
        return Decision(False, f"no held-out predictions of the candidate for horizon {primary}")
    mine = metrics[CANDIDATE][primary]
    losses = []
    for baseline in BASELINES:
        theirs = metrics.get(baseline, {}).get(primary)
        if theirs is None:
            return Decision(False, f"baseline {baseline} was not evaluated on {primary}")
        pooled, last = mine["pooled"]["log_loss"], mine["per_fold"][folds]["log_loss"]
        if not pooled < theirs["pooled"]["log_loss"]:
            losses.append(f"pooled log-loss {pooled:.5f} >= {baseline} {theirs['pooled']['log_loss']:.5f}")
        if not last < theirs["per_fold"][folds]["log_loss"]:
            losses.append(f"last-fold log-loss {last:.5f} >= {baseline} {theirs['per_fold'][folds]['log_loss']:.5f}")
    production = metrics.get(PRODUCTION, {}).get(primary)
    if production is not None:
        last, theirs_last = mine["per_fold"][folds]["log_loss"], production["per_fold"][folds]["log_loss"]
        if not last < theirs_last:
            losses.append(f"last-fold log-loss {last:.5f} >= production {theirs_last:.5f}")
    if losses:
        return Decision(False, "does not beat: " + "; ".join(losses))
    against = "every baseline" + (" and production" if production is not None else "")
    return Decision(True, f"beats {against} on held-out {primary} log-loss (pooled over {folds} folds and last fold)")
