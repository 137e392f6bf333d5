"""The first price model (kept for artifacts already in registries): a small PyTorch MLP over the newest bar's
scale-free inputs, predicting the next 1-min bar. New models are the sequence model of `forecasters`.

Two heads: the probability that the next bar closes up, and its expected log return. Trained on the
replay history (the same generator, seed and feature code as the live replay stream), evaluated on the
last days held out in time against the climatology baseline (always predict the training up-rate).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.features.indicators import indicators
from marketpulse.features.model_inputs import MODEL_INPUT_COLUMNS, complete_rows, model_inputs
from marketpulse.models.data import Dataset, replay_minute_bars
from marketpulse.models.forecasters import Forecaster, Predictions
from marketpulse.models.metrics import auc, log_loss

#: The registry name the stream serves by default (Settings.models.price_name); any kind of price model lives here.
MODEL_NAME = "price"
HORIZON = "1min"
__all__ = ["HORIZON", "MODEL_NAME", "MlpForecaster", "PriceScorer", "auc", "log_loss", "replay_minute_bars"]


@dataclass(frozen=True)
class TrainingSet:
    """Inputs X, labels (up, log return) and the bar times, in time order."""

    x: np.ndarray[Any, np.dtype[np.float64]]
    up: np.ndarray[Any, np.dtype[np.float64]]
    ret: np.ndarray[Any, np.dtype[np.float64]]
    ts: pd.Series


def training_set(bars: pd.DataFrame) -> TrainingSet:
    """Point in time: inputs use bars up to t (indicators look back only); the label is bar t+1 of the same day."""
    features = indicators(bars)
    inputs = model_inputs(features)
    next_close = features.groupby("symbol")["close"].shift(-1)
    same_day = features.groupby("symbol")["ts"].shift(-1).dt.date == features["ts"].dt.date
    label = np.log(next_close / features["close"])
    usable = complete_rows(inputs) & same_day & label.notna()
    ordered = features[usable].sort_values("ts", kind="stable").index
    return TrainingSet(
        x=inputs.loc[ordered, MODEL_INPUT_COLUMNS].to_numpy(),
        up=(label.loc[ordered] > 0).to_numpy(dtype=np.float64),
        ret=label.loc[ordered].to_numpy(dtype=np.float64),
        ts=features.loc[ordered, "ts"].reset_index(drop=True),
    )


def build_network(n_inputs: int, mean: np.ndarray[Any, Any], std: np.ndarray[Any, Any]) -> Any:
    """The MLP with input standardisation built in (so the saved state carries it)."""
    from marketpulse.optional.torch import nn, torch

    mean_values, std_values = mean, std

    class PriceNet(nn.Module):
        mean: torch.Tensor
        std: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor(mean_values, dtype=torch.float32))
            self.register_buffer("std", torch.tensor(std_values, dtype=torch.float32))
            self.body = nn.Sequential(
                nn.Linear(n_inputs, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 2)
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body((x - self.mean) / self.std)  # type: ignore[no-any-return]

    return PriceNet()


@dataclass(frozen=True)
class TrainedModel:
    """Weights (torch state_dict bytes) and the validation report."""

    weights: bytes
    meta: dict[str, Any]


def train(
    data: TrainingSet,
    *,
    epochs: int = 8,
    seed: int = 7,
    holdout: float = 0.2,
    on_epoch: Callable[[int, float], None] | None = None,
) -> TrainedModel:
    """Fit on the first (1 - holdout) of time, report on the rest against climatology."""
    from marketpulse.optional.torch import torch

    torch.manual_seed(seed)
    split = int(len(data.x) * (1 - holdout))
    if split < 100 or len(data.x) - split < 50:
        raise ValueError(f"too little data to train and hold out ({len(data.x)} rows): replay more days")
    x_train, x_test = data.x[:split], data.x[split:]
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-12
    ret_scale = float(np.std(data.ret[:split]) + 1e-12)  # returns are ~1e-4: scale the regression target to ~1
    net = build_network(x_train.shape[1], mean, std)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-5)
    xt = torch.tensor(x_train, dtype=torch.float32)
    up_t = torch.tensor(data.up[:split], dtype=torch.float32)
    ret_t = torch.tensor(data.ret[:split] / ret_scale, dtype=torch.float32)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        order = torch.randperm(len(xt), generator=generator)
        total = 0.0
        for start in range(0, len(xt), 512):
            batch = order[start : start + 512]
            out = net(xt[batch])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(out[:, 0], up_t[batch])
            loss = loss + 0.5 * torch.nn.functional.mse_loss(out[:, 1], ret_t[batch])
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        if on_epoch:
            on_epoch(epoch + 1, total / len(xt))

    with torch.no_grad():
        out = net(torch.tensor(x_test, dtype=torch.float32))
        p_test = torch.sigmoid(out[:, 0]).numpy().astype(np.float64)
    y_test = data.up[split:]
    base_rate = float(data.up[:split].mean())
    climatology = np.full_like(y_test, base_rate)
    metrics = {
        "log_loss": log_loss(p_test, y_test),
        "log_loss_climatology": log_loss(climatology, y_test),
        "brier": float(np.mean((p_test - y_test) ** 2)),
        "brier_climatology": float(np.mean((climatology - y_test) ** 2)),
        "auc": auc(p_test, y_test),
        "directional_accuracy": float(np.mean((p_test > 0.5) == (y_test == 1))),
        "test_rows": len(y_test),
    }
    metrics["beats_climatology"] = metrics["log_loss"] < metrics["log_loss_climatology"]
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    meta = {
        "features": MODEL_INPUT_COLUMNS,
        "horizon": HORIZON,
        "ret_scale": ret_scale,
        "train_range": [str(data.ts.iloc[0]), str(data.ts.iloc[split - 1])],
        "test_range": [str(data.ts.iloc[split]), str(data.ts.iloc[-1])],
        "train_rows": split,
        "epochs": epochs,
        "seed": seed,
        "metrics": metrics,
    }
    return TrainedModel(buffer.getvalue(), meta)


class PriceScorer:
    """Scores indicator rows with a stored model; `from_artifact` rebuilds it from registry bytes."""

    def __init__(self, net: Any, meta: dict[str, Any], version: str) -> None:
        self.net = net.eval()
        self.meta = meta
        self.version = version
        self.name = MODEL_NAME

    @classmethod
    def from_artifact(cls, weights: bytes, meta: dict[str, Any], version: str) -> PriceScorer:
        from marketpulse.optional.torch import torch

        state = torch.load(io.BytesIO(weights), weights_only=True)
        n_inputs = len(meta["features"])
        net = build_network(n_inputs, np.zeros(n_inputs), np.ones(n_inputs))
        net.load_state_dict(state)
        return cls(net, meta, version)

    @property
    def window(self) -> int:
        return 1

    def score(self, indicator_rows: pd.DataFrame, context: pd.DataFrame | None = None) -> pd.DataFrame:
        """Predictions for every row with complete inputs: symbol, feature_ts, horizon, prob_up, expected_return.

        `context` (earlier rows, for sequence models) is not needed: this model reads the newest bar only."""
        from marketpulse.optional.torch import torch

        inputs = model_inputs(indicator_rows)
        usable = complete_rows(inputs)
        rows = indicator_rows[usable]
        if rows.empty:
            from marketpulse.models.serving import empty_predictions

            return empty_predictions()
        with torch.no_grad():
            out = self.net(torch.tensor(inputs[usable][self.meta["features"]].to_numpy(), dtype=torch.float32))
        return pd.DataFrame(
            {
                "symbol": rows["symbol"].to_numpy(),
                "feature_ts": rows["ts"].to_numpy(),
                "horizon": self.meta["horizon"],
                "prob_up": torch.sigmoid(out[:, 0]).numpy().astype(np.float64),
                "expected_return": out[:, 1].numpy().astype(np.float64) * float(self.meta["ret_scale"]),
                "model_name": self.name,
                "model_version": self.version,
                "base_model_version": self.version,
                "model_family": "mlp",
            }
        )


class MlpForecaster(Forecaster):
    """A stored MLP as a walk-forward forecaster (for comparing a legacy production model on held-out data)."""

    kind = "mlp"

    def __init__(self, scorer: PriceScorer) -> None:
        self.scorer = scorer

    @classmethod
    def from_artifact(cls, weights: bytes, meta: dict[str, Any]) -> MlpForecaster:
        return cls(PriceScorer.from_artifact(weights, meta, str(meta.get("version", ""))))

    def predict(self, data: Dataset, rows: np.ndarray[Any, Any]) -> Predictions:
        from marketpulse.optional.torch import torch

        with torch.no_grad():
            out = self.scorer.net(torch.tensor(data.inputs[rows], dtype=torch.float32))
        prob = torch.sigmoid(out[:, 0]).numpy().astype(np.float64)
        expected = out[:, 1].numpy().astype(np.float64) * float(self.scorer.meta["ret_scale"])
        return {str(self.scorer.meta.get("horizon", HORIZON)): (prob, expected)}
