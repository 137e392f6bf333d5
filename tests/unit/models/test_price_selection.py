"""Which price model serves: a baseline when no candidate beats every baseline with confidence, the candidate when
it does; the paired block bootstrap; every family stored and reloaded; the stream scores a selection (a baseline
at one horizon, the trees at another) exactly as training does."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from marketpulse.models.data import Dataset, build_dataset, replay_minute_bars
from marketpulse.models.forecasters import WINDOW, forecaster_from_artifact
from marketpulse.models.registry import ModelArtifact
from marketpulse.models.selection import Member, Selection
from marketpulse.models.serving import PREDICTION_COLUMNS, SelectionScorer
from marketpulse.models.walk_forward import (
    BASELINES,
    FoldRows,
    fit_families,
    fold_rows,
    paired_bootstrap,
    promotion_decision,
    walk_forward_splits,
)

SESSIONS = 10
BARS = 60  # per session and symbol


def _predictions(quality: dict[str, str], seed: int = 0) -> pd.DataFrame:
    """Held-out predictions of two folds over SESSIONS sessions x 2 symbols. Per model a quality:
    'flat' predicts 0.5; 'good' leans 0.6 towards the realised side; 'bad' leans 0.6 against it; 'mixed' is good
    on even sessions and leans 0.55 against on odd ones (better on average, not reliably)."""
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(SESSIONS):
        day = pd.Timestamp("2013-01-07", tz="UTC") + pd.Timedelta(days=s)
        for symbol in ("AAA", "BBB"):
            ts = day + pd.Timedelta(hours=15) + pd.to_timedelta(np.arange(BARS), unit="min")
            ret = rng.choice([-1e-3, 1e-3], BARS)
            up = ret > 0
            for model, kind in quality.items():
                lean = {"flat": 0.0, "good": 0.1, "bad": -0.1, "mixed": 0.1 if s % 2 == 0 else -0.05}[kind]
                prob = np.where(up, 0.5 + lean, 0.5 - lean)
                frames.append(
                    pd.DataFrame(
                        {
                            "fold": 1 if s < SESSIONS // 2 else 2,
                            "model": model,
                            "horizon": "1min",
                            "symbol": symbol,
                            "ts": ts,
                            "end_ns": (ts + pd.Timedelta(minutes=1)).astype("int64"),
                            "prob_up": prob,
                            "expected_return": 0.0,
                            "ret": ret,
                            "session": str(day.date()),
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True)


BASE = {"climatology": "flat", "persistence": "flat", "logistic": "flat"}


def test_a_baseline_is_promoted_when_the_candidates_are_worse() -> None:
    decision = promotion_decision(_predictions({**BASE, "tcn": "bad", "gbm": "bad"}), ["1min"], "1min", 2)
    choice = decision.serving["1min"]
    assert decision.promote  # nothing in production: the winner is promoted, no --force needed
    assert choice.family in BASELINES
    assert "no candidate beats every baseline" in choice.reason
    assert all(v["lower"] > 0 for v in choice.comparisons["tcn"].values())  # significantly worse


def test_the_candidate_is_promoted_when_it_beats_every_baseline() -> None:
    decision = promotion_decision(_predictions({**BASE, "tcn": "bad", "gbm": "good"}), ["1min"], "1min", 2)
    choice = decision.serving["1min"]
    assert decision.promote and choice.family == "gbm"
    assert "gbm beats every baseline" in choice.reason and "CI" in choice.reason
    assert all(v["upper"] < 0 for v in choice.comparisons["gbm"].values())


def test_a_candidate_better_on_average_but_not_reliably_does_not_serve() -> None:
    predictions = _predictions({**BASE, "tcn": "mixed", "gbm": "flat"})
    choice = promotion_decision(predictions, ["1min"], "1min", 2).serving["1min"]
    assert choice.log_loss["tcn"] < choice.log_loss["persistence"]  # lower mean loss ...
    versus = choice.comparisons["tcn"]["persistence"]
    assert versus["lower"] < 0 < versus["upper"]  # ... but the interval holds 0
    assert choice.family in BASELINES


def test_production_is_kept_when_it_does_better_on_the_last_fold() -> None:
    predictions = _predictions({**BASE, "tcn": "bad", "gbm": "bad", "production": "good"})
    predictions = predictions[(predictions["model"] != "production") | (predictions["fold"] == 2)]
    decision = promotion_decision(predictions, ["1min"], "1min", 2)
    assert not decision.promote and ">= production" in decision.reason
    assert decision.serving["1min"].family in BASELINES  # production is never one of the families chosen from


def test_paired_bootstrap_interval() -> None:
    blocks = np.repeat(np.arange(20), 50)
    constant = paired_bootstrap(np.full(1000, -0.01), blocks)
    assert constant == pytest.approx((-0.01, -0.01, -0.01))
    rng = np.random.default_rng(3)
    noisy = rng.normal(0, 1, 1000) + np.repeat(rng.normal(0, 1, 20), 50)  # session effects dominate
    mean, lower, upper = paired_bootstrap(noisy, blocks)
    assert lower < mean < upper
    # Whole sessions move together: the interval is far wider than an iid one would be (SE 1/sqrt(1000)).
    assert upper - lower > 6 * 1.96 / np.sqrt(1000)


@pytest.fixture(scope="module")
def data() -> Dataset:
    bars = replay_minute_bars(["AAPL", "MSFT", "IBM"], date(2012, 11, 1), date(2012, 11, 20), 600, seed=5)
    return build_dataset(bars, ["1min", "5min"], WINDOW)


@pytest.fixture(scope="module")
def rows(data: Dataset) -> FoldRows:
    sessions = sorted(set(data.sessions.tolist()))
    return fold_rows(data, walk_forward_splits(sessions, folds=1, test_sessions=2)[0])


@pytest.fixture(scope="module")
def families(data: Dataset, rows: FoldRows) -> dict[str, object]:
    return dict(fit_families(data, rows, epochs=1, seed=3))


def test_every_family_scores_the_same_after_storing_and_loading(
    data: Dataset, rows: FoldRows, families: dict[str, object]
) -> None:
    import json

    assert set(families) == {"climatology", "persistence", "logistic", "tcn", "gbm"}
    probe = rows.test["1min"][:300]
    for name, model in families.items():
        meta = json.loads(json.dumps(model.meta()))  # type: ignore[attr-defined]
        assert meta["kind"] == name and meta["horizons"] == ["1min", "5min"]
        loaded = forecaster_from_artifact(model.weights(), meta)  # type: ignore[attr-defined]
        before, after = model.predict(data, probe), loaded.predict(data, probe)  # type: ignore[attr-defined]
        for horizon in ("1min", "5min"):
            np.testing.assert_allclose(before[horizon][0], after[horizon][0], rtol=1e-6, err_msg=name)
            np.testing.assert_allclose(before[horizon][1], after[horizon][1], rtol=1e-6, atol=1e-12, err_msg=name)


def test_the_stream_scores_a_selection_as_training_does(data: Dataset, families: dict[str, object]) -> None:
    """Persistence serves 1min and the trees 5min; micro-batches of a few bars of every symbol at once, each with
    the 31 bars before it as context, get the offline predictions of the same bars."""
    selection = Selection(
        {
            "1min": Member("persistence", "v1-persistence", families["persistence"]),  # type: ignore[arg-type]
            "5min": Member("gbm", "v1-gbm", families["gbm"]),  # type: ignore[arg-type]
        }
    )
    scorer = SelectionScorer(selection, "price", "v1")
    frame = data.frame
    last_day = frame["ts"].dt.date == frame["ts"].dt.date.max()
    times = sorted(frame.loc[last_day, "ts"].unique())[60:90]
    got = []
    for start in range(0, len(times), 7):  # batches of 7 minutes, all symbols together
        batch = frame["ts"].isin(times[start : start + 7])
        first = frame.loc[batch, "ts"].min()
        context = frame[(frame["ts"] < first)].groupby("symbol").tail(WINDOW - 1)
        got.append(scorer.score(frame[batch], context))
    streamed = pd.concat(got, ignore_index=True)
    assert list(streamed.columns) == PREDICTION_COLUMNS
    assert set(streamed["model_version"]) == {"v1"} and set(streamed["model_name"]) == {"price"}
    assert dict(streamed.groupby("horizon")["model_family"].first()) == {"1min": "persistence", "5min": "gbm"}
    versions = dict(streamed.groupby("horizon")["base_model_version"].first())
    assert versions == {"1min": "v1-persistence", "5min": "v1-gbm"}
    wanted = np.flatnonzero(frame["ts"].isin(times).to_numpy() & data.window_ok)
    assert len(streamed) == 2 * len(wanted) > 0
    offline = selection.predict(data, wanted)
    keys = pd.DataFrame({"symbol": frame["symbol"].to_numpy()[wanted], "feature_ts": frame["ts"].to_numpy()[wanted]})
    for horizon in ("1min", "5min"):
        mine = keys.merge(streamed[streamed["horizon"] == horizon], on=["symbol", "feature_ts"], how="left")
        np.testing.assert_allclose(mine["prob_up"], offline[horizon][0], rtol=1e-6)
        np.testing.assert_allclose(mine["expected_return"], offline[horizon][1], rtol=1e-5, atol=1e-12)


def test_a_single_stored_family_serves_every_horizon_it_predicts(data: Dataset, families: dict[str, object]) -> None:
    model = families["climatology"]
    artifact = ModelArtifact("price", "v2-climatology", model.weights(), model.meta())  # type: ignore[attr-defined]
    scorer = SelectionScorer.from_artifact(artifact)
    out = scorer.score(data.frame.tail(40), data.frame.iloc[-80:-40])
    assert set(out["model_family"]) == {"climatology"} and set(out["horizon"]) == {"1min", "5min"}
    assert set(out["model_version"]) == {"v2-climatology"} == set(out["base_model_version"])
