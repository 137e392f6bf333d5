"""Gradient-boosted trees (LightGBM) on the tabular inputs: the strong tabular learner beside the sequence model.

Per horizon, one binary classifier (P(up)) and one regressor (the return, scaled by its training std), both
trained on the fit rows with early stopping on the calibration rows that follow them in time, and the
classifier Platt-calibrated on those rows: the same protocol as the sequence model. Small, shallow trees with
strong leaf minimums: 1-minute returns are mostly noise, so the trees must not chase it. Deterministic
(`deterministic`, one thread, a seed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from marketpulse.models.data import Dataset
from marketpulse.models.forecasters import Forecaster, Predictions, _sigmoid, fit_platt
from marketpulse.models.tabular import TABULAR_COLUMNS

Array = np.ndarray[Any, Any]
GBM_KIND = "gbm"
ROUNDS = 400
PATIENCE = 40


def _params(objective: str, seed: int) -> dict[str, Any]:
    return {
        "objective": objective,
        "learning_rate": 0.05,
        "num_leaves": 15,
        "max_depth": 5,
        "min_data_in_leaf": 400,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 10.0,
        "max_bin": 63,
        "num_threads": 1,
        "deterministic": True,
        "force_row_wise": True,
        "seed": seed,
        "verbose": -1,
    }


@dataclass
class GradientBoosted(Forecaster):
    """Per horizon: a LightGBM classifier (+ Platt) and regressor over TABULAR_COLUMNS of the newest bar."""

    classifiers: dict[str, Any]
    regressors: dict[str, Any]
    platt: dict[str, tuple[float, float]]
    ret_scale: dict[str, float]
    rounds: dict[str, dict[str, int]]
    kind = GBM_KIND

    @classmethod
    def fit(
        cls, data: Dataset, fit_rows: dict[str, Array], cal_rows: dict[str, Array], *, seed: int
    ) -> GradientBoosted:
        from marketpulse.optional.lightgbm import lightgbm as lgb

        model = cls({}, {}, {}, {}, {})
        for h, rows in fit_rows.items():
            cal = cal_rows.get(h, np.zeros(0, dtype=np.int64))
            if len(rows) < 200 or len(cal) < 20:
                raise ValueError(f"too little data to train the trees on {h} ({len(rows)} fit / {len(cal)} cal rows)")
            x_fit, x_cal = data.tabular[rows], data.tabular[cal]
            ret_fit, ret_cal = data.ret[h][rows], data.ret[h][cal]
            scale = float(np.std(ret_fit) + 1e-12)
            boosters = {}
            for objective, y_fit, y_cal in (
                ("binary", (ret_fit > 0).astype(np.float64), (ret_cal > 0).astype(np.float64)),
                ("regression", ret_fit / scale, ret_cal / scale),
            ):
                train = lgb.Dataset(x_fit, y_fit, feature_name=TABULAR_COLUMNS, free_raw_data=False)
                valid = lgb.Dataset(x_cal, y_cal, reference=train)
                boosters[objective] = lgb.train(
                    _params(objective, seed),
                    train,
                    num_boost_round=ROUNDS,
                    valid_sets=[valid],
                    callbacks=[lgb.early_stopping(PATIENCE, verbose=False)],
                )
            model.classifiers[h], model.regressors[h] = boosters["binary"], boosters["regression"]
            model.ret_scale[h] = scale
            model.rounds[h] = {k: int(b.best_iteration or b.current_iteration()) for k, b in boosters.items()}
            model.platt[h] = fit_platt(model._raw(h, x_cal), (ret_cal > 0).astype(np.float64))
        return model

    def _raw(self, h: str, x: Array) -> Array:
        booster = self.classifiers[h]
        best = booster.best_iteration or None
        return np.asarray(booster.predict(x, raw_score=True, num_iteration=best, num_threads=1), dtype=np.float64)

    def predict(self, data: Dataset, rows: Array) -> Predictions:
        x = data.tabular[rows]
        out: Predictions = {}
        for h in self.classifiers:
            a, b = self.platt.get(h, (1.0, 0.0))
            regressor = self.regressors[h]
            scaled = regressor.predict(x, num_iteration=regressor.best_iteration or None, num_threads=1)
            out[h] = (_sigmoid(a * self._raw(h, x) + b), np.asarray(scaled, dtype=np.float64) * self.ret_scale[h])
        return out

    def weights(self) -> bytes:
        def dump(boosters: dict[str, Any]) -> dict[str, str]:
            return {h: b.model_to_string(num_iteration=b.best_iteration or None) for h, b in boosters.items()}

        state = {
            "classifiers": dump(self.classifiers),
            "regressors": dump(self.regressors),
            "platt": {h: list(v) for h, v in self.platt.items()},
            "ret_scale": self.ret_scale,
            "rounds": self.rounds,
        }
        return json.dumps(state).encode()

    def meta(self) -> dict[str, Any]:
        return {
            "kind": GBM_KIND,
            "horizons": list(self.classifiers),
            "features": TABULAR_COLUMNS,
            "rounds": self.rounds,
        }

    @classmethod
    def from_artifact(cls, weights: bytes, meta: dict[str, Any]) -> GradientBoosted:
        from marketpulse.optional.lightgbm import lightgbm as lgb

        state = json.loads(weights)
        if list(meta.get("features", TABULAR_COLUMNS)) != TABULAR_COLUMNS:
            raise ValueError("the stored trees read other tabular inputs than this code computes: retrain them")

        def load(strings: dict[str, str]) -> dict[str, Any]:
            return {h: lgb.Booster(model_str=text) for h, text in strings.items()}

        platt = {h: (float(v[0]), float(v[1])) for h, v in state["platt"].items()}
        return cls(
            load(state["classifiers"]), load(state["regressors"]), platt, dict(state["ret_scale"]), state["rounds"]
        )
