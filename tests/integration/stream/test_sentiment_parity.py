"""Train/serve parity: the stream's Redis lookup fuses exactly what `bar_sentiment_features` gives training."""

from __future__ import annotations

import numpy as np
import pandas as pd

from marketpulse.config import Settings
from marketpulse.features.sentiment import SENTIMENT_FEATURE_COLUMNS, bar_sentiment_features, sentiment_windows
from marketpulse.stack.manager import Stack
from marketpulse.stores.redis_store import redis_client, sentiment_windows_key
from marketpulse.stores.sentiment import window_member
from marketpulse.stream.sentiment_fusion import SentimentLookup


def test_stream_lookup_equals_training_features(stack: Stack, settings: Settings, unique: str) -> None:
    rng = np.random.default_rng(3)
    symbols = [f"V{unique[:5].upper()}{i}" for i in range(2)]
    start = pd.Timestamp("2013-01-04 14:00", tz="UTC")
    published = start + pd.to_timedelta(rng.integers(0, 4 * 3600, 300), unit="s")
    items = pd.DataFrame(
        {
            "symbol": rng.choice(symbols, 300),
            "source": rng.choice(["x", "reddit", "news"], 300),
            "polarity": rng.uniform(-1, 1, 300),
            "published_at": published,
            "ingested_at": published + pd.to_timedelta(rng.integers(1, 1200, 300), unit="s"),
        }
    )
    length, baseline, max_age = pd.Timedelta("15min"), 4, pd.Timedelta(settings.sentiment.max_age)
    bars = pd.DataFrame(
        [(s, start + pd.Timedelta(minutes=m)) for s in symbols for m in range(0, 300, 7)], columns=["symbol", "ts"]
    )
    training = bar_sentiment_features(bars, items, length=length, baseline=baseline, max_age=max_age)

    client = redis_client(settings)
    try:
        for row in sentiment_windows(items, length, baseline).itertuples(index=False):
            client.zadd(sentiment_windows_key(row.symbol), {window_member(row, "m-1"): row.window_end.timestamp()})
        streamed = SentimentLookup(settings, client).fuse(bars)
    finally:
        client.close()
    for column in SENTIMENT_FEATURE_COLUMNS:
        np.testing.assert_allclose(streamed[column], training[column], rtol=1e-12, equal_nan=True, err_msg=column)
    assert streamed["sentiment_window_end"].tolist() == training["sentiment_window_end"].tolist()
    assert streamed["sentiment_window_end"].notna().sum() > len(bars) // 2
