"""The ensemble: the market model's P(up) combined with the sentiment signal, per horizon, by a logistic stack

    P(up) = sigmoid(bias + w_market * logit(p_market) + sum_j w_j * sentiment_j)

whose weights the live scorecard re-fits (`refit_ensemble`, e.g. daily) from scored predictions. The weights
are their own versioned artifact in the registry (`models/ensemble/<version>/`); the first version is the
identity (market model only, sentiment weight 0), so promoting it changes nothing until a refit learns more.
Sentiment columns come from `marketpulse.features.sentiment.SENTIMENT_FEATURE_COLUMNS`; a missing column or
value counts as neutral (0).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import psycopg

from marketpulse.config import Settings
from marketpulse.features.sentiment import SENTIMENT_FEATURE_COLUMNS
from marketpulse.migrations import require_schema
from marketpulse.models.forecasters import fit_logistic_weights
from marketpulse.models.registry import ModelArtifact, ModelRegistry

log = logging.getLogger(__name__)
ENSEMBLE_KIND = "logit_stack"
#: Fewest scored predictions per horizon before a refit moves the weights away from the previous version.
MIN_REFIT_ROWS = 200


def sentiment_columns() -> list[str]:
    """The sentiment feature columns the stream adds to indicator rows."""
    return list(SENTIMENT_FEATURE_COLUMNS)


def sentiment_values(rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The sentiment columns of indicator rows, missing columns and NaN as neutral 0."""
    out = pd.DataFrame(index=rows.index)
    for column in columns:
        values = pd.to_numeric(rows[column], errors="coerce") if column in rows else 0.0
        out[column] = values
    return out.fillna(0.0).astype("float64")


def _logit(p: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)))


@dataclass
class Ensemble:
    """Weights per horizon: {"bias": b, "market": w, <sentiment column>: w_j}."""

    name: str
    version: str
    weights: dict[str, dict[str, float]]

    @classmethod
    def from_artifact(cls, artifact: ModelArtifact) -> Ensemble:
        return cls(artifact.name, artifact.version, json.loads(artifact.weights)["weights"])

    def combine(self, predictions: pd.DataFrame, indicator_rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Ensemble rows for the price model's predictions, and the sentiment inputs they used (for refits)."""
        columns = sentiment_columns()
        keyed = indicator_rows.assign(feature_ts=pd.to_datetime(indicator_rows["ts"], utc=True))
        keyed = keyed.drop_duplicates(subset=["symbol", "feature_ts"], keep="last")
        sentiment = sentiment_values(keyed, columns)
        sentiment[["symbol", "feature_ts"]] = keyed[["symbol", "feature_ts"]]
        joined = predictions.merge(sentiment, on=["symbol", "feature_ts"], how="left")
        joined[columns] = joined[columns].fillna(0.0)
        prob = np.full(len(joined), np.nan)
        for horizon, w in self.weights.items():
            mask = (joined["horizon"] == horizon).to_numpy()
            z = w.get("bias", 0.0) + w.get("market", 1.0) * _logit(joined["prob_up"].to_numpy()[mask])
            for column in columns:
                z = z + w.get(column, 0.0) * joined[column].to_numpy()[mask]
            prob[mask] = 1.0 / (1.0 + np.exp(-z))
        known = ~np.isnan(prob)
        combined = joined.loc[known, ["symbol", "feature_ts", "horizon", "expected_return"]].copy()
        combined["prob_up"] = prob[known]
        combined["model_name"] = self.name
        combined["model_version"] = self.version
        combined["base_model_version"] = joined.loc[known, "model_version"].to_numpy()
        combined["model_family"] = ENSEMBLE_KIND
        inputs = joined.loc[known, ["symbol", "feature_ts", "horizon"]].copy()
        inputs["sentiment"] = (
            [
                json.dumps({c: float(v) for c, v in zip(columns, values, strict=True)})
                for values in joined.loc[known, columns].to_numpy()
            ]
            if columns
            else ["{}"] * int(known.sum())
        )
        return combined, inputs


def identity_weights(horizons: list[str]) -> dict[str, dict[str, float]]:
    return {h: {"bias": 0.0, "market": 1.0} for h in horizons}


def fit_ensemble_weights(rows: pd.DataFrame, columns: list[str]) -> dict[str, float]:
    """Logistic stack on scored rows of one horizon: prob_up (market), the sentiment columns, and `up` (0/1)."""
    x = np.column_stack([_logit(rows["prob_up"].to_numpy())] + [rows[c].to_numpy(dtype=float) for c in columns])
    w = fit_logistic_weights(x, rows["up"].to_numpy(dtype=float), l2=1e-3)
    return {"market": float(w[0]), **{c: float(w[1 + i]) for i, c in enumerate(columns)}, "bias": float(w[-1])}


def save_ensemble(settings: Settings, weights: dict[str, dict[str, float]], meta: dict[str, Any]) -> str:
    registry = ModelRegistry(settings)
    body = json.dumps({"kind": ENSEMBLE_KIND, "weights": weights}).encode()
    return registry.save(settings.models.ensemble_name, body, {"kind": ENSEMBLE_KIND, "weights": weights, **meta})


def refit_ensemble(settings: Settings, *, lookback_days: int = 30, promote: bool = True) -> str:
    """Fit new weights from the live scorecard (the price model's scored predictions joined with the sentiment
    inputs the stream recorded), store them as a new ensemble version and promote it; return the version.
    A horizon with fewer than MIN_REFIT_ROWS scored rows keeps its previous (or identity) weights."""
    cfg = settings.models
    registry = ModelRegistry(settings)
    current = registry.production_version(cfg.ensemble_name)
    previous = Ensemble.from_artifact(registry.load(cfg.ensemble_name, current)).weights if current else {}
    columns = sentiment_columns()
    with psycopg.connect(settings.postgres_dsn()) as conn:
        require_schema(conn)
        newest = conn.execute(
            "SELECT max(feature_ts) FROM scorecard_outcome WHERE model_name = %s", (cfg.price_name,)
        ).fetchone()
        since = (newest[0] if newest and newest[0] else datetime.now(UTC)) - timedelta(days=lookback_days)
        rows = conn.execute(
            "SELECT o.horizon, o.prob_up, o.up, e.sentiment FROM scorecard_outcome o "
            "LEFT JOIN ensemble_input e ON e.symbol = o.symbol AND e.feature_ts = o.feature_ts "
            "AND e.horizon = o.horizon "
            "WHERE o.model_name = %s AND o.feature_ts >= %s",
            (cfg.price_name, since),
        ).fetchall()
    frame = pd.DataFrame(rows, columns=["horizon", "prob_up", "up", "sentiment"])
    for column in columns:
        frame[column] = [float((s or {}).get(column, 0.0)) if isinstance(s, dict) else 0.0 for s in frame["sentiment"]]
    weights: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for horizon in cfg.horizons:
        part = frame[frame["horizon"] == horizon]
        counts[horizon] = len(part)
        if len(part) >= MIN_REFIT_ROWS and part["up"].nunique() == 2:
            weights[horizon] = fit_ensemble_weights(part, columns)
        else:
            weights[horizon] = previous.get(horizon, identity_weights([horizon])[horizon])
    meta = {"fitted_on_rows": counts, "since": since.isoformat(), "sentiment_columns": columns, "previous": current}
    version = save_ensemble(settings, weights, meta)
    if promote:
        registry.promote(cfg.ensemble_name, version, reason=f"refit on {sum(counts.values())} scored predictions")
    log.info("ensemble %s fitted on %s", version, counts)
    return version
