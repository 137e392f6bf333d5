"""The served price model: per horizon, the family the walk-forward chose (a baseline or a candidate).

Every family fitted on the last fold is its own registry version (`<stamp>-<family>`, loadable and servable
alone); the selection is one more version (`<stamp>`, kind `selection`) whose metadata names, per horizon, the
family, its version, why it was chosen and what the walk-forward expects of it (for the live scorecard). The
`production` pointer names a selection (or, after a manual `models promote`, a single family's version).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from marketpulse.models.data import Dataset
from marketpulse.models.forecasters import Forecaster, Predictions, forecaster_from_artifact
from marketpulse.models.registry import ModelArtifact, ModelRegistry

Array = np.ndarray[Any, Any]
SELECTION_KIND = "selection"


@dataclass(frozen=True)
class Member:
    """One served family: its registry version and the fitted model."""

    family: str
    version: str
    model: Forecaster


@dataclass
class Selection(Forecaster):
    """Predicts each horizon with the member chosen for it."""

    serving: dict[str, Member]
    kind = SELECTION_KIND

    def predict(self, data: Dataset, rows: Array) -> Predictions:
        out: Predictions = {}
        for member in {m.version: m for m in self.serving.values()}.values():
            predicted = member.model.predict(data, rows)
            for horizon, chosen in self.serving.items():
                if chosen.version == member.version and horizon in predicted:
                    out[horizon] = predicted[horizon]
        return out


def load_forecaster(registry: ModelRegistry, artifact: ModelArtifact) -> Selection:
    """A stored price model of any kind as a Selection (a single family serves every horizon it predicts)."""
    if artifact.meta.get("kind") != SELECTION_KIND:
        return single_family(artifact)
    loaded: dict[str, Forecaster] = {}
    serving = {}
    for horizon, entry in artifact.meta["serving"].items():
        version = str(entry["version"])
        if version not in loaded:
            loaded[version] = legacy_or_family(registry.load(artifact.name, version))
        serving[str(horizon)] = Member(str(entry["family"]), version, loaded[version])
    return Selection(serving)


def single_family(artifact: ModelArtifact) -> Selection:
    """One family's version (or the first MLP) as a selection serving every horizon it predicts."""
    model = legacy_or_family(artifact)
    family = str(artifact.meta.get("kind", "mlp"))
    horizons = artifact.meta.get("horizons") or [artifact.meta.get("horizon", "1min")]
    return Selection({str(h): Member(family, artifact.version, model) for h in horizons})


def legacy_or_family(artifact: ModelArtifact) -> Forecaster:
    """A family's forecaster, or the first MLP (stored without a `kind`)."""
    if "kind" not in artifact.meta:
        from marketpulse.models.price import MlpForecaster

        return MlpForecaster.from_artifact(artifact.weights, artifact.meta)
    return forecaster_from_artifact(artifact.weights, artifact.meta)


def selection_weights(serving: dict[str, dict[str, Any]]) -> bytes:
    """The selection's own artifact body: horizon -> family and version (the metadata holds the rest)."""
    return json.dumps({h: {"family": e["family"], "version": e["version"]} for h, e in serving.items()}).encode()
