"""/v1/symbols/{symbol}/sentiment against the real Cassandra and Redis of the test stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from marketpulse.api import create_app
from marketpulse.config import Settings
from marketpulse.features.sentiment import sentiment_windows
from marketpulse.stack.manager import Stack
from marketpulse.stores.cassandra import cassandra_section
from marketpulse.stores.postgres import postgres_section
from marketpulse.stores.redis_store import redis_section
from marketpulse.stores.sentiment import checked_windows
from marketpulse.stream.sentiment_sinks import (
    CassandraSentimentSink,
    PostgresSentimentSink,
    RedisSentimentSink,
    SentimentFacts,
)

from .test_api_support import create_key

T0 = pd.Timestamp("2013-01-02 14:30", tz="UTC")


def _items(symbol: str) -> pd.DataFrame:
    rows = []
    for k in range(12):
        published = T0 + pd.Timedelta(minutes=7 * k)
        rows.append(
            {
                "item_id": f"x:{symbol}-{k}",
                "symbol": symbol,
                "source": ("x", "reddit", "news")[k % 3],
                "author": f"a{k}",
                "url": f"https://x.invalid/{k}",
                "text": f"${symbol} text {k}",
                "published_at": published,
                "ingested_at": published + pd.Timedelta(seconds=20),
                "known_at": published + pd.Timedelta(seconds=20),
                "p_bearish": 0.1,
                "p_neutral": 0.3,
                "p_bullish": 0.6,
                "polarity": 0.5 if k % 2 else -0.25,
                "model_version": "vader-test",
                "replayed": True,
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def stored(stack: Stack, settings: Settings) -> tuple[str, pd.DataFrame]:
    symbol = "W" + uuid.uuid4().hex[:6].upper()
    items = _items(symbol)
    windows = sentiment_windows(items, pd.Timedelta("30min"), baseline=2)
    facts = SentimentFacts(items, checked_windows(windows, "vader-test"), "vader-test")
    history = CassandraSentimentSink(cassandra_section(settings))
    live = RedisSentimentSink(
        redis_section(settings), recent_windows=settings.sentiment.recent_windows, ttl_s=settings.stream.redis_ttl_s
    )
    sinks = [history, PostgresSentimentSink(postgres_section(settings)), live]
    try:
        history.client.write_items(items)
        for sink in sinks:
            sink.write(facts)
    finally:
        for sink in sinks:
            sink.close()
    return symbol, windows


@pytest.fixture(scope="module")
def client(stack: Stack, settings: Settings) -> Iterator[TestClient]:
    key = create_key(settings, "test_sentiment_api")[1]
    with TestClient(create_app(settings), headers={"X-API-Key": key}) as client:
        yield client


def test_sentiment_defaults_to_the_symbols_newest_window(client: TestClient, stored: tuple[str, pd.DataFrame]) -> None:
    symbol, windows = stored
    response = client.get(f"/v1/symbols/{symbol}/sentiment")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["symbol"] == symbol
    got = [pd.Timestamp(w["window_end"]) for w in body["windows"]]
    assert got == sorted(windows["window_end"], reverse=True)  # newest first, all of them within a day
    newest = body["windows"][0]
    want = windows.iloc[-1]
    assert newest["count"] == want["count"]
    assert newest["mean"] == pytest.approx(want["mean"])
    assert newest["model_version"] == "vader-test"
    assert len(body["items"]) == 12
    assert body["items"][0]["item_id"] == f"x:{symbol}-11"  # newest known first
    assert {item["source"] for item in body["items"]} == {"x", "reddit", "news"}
    assert body["items"][0]["polarity"] == pytest.approx(0.5)


def test_sentiment_range_and_limit(client: TestClient, stored: tuple[str, pd.DataFrame]) -> None:
    symbol, _ = stored
    response = client.get(
        f"/v1/symbols/{symbol}/sentiment",
        params={"start": "2013-01-02T14:30:00Z", "end": "2013-01-02T15:30:00Z", "limit": 3},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [w["window_end"] for w in body["windows"]] == ["2013-01-02T15:00:00Z"]
    assert len(body["items"]) == 3
    assert all(item["known_at"] < "2013-01-02T15:30:00Z" for item in body["items"])


def test_sentiment_rejects_bad_input_and_needs_a_key(client: TestClient) -> None:
    assert client.get("/v1/symbols/aapl/sentiment").status_code == 422
    assert client.get("/v1/symbols/AAPL/sentiment", params={"limit": 0}).status_code == 422
    # The route sits behind the read-key dependency like every /v1 route (one app: no second lifespan).
    assert client.get("/v1/symbols/AAPL/sentiment", headers={"X-API-Key": "not-a-key"}).status_code == 401
