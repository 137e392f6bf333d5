"""The model registry in MinIO, and hot reload of the production model."""

from __future__ import annotations

import pytest

from marketpulse.config import ModelSettings, Settings
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


def test_promotion_history_and_rollback(stack: Stack, settings: Settings, unique: str) -> None:
    registry = ModelRegistry(settings)
    name = f"it-rb-{unique}"
    for version in ("v1", "v2", "v3"):
        registry.save(name, version.encode(), {"features": []}, version=version)
    with pytest.raises(ModelNotFoundError, match="no earlier production version"):
        registry.rollback(name)
    registry.promote(name, "v1")
    registry.promote(name, "v3", reason="beats the baselines")
    assert registry.rollback(name) == "v1"
    assert registry.production_version(name) == "v1"
    assert [(e["version"], e["reason"]) for e in registry.history(name)] == [
        ("v1", "manual"),
        ("v3", "beats the baselines"),
        ("v1", "rollback from v3"),
    ]
    assert registry.meta(name, "v2")["version"] == "v2"
    assert name in registry.names()


def small_retrain(settings: Settings, name: str) -> Settings:
    """Settings for a retrain of a few CPU seconds: one symbol, ten replayed sessions, two folds, one epoch."""
    small = ModelSettings(
        price_name=name,
        symbols=["IBM"],
        horizons=["1min", "5min"],
        data_source="replay",
        train_sessions=10,
        replay_end="2012-11-30",
        ticks_per_day=600,
        folds=2,
        test_sessions=2,
        epochs=1,
    )
    return settings.model_copy(update={"models": small})


@pytest.mark.slow
def test_retrain_stores_candidate_and_report_and_promotes_only_on_improvement(
    stack: Stack, settings: Settings, unique: str
) -> None:
    from fastapi.testclient import TestClient

    from integration.api.test_api_support import create_key
    from marketpulse.api import create_app
    from marketpulse.models.pipeline import retrain

    name = f"it-retrain-{unique}"
    small = small_retrain(settings, name)
    stages: list[str] = []
    result = retrain(small, progress=lambda stage, done, total: stages.append(stage))
    assert result.candidate_version is not None and result.data_source == "replay"
    assert any(s.startswith("fold 2/2") for s in stages)
    registry = ModelRegistry(settings)
    meta = registry.meta(name, result.candidate_version)
    assert meta["kind"] == "selection" and meta["train_range"][0] < meta["test_range"][0]
    assert meta["code_version"] and set(meta["metrics"]) >= {"tcn", "gbm", "logistic", "persistence", "climatology"}
    tcn = registry.meta(name, meta["members"]["tcn"])
    assert tcn["kind"] == "tcn" and tcn["features"]
    # Promoted exactly when the walk-forward decision says so (here: nothing in production to beat).
    assert result.promoted == meta["decision"]["promote"] is True
    assert (registry.production_version(name) == result.candidate_version) == result.promoted
    assert set(result.metrics) >= {"tcn", "gbm", "climatology"} and "log_loss" in result.metrics["tcn"]

    key = create_key(settings, f"models-{unique}")[1]
    with TestClient(create_app(settings), headers={"X-API-Key": key}) as client:
        reports = client.get(f"/v1/models/{name}/reports").json()
        assert len(reports) == 1 and "report.html" in reports[0]["files"]
        html = client.get(reports[0]["links"]["report.html"])
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert "<svg" in html.text and "climatology" in html.text
        markdown = client.get(reports[0]["links"]["report.md"]).text
        assert ("PROMOTE" if result.promoted else "KEEP PRODUCTION") in markdown
        versions = client.get(f"/v1/models/{name}").json()["versions"]
        assert sorted(v["version"] for v in versions) == sorted([result.candidate_version, *meta["members"].values()])


def test_a_production_pointer_to_a_missing_version_keeps_the_loaded_model(
    stack: Stack, settings: Settings, unique: str
) -> None:
    registry = ModelRegistry(settings)
    name = f"it-missing-{unique}"
    registry.save(name, b"{}", {"features": []}, version="v1")
    registry.promote(name, "v1")
    now = [0.0]
    production = ProductionModel(settings, name, reload_s=1, clock=lambda: now[0], loader=lambda a: a)
    assert production.current().version == "v1"
    # A pointer rewritten to a version whose files are gone (deleted by hand, or a broken upload):
    registry.client.put_object(Bucket=registry.bucket, Key=f"models/{name}/production", Body=b"v2")
    now[0] = 5
    assert production.current().version == "v1"
