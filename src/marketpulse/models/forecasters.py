"""The sequence model (a causal temporal CNN) and the baselines it must beat, all trained the same way.

Every forecaster is fitted on the `fit` rows of a Dataset and calibrated on the `cal` rows that follow them in
time, and predicts (P(up), expected log return) per horizon for any rows. Baselines:
- climatology: the fit period's up-rate and mean return, whatever the inputs;
- persistence: the fit period's up-rate and mean return given the sign of the last 1-bar return;
- logistic: L2 logistic regression (and ridge for the return) on the newest bar's inputs.
The sequence model and the logistic baseline get Platt scaling on the cal rows; the frequency baselines are
calibrated by construction.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from marketpulse.features.model_inputs import MODEL_INPUT_COLUMNS
from marketpulse.models.data import Dataset
from marketpulse.models.metrics import log_loss

Array = np.ndarray[Any, Any]
Predictions = dict[str, tuple[Array, Array]]  # horizon -> (prob_up, expected_return)
#: on_epoch(epoch, epochs, train_loss, cal_log_loss)
EpochCallback = Callable[[int, int, float, float], None]

SEQUENCE_KIND = "tcn"
WINDOW = 32  # bars per input sequence; the receptive field of the dilations below (1 + 2 * (1+2+4+8) = 31)
DILATIONS = (1, 2, 4, 8)
CHANNELS = 16


def labelled(data: Dataset, rows: Array, horizon: str, before_ns: int | None = None) -> Array:
    """The rows with a label for horizon whose target bar lies before `before_ns` (purging labels that would
    reach into a later test or calibration period)."""
    ok = ~np.isnan(data.ret[horizon][rows])
    if before_ns is not None:
        ok &= data.end_ns[horizon][rows] < before_ns
    return np.asarray(rows[ok])


def _sigmoid(z: Array) -> Array:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))))


def _logit(p: Array) -> Array:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)))


def _newton_logistic(
    design: Array, y: Array, start: Array, ridge: Array, iterations: int, tol: float, jitter: float = 0.0
) -> Array:
    """Weights minimising the log-loss of sigmoid(design @ w) plus w' ridge w / 2, by Newton steps (IRLS) from
    start until no weight moves more than tol; jitter on the Hessian's diagonal keeps it invertible."""
    w = start.astype(np.float64, copy=True)
    for _ in range(iterations):
        p = _sigmoid(design @ w)
        gradient = design.T @ (p - y) + ridge @ w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + ridge + jitter * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < tol:
            break
    return w


def fit_platt(z: Array, y: Array, iterations: int = 50) -> tuple[float, float]:
    """(a, b) minimising the log-loss of sigmoid(a z + b) by Newton steps (a tiny ridge keeps it stable)."""
    if len(y) < 20 or y.min() == y.max():
        return 1.0, 0.0
    design = np.column_stack([z, np.ones_like(z)])
    params = _newton_logistic(design, y, np.array([1.0, 0.0]), 1e-3 * np.eye(2), iterations, tol=1e-9)
    return float(params[0]), float(params[1])


def fit_logistic_weights(x: Array, y: Array, l2: float = 1e-2, iterations: int = 30) -> Array:
    """Weights (last = bias) of an L2 logistic regression, Newton/IRLS: deterministic, no learning rate."""
    design = np.column_stack([x, np.ones(len(x))])
    ridge = l2 * len(x) * np.eye(design.shape[1])
    ridge[-1, -1] = 0.0  # the bias is not shrunk
    return _newton_logistic(design, y, np.zeros(design.shape[1]), ridge, iterations, tol=1e-10, jitter=1e-9)


class Forecaster:
    """Predicts (P(up), expected return) per horizon for dataset rows; stored in the registry as weights + meta."""

    kind = "base"

    def predict(self, data: Dataset, rows: Array) -> Predictions:
        raise NotImplementedError

    def weights(self) -> bytes:
        """The fitted state (what `from_artifact` reads back)."""
        raise NotImplementedError

    def meta(self) -> dict[str, Any]:
        """Registry metadata: at least `kind` and `horizons`."""
        raise NotImplementedError


