"""The Spark sentiment job on the real stack: scores and windows in every store equal the batch computation.

Posts and articles (plus a few bad records) go through Kafka; the job runs with availableNow in small
micro-batches, stops half-way and restarts from its checkpoint, so windows are recomputed across batches.
Scored with the VADER baseline (fast, no weights); the windows must equal `features.sentiment` over the same
scores, in Cassandra, Postgres and Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from factories import sample_text
from kafka_helpers import consume, dead_letters, produce
from marketpulse.config import Settings, StreamSettings
from marketpulse.contracts import from_wire, to_wire
from marketpulse.contracts.text import NewsArticle, SentimentScore, TextItem
from marketpulse.features.sentiment import sentiment_windows
from marketpulse.models.sentiment import load_sentiment_model, polarity
from marketpulse.sections.text import SentimentSettings
from marketpulse.stack.manager import Stack
from marketpulse.stores.cassandra import cassandra_cluster
from marketpulse.stores.redis_store import latest_key, redis_client
from marketpulse.stores.sentiment import windows_from_redis
from marketpulse.stream.sentiment_job import start_sentiment_job
from marketpulse.stream.session import spark_session

pytestmark = pytest.mark.slow

START = datetime(2013, 1, 2, 14, 30, tzinfo=UTC)


def _texts(symbols: list[str], per_symbol: int, seed: int = 5) -> list[TextItem]:
    rng = np.random.default_rng(seed)
    items: list[TextItem] = []
    for symbol in symbols:
        for k in range(per_symbol):
            published = START + timedelta(seconds=int(rng.integers(0, 3 * 3600)))
            ingested = published + timedelta(seconds=int(rng.integers(1, 900)))
            linked = [symbol] if k % 10 else [symbol, symbols[0]]
            items.append(sample_text(k, linked, published, ingested))
    return sorted(items, key=lambda item: item.ingested_at)


def _produce(settings: Settings, topics: tuple[str, str], items: list[TextItem]) -> None:
    """Posts to topics[0], articles to topics[1], each keyed by its first symbol."""
    for topic, news in zip(topics, (False, True), strict=True):
        produce(settings, topic, [(item.symbols[0], item) for item in items if isinstance(item, NewsArticle) == news])


@pytest.fixture(scope="module")
def spark(stack: Stack, settings: Settings) -> Iterator[SparkSession]:
    session = spark_session(settings, "marketpulse-sentiment-job-it")
    yield session
    session.stop()


def _run(spark: SparkSession, settings: Settings, topics: tuple[str, str], scores_topic: str) -> None:
    query, sinks = start_sentiment_job(spark, settings, available_now=True, topics=topics, scores_topic=scores_topic)
    try:
        query.awaitTermination(600)
        assert query.exception() is None, query.exception()
    finally:
        sinks.close()


def test_sentiment_job_scores_and_windows_in_every_store_across_a_restart(
    spark: SparkSession, settings: Settings, unique: str, tmp_path: Path
) -> None:
    symbols = [f"S{unique[:5].upper()}{i}" for i in range(3)]
    topics = (f"it.posts.{unique}", f"it.news.{unique}")
    scores_topic = f"it.sentiment.{unique}"
    job_settings = settings.model_copy(
        update={
            "stream": StreamSettings(checkpoint_root=str(tmp_path / "ckpt")),
            "sentiment": SentimentSettings(
                model="vader", window="30min", baseline_windows=2, max_offsets_per_trigger=60
            ),
        }
    )
    items = _texts(symbols, per_symbol=60)
    good = to_wire(items[0]).decode()
    bad = [
        b"{not json",
        good.replace('"symbols":[', '"symbols":null,"x":[').encode(),
        good.replace('"v":1', '"v":9').encode(),
    ]
    half = len(items) // 2
    _produce(settings, topics, items[:half])
    produce(settings, topics[0], [(b"BAD", raw) for raw in bad])
    _run(spark, job_settings, topics, scores_topic)
    _produce(settings, topics, items[half:])
    _run(spark, job_settings, topics, scores_topic)

    # Expected: the same model's scores, exploded per symbol, through the same window math.
    model = load_sentiment_model("vader")
    probs = model.score([item.text for item in items])
    expected_items = pd.DataFrame(
        [
            {
                "item_id": item.id,
                "symbol": symbol,
                "source": item.source,
                "polarity": float(p),
                "published_at": pd.Timestamp(item.published_at),
                "ingested_at": pd.Timestamp(item.ingested_at),
            }
            for item, p in zip(items, polarity(probs), strict=True)
            for symbol in item.symbols
        ]
    )
    expected = sentiment_windows(expected_items, pd.Timedelta("30min"), baseline=2)

    cluster = cassandra_cluster(settings)
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        for symbol in symbols:
            stored_items = list(
                session.execute(
                    "SELECT item_id, polarity, model_version FROM sentiment_items WHERE symbol = %s AND day = %s",
                    (symbol, START.date()),
                )
            )
            want_items = expected_items[expected_items["symbol"] == symbol]
            assert sorted(r.item_id for r in stored_items) == sorted(want_items["item_id"])  # none lost, none twice
            assert {r.model_version for r in stored_items} == {model.version}
            rows = list(
                session.execute(
                    "SELECT window_end, count, mean, dispersion, buzz, count_news FROM sentiment_windows "
                    "WHERE symbol = %s AND day = %s",
                    (symbol, START.date()),
                )
            )
            got = pd.DataFrame(rows).sort_values("window_end").reset_index(drop=True)
            want = expected[expected["symbol"] == symbol].reset_index(drop=True)
            assert [pd.Timestamp(t, tz="UTC") for t in got["window_end"]] == list(want["window_end"])
            assert got["count"].tolist() == want["count"].tolist()
            assert got["count_news"].tolist() == want["count_news"].tolist()
            np.testing.assert_allclose(got["mean"], want["mean"], rtol=1e-9)
            np.testing.assert_allclose(got["dispersion"], want["dispersion"], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(got["buzz"].astype(float), want["buzz"], rtol=1e-9, equal_nan=True)
    finally:
        cluster.shutdown()

    import psycopg

    with psycopg.connect(settings.postgres_dsn()) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM fact_sentiment_window WHERE symbol = ANY(%s)", (symbols,)
        ).fetchone()
    assert count == len(expected)

    client = redis_client(settings)
    try:
        windows = windows_from_redis(client, symbols, START - timedelta(days=1), START + timedelta(days=1))
        assert len(windows) == len(expected)
        assert float(client.hget(latest_key(symbols[1]), "sent.count")) == float(
            expected[expected["symbol"] == symbols[1]]["count"].iloc[-1]
        )
    finally:
        client.close()

    scores = [from_wire(SentimentScore, m.value()) for m in consume(settings, scores_topic, len(expected_items))]
    assert {(s.item_id, s.symbol) for s in scores} == set(
        zip(expected_items["item_id"], expected_items["symbol"], strict=True)
    )
    dlq = [letter.value for letter in dead_letters(settings, topics[0], len(bad))]
    assert sorted(dlq) == sorted(bad)
