"""The read API against the real Redis and Cassandra of the test stack."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis
from fastapi.testclient import TestClient

from integration.api.test_api_support import create_key
from marketpulse.api import create_app
from marketpulse.api.schemas import LatestState
from marketpulse.config import Settings
from marketpulse.stack.manager import Stack
from marketpulse.stores.cassandra import INDICATOR_CQL_COLUMNS, CassandraWriter, cassandra_section
from marketpulse.stores.redis_store import (
    SYMBOLS_KEY,
    RedisWriter,
    latest_doc_key,
    latest_fragments_key,
    latest_key,
    redis_section,
)

#: 500 one-minute bars at the end of each of these UTC days (15:40 .. 23:59); 2024-03-06 stays empty.
DAYS = (datetime(2024, 3, 4, tzinfo=UTC), datetime(2024, 3, 5, tzinfo=UTC), datetime(2024, 3, 7, tzinfo=UTC))
BARS_PER_DAY = 500
RANGE = {"start": "2024-03-04T00:00:00Z", "end": "2024-03-08T00:00:00Z"}


def _new_symbol() -> str:
    return "Q" + uuid.uuid4().hex[:6].upper()


def _bar_frame(symbol: str) -> pd.DataFrame:
    ts = [day + timedelta(hours=24, minutes=i - BARS_PER_DAY) for day in DAYS for i in range(BARS_PER_DAY)]
    close = 100 + np.arange(len(ts)) * 0.01
    return pd.DataFrame(
        {
            "symbol": symbol,
            "ts": pd.to_datetime(ts, utc=True),
            "open": close - 0.005,
            "high": close + 0.02,
            "low": close - 0.02,
            "close": close,
            "volume": 1000.0,
            "vwap": close,
            "trades": np.arange(len(ts)) % 7 + 1,
        }
    )


@pytest.fixture(scope="module")
def symbol() -> str:
    return _new_symbol()


@pytest.fixture(scope="module")
def bars(stack: Stack, settings: Settings, symbol: str) -> Iterator[pd.DataFrame]:
    """1500 one-minute bars and their indicators over three day partitions (plus an empty one between)."""
    frame = _bar_frame(symbol)
    indicators = frame[["symbol", "ts", "close"]].copy()
    for i, name in enumerate(INDICATOR_CQL_COLUMNS):
        indicators[name] = frame["close"] * (i + 1)
    indicators.loc[:25, "rsi_14"] = np.nan  # warm-up: stored as null
    writer = CassandraWriter(cassandra_section(settings))
    try:
        writer.write_bars(frame, "1min")
        writer.write_indicators(indicators, "1min")
        yield frame
        for table in ("bars", "indicators"):
            for day in pd.date_range("2024-03-04", "2024-03-07"):
                writer.session.execute(
                    f"DELETE FROM {table} WHERE symbol = %s AND interval = '1min' AND day = %s", (symbol, day.date())
                )
    finally:
        writer.close()


@pytest.fixture(scope="module")
def api_key(stack: Stack, settings: Settings) -> str:
    return create_key(settings, "test_api")[1]


@pytest.fixture(scope="module")
def client(stack: Stack, settings: Settings, api_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings), headers={"X-API-Key": api_key}) as client:
        yield client


@pytest.fixture(scope="module")
def redis_client(stack: Stack, settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    yield client
    client.close()


def _walk(client: TestClient, url: str, **params: Any) -> list[dict[str, Any]]:
    """All pages of a listing, checking each page's size; returns the pages' bodies."""
    pages = []
    cursor = None
    while True:
        response = client.get(url, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "pagination does not end"


@pytest.mark.parametrize("limit", [200, 500, 1499, 5000])
def test_bar_pages_walk_every_bar_once_newest_first(
    client: TestClient, bars: pd.DataFrame, symbol: str, limit: int
) -> None:
    pages = _walk(client, f"/v1/symbols/{symbol}/bars", interval="1min", limit=limit, **RANGE)
    sizes = [len(page["items"]) for page in pages]
    assert all(size == limit for size in sizes[:-1]) and 0 < sizes[-1] <= limit  # no empty last page
    assert len(pages) == -(-len(bars) // limit)
    served = [pd.Timestamp(item["ts"]) for page in pages for item in page["items"]]
    assert served == sorted(bars["ts"], reverse=True)  # every bar once, across day partitions, no gap


def test_bars_carry_the_written_values(client: TestClient, bars: pd.DataFrame, symbol: str) -> None:
    response = client.get(f"/v1/symbols/{symbol}/bars", params={"limit": 1, **RANGE})
    newest = bars.iloc[-1]
    item = response.json()["items"][0]
    assert item["ts"] == "2024-03-07T23:59:00Z"
    assert item["symbol"] == symbol and item["interval"] == "1min"
    assert item["close"] == pytest.approx(newest["close"])
    assert item["trades"] == int(newest["trades"])
    assert response.json()["next_cursor"]


def test_bars_range_is_start_inclusive_end_exclusive_and_naive_is_utc(
    client: TestClient, bars: pd.DataFrame, symbol: str
) -> None:
    url = f"/v1/symbols/{symbol}/bars"
    utc = client.get(url, params={"start": "2024-03-05T20:00:00Z", "end": "2024-03-07T16:00:00Z", "limit": 5000})
    naive = client.get(url, params={"start": "2024-03-05T20:00:00", "end": "2024-03-07T17:00:00+01:00"})
    items = utc.json()["items"]
    assert len(items) == 240 + 20  # 20:00..23:59 on the 5th, 15:40..15:59 on the 7th
    assert (items[0]["ts"], items[-1]["ts"]) == ("2024-03-07T15:59:00Z", "2024-03-05T20:00:00Z")
    assert naive.json()["items"] == items


def test_bars_default_to_the_last_day_and_other_intervals_are_separate(
    client: TestClient, bars: pd.DataFrame, symbol: str
) -> None:
    assert client.get(f"/v1/symbols/{symbol}/bars").json() == {"items": [], "next_cursor": None}
    one_second = client.get(f"/v1/symbols/{symbol}/bars", params={"interval": "1s", **RANGE})
    assert one_second.json() == {"items": [], "next_cursor": None}


def test_indicator_pages_walk_every_snapshot_once(client: TestClient, bars: pd.DataFrame, symbol: str) -> None:
    pages = _walk(client, f"/v1/symbols/{symbol}/indicators", limit=700, **RANGE)
    items = [item for page in pages for item in page["items"]]
    assert [pd.Timestamp(item["ts"]) for item in items] == sorted(bars["ts"], reverse=True)
    assert items[-1]["rsi_14"] is None and items[0]["rsi_14"] == pytest.approx(bars["close"].iloc[-1] * 8)


def test_prediction_pages_split_rows_sharing_a_feature_time(
    client: TestClient, settings: Settings, stack: Stack
) -> None:
    symbol = _new_symbol()
    feature_times = [datetime(2024, 3, 4, 23, 58, tzinfo=UTC) + timedelta(minutes=m) for m in range(4)]
    keys = [(ts, horizon, model) for ts in feature_times for horizon in ("1min", "5min") for model in ("gbm", "lin")]
    writer = CassandraWriter(cassandra_section(settings))
    try:
        insert = writer.session.prepare(
            "INSERT INTO predictions (symbol, day, feature_ts, horizon, model_name, model_version, prob_up, "
            "expected_return, created_at) VALUES (?, ?, ?, ?, ?, 'v1', 0.5, 0.001, ?)"
        )
        for ts, horizon, model in keys:
            writer.session.execute(insert, (symbol, ts.date(), ts, horizon, model, ts))
        pages = _walk(client, f"/v1/symbols/{symbol}/predictions", limit=3, **RANGE)
        for day in {ts.date() for ts in feature_times}:
            writer.session.execute("DELETE FROM predictions WHERE symbol = %s AND day = %s", (symbol, day))
    finally:
        writer.close()
    served = [
        (datetime.fromisoformat(item["feature_ts"]), item["horizon"], item["model_name"])
        for page in pages
        for item in page["items"]
    ]
    expected = sorted(keys, key=lambda key: (-key[0].timestamp(), key[1], key[2]))  # clustering order
    assert served == expected
    assert [len(page["items"]) for page in pages] == [3, 3, 3, 3, 3, 1]
    assert client.get(f"/v1/symbols/{_new_symbol()}/predictions").json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"interval": "5min"}, "query.interval"),
        ({"limit": 5001}, "query.limit"),
        ({"start": "2024-03-05T00:00:00Z", "end": "2024-03-05T00:00:00Z"}, "must be before end"),
        ({"start": "2024-03-05T00:00:00Z", "end": "2024-03-01T00:00:00Z"}, "must be before end"),
        ({"interval": "1s", "start": "2024-01-01T00:00:00Z", "end": "2024-03-01T00:00:00Z"}, "31 days"),
        ({"start": "2022-01-01T00:00:00Z", "end": "2024-01-01T00:00:00Z"}, "366 days"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor is not valid"),
    ],
)
def test_bad_bar_requests_are_422(client: TestClient, symbol: str, params: dict[str, Any], message: str) -> None:
    response = client.get(f"/v1/symbols/{symbol}/bars", params=params)
    assert response.status_code == 422
    assert message in response.json()["error"]["message"]


def test_latest_returns_the_hash_nested_and_symbols_lists_it(
    client: TestClient, redis_client: redis.Redis, settings: Settings
) -> None:
    symbol = _new_symbol()
    fields = {
        "tick.price": "185.25",
        "tick.size": "100",
        "tick.ts": "2024-03-07T23:59:59.500000+00:00",
        "bar_1s.close": "185.2",
        "bar_1s.ts": "2024-03-07T23:59:58+00:00",
        "bar_1m.close": "185",
        "bar_1m.volume": "12000",
        "bar_1m.ts": "2024-03-07T23:58:00+00:00",
        "ind.rsi_14": "61.5",
        "ind.macd": "0.12",
        "pred.prob_up": "0.61",
        "pred.model_version": "v20240307T000000",
        "future.field": "7",
    }
    redis_client.hset(latest_key(symbol), mapping=fields)
    redis_client.sadd(SYMBOLS_KEY, symbol)
    try:
        latest = client.get(f"/v1/symbols/{symbol}/latest")
        listed = client.get("/v1/symbols", params={"limit": 5000})
    finally:
        redis_client.delete(latest_key(symbol))
        redis_client.srem(SYMBOLS_KEY, symbol)
    assert latest.status_code == 200
    assert latest.json() == {
        "symbol": symbol,
        "tick": {"price": 185.25, "size": 100.0, "ts": "2024-03-07T23:59:59.500000+00:00"},
        "bar_1s": {"close": 185.2, "ts": "2024-03-07T23:59:58+00:00"},
        "bar_1m": {"close": 185.0, "volume": 12000.0, "ts": "2024-03-07T23:58:00+00:00"},
        "indicators": {"rsi_14": 61.5, "macd": 0.12},
        "prediction": {"prob_up": 0.61, "model_version": "v20240307T000000"},
        "sentiment": None,  # no sentiment for this symbol yet
        "other": {"future.field": 7.0},
    }
    symbols = [item["symbol"] for item in listed.json()["items"]]
    assert symbols == sorted(symbols)
    entry = next(item for item in listed.json()["items"] if item["symbol"] == symbol)
    assert entry == {"symbol": symbol, "price": 185.25, "ts": "2024-03-07T23:59:59.500000+00:00"}


LATEST_UPDATE = {
    "tick.price": 185.25,
    "tick.size": 100,
    "tick.ts": "2024-03-07T23:59:59.500000+00:00",
    "bar_1m.close": 185.0,
    "bar_1m.ts": "2024-03-07T23:58:00+00:00",
    "ind.rsi_14": 61.5,
    "ind.macd": float("nan"),  # non-finite: left out of the document, as from the hash
    "pred.prob_up": 0.61,
    "pred.model_version": "v20240307T000000",
    "sent.mean": -0.25,
}


@pytest.fixture(scope="module")
def slow_client(stack: Stack, settings: Settings, api_key: str) -> Iterator[TestClient]:
    """The same API with the plain-ASGI latest lane off: FastAPI's own route answers."""
    slow = settings.model_copy(update={"api": settings.api.model_copy(update={"fast_latest": False})})
    with TestClient(create_app(slow), headers={"X-API-Key": api_key}) as client:
        yield client


