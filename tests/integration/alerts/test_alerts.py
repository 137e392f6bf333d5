"""Alert rules end to end: rules created through the API, updates published by the market job's RedisWriter,
alerts delivered on the WebSocket and to a local webhook receiver (signed, retried after a 500), stored and
listed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from factories import wait_until
from integration.api.test_api_support import (
    ARTIFACTS,
    LOOPBACK_WEBHOOKS,
    Receiver,
    alert_service,
    api_server,
    create_key,
)
from marketpulse.alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from marketpulse.config import Settings
from marketpulse.stack.manager import Stack
from marketpulse.stores.redis_store import RedisWriter, redis_section

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def base(stack: Stack, settings: Settings) -> Iterator[str]:
    """The API and the alert service, as `make run` starts them (two processes)."""
    with (
        alert_service(settings, ARTIFACTS / "alerts-service.log", webhook_backoff_s="0.2", **LOOPBACK_WEBHOOKS),
        api_server(settings, ARTIFACTS / "alerts-api.log", **LOOPBACK_WEBHOOKS) as url,
    ):
        yield url


@pytest.fixture
def writer(settings: Settings) -> Iterator[RedisWriter]:
    writer = RedisWriter(redis_section(settings), settings.stream.redis_ttl_s)
    yield writer
    writer.close()


def test_price_cross_alert_reaches_websocket_webhook_and_history(
    base: str, settings: Settings, writer: RedisWriter
) -> None:
    symbol = "A" + uuid.uuid4().hex[:6].upper()
    key = create_key(settings, "alerts")[1]
    headers = {"X-API-Key": key}
    receiver = Receiver(fail_first=1)
    try:
        rule = {
            "name": "breakout",
            "symbol": symbol,
            "condition": {"type": "price_cross", "direction": "above", "level": 100},
            "webhook_url": receiver.url,
            "cooldown_s": 0,
        }
        created = httpx.post(f"{base}/v1/alerts", json=rule, headers=headers)
        assert created.status_code == 201, created.text
        rule_id, secret = created.json()["rule_id"], created.json()["webhook_secret"]
        assert secret.startswith("whsec_")
        listed = httpx.get(f"{base}/v1/alerts", headers=headers).json()
        assert [r["rule_id"] for r in listed["items"]] == [rule_id] and "webhook_secret" not in listed["items"][0]

        with connect(base.replace("http", "ws") + "/v1/ws", additional_headers=headers) as ws:
            ws.send(json.dumps({"op": "subscribe", "symbols": ["*"], "channels": ["alerts"]}))
            assert json.loads(ws.recv(timeout=5))["type"] == "subscribed"
            for price in (99.0, 99.5, 100.5, 101.0):  # crosses once, between 99.5 and 100.5
                writer.update_latest({symbol: {"tick.price": price, "tick.ts": "2024-03-07T15:00:00+00:00"}})
                time.sleep(0.05)
            alert = json.loads(ws.recv(timeout=10))
        assert alert["type"] == "data" and alert["channel"] == "alerts" and alert["symbol"] == symbol
        assert alert["data"]["rule_id"] == rule_id and alert["data"]["observed"]["price"] == 100.5

        wait_until(lambda: len(receiver.posts) >= 2)  # the 500, then the retry
        (_, _, status1), (hook_headers, body, status2) = receiver.posts[:2]
        assert (status1, status2) == (500, 200)
        assert verify(secret, hook_headers[TIMESTAMP_HEADER.lower()], body, hook_headers[SIGNATURE_HEADER.lower()])
        assert json.loads(body)["rule_id"] == rule_id

        def delivered() -> bool:
            items = httpx.get(f"{base}/v1/alerts/events", headers=headers).json()["items"]
            return bool(items) and items[0]["webhook_status"] == "delivered"

        wait_until(delivered)
        events = httpx.get(f"{base}/v1/alerts/events", headers=headers).json()["items"]
        assert len(events) == 1  # 101.0 stayed above: no second firing
        assert events[0]["rule_id"] == rule_id and events[0]["webhook_attempts"] == 2
        # Another key sees neither the rule nor its events.
        other = {"X-API-Key": create_key(settings, "other")[1]}
        assert httpx.get(f"{base}/v1/alerts/events", headers=other).json()["items"] == []
        assert httpx.delete(f"{base}/v1/alerts/{rule_id}", headers=other).status_code == 404
        assert httpx.delete(f"{base}/v1/alerts/{rule_id}", headers=headers).status_code == 204
        assert httpx.get(f"{base}/v1/alerts", headers=headers).json()["items"] == []
    finally:
        receiver.close()


def test_combination_of_rsi_and_prediction_and_sentiment_without_data(
    base: str, settings: Settings, writer: RedisWriter
) -> None:
    symbol = "C" + uuid.uuid4().hex[:6].upper()
    headers = {"X-API-Key": create_key(settings, "combo")[1]}
    combo = {
        "type": "all",
        "conditions": [
            {"type": "rsi", "direction": "below", "threshold": 30},
            {"type": "prediction", "direction": "above", "threshold": 0.6},
        ],
    }
    rules = [
        {"name": "oversold and bullish", "symbol": symbol, "condition": combo, "cooldown_s": 0},
        {"name": "mood swing", "symbol": symbol, "condition": {"type": "sentiment_shift", "delta": 0.2}},
    ]
    ids = [httpx.post(f"{base}/v1/alerts", json=r, headers=headers).json()["rule_id"] for r in rules]
    updates = [
        {"ind.rsi_14": 45.0, "pred.prob_up": 0.5},
        {"ind.rsi_14": 25.0},  # RSI condition only
        {"pred.prob_up": 0.7, "pred.horizon": "1min"},  # now both: fires
        {"tick.price": 10.0},  # still both: no new firing
    ]
    for update in updates:
        writer.update_latest({symbol: update})
        time.sleep(0.05)
    wait_until(lambda: len(httpx.get(f"{base}/v1/alerts/events", headers=headers).json()["items"]) >= 1)
    time.sleep(0.5)
    events = httpx.get(f"{base}/v1/alerts/events", headers=headers).json()["items"]
    assert [e["rule_id"] for e in events] == [ids[0]]  # the sentiment rule had no data: a no-op
    assert events[0]["observed"]["rsi_14"] == 25.0 and events[0]["observed"]["prob_up"] == 0.7
    assert events[0]["webhook_status"] == "none"


def test_bad_rules_are_422_in_the_error_shape(base: str, settings: Settings) -> None:
    headers = {"X-API-Key": create_key(settings, "bad")[1]}
    bad = {"name": "x", "symbol": "AAPL", "condition": {"type": "rsi", "direction": "up", "threshold": 500}}
    response = httpx.post(f"{base}/v1/alerts", json=bad, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_sentiment_shift_fires_and_the_sentiment_channel_carries_the_windows(
    base: str, settings: Settings, writer: RedisWriter
) -> None:
    symbol = "S" + uuid.uuid4().hex[:6].upper()
    headers = {"X-API-Key": create_key(settings, "sentiment")[1]}
    rule = {
        "name": "mood",
        "symbol": symbol,
        "condition": {"type": "sentiment_shift", "direction": "down", "delta": 0.3},
    }
    rule_id = httpx.post(f"{base}/v1/alerts", json=rule, headers=headers).json()["rule_id"]
    with connect(base.replace("http", "ws") + "/v1/ws", additional_headers=headers) as ws:
        ws.send(json.dumps({"op": "subscribe", "symbols": [symbol], "channels": ["sentiment", "alerts"]}))
        assert json.loads(ws.recv(timeout=5))["type"] == "subscribed"
        # sent.* fields as the sentiment job's store publishes them (newest window of the symbol)
        for end, mean in (("2013-01-02T15:00:00+00:00", 0.4), ("2013-01-02T15:05:00+00:00", 0.05)):
            writer.update_latest({symbol: {"sent.mean": mean, "sent.count": 12, "sent.window_end": end}})
            time.sleep(0.05)
        received = [json.loads(ws.recv(timeout=10)) for _ in range(3)]
    by_channel = [(m["channel"], m["data"].get("mean", m["data"].get("rule_id"))) for m in received]
    assert by_channel == [("sentiment", 0.4), ("sentiment", 0.05), ("alerts", rule_id)]
    assert received[2]["data"]["observed"]["sentiment"] == 0.05


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:5432/", "http://10.0.0.7/hook", "http://[::1]/"],
)
def test_webhooks_to_internal_addresses_are_refused_without_the_allowlist(
    stack: Stack, settings: Settings, url: str
) -> None:
    """The SSRF hole of issue 16: an API without webhook_allow_hosts answers 422 and stores nothing."""
    from fastapi.testclient import TestClient

    from marketpulse.api import create_app

    headers = {"X-API-Key": create_key(settings, "ssrf")[1]}
    rule = {"name": "x", "symbol": "AAPL", "condition": {"type": "rsi", "direction": "above", "threshold": 70}}
    with TestClient(create_app(settings), headers=headers) as client:
        refused = client.post("/v1/alerts", json={**rule, "webhook_url": url})
        listed = client.get("/v1/alerts").json()["items"]
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "webhook_target"
    assert "refused" in refused.json()["error"]["message"]
    assert listed == []
