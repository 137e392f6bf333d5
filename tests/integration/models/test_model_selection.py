"""The served price model on the real object store: baselines are first-class registry versions, a selection
names the family per horizon, and the stream's StreamModels serves whatever is in production (a baseline too),
naming the family and the member version on every prediction row."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from marketpulse.config import ModelSettings, Settings
from marketpulse.features.indicators import indicators
from marketpulse.models.data import build_dataset, replay_minute_bars
from marketpulse.models.forecasters import WINDOW
from marketpulse.models.registry import ModelRegistry
from marketpulse.models.serving import StreamModels
from marketpulse.models.walk_forward import fit_families, fold_rows, walk_forward_splits
from marketpulse.stack.manager import Stack

from .test_model_registry import small_retrain


def test_the_stream_serves_a_promoted_baseline_and_names_it(stack: Stack, settings: Settings, unique: str) -> None:
    bars = replay_minute_bars(["IBM", "MSFT"], date(2012, 11, 1), date(2012, 11, 14), 400, seed=2)
    data = build_dataset(bars, ["1min", "5min"], WINDOW)
    split = walk_forward_splits(sorted(set(data.sessions.tolist())), folds=1, test_sessions=2)[0]
    families = fit_families(data, fold_rows(data, split), epochs=1, seed=2, candidates=("gbm",))
    name = f"it-sel-{unique}"
    registry = ModelRegistry(settings)
    members = {
        family: registry.save(name, families[family].weights(), families[family].meta(), version=f"v1-{family}")
        for family in ("persistence", "gbm")
    }
    serving = {
        "1min": {"family": "persistence", "version": members["persistence"], "reason": "no candidate beats it"},
        "5min": {"family": "gbm", "version": members["gbm"], "reason": "gbm beats every baseline"},
    }
    registry.save(name, json.dumps(serving).encode(), {"kind": "selection", "serving": serving}, version="v1")
    registry.promote(name, "v1", reason="walk-forward winner per horizon")

    models = StreamModels(settings.model_copy(update={"models": ModelSettings(price_name=name)}))
    rows = indicators(bars)
    last = rows.groupby("symbol").tail(5)
    context = rows.drop(last.index).groupby("symbol").tail(WINDOW - 1)
    predictions, _ = models.predict(last, context)

    assert len(predictions) == 2 * 5 * 2  # symbols x new bars x horizons
    assert set(predictions["model_name"]) == {name} and set(predictions["model_version"]) == {"v1"}
    by_horizon = predictions.groupby("horizon")
    assert dict(by_horizon["model_family"].first()) == {"1min": "persistence", "5min": "gbm"}
    assert dict(by_horizon["base_model_version"].first()) == {"1min": "v1-persistence", "5min": "v1-gbm"}
    # Persistence is a three-cell table of up-rates: every 1-min probability is one of its cells.
    cells = {round(up, 12) for up, _ in families["persistence"].cells["1min"]}  # type: ignore[attr-defined]
    assert {round(p, 12) for p in predictions.loc[predictions["horizon"] == "1min", "prob_up"]} <= cells
    assert np.isfinite(predictions["prob_up"]).all()


@pytest.mark.slow
def test_retrain_stores_every_family_and_serves_the_winner_without_force(
    stack: Stack, settings: Settings, unique: str
) -> None:
    from marketpulse.models.pipeline import retrain

    name = f"it-first-{unique}"
    small = small_retrain(settings, name)
    first = retrain(small)
    registry = ModelRegistry(settings)
    assert first.promoted and registry.production_version(name) == first.candidate_version  # nothing to beat
    meta = registry.meta(name, first.candidate_version or "")
    assert meta["kind"] == "selection" and set(meta["serving"]) == {"1min", "5min"}
    assert set(meta["members"]) == {"climatology", "persistence", "logistic", "tcn", "gbm"}
    for horizon, entry in meta["serving"].items():
        assert entry["family"] == meta["families"][horizon] and entry["reason"]
        assert registry.meta(name, entry["version"])["kind"] == entry["family"]
        assert 0 < entry["expected"]["brier"] < 1 and entry["expected"]["calibration"]
    # The same data, seeds and code again: the new selection is no better on the last fold, production stays.
    again = retrain(small)
    assert not again.promoted and ">= production" in again.reason
    assert registry.production_version(name) == first.candidate_version
