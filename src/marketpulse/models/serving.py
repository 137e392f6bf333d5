"""The production models as the stream sees them: loaded from the registry, hot-reloaded on promotion.

The market job calls `StreamModels.predict(indicator_rows, context_rows)` once per micro-batch. Between
batches (at most every `models.reload_s`) it re-reads the `production` pointers of the price model and the
ensemble; a new version is loaded and used from the next batch on, without restarting the job. Every
prediction row carries the model name and version that made it, and which family served it: production is
whatever won the walk-forward per horizon, a baseline included (`models.selection`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.config import Settings
from marketpulse.models.data import Dataset, dataset_from_features
from marketpulse.models.forecasters import WINDOW
from marketpulse.models.registry import ModelArtifact, ModelNotFoundError, ModelRegistry
from marketpulse.models.selection import SELECTION_KIND, Selection, load_forecaster, single_family

log = logging.getLogger(__name__)

PREDICTION_COLUMNS = [
    "symbol",
    "feature_ts",
    "horizon",
    "prob_up",
    "expected_return",
    "model_name",
    "model_version",
    # The registry version of the family that made the row (for a selection: its member `<stamp>-<family>`),
    # and that family (climatology, persistence, logistic, tcn, gbm; mlp for the first model).
    "base_model_version",
    "model_family",
]


class Scorer(Protocol):
    version: str

    @property
    def window(self) -> int: ...

    def score(self, indicator_rows: pd.DataFrame, context: pd.DataFrame | None = None) -> pd.DataFrame: ...


def empty_predictions() -> pd.DataFrame:
    return pd.DataFrame({column: [] for column in PREDICTION_COLUMNS})


class SelectionScorer:
    """Scores a batch's new indicator rows with the production selection: per horizon the family the walk-forward
    chose. Inputs come from `dataset_from_features` over the context rows + the new rows, the code training
    uses, so a scored bar sees exactly its training inputs; a bar is scored when the WINDOW bars ending at it (same
    symbol) all have complete inputs, as in training. Vectorised over every symbol of the batch."""

    def __init__(self, selection: Selection, name: str, version: str) -> None:
        self.selection = selection
        self.name = name
        self.version = version

    @property
    def window(self) -> int:
        return WINDOW

    @property
    def families(self) -> dict[str, str]:
        """Horizon -> served family."""
        return {h: m.family for h, m in self.selection.serving.items()}

    @classmethod
    def from_artifact(cls, artifact: ModelArtifact, registry: ModelRegistry | None = None) -> SelectionScorer:
        if artifact.meta.get("kind") == SELECTION_KIND and registry is None:
            raise ValueError("a selection's members are loaded from the registry: pass it")
        selection = load_forecaster(registry, artifact) if registry is not None else single_family(artifact)
        return cls(selection, artifact.name, artifact.version)

    def rows(self, indicator_rows: pd.DataFrame, context: pd.DataFrame | None) -> tuple[Dataset, np.ndarray[Any, Any]]:
        """(dataset over context + new rows, positions of the scorable new rows)."""
        parts = [indicator_rows.assign(_new=True)]
        if context is not None and not context.empty:
            parts.insert(0, context.assign(_new=False))
        rows = pd.concat(parts, ignore_index=True)
        # A bar present as both context and new row (a re-sent bar) is scored from its newest values.
        rows = rows.drop_duplicates(subset=["symbol", "ts"], keep="last").sort_values(["symbol", "ts"], kind="stable")
        data = dataset_from_features(rows.reset_index(drop=True), [], WINDOW)
        chosen = np.flatnonzero(data.frame["_new"].to_numpy(dtype=bool) & data.window_ok)
        return data, chosen

    def score(self, indicator_rows: pd.DataFrame, context: pd.DataFrame | None = None) -> pd.DataFrame:
        if indicator_rows.empty:
            return empty_predictions()
        data, chosen = self.rows(indicator_rows, context)
        if not len(chosen):
            return empty_predictions()
        predicted = self.selection.predict(data, chosen)
        # A Series keeps the zone-aware dtype (a numpy view of it would be an object array of Timestamps).
        feature_ts = data.frame["ts"].iloc[chosen].reset_index(drop=True)
        symbols = data.frame["symbol"].to_numpy()[chosen]
        frames = [
            pd.DataFrame(
                {
                    "symbol": symbols,
                    "feature_ts": feature_ts,
                    "horizon": horizon,
                    "prob_up": prob,
                    "expected_return": expected,
                    "model_name": self.name,
                    "model_version": self.version,
                    "base_model_version": self.selection.serving[horizon].version,
                    "model_family": self.selection.serving[horizon].family,
                }
            )
            for horizon, (prob, expected) in predicted.items()
        ]
        return pd.concat(frames, ignore_index=True)


#: The first serving class's name: a single stored family (e.g. the sequence model) scores the same way.
SequenceScorer = SelectionScorer


def load_scorer(artifact: ModelArtifact, registry: ModelRegistry | None = None) -> Scorer:
    """The scorer for a stored price model of any kind: a selection, one family's version, or the first MLP."""
    if "kind" not in artifact.meta:
        from marketpulse.models.price import PriceScorer

        scorer = PriceScorer.from_artifact(artifact.weights, artifact.meta, artifact.version)
        scorer.name = artifact.name
        return scorer
    return SelectionScorer.from_artifact(artifact, registry)


class ProductionModel:
    """Re-reads the `production` pointer at most every reload_s; swaps the loaded model between micro-batches."""

    def __init__(
        self,
        settings: Settings,
        name: str,
        reload_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        loader: Callable[[ModelArtifact], Any] | None = None,
    ) -> None:
        self.registry = ModelRegistry(settings)
        self.name = name
        self.reload_s = reload_s
        self.clock = clock
        self.loader = loader or (lambda artifact: load_scorer(artifact, self.registry))
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

    def __init__(
        self, settings: Settings, clock: Callable[[], float] = time.monotonic, torch_threads: int | None = 1
    ) -> None:
        from marketpulse.models.ensemble import Ensemble

        self.torch_threads = torch_threads
        cfg = settings.models
        self.price = ProductionModel(settings, cfg.price_name, cfg.reload_s, clock)
        self.ensemble = ProductionModel(settings, cfg.ensemble_name, cfg.reload_s, clock, loader=Ensemble.from_artifact)

    def predict(
        self, indicator_rows: pd.DataFrame, context: pd.DataFrame | None = None
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(predictions of the price model and of the ensemble, one row per symbol/bar/horizon/model; the
        ensemble's sentiment inputs per symbol/bar/horizon, for re-fitting its weights later)."""
        scorer = self.price.current()
        if self.torch_threads is not None:
            _limit_torch_threads(self.torch_threads)
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


def _limit_torch_threads(threads: int) -> None:
    """One intra-op thread: a micro-batch's windows are few, and the stream's other work needs the other cores.

    Only once a served family has imported torch: importing it just to set this would cost the job ~0.4 GiB
    resident (the PyPI wheel maps its CUDA libraries) while the trees and the logistic model serve without it.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