def test_latest_from_the_stream_writer_is_the_same_document_on_both_paths(
    client: TestClient, slow_client: TestClient, redis_client: redis.Redis, settings: Settings
) -> None:
    """The writer's ready JSON (one GET) equals the contract's nested shape, whichever path serves it, and a
    later batch carrying only changed fields merges into it."""
    symbol = _new_symbol()
    writer = RedisWriter(redis_section(settings), settings.stream.redis_ttl_s)
    try:
        writer.update_latest({symbol: LATEST_UPDATE})
        first = [c.get(f"/v1/symbols/{symbol}/latest") for c in (client, slow_client)]
        writer.update_latest({symbol: {"tick.price": 186.0, "ind.macd": 0.5}})
        merged = client.get(f"/v1/symbols/{symbol}/latest")
    finally:
        writer.close()
        redis_client.delete(latest_key(symbol), latest_doc_key(symbol), latest_fragments_key(symbol))
        redis_client.srem(SYMBOLS_KEY, symbol)
    expected = {
        "symbol": symbol,
        "tick": {"price": 185.25, "size": 100.0, "ts": "2024-03-07T23:59:59.500000+00:00"},
        "bar_1s": None,
        "bar_1m": {"close": 185.0, "ts": "2024-03-07T23:58:00+00:00"},
        "indicators": {"rsi_14": 61.5},
        "prediction": {"prob_up": 0.61, "model_version": "v20240307T000000"},
        "sentiment": {"mean": -0.25},
        "other": None,
    }
    for response in first:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json() == expected
        LatestState.model_validate_json(response.content)  # the documented contract, checked here not per request
    assert merged.json()["tick"]["price"] == 186.0 and merged.json()["indicators"] == {"macd": 0.5, "rsi_14": 61.5}
    assert merged.json()["sentiment"] == {"mean": -0.25}  # untouched sections stay


