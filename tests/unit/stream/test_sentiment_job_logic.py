"""The sentiment job's pure parts: model loaded once per worker process, scores exploded per symbol, windows touched."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from marketpulse.stream import sentiment_job


class _CountingModel:
    version = "count-1"

    def score(self, texts: list[str]) -> np.ndarray[Any, Any]:
        return np.tile([0.2, 0.3, 0.5], (len(texts), 1))


def test_the_model_is_loaded_once_per_process_not_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []

    def load(kind: str, **_: object) -> _CountingModel:
        loads.append(kind)
        return _CountingModel()

    monkeypatch.setattr("marketpulse.models.sentiment.load_sentiment_model", load)
    monkeypatch.setattr(sentiment_job, "_MODELS", {})
    for batch in (["a", "b"], ["c"], []):
        frame = sentiment_job.score_frame(pd.Series(batch, dtype="object"), "minilm")
        assert len(frame) == len(batch)
    assert loads == ["minilm"]
    assert frame.columns.tolist() == ["p_bearish", "p_neutral", "p_bullish", "model_version"]


def test_item_scores_explode_symbols_and_know_each_text_when_it_was_known() -> None:
    t = pd.Timestamp("2013-01-02 15:00", tz="UTC")
    scored = pd.DataFrame(
        {
            "id": ["x:1", "news:2"],
            "source": ["x", "news"],
            "symbols": [["AAPL", "MSFT"], ["IBM"]],
            "published_at": [t, t + pd.Timedelta(minutes=40)],
            "ingested_at": [t + pd.Timedelta(minutes=5), t + pd.Timedelta(minutes=41)],
            "p_bearish": [0.1, 0.7],
            "p_neutral": [0.2, 0.2],
            "p_bullish": [0.7, 0.1],
            "model_version": ["m", "m"],
        }
    )
    items = sentiment_job.item_scores(scored)
    assert items[["item_id", "symbol"]].values.tolist() == [["x:1", "AAPL"], ["x:1", "MSFT"], ["news:2", "IBM"]]
    assert items["polarity"].tolist() == pytest.approx([0.6, 0.6, -0.6])
    assert items["known_at"].tolist() == [t + pd.Timedelta(minutes=5)] * 2 + [t + pd.Timedelta(minutes=41)]
    touched = sentiment_job.affected_windows(items, pd.Timedelta("30min"))
    assert touched == {
        "AAPL": [pd.Timestamp("2013-01-02 15:30", tz="UTC")],
        "MSFT": [pd.Timestamp("2013-01-02 15:30", tz="UTC")],
        "IBM": [pd.Timestamp("2013-01-02 16:00", tz="UTC")],
    }


def test_a_model_that_cannot_load_falls_back_to_the_baseline_visibly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from prometheus_client import REGISTRY

    from marketpulse.models.sentiment import SentimentModelError

    class _Baseline(_CountingModel):
        version = "vader-test"

    def load(kind: str, **_: object) -> _CountingModel:
        if kind == "minilm":
            raise SentimentModelError("no fine-tuned sentiment model at /nowhere")
        return _Baseline()

    monkeypatch.setattr("marketpulse.models.sentiment.load_sentiment_model", load)
    monkeypatch.setattr(sentiment_job, "_MODELS", {})
    with caplog.at_level("WARNING", logger=sentiment_job.log.name):
        frame = sentiment_job.score_frame(pd.Series(["a"], dtype="object"), "minilm")
        assert sentiment_job.check_model_available("minilm") == "vader-test"
    assert frame["model_version"].tolist() == ["vader-test"]  # every stored score names the model that made it
    # One load per process: the start-up check and the batches share the model, and the warning is said once.
    assert sum("cannot be loaded" in r.getMessage() and "/nowhere" in r.getMessage() for r in caplog.records) == 1
    labels = {"configured": "minilm", "version": "vader-test", "fallback": "1"}
    assert REGISTRY.get_sample_value("marketpulse_sentiment_model_info", labels) == 1.0