def _json(value: Any) -> bytes:
    return json.dumps(value, default=lambda v: v.tolist() if isinstance(v, np.ndarray) else str(v)).encode()


def forecaster_from_artifact(weights: bytes, meta: dict[str, Any]) -> Forecaster:
    """Any stored price model, by its `kind` (a baseline, the sequence model or the gradient-boosted trees)."""
    kind = meta.get("kind")
    if kind == SEQUENCE_KIND:
        return SequenceModel.from_artifact(weights, meta)
    if kind == "gbm":
        from marketpulse.models.gbm import GradientBoosted

        return GradientBoosted.from_artifact(weights, meta)
    loaders: dict[str, Callable[[bytes, dict[str, Any]], Forecaster]] = {
        "climatology": Climatology.from_artifact,
        "persistence": Persistence.from_artifact,
        "logistic": Logistic.from_artifact,
    }
    if kind not in loaders:
        raise ValueError(f"unknown price model kind {kind!r}")
    return loaders[str(kind)](weights, meta)


@dataclass
class Climatology(Forecaster):
    up_rate: dict[str, float]
    mean_ret: dict[str, float]
    kind = "climatology"

    @classmethod
    def fit(cls, data: Dataset, fit_rows: dict[str, Array]) -> Climatology:
        return cls(
            {h: float((data.ret[h][r] > 0).mean()) if len(r) else 0.5 for h, r in fit_rows.items()},
            {h: float(data.ret[h][r].mean()) if len(r) else 0.0 for h, r in fit_rows.items()},
        )

    def predict(self, data: Dataset, rows: Array) -> Predictions:
        return {h: (np.full(len(rows), self.up_rate[h]), np.full(len(rows), self.mean_ret[h])) for h in self.up_rate}

    def weights(self) -> bytes:
        return _json({"up_rate": self.up_rate, "mean_ret": self.mean_ret})

    def meta(self) -> dict[str, Any]:
        return {"kind": self.kind, "horizons": list(self.up_rate), "window": 1}

    @classmethod
    def from_artifact(cls, weights: bytes, meta: dict[str, Any]) -> Climatology:
        state = json.loads(weights)
        return cls(dict(state["up_rate"]), dict(state["mean_ret"]))


_LAST_RETURN = MODEL_INPUT_COLUMNS.index("log_ret_1")


@dataclass
class Persistence(Forecaster):
    """P(up | sign of the last bar's return): three cells (down, flat, up) per horizon."""

    cells: dict[str, list[tuple[float, float]]]
    kind = "persistence"

    @staticmethod
    def _cell(data: Dataset, rows: Array) -> Array:
        return np.asarray(np.sign(data.inputs[rows, _LAST_RETURN]).astype(np.int64) + 1)

    @classmethod
    def fit(cls, data: Dataset, fit_rows: dict[str, Array]) -> Persistence:
        cells: dict[str, list[tuple[float, float]]] = {}
        for h, rows in fit_rows.items():
            cell = cls._cell(data, rows)
            ret = data.ret[h][rows]
            overall = (float((ret > 0).mean()) if len(ret) else 0.5, float(ret.mean()) if len(ret) else 0.0)
            values = []
            for c in range(3):
                mask = cell == c
                # Laplace smoothing towards the overall rate keeps an empty or tiny cell sensible.
                n = int(mask.sum())
                up = ((ret[mask] > 0).sum() + 2 * overall[0]) / (n + 2)
                mean = float(ret[mask].sum() / n) if n else overall[1]
                values.append((float(up), mean))
            cells[h] = values
        return cls(cells)

    def predict(self, data: Dataset, rows: Array) -> Predictions:
        cell = self._cell(data, rows)
        out: Predictions = {}
        for h, values in self.cells.items():
            table = np.asarray(values, dtype=np.float64)  # (3 cells, (up-rate, mean return))
            out[h] = (table[cell, 0], table[cell, 1])
        return out

    def weights(self) -> bytes:
        return _json({"cells": self.cells})

    def meta(self) -> dict[str, Any]:
        return {"kind": self.kind, "horizons": list(self.cells), "window": 1, "features": ["log_ret_1"]}

    @classmethod
    def from_artifact(cls, weights: bytes, meta: dict[str, Any]) -> Persistence:
        cells = json.loads(weights)["cells"]
        return cls({h: [(float(u), float(m)) for u, m in v] for h, v in cells.items()})