def test_latest_lane_refuses_like_the_api(client: TestClient, settings: Settings) -> None:
    """No key, a bad key, a key without read scope never reach Redis; counted under the route template."""
    symbol = "AAPL"
    anonymous = client.get(f"/v1/symbols/{symbol}/latest", headers={"X-API-Key": ""})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthenticated"
    assert anonymous.headers["www-authenticate"] == "ApiKey"
    bad = client.get(f"/v1/symbols/{symbol}/latest", headers={"X-API-Key": "mpk_000000000000_nope"})
    assert bad.status_code == 401
    metrics = client.get("/metrics").text
    assert 'marketpulse_api_requests_total{method="GET",route="/v1/symbols/{symbol}/latest",status="401"}' in metrics


def test_latest_with_redis_down_is_a_clean_503(stack: Stack, settings: Settings, api_key: str) -> None:
    """Keys verified against the real PostgreSQL, Redis unreachable: the lane answers 503 in the error shape."""
    offline = settings.model_copy(update={"redis": settings.redis.model_copy(update={"port": 1})})
    with TestClient(create_app(offline), headers={"X-API-Key": api_key}) as client:
        response = client.get("/v1/symbols/AAPL/latest")
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "dependency_unavailable"


def test_unknown_and_malformed_symbols(client: TestClient) -> None:
    unknown = client.get(f"/v1/symbols/{_new_symbol()}/latest")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    assert "unknown symbol" in unknown.json()["error"]["message"]
    for bad in ("aapl", "1ABC", "ABCDEFGHIJK"):
        response = client.get(f"/v1/symbols/{bad}/latest")
        assert response.status_code == 422, bad
        assert "path.symbol" in response.json()["error"]["message"]


