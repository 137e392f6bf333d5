"""The production models as the stream sees them: loaded from the registry, hot-reloaded on promotion.

The market job calls `StreamModels.predict(indicator_rows, context_rows)` once per micro-batch. Between
batches (at most every `models.reload_s`) it re-reads the `production` pointers of the price model and the
ensemble; a new version is loaded and used from the next batch on, without restarting the job. Every
prediction row carries the model name and version that made it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.config import Settings
from marketpulse.features.model_inputs import MODEL_INPUT_COLUMNS, model_inputs
from marketpulse.models.registry import ModelArtifact, ModelNotFoundError, ModelRegistry

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = [
    "symbol",
    "feature_ts",
    "horizon",
    "prob_up",
    "expected_return",
    "model_name",
    "model_version",
]


class Scorer(Protocol):
    version: str

    @property
    def window(self) -> int: ...

    def score(self, indicator_rows: pd.DataFrame, context: pd.DataFrame | None = None) -> pd.DataFrame: ...


def empty_predictions() -> pd.DataFrame:
    return pd.DataFrame({column: [] for column in PREDICTION_COLUMNS})


class SequenceScorer:
    """Scores each new indicator row from the window of bars ending at it (context rows + this batch's rows)."""

    def __init__(self, model: Any, name: str, version: str, window: int) -> None:
        self.model = model
        self.name = name
        self.version = version
        self._window = window

    @property
    def window(self) -> int:
        return self._window

    @classmethod
    def from_artifact(cls, artifact: ModelArtifact) -> SequenceScorer:
        from marketpulse.models.forecasters import SequenceModel

        model = SequenceModel.from_artifact(artifact.weights, artifact.meta)
        return cls(model, artifact.name, artifact.version, int(artifact.meta["window"]))

    def windows(
        self, indicator_rows: pd.DataFrame, context: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
        """(the scorable new rows, their input windows): a row is scorable when the `window` bars ending at it,
        of the same symbol, all have complete inputs."""
        parts = [indicator_rows.assign(_new=True)]
        if context is not None and not context.empty:
            parts.insert(0, context.assign(_new=False))
        rows = pd.concat(parts, ignore_index=True)
        # A bar present as both context and new row (a re-sent bar) is scored from its newest values.
        rows = rows.drop_duplicates(subset=["symbol", "ts"], keep="last").sort_values(["symbol", "ts"], kind="stable")
        rows = rows.reset_index(drop=True)
        inputs = model_inputs(rows)[MODEL_INPUT_COLUMNS]
        values = inputs.to_numpy(dtype=np.float32)
        complete = inputs.notna().all(axis=1).to_numpy()
        same_symbol = rows["symbol"].to_numpy()
        run = np.zeros(len(rows), dtype=np.int64)
        for i in range(len(rows)):
            if complete[i]:
                run[i] = run[i - 1] + 1 if i and same_symbol[i - 1] == same_symbol[i] else 1
        chosen = np.flatnonzero(rows["_new"].to_numpy(dtype=bool) & (run >= self.window))
        offsets = np.arange(-self.window + 1, 1)
        return rows.iloc[chosen], values[chosen[:, None] + offsets[None, :]]

    def score(self, indicator_rows: pd.DataFrame, context: pd.DataFrame | None = None) -> pd.DataFrame:
        if indicator_rows.empty:
            return empty_predictions()
        rows, windows = self.windows(indicator_rows, context)
        if rows.empty:
            return empty_predictions()
        predicted = self.model.predict_windows(windows)
        frames = [
            pd.DataFrame(
                {
                    "symbol": rows["symbol"].to_numpy(),
                    "feature_ts": rows["ts"].to_numpy(),
                    "horizon": horizon,
                    "prob_up": prob,
                    "expected_return": expected,
                    "model_name": self.name,
                    "model_version": self.version,
                }
            )
            for horizon, (prob, expected) in predicted.items()
        ]
        return pd.concat(frames, ignore_index=True)


def load_scorer(artifact: ModelArtifact) -> Scorer:
    """The scorer for a stored price model of any kind (sequence model, or the first MLP)."""
    if artifact.meta.get("kind") == "tcn":
        return SequenceScorer.from_artifact(artifact)
    from marketpulse.models.price import PriceScorer

    scorer = PriceScorer.from_artifact(artifact.weights, artifact.meta, artifact.version)
    scorer.name = artifact.name
    return scorer


class ProductionModel:
    """Re-reads the `production` pointer at most every reload_s; swaps the loaded model between micro-batches."""

    def __init__(
        self,
        settings: Settings,
        name: str,
        reload_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        loader: Callable[[ModelArtifact], Any] = load_scorer,
    ) -> None:
        self.registry = ModelRegistry(settings)
        self.name = name
        self.reload_s = reload_s
        self.clock = clock
        self.loader = loader
        self._scorer: Any = None
        self._checked_at: float | None = None
        self._warned: set[str] = set()

    def current(self) -> Any:
        """The loaded production version, or None (nothing promoted yet, or torch not installed)."""
        now = self.clock()
        if self._checked_at is not None and now - self._checked_at < self.reload_s:
            return self._scorer
        self._checked_at = now
        version = self.registry.production_version(self.name)
        if version is None:
            self._warn_once(f"no production version of {self.name}: it is skipped until one is promoted")
            self._scorer = None
            return None
        if self._scorer is None or self._scorer.version != version:
            try:
                loaded = self.loader(self.registry.load(self.name, version))
            except ImportError:
                self._warn_once("torch is not installed (pip install 'marketpulse[ml]'): predictions are skipped")
                return None
            except ModelNotFoundError as exc:
                # A pointer to a missing or half-deleted version must not stop the stream: keep what we serve.
                self._warn_once(f"{self.name}: cannot load production version {version} ({exc}); keeping the old one")
                return self._scorer
            log.info("%s: now serving version %s (was %s)", self.name, version, getattr(self._scorer, "version", None))
            self._scorer = loaded
        return self._scorer

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            log.warning(message)
            self._warned.add(message)


class StreamModels:
    """What the market job scores with: the production price model and, when promoted, the ensemble on top."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        from marketpulse.models.ensemble import Ensemble

        cfg = settings.models
        self.price = ProductionModel(settings, cfg.price_name, cfg.reload_s, clock)
        self.ensemble = ProductionModel(settings, cfg.ensemble_name, cfg.reload_s, clock, loader=Ensemble.from_artifact)

    def predict(
        self, indicator_rows: pd.DataFrame, context: pd.DataFrame | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(predictions of the price model and of the ensemble, one row per symbol/bar/horizon/model; the
        ensemble's sentiment inputs per symbol/bar/horizon, for re-fitting its weights later)."""
        scorer = self.price.current()
        if scorer is None or indicator_rows.empty:
            return empty_predictions(), pd.DataFrame()
        predictions = scorer.score(indicator_rows, context)
        if predictions.empty:
            return predictions, pd.DataFrame()
        predictions["feature_ts"] = pd.to_datetime(predictions["feature_ts"], utc=True)
        ensemble = self.ensemble.current()
        if ensemble is None:
            return predictions, pd.DataFrame()
        combined, inputs = ensemble.combine(predictions, indicator_rows)
        return pd.concat([predictions, combined], ignore_index=True), inputs