@dataclass
class Logistic(Forecaster):
    """Logistic regression + ridge on the newest bar's standardised inputs, Platt-calibrated."""

    mean: Array
    std: Array
    weights_: dict[str, Array]
    ret_weights: dict[str, Array]
    platt: dict[str, tuple[float, float]] = field(default_factory=dict)
    kind = "logistic"

    @classmethod
    def fit(cls, data: Dataset, fit_rows: dict[str, Array], cal_rows: dict[str, Array]) -> Logistic:
        every = np.unique(np.concatenate(list(fit_rows.values())))
        x_all = data.inputs[every].astype(np.float64)
        mean, std = x_all.mean(axis=0), x_all.std(axis=0) + 1e-12
        model = cls(mean, std, {}, {})
        for h, rows in fit_rows.items():
            x = model._x(data, rows)
            ret = data.ret[h][rows]
            model.weights_[h] = fit_logistic_weights(x, (ret > 0).astype(np.float64))
            design = np.column_stack([x, np.ones(len(x))])
            model.ret_weights[h] = np.linalg.solve(
                design.T @ design + 1e-3 * len(x) * np.eye(design.shape[1]), design.T @ ret
            )
        for h, rows in cal_rows.items():
            model.platt[h] = fit_platt(model._z(data, rows, h), (data.ret[h][rows] > 0).astype(np.float64))
        return model

    def _x(self, data: Dataset, rows: Array) -> Array:
        return np.asarray((data.inputs[rows].astype(np.float64) - self.mean) / self.std)

    def _z(self, data: Dataset, rows: Array, h: str) -> Array:
        x = self._x(data, rows)
        return np.asarray(x @ self.weights_[h][:-1] + self.weights_[h][-1])

    def predict(self, data: Dataset, rows: Array) -> Predictions:
        out: Predictions = {}
        x = self._x(data, rows)
        for h in self.weights_:
            a, b = self.platt.get(h, (1.0, 0.0))
            z = x @ self.weights_[h][:-1] + self.weights_[h][-1]
            out[h] = (_sigmoid(a * z + b), x @ self.ret_weights[h][:-1] + self.ret_weights[h][-1])
        return out

    def weights(self) -> bytes:
        return _json(
            {
                "mean": self.mean,
                "std": self.std,
                "weights": self.weights_,
                "ret_weights": self.ret_weights,
                "platt": self.platt,
            }
        )

    def meta(self) -> dict[str, Any]:
        return {"kind": self.kind, "horizons": list(self.weights_), "window": 1, "features": MODEL_INPUT_COLUMNS}

    @classmethod
    def from_artifact(cls, weights: bytes, meta: dict[str, Any]) -> Logistic:
        state = json.loads(weights)

        def arrays(d: dict[str, Any]) -> dict[str, Array]:
            return {h: np.asarray(v, dtype=np.float64) for h, v in d.items()}

        platt = {h: (float(v[0]), float(v[1])) for h, v in state["platt"].items()}
        return cls(
            np.asarray(state["mean"]),
            np.asarray(state["std"]),
            arrays(state["weights"]),
            arrays(state["ret_weights"]),
            platt,
        )


# --- the sequence model ------------------------------------------------------------------------------------------