def test_healthz_and_metrics(client: TestClient, symbol: str) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok"
    assert {name: dep["status"] for name, dep in health.json()["dependencies"].items()} == {
        "redis": "up",
        "cassandra": "up",
    }
    client.get(f"/v1/symbols/{symbol}/bars", params={"limit": 1})
    client.get(f"/v1/symbols/{symbol}/bars", params={"limit": 0})
    text = client.get("/metrics").text
    assert 'marketpulse_api_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="/v1/symbols/{symbol}/bars",status="200"' in text
    assert 'route="/v1/symbols/{symbol}/bars",status="422"' in text
    assert 'marketpulse_api_request_duration_seconds_bucket{le="0.5",method="GET",route="/healthz"}' in text


def test_symbol_pages_walk_every_symbol_once_in_order(client: TestClient, redis_client: redis.Redis) -> None:
    mine = sorted(_new_symbol() for _ in range(5))
    for symbol in mine:
        redis_client.hset(latest_key(symbol), mapping={"tick.price": "10", "tick.ts": "2024-03-07T00:00:00+00:00"})
        redis_client.sadd(SYMBOLS_KEY, symbol)
    try:
        pages = _walk(client, "/v1/symbols", limit=2)
    finally:
        for symbol in mine:
            redis_client.delete(latest_key(symbol))
            redis_client.srem(SYMBOLS_KEY, symbol)
    assert all(len(page["items"]) == 2 for page in pages[:-1])
    served = [item["symbol"] for page in pages for item in page["items"]]
    assert served == sorted(set(served))  # ordered, no symbol twice across pages
    assert set(mine) <= set(served)


