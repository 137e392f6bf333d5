"""The ensemble on the real stores: weights re-fitted from the live scorecard (PostgreSQL), stored as their own
registry version, and applied on top of the price model by the stream's scorer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pytest

import marketpulse.models.ensemble as ensemble_module
from marketpulse.config import ModelSettings, Settings
from marketpulse.models.ensemble import refit_ensemble
from marketpulse.models.registry import ModelRegistry
from marketpulse.models.serving import StreamModels
from marketpulse.stack.manager import Stack


def _scored_rows(
    symbol: str, price_name: str, n: int, seed: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Outcomes whose up-probability depends on a sentiment score the market model did not see."""
    rng = np.random.default_rng(seed)
    start = datetime(2013, 2, 7, 15, 0, tzinfo=UTC)
    outcomes, inputs = [], []
    for i in range(n):
        ts = start + timedelta(minutes=i)
        sentiment = float(rng.normal())
        market = float(rng.uniform(0.4, 0.6))
        up = int(rng.uniform() < 1 / (1 + np.exp(-(np.log(market / (1 - market)) + 1.2 * sentiment))))
        outcomes.append(
            (
                symbol,
                ts,
                "1min",
                price_name,
                "v1",
                market,
                0.0,
                0.001 if up else -0.001,
                up,
                int((market > 0.5) == up),
                (market - up) ** 2,
                ts + timedelta(minutes=1),
            )
        )
        inputs.append((symbol, ts, "1min", json.dumps({"sentiment_score": sentiment})))
    return outcomes, inputs


def test_refit_learns_the_sentiment_weight_and_the_stream_applies_it(
    stack: Stack, settings: Settings, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ensemble_module, "sentiment_columns", lambda: ["sentiment_score"])
    price_name, ensemble_name, symbol = f"it-ens-price-{unique}", f"it-ens-{unique}", f"E{unique[:6].upper()}"
    mine = settings.model_copy(
        update={"models": ModelSettings(price_name=price_name, ensemble_name=ensemble_name, horizons=["1min", "5min"])}
    )
    outcomes, inputs = _scored_rows(symbol, price_name, 1500, seed=3)
    with psycopg.connect(settings.postgres_dsn()) as conn:
        conn.cursor().executemany(
            "INSERT INTO scorecard_outcome (symbol, feature_ts, horizon, model_name, model_version, prob_up, "
            "expected_return, realized_return, up, hit, brier, target_ts) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            outcomes,
        )
        conn.cursor().executemany("INSERT INTO ensemble_input VALUES (%s, %s, %s, %s::jsonb)", inputs)
        conn.commit()
    try:
        version = refit_ensemble(mine)
        registry = ModelRegistry(settings)
        assert registry.production_version(ensemble_name) == version
        meta = registry.meta(ensemble_name, version)
        assert meta["fitted_on_rows"] == {"1min": 1500, "5min": 0}
        weights = meta["weights"]
        assert weights["1min"]["sentiment_score"] == pytest.approx(1.2, abs=0.3)
        assert weights["5min"] == {"bias": 0.0, "market": 1.0}  # too few scored rows: identity kept

        # The stream's scorer: a price model (the first MLP kind, window 1) with the ensemble on top.
        from datetime import date

        from marketpulse.features.indicators import indicators
        from marketpulse.models.price import replay_minute_bars, train, training_set

        bars = replay_minute_bars(["IBM"], date(2012, 11, 1), date(2012, 11, 9), 200, seed=1)
        model = train(training_set(bars), epochs=1)
        registry.promote(price_name, registry.save(price_name, model.weights, model.meta, version="p1"))
        rows = indicators(bars).tail(5).assign(sentiment_score=[0.0, 1.0, -1.0, np.nan, 2.0])
        predictions, recorded = StreamModels(mine).predict(rows)
        market = predictions[predictions["model_name"] == price_name].reset_index(drop=True)
        combined = predictions[predictions["model_name"] == ensemble_name].reset_index(drop=True)
        assert len(market) == len(combined) == 5
        assert set(combined["model_version"]) == {version} and set(combined["base_model_version"]) == {"p1"}
        w = weights["1min"]
        logit = np.log(market["prob_up"] / (1 - market["prob_up"]))
        sentiment = np.array([0.0, 1.0, -1.0, 0.0, 2.0])  # NaN is neutral
        expected = 1 / (1 + np.exp(-(w["bias"] + w["market"] * logit + w["sentiment_score"] * sentiment)))
        np.testing.assert_allclose(combined["prob_up"], expected, rtol=1e-9)
        assert [json.loads(s)["sentiment_score"] for s in recorded["sentiment"]] == list(sentiment)
    finally:
        with psycopg.connect(settings.postgres_dsn()) as conn:
            conn.execute("DELETE FROM scorecard_outcome WHERE symbol = %s", (symbol,))
            conn.execute("DELETE FROM ensemble_input WHERE symbol = %s", (symbol,))
