"""The sequence model: learns from real labels (beats a shuffled-label control), is deterministic, and scores the
same in the stream (state + context rows) as in training (no train/serve skew); the ensemble on top of it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from factories import random_walk_ticks
from marketpulse.features.bars import ticks_to_bars
from marketpulse.models.data import Dataset, build_dataset, replay_minute_bars
from marketpulse.models.ensemble import Ensemble, fit_ensemble_weights, identity_weights
from marketpulse.models.forecasters import WINDOW, SequenceModel, fit_sequence
from marketpulse.models.metrics import auc
from marketpulse.models.registry import ModelArtifact
from marketpulse.models.serving import SequenceScorer
from marketpulse.models.walk_forward import FoldRows, fold_rows, walk_forward_splits
from marketpulse.stream.market_state import MarketState, advance

HORIZONS = ["1min", "5min"]


@pytest.fixture(scope="module")
def data() -> Dataset:
    bars = replay_minute_bars(["AAPL", "MSFT"], date(2012, 11, 1), date(2012, 11, 21), ticks_per_day=1000, seed=11)
    return build_dataset(bars, HORIZONS, WINDOW)


def _shuffled(data: Dataset, rows: dict[str, np.ndarray], seed: int) -> Dataset:
    """The same rows and label values, each label moved to a random other training row: no signal left."""
    rng = np.random.default_rng(seed)
    ret = {}
    for horizon, values in data.ret.items():
        shuffled = values.copy()
        shuffled[rows[horizon]] = rng.permutation(values[rows[horizon]])
        ret[horizon] = shuffled
    return replace(data, ret=ret)


@pytest.fixture(scope="module")
def rows(data: Dataset) -> FoldRows:
    sessions = sorted(set(data.sessions.tolist()))
    return fold_rows(data, walk_forward_splits(sessions, folds=1, test_sessions=3)[0])


@pytest.fixture(scope="module")
def model(data: Dataset, rows: FoldRows) -> SequenceModel:
    return fit_sequence(data, rows.fit, rows.cal, epochs=1, seed=1)


@pytest.mark.slow
def test_training_on_real_labels_beats_a_shuffled_label_control(
    data: Dataset, rows: FoldRows, model: SequenceModel
) -> None:
    """Same rows, same label values, but moved between training rows: the control can only learn the base rate.
    Compared on discrimination (AUC) of held-out 1-min moves: with one epoch on two weeks, log-loss differences
    are within calibration noise (the walk-forward report compares log-loss on far more data)."""
    training = {h: np.concatenate([rows.fit[h], rows.cal[h]]) for h in HORIZONS}
    control = fit_sequence(_shuffled(data, training, seed=2), rows.fit, rows.cal, epochs=1, seed=1)
    test = rows.test["1min"]
    y = (data.ret["1min"][test] > 0).astype(float)
    real_auc = auc(model.predict(data, test)["1min"][0], y)
    control_auc = auc(control.predict(data, test)["1min"][0], y)
    assert real_auc > 0.54 and real_auc > control_auc + 0.03, (real_auc, control_auc)


def test_training_is_deterministic_with_a_seed(data: Dataset, rows: FoldRows, model: SequenceModel) -> None:
    again = fit_sequence(data, rows.fit, rows.cal, epochs=1, seed=1)
    assert again.weights() == model.weights()
    assert again.platt == model.platt
    probe = rows.test["5min"][:100]
    np.testing.assert_array_equal(model.predict(data, probe)["5min"][0], again.predict(data, probe)["5min"][0])


def _ticks(minutes: int, seed: int = 4) -> pd.DataFrame:
    return random_walk_ticks(
        "AAPL", "2013-02-04 14:30", minutes=minutes, count=minutes * 12, seed=seed, price=100, sigma=0.0008
    )


def test_stream_scoring_from_state_context_equals_training_windows(model: SequenceModel) -> None:
    artifact = ModelArtifact("price-test", "v1", model.weights(), model.meta())
    scorer = SequenceScorer.from_artifact(artifact)

    ticks = _ticks(110)
    state = MarketState()
    streamed = []
    for chunk in np.array_split(ticks, 23):  # micro-batches of ~5 minutes: windows cross batch boundaries
        emitted = advance(state, chunk.reset_index(drop=True))
        indicators = emitted[emitted["kind"] == "indicators"]
        context = emitted[emitted["kind"] == "context"]
        if not indicators.empty:
            streamed.append(scorer.score(indicators, context))
    got = pd.concat(streamed, ignore_index=True)

    bars = ticks_to_bars(ticks, "1min").iloc[:-1]  # the last bar is still open in the stream
    offline = build_dataset(bars, HORIZONS, WINDOW)
    scorable = np.flatnonzero(offline.window_ok)
    expected = model.predict(offline, scorable)
    assert len(got) == len(scorable) * len(HORIZONS) > 0
    for horizon in HORIZONS:
        mine = got[got["horizon"] == horizon].sort_values("feature_ts")
        assert list(pd.to_datetime(mine["feature_ts"], utc=True)) == list(offline.frame["ts"].iloc[scorable])
        np.testing.assert_allclose(mine["prob_up"], expected[horizon][0], rtol=1e-5)
        np.testing.assert_allclose(mine["expected_return"], expected[horizon][1], rtol=1e-4, atol=1e-9)
    assert set(got["model_version"]) == {"v1"} and set(got["model_name"]) == {"price-test"}


def test_a_stored_model_scores_the_same_after_loading(data: Dataset, rows: FoldRows, model: SequenceModel) -> None:
    loaded = SequenceModel.from_artifact(model.weights(), json.loads(json.dumps(model.meta())))
    probe = rows.test["1min"][:200]
    np.testing.assert_array_equal(model.predict(data, probe)["1min"][0], loaded.predict(data, probe)["1min"][0])


def _predictions(probs: list[float]) -> pd.DataFrame:
    ts = pd.Timestamp("2013-02-04 15:00", tz="UTC")
    return pd.DataFrame(
        {
            "symbol": ["AAPL", "MSFT"][: len(probs)],
            "feature_ts": [ts] * len(probs),
            "horizon": "1min",
            "prob_up": probs,
            "expected_return": 0.0,
            "model_name": "price",
            "model_version": "v9",
        }
    )


def test_ensemble_identity_keeps_the_market_probability_and_missing_sentiment_is_neutral(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import marketpulse.models.ensemble as ensemble_module

    monkeypatch.setattr(ensemble_module, "sentiment_columns", lambda: ["sentiment_score"])
    rows = pd.DataFrame({"symbol": ["AAPL", "MSFT"], "ts": [pd.Timestamp("2013-02-04 15:00", tz="UTC")] * 2})
    predictions = _predictions([0.7, 0.4])
    identity = Ensemble("ensemble", "e1", identity_weights(["1min"]))
    combined, inputs = identity.combine(predictions, rows)  # no sentiment column at all: neutral
    np.testing.assert_allclose(combined["prob_up"], [0.7, 0.4])
    assert set(combined["model_version"]) == {"e1"} and set(combined["base_model_version"]) == {"v9"}
    assert [json.loads(s) for s in inputs["sentiment"]] == [{"sentiment_score": 0.0}] * 2

    leaning = Ensemble("ensemble", "e2", {"1min": {"bias": 0.0, "market": 1.0, "sentiment_score": 2.0}})
    with_sentiment = rows.assign(sentiment_score=[0.5, np.nan])  # NaN: no texts in the window -> neutral
    combined, _ = leaning.combine(predictions, with_sentiment)
    expected_aapl = 1 / (1 + np.exp(-(np.log(0.7 / 0.3) + 2.0 * 0.5)))
    np.testing.assert_allclose(combined["prob_up"], [expected_aapl, 0.4])


def test_ensemble_weights_learn_a_sentiment_signal() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    sentiment = rng.normal(0, 1, n)
    market = rng.uniform(0.3, 0.7, n)
    z = np.log(market / (1 - market)) + 1.5 * sentiment
    up = (rng.uniform(0, 1, n) < 1 / (1 + np.exp(-z))).astype(int)
    weights = fit_ensemble_weights(pd.DataFrame({"prob_up": market, "s": sentiment, "up": up}), ["s"])
    assert weights["s"] == pytest.approx(1.5, abs=0.2)
    assert weights["market"] == pytest.approx(1.0, abs=0.3)