def test_pipeline_status_reports_stream_heartbeats(client: TestClient, redis_client: redis.Redis) -> None:
    query = f"it-{uuid.uuid4().hex[:6]}"
    key = f"mp:stream:{query}:heartbeat"
    redis_client.hset(key, mapping={"batch_id": 41, "rows": 7, "at": time.time() - 3})
    try:
        status = client.get("/v1/pipeline/status")
    finally:
        redis_client.delete(key)
    assert status.status_code == 200, status.text
    beat = next(s for s in status.json()["streams"] if s["query"] == query)
    assert (beat["batch_id"], beat["rows"]) == (41, 7)
    assert 2.5 < beat["age_s"] < 60
    assert set(status.json()["services"]) == {"ingest", "market-job", "api"}
    assert status.json()["services"]["api"]["up"] is True  # its own stages, read from its registry


def test_alert_rule_and_event_pages(client: TestClient) -> None:
    symbol = _new_symbol()
    rule = {"name": "r", "symbol": symbol, "condition": {"type": "rsi", "direction": "above", "threshold": 70}}
    created = [client.post("/v1/alerts", json={**rule, "name": f"r{i}"}).json()["rule_id"] for i in range(5)]
    try:
        pages = _walk(client, "/v1/alerts", limit=2)
        listed = [item["rule_id"] for page in pages for item in page["items"]]
        assert [len(page["items"]) for page in pages] == [2, 2, 1]  # this module's key owns just these five
        assert listed == sorted(created)  # keyset pages by rule id, each rule once
        assert client.get("/v1/alerts/events", params={"limit": 1, "cursor": "bad"}).status_code == 422
    finally:
        for rule_id in created:
            client.delete(f"/v1/alerts/{rule_id}")
