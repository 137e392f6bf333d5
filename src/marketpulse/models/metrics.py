"""Forecast scores and a long/flat backtest, shared by walk-forward evaluation and the live scorecard."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

Array = np.ndarray[Any, Any]

#: Calibration bins over P(up): [0, 0.1), [0.1, 0.2), ... [0.9, 1.0].
CALIBRATION_EDGES = np.linspace(0.0, 1.0, 11)


def log_loss(p: Array, y: Array) -> float:
    """Mean negative log-likelihood of the outcomes y in {0, 1} (p clipped to [1e-7, 1 - 1e-7])."""
    if len(y) == 0:
        return math.nan
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def brier(p: Array, y: Array) -> float:
    """Mean squared error of the probability."""
    return float(np.mean((p - y) ** 2)) if len(y) else math.nan


def auc(p: Array, y: Array) -> float:
    """Area under the ROC curve via the rank-sum (Mann-Whitney) identity; NaN with one class only."""
    ranks = pd.Series(p).rank().to_numpy()
    positives = y == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def directional_accuracy(p: Array, ret: Array) -> float:
    """Share of rows where the side of 0.5 matches the sign of the return (zero returns count as down)."""
    return float(np.mean((p > 0.5) == (ret > 0))) if len(ret) else math.nan


def information_coefficient(signal: Array, ret: Array) -> float:
    """Spearman rank correlation of the signal with the realised return; 0 for a constant signal."""
    if len(ret) < 3 or np.all(signal == signal[0]):
        return 0.0
    a = pd.Series(signal).rank().to_numpy()
    b = pd.Series(ret).rank().to_numpy()
    if np.std(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def calibration_bins(p: Array, y: Array) -> list[dict[str, float]]:
    """Per P(up) decile: count, mean predicted probability, observed up-rate (bins without rows are left out)."""
    # floor(10 p), as PostgreSQL's width_bucket in the scorecard views (p = 1.0 joins the top bin).
    index = np.clip(np.floor(np.asarray(p) * (len(CALIBRATION_EDGES) - 1)).astype(int), 0, len(CALIBRATION_EDGES) - 2)
    out = []
    for b in range(len(CALIBRATION_EDGES) - 1):
        mask = index == b
        if mask.any():
            out.append(
                {
                    "lower": float(CALIBRATION_EDGES[b]),
                    "upper": float(CALIBRATION_EDGES[b + 1]),
                    "count": int(mask.sum()),
                    "mean_prob": float(p[mask].mean()),
                    "up_rate": float(y[mask].mean()),
                }
            )
    return out


def forecast_scores(p: Array, ret: Array) -> dict[str, float]:
    """Every probabilistic score of P(up) against realised log returns."""
    y = (ret > 0).astype(np.float64)
    return {
        "rows": len(ret),
        "log_loss": log_loss(p, y),
        "brier": brier(p, y),
        "auc": auc(p, y),
        "directional_accuracy": directional_accuracy(p, ret),
        "ic": information_coefficient(p, ret),
        "up_rate": float(y.mean()) if len(y) else math.nan,
    }


def non_overlapping(symbols: Array, ts_ns: Array, end_ns: Array) -> Array:
    """Row positions (input sorted by symbol, ts) of back-to-back holding periods: each starts at or after the
    previous one's end, so a backtest never holds two overlapping positions in one symbol."""
    chosen = []
    current, free_at = None, -1
    for i in range(len(ts_ns)):
        if symbols[i] != current:
            current, free_at = symbols[i], -1
        if ts_ns[i] >= free_at:
            chosen.append(i)
            free_at = end_ns[i]
    return np.asarray(chosen, dtype=np.int64)


def long_flat_backtest(p: Array, ret: Array, cost_bps: float, threshold: float = 0.5) -> dict[str, float]:
    """Hold the symbol over each period where P(up) > threshold, else cash; pay cost_bps per position change.

    Input: one symbol's back-to-back periods in time order (see non_overlapping). Returns summed log returns of
    the strategy after costs, of buy-and-hold (one entry cost), the share of periods invested and the trades.
    """
    position = (p > threshold).astype(np.float64)
    changes = np.abs(np.diff(np.concatenate(([0.0], position))))
    cost = cost_bps / 1e4
    strategy = float(np.sum(position * ret) - cost * changes.sum())
    buy_hold = float(np.sum(ret) - (cost if len(ret) else 0.0))
    return {
        "periods": len(ret),
        "strategy_log_return": strategy,
        "strategy_gross_log_return": float(np.sum(position * ret)),
        "buy_hold_log_return": buy_hold,
        "exposure": float(position.mean()) if len(ret) else math.nan,
        "trades": int(changes.sum()),
    }


def equity_curve(p: Array, ret: Array, cost_bps: float) -> tuple[Array, Array]:
    """Cumulative log return of long/flat after costs and of buy-and-hold, period by period (for plots)."""
    position = (p > 0.5).astype(np.float64)
    changes = np.abs(np.diff(np.concatenate(([0.0], position))))
    return np.cumsum(position * ret - cost_bps / 1e4 * changes), np.cumsum(ret)