def build_tcn(
    n_features: int,
    n_horizons: int,
    mean: Array,
    std: Array,
    channels: int = CHANNELS,
    dilations: tuple[int, ...] = DILATIONS,
) -> Any:
    """Causal dilated 1-D CNN over (batch, time, features) -> (batch, horizons, 2): logit of P(up), scaled return.

    Standardisation is a buffer of the network, so the saved state carries it. The network's classes live in
    `models.tcn`, which needs torch: the baselines train and serve without it.
    """
    from marketpulse.models.tcn import TemporalCNN

    return TemporalCNN(n_features, n_horizons, mean, std, channels, dilations)


@dataclass
class SequenceModel(Forecaster):
    """The trained temporal CNN with its Platt calibration and return scales (everything scoring needs)."""

    net: Any
    horizons: list[str]
    ret_scale: dict[str, float]
    platt: dict[str, tuple[float, float]]
    history: list[dict[str, float]]
    kind = SEQUENCE_KIND

    def raw(self, windows: Array) -> tuple[Array, Array]:
        """(logits, scaled returns) of shape (rows, horizons) for input windows (rows, WINDOW, features)."""
        from marketpulse.optional.torch import torch

        outs = []
        self.net.eval()
        with torch.no_grad():
            for start in range(0, len(windows), 4096):
                outs.append(self.net(torch.tensor(windows[start : start + 4096], dtype=torch.float32)).numpy())
        out = np.concatenate(outs) if outs else np.zeros((0, len(self.horizons), 2), dtype=np.float32)
        return out[:, :, 0].astype(np.float64), out[:, :, 1].astype(np.float64)

    def predict_windows(self, windows: Array) -> Predictions:
        logits, scaled = self.raw(windows)
        out: Predictions = {}
        for k, h in enumerate(self.horizons):
            a, b = self.platt.get(h, (1.0, 0.0))
            out[h] = (_sigmoid(a * logits[:, k] + b), scaled[:, k] * self.ret_scale[h])
        return out

    def predict(self, data: Dataset, rows: Array) -> Predictions:
        return self.predict_windows(data.windows(rows))

    def weights(self) -> bytes:
        from marketpulse.optional.torch import torch

        buffer = io.BytesIO()
        torch.save(self.net.state_dict(), buffer)
        return buffer.getvalue()

    def meta(self) -> dict[str, Any]:
        return {
            "kind": SEQUENCE_KIND,
            "features": MODEL_INPUT_COLUMNS,
            "window": WINDOW,
            "channels": CHANNELS,
            "dilations": list(DILATIONS),
            "horizons": self.horizons,
            "ret_scale": self.ret_scale,
            "platt": {h: list(v) for h, v in self.platt.items()},
            "history": self.history,
        }

    @classmethod
    def from_artifact(cls, weights: bytes, meta: dict[str, Any]) -> SequenceModel:
        from marketpulse.optional.torch import torch

        n = len(meta["features"])
        net = build_tcn(n, len(meta["horizons"]), np.zeros(n), np.ones(n), meta["channels"], tuple(meta["dilations"]))
        net.load_state_dict(torch.load(io.BytesIO(weights), weights_only=True))
        platt = {h: (float(v[0]), float(v[1])) for h, v in meta["platt"].items()}
        return cls(net, list(meta["horizons"]), dict(meta["ret_scale"]), platt, list(meta.get("history", [])))


