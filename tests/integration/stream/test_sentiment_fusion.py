"""Point-in-time fusion: text published (or ingested) after a bar never influences that bar's prediction.

Two symbols get identical ticks and identical texts, except that one of them also gets "future" texts:
a burst of very bearish posts after 15:00 and one post published at 14:40 but ingested only at 14:58. The
sentiment job scores everything first, so Redis already holds every window when the market job runs (a
replay: the stream is "ahead" of the bars). The market job scores with a probe model whose output depends on
every sentiment feature. Its predictions for the two symbols must be identical for every bar that starts
before the future texts were known, and must differ afterwards (so the check is not vacuous); every stored
prediction names a sentiment window that ended by its bar's start.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from kafka_helpers import produce
from marketpulse.config import Settings, StreamSettings
from marketpulse.contracts import Tick
from marketpulse.contracts.text import SocialPost
from marketpulse.features.sentiment import SENTIMENT_FEATURE_COLUMNS
from marketpulse.models.sentiment import load_sentiment_model
from marketpulse.models.serving import StreamModels
from marketpulse.sections.text import SentimentSettings
from marketpulse.stack.manager import Stack
from marketpulse.stores.cassandra import cassandra_cluster
from marketpulse.stream.market_job import start_market_job
from marketpulse.stream.sentiment_job import start_sentiment_job
from marketpulse.stream.session import spark_session

pytestmark = pytest.mark.slow

START = datetime(2013, 1, 3, 14, 30, tzinfo=UTC)
MINUTES = 45
FUTURE_KNOWN = datetime(2013, 1, 3, 14, 58, tzinfo=UTC)  # the earliest moment any future text was known


def _ticks(symbols: list[str]) -> list[Tick]:
    rng = np.random.default_rng(11)
    offsets = np.sort(rng.choice(MINUTES * 60 * 1000, size=MINUTES * 20, replace=False))
    prices = 80 * np.exp(np.cumsum(rng.normal(0, 0.001, len(offsets))))
    ticks = [
        Tick(
            symbol=symbol,
            ts=START + timedelta(milliseconds=int(ms)),
            price=round(float(p), 4),
            size=100.0,
            source="test",
            seq=i,
        )
        for symbol in symbols
        for i, (ms, p) in enumerate(zip(offsets, prices, strict=True))
    ]
    return sorted(ticks, key=lambda tick: tick.ts)


def _post(symbol: str, key: str, text: str, published: datetime, ingested: datetime) -> SocialPost:
    return SocialPost(
        id=f"x:{symbol}-{key}",
        source="x",
        author=f"author-{key}",
        url=f"https://x.invalid/{symbol}/{key}",
        text=text,
        published_at=published,
        ingested_at=ingested,
        symbols=[symbol],
    )


def _texts(symbol: str, with_future: bool) -> list[SocialPost]:
    rng = np.random.default_rng(5)  # the same shared texts for both symbols
    phrases = ["great quarter, strong buy", "weak guidance, I am selling", "flat day", "record profit, bullish"]
    posts = []
    for k in range(40):
        published = START - timedelta(minutes=10) + timedelta(seconds=int(rng.integers(0, 55 * 60)))
        ingested = published + timedelta(seconds=int(rng.integers(1, 60)))
        posts.append(_post(symbol, f"s{k}", f"${symbol} {phrases[k % 4]}", published, ingested))
    if with_future:
        late = START + timedelta(minutes=10)  # published 14:40, ingested only at 14:58
        posts.append(_post(symbol, "late", f"${symbol} fraud scandal, crash, disaster", late, FUTURE_KNOWN))
        for k in range(10):
            published = START + timedelta(minutes=30, seconds=30 + k)
            posts.append(
                _post(
                    symbol,
                    f"f{k}",
                    f"${symbol} horrible collapse, bankrupt, terrible losses",
                    published,
                    published + timedelta(seconds=5),
                )
            )
    return posts


def _probe_score(self: object, indicators: pd.DataFrame, context: pd.DataFrame | None = None) -> pd.DataFrame:
    """A 'model' whose output moves with every sentiment feature (NaN = no sentiment counts as 0)."""
    features = indicators[list(SENTIMENT_FEATURE_COLUMNS)].astype(float).fillna(0.0)
    return pd.DataFrame(
        {
            "symbol": indicators["symbol"].to_numpy(),
            "feature_ts": pd.to_datetime(indicators["ts"], utc=True).to_numpy(),
            "horizon": "1min",
            "prob_up": np.clip(0.5 + 0.5 * features["sent_mean"], 0, 1).to_numpy(),
            "expected_return": (features.sum(axis=1) * 1e-3).to_numpy(),
            "model_name": "probe",
            "model_version": "probe-1",
        }
    )


@pytest.fixture(scope="module")
def spark(stack: Stack, settings: Settings) -> Iterator[SparkSession]:
    session = spark_session(settings, "marketpulse-sentiment-fusion-it")
    yield session
    session.stop()


def test_text_known_after_a_bar_never_reaches_that_bars_prediction(
    spark: SparkSession, settings: Settings, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, exposed = f"P{unique[:5].upper()}", f"Q{unique[:5].upper()}"
    posts_topic, news_topic, ticks_topic = f"it.posts.{unique}", f"it.news.{unique}", f"it.ticks.{unique}"
    job_settings = settings.model_copy(
        update={
            "stream": StreamSettings(checkpoint_root=str(tmp_path / "ckpt"), max_offsets_per_trigger=900),
            "sentiment": SentimentSettings(model="vader", window="5min", baseline_windows=2, max_age="1D"),
        }
    )
    posts = _texts(plain, with_future=False) + _texts(exposed, with_future=True)
    produce(settings, posts_topic, [(p.symbols[0], p) for p in sorted(posts, key=lambda p: p.ingested_at)])
    query, sinks = start_sentiment_job(
        spark, job_settings, available_now=True, topics=(posts_topic, news_topic), scores_topic=f"it.scores.{unique}"
    )
    try:
        query.awaitTermination(600)
        assert query.exception() is None, query.exception()
    finally:
        sinks.close()

    # The probe stands in for the production model: it sees exactly the fused rows the job scores.
    monkeypatch.setattr(
        StreamModels, "predict", lambda self, rows, context=None: (_probe_score(self, rows), pd.DataFrame())
    )
    produce(settings, ticks_topic, [(t.symbol, t) for t in _ticks([plain, exposed])])
    queries, market_sinks = start_market_job(spark, job_settings, available_now=True, topic=ticks_topic)
    try:
        for q in queries:
            q.awaitTermination(600)
            assert q.exception() is None, q.exception()
    finally:
        market_sinks.close()

    cluster = cassandra_cluster(settings)
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        rows = {
            symbol: pd.DataFrame(
                list(
                    session.execute(
                        "SELECT feature_ts, prob_up, expected_return, sentiment_window_end, sentiment_model_version "
                        "FROM predictions WHERE symbol = %s AND day = %s",
                        (symbol, START.date()),
                    )
                )
            )
            .assign(feature_ts=lambda f: pd.to_datetime(f["feature_ts"]).dt.tz_localize("UTC"))
            .set_index("feature_ts")
            .sort_index()
            for symbol in (plain, exposed)
        }
    finally:
        cluster.shutdown()

    a, b = rows[plain], rows[exposed]
    assert list(a.index) == list(b.index) and len(a) >= 30  # one prediction per closed 1-min bar
    before = a.index < pd.Timestamp(FUTURE_KNOWN)
    # Bars that started before any future text was known: identical predictions, to the last bit.
    assert before.sum() >= 20
    np.testing.assert_array_equal(a.loc[before, "prob_up"], b.loc[before, "prob_up"])
    np.testing.assert_array_equal(a.loc[before, "expected_return"], b.loc[before, "expected_return"])
    # ... and the future texts do move the bars whose newest window holds them (5-min windows ending 15:00,
    # with the late text, and 15:05, with the burst): the probe sees sentiment, so the check above could fail.
    moved = (b.index >= pd.Timestamp("2013-01-03 15:00", tz="UTC")) & (
        b.index < pd.Timestamp("2013-01-03 15:10", tz="UTC")
    )
    assert moved.sum() == 10
    assert (b.loc[moved, "prob_up"] < a.loc[moved, "prob_up"]).all()
    # Every prediction names the window it used, which ended by its bar's start, and the model that scored it.
    used = b.dropna(subset=["sentiment_window_end"])
    assert len(used) >= 30
    ends = pd.to_datetime(used["sentiment_window_end"]).dt.tz_localize("UTC")
    assert (ends.to_numpy() <= used.index.to_numpy()).all()
    assert set(used["sentiment_model_version"]) == {load_sentiment_model("vader").version}
