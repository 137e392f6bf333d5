"""The price model: point-in-time training data, deterministic training, scoring from stored bytes."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from marketpulse.features.indicators import indicators
from marketpulse.features.model_inputs import MODEL_INPUT_COLUMNS, model_inputs
from marketpulse.models.price import PriceScorer, auc, log_loss, replay_minute_bars, train, training_set


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return replay_minute_bars(["AAPL", "MSFT"], date(2012, 11, 1), date(2012, 11, 20), ticks_per_day=300, seed=3)


def test_inputs_at_t_do_not_depend_on_later_bars(bars: pd.DataFrame) -> None:
    aapl = bars[bars["symbol"] == "AAPL"].reset_index(drop=True)
    cut = 500
    full = model_inputs(indicators(aapl)).iloc[:cut]
    altered = aapl.copy()
    altered.loc[cut:, ["open", "high", "low", "close"]] *= 3.0  # rewrite the future
    truncated = model_inputs(indicators(altered)).iloc[:cut]
    pd.testing.assert_frame_equal(full, truncated)


def test_labels_are_the_next_bar_of_the_same_day(bars: pd.DataFrame) -> None:
    data = training_set(bars)
    assert data.x.shape[1] == len(MODEL_INPUT_COLUMNS)
    assert not np.isnan(data.x).any()
    assert set(np.unique(data.up)) <= {0.0, 1.0}
    assert (data.up == (data.ret > 0)).all()
    assert data.ts.is_monotonic_increasing  # time order: the hold-out is the latest period
    # 390 one-minute bars a day; the last bar of each day has no same-day label and warm-up rows are dropped.
    assert len(data.x) < len(bars) - 2 * 14


def test_training_is_deterministic_and_reports_against_climatology(bars: pd.DataFrame) -> None:
    data = training_set(bars)
    first = train(data, epochs=2, seed=11)
    second = train(data, epochs=2, seed=11)
    assert first.weights == second.weights
    metrics = first.meta["metrics"]
    assert set(metrics) >= {"log_loss", "log_loss_climatology", "brier", "auc", "directional_accuracy"}
    assert metrics["beats_climatology"] == (metrics["log_loss"] < metrics["log_loss_climatology"])
    assert first.meta["features"] == MODEL_INPUT_COLUMNS
    assert first.meta["train_range"][1] < first.meta["test_range"][0]


def test_scorer_from_stored_bytes_scores_complete_rows(bars: pd.DataFrame) -> None:
    model = train(training_set(bars), epochs=1, seed=5)
    scorer = PriceScorer.from_artifact(model.weights, model.meta, "v1")
    rows = indicators(bars[bars["symbol"] == "MSFT"])
    predictions = scorer.score(rows)
    complete = model_inputs(rows).notna().all(axis=1).sum()
    assert len(predictions) == complete
    assert predictions["prob_up"].between(0, 1).all()
    assert (predictions["model_version"] == "v1").all()
    again = PriceScorer.from_artifact(model.weights, model.meta, "v1").score(rows)
    pd.testing.assert_frame_equal(predictions, again)
    assert scorer.score(rows.iloc[:5]).empty  # warm-up rows have no complete inputs


def test_metric_helpers() -> None:
    y = np.array([0.0, 0.0, 1.0, 1.0])
    assert auc(np.array([0.1, 0.2, 0.8, 0.9]), y) == 1.0
    assert auc(np.array([0.9, 0.8, 0.2, 0.1]), y) == 0.0
    assert log_loss(np.full(4, 0.5), y) == pytest.approx(np.log(2))


def test_too_little_data_is_a_clear_error(bars: pd.DataFrame) -> None:
    data = training_set(bars.iloc[:200])
    with pytest.raises(ValueError, match="too little data"):
        train(data)
