"""The model registry in MinIO, and hot reload of the production model."""

from __future__ import annotations

import pytest

from marketpulse.config import Settings
from marketpulse.models.registry import ModelNotFoundError, ModelRegistry
from marketpulse.models.serving import ProductionModel
from marketpulse.stack.manager import Stack


def test_save_list_promote_load(stack: Stack, settings: Settings, unique: str) -> None:
    registry = ModelRegistry(settings)
    name = f"it-{unique}"
    assert registry.production_version(name) is None
    v1 = registry.save(name, b"weights-1", {"features": ["a"]}, version="v1")
    v2 = registry.save(name, b"weights-2", {"features": ["a", "b"]}, version="v2")
    assert registry.versions(name) == ["v1", "v2"]
    with pytest.raises(ModelNotFoundError, match="no production version"):
        registry.load(name)
    registry.promote(name, v1)
    artifact = registry.load(name)
    assert (artifact.version, artifact.weights, artifact.meta["features"]) == ("v1", b"weights-1", ["a"])
    registry.promote(name, v2)
    assert registry.load(name).weights == b"weights-2"
    with pytest.raises(ModelNotFoundError, match="has no version v9"):
        registry.promote(name, "v9")


def test_production_model_hot_reloads_after_promotion(stack: Stack, settings: Settings, unique: str) -> None:
    from datetime import date

    from marketpulse.models.price import replay_minute_bars, train, training_set

    data = training_set(replay_minute_bars(["IBM"], date(2012, 11, 1), date(2012, 11, 9), 200, seed=1))
    registry = ModelRegistry(settings)
    name = f"it-hot-{unique}"
    for version, seed in (("v1", 1), ("v2", 2)):
        model = train(data, epochs=1, seed=seed)
        registry.save(name, model.weights, model.meta, version=version)

    now = [0.0]
    production = ProductionModel(settings, name, reload_s=30, clock=lambda: now[0])
    assert production.current() is None  # nothing promoted: the stream skips predictions
    registry.promote(name, "v1")
    now[0] = 31
    scorer = production.current()
    assert scorer is not None and scorer.version == "v1"
    registry.promote(name, "v2")
    now[0] = 40  # within the reload period: keep scoring with v1 (no registry read per batch)
    assert production.current() is scorer
    now[0] = 62
    reloaded = production.current()
    assert reloaded is not None and reloaded.version == "v2"