def fit_sequence(
    data: Dataset,
    fit_rows: dict[str, Array],
    cal_rows: dict[str, Array],
    *,
    epochs: int,
    seed: int,
    on_epoch: EpochCallback | None = None,
    batch_size: int | None = None,
) -> SequenceModel:
    """Train on fit rows (masked multi-horizon loss), keep the epoch with the best cal log-loss, Platt-calibrate."""
    from marketpulse.optional.torch import torch

    if data.window != WINDOW:
        raise ValueError(f"the sequence model reads {WINDOW}-bar windows; the dataset was built with {data.window}")
    torch.manual_seed(seed)
    horizons = list(fit_rows)
    every = np.unique(np.concatenate(list(fit_rows.values())))
    if len(every) < 200:
        raise ValueError(f"too little data to train ({len(every)} labelled rows): use a longer range")
    x_fit = data.inputs[every].astype(np.float64)
    mean, std = x_fit.mean(axis=0), x_fit.std(axis=0) + 1e-12
    ret_scale = {h: float(np.std(data.ret[h][r]) + 1e-12) if len(r) else 1.0 for h, r in fit_rows.items()}
    targets_up = np.full((len(every), len(horizons)), np.nan, dtype=np.float32)
    targets_ret = np.full_like(targets_up, np.nan)
    position = {row: i for i, row in enumerate(every.tolist())}
    for k, h in enumerate(horizons):
        idx = np.array([position[r] for r in fit_rows[h].tolist()], dtype=np.int64)
        targets_up[idx, k] = data.ret[h][fit_rows[h]] > 0
        targets_ret[idx, k] = data.ret[h][fit_rows[h]] / ret_scale[h]

    net = build_tcn(data.inputs.shape[1], len(horizons), mean, std)
    with torch.no_grad():  # start at the fit period's up-rate, so the first steps learn signal, not the base rate
        base = np.nanmean(targets_up, axis=0).clip(0.05, 0.95)
        net.head.bias.view(len(horizons), 2)[:, 0] = torch.tensor(np.log(base / (1 - base)), dtype=torch.float32)
    # About 100 optimiser steps per epoch on small sets, batches of 512 on large ones.
    batch_size = batch_size or int(np.clip(len(every) // 100, 64, 512))
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-5)
    up_t, ret_t = torch.tensor(targets_up), torch.tensor(targets_ret)
    generator = torch.Generator().manual_seed(seed)
    model = SequenceModel(net, horizons, ret_scale, {}, [])
    best: tuple[float, dict[str, Any]] | None = None
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(len(every), generator=generator).numpy()
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            x = torch.tensor(data.windows(every[batch]), dtype=torch.float32)
            out = net(x)
            up, ret = up_t[batch], ret_t[batch]
            known = ~torch.isnan(up)
            bce = torch.nn.functional.binary_cross_entropy_with_logits(out[:, :, 0][known], up[known])
            mse = torch.nn.functional.mse_loss(out[:, :, 1][known], ret[known])
            loss = bce + 0.5 * mse
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        cal_loss = _cal_log_loss(model, data, cal_rows)
        model.history.append({"epoch": epoch, "train_loss": total / len(order), "cal_log_loss": cal_loss})
        if on_epoch:
            on_epoch(epoch, epochs, total / len(order), cal_loss)
        if best is None or cal_loss < best[0]:
            best = (cal_loss, {k: v.clone() for k, v in net.state_dict().items()})
    assert best is not None
    net.load_state_dict(best[1])
    for k, h in enumerate(horizons):
        rows = cal_rows.get(h, np.zeros(0, dtype=np.int64))
        if len(rows):
            logits, _ = model.raw(data.windows(rows))
            model.platt[h] = fit_platt(logits[:, k], (data.ret[h][rows] > 0).astype(np.float64))
    return model


def _cal_log_loss(model: SequenceModel, data: Dataset, cal_rows: dict[str, Array]) -> float:
    """Mean over horizons of the uncalibrated log-loss on the calibration rows (the epoch selection score)."""
    losses = []
    for k, h in enumerate(model.horizons):
        rows = cal_rows.get(h)
        if rows is None or not len(rows):
            continue
        logits, _ = model.raw(data.windows(rows))
        losses.append(log_loss(_sigmoid(logits[:, k]), (data.ret[h][rows] > 0).astype(np.float64)))
    return float(np.mean(losses)) if losses else math.nan
