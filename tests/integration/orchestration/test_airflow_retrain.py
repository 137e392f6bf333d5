"""The retrain_models DAG, run with dag.test() against the test stack: it promotes the walk-forward winner per
horizon, and keeps production when a later retrain does not beat it on the newest fold (the pointer does not move)."""

from __future__ import annotations

import pytest

from integration.orchestration.test_airflow_stack import airflow_db, airflow_settings  # noqa: F401  (fixtures)
from marketpulse.config import ModelSettings, Settings
from marketpulse.models.registry import ModelRegistry
from marketpulse.orchestration.airflow import run_dag_test

pytestmark = pytest.mark.slow


def small_models(name: str, seed: int) -> ModelSettings:
    """A few minutes of CPU at most: one symbol, ten replayed sessions, one walk-forward fold, one epoch.

    Training is seeded, so the outcome is reproducible: a second retrain with the same seed reproduces
    production, which a new selection must beat on the newest fold to replace it.
    """
    return ModelSettings(
        price_name=name,
        symbols=["IBM"],
        horizons=["1min"],
        primary_horizon="1min",
        data_source="replay",
        train_sessions=10,
        replay_end="2012-11-30",
        ticks_per_day=600,
        folds=1,
        test_sessions=2,
        epochs=1,
        seed=seed,
    )


def test_retrain_promotes_a_better_model_and_refuses_a_worse_one(
    airflow_db: Settings,  # noqa: F811
    unique: str,
) -> None:
    name = f"it-af-retrain-{unique}"
    registry = ModelRegistry(airflow_db)
    assert registry.production_version(name) is None

    better = run_dag_test(airflow_db.model_copy(update={"models": small_models(name, seed=7)}), "retrain_models")
    assert better.state == "success", better.output[-5000:]
    assert better.tasks == {"retrain": "success", "confirm_hot_reload": "success"}
    assert "PROMOTED" in better.output and "serving 1min:" in better.output
    promoted = registry.production_version(name)
    assert promoted is not None

    stored = len(registry.versions(name))  # every family and the selection
    worse = run_dag_test(airflow_db.model_copy(update={"models": small_models(name, seed=7)}), "retrain_models")
    assert worse.state == "success", worse.output[-5000:]
    assert "kept production" in worse.output and ">= production" in worse.output
    assert registry.production_version(name) == promoted  # the new selection is stored, not promoted
    assert len(registry.versions(name)) == 2 * stored
