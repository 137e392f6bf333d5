"""Scale-out: two API workers behind one port share keys, rate limits and alerts (the alert service fires each
alert once, whatever the number of API processes), and a webhook whose retries were cut short by a stop of the
alert service is delivered after its restart."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis

from factories import wait_until
from marketpulse.alerts.engine import LEASE_S
from marketpulse.config import Settings
from marketpulse.stack.manager import Stack
from marketpulse.stores.redis_store import RedisWriter, redis_section

from .test_api_support import ARTIFACTS, LOOPBACK_WEBHOOKS, Receiver, alert_service, api_server, create_key

pytestmark = pytest.mark.integration

BURST = 5


@pytest.fixture(scope="module")
def two_workers(stack: Stack, settings: Settings) -> Iterator[str]:
    log = ARTIFACTS / "workers-api.log"
    with api_server(settings, log, workers="2", rate_limit_burst=str(BURST), **LOOPBACK_WEBHOOKS) as base:
        yield base


def _price_rule(base: str, headers: dict[str, str], symbol: str, direction: str, level: float, url: str) -> None:
    """A price-cross rule with a webhook, created through the API (either worker)."""
    rule = {
        "name": f"{direction} {level}",
        "symbol": symbol,
        "condition": {"type": "price_cross", "direction": direction, "level": level},
        "webhook_url": url,
        "cooldown_s": 0,
    }
    created = httpx.post(f"{base}/v1/alerts", json=rule, headers=headers)
    assert created.status_code == 201, created.text
    time.sleep(0.5)  # the rule-change announcement reaches the alert service


def _prices(writer: RedisWriter, symbol: str, prices: tuple[float, ...]) -> None:
    """Ticks written as the stream writes them, a little apart."""
    for price in prices:
        writer.update_latest({symbol: {"tick.price": price}})
        time.sleep(0.1)


def _worker_pids(base: str) -> set[str]:
    """Pids of the workers that answered /metrics (multiprocess gauges carry a pid label per live worker)."""
    text = httpx.get(f"{base}/metrics").text
    return {line.split('pid="')[1].split('"')[0] for line in text.splitlines() if 'pid="' in line}


def test_the_rate_limit_is_shared_by_both_workers(two_workers: str, settings: Settings) -> None:
    # 0.01 tokens/s: during the test no token comes back, so exactly the burst may pass, whichever worker answers.
    key = create_key(settings, "workers", rate=0.01)[1]
    statuses = []
    for _ in range(4 * BURST):
        with httpx.Client(headers={"X-API-Key": key}) as fresh:  # a new connection: either worker may take it
            statuses.append(fresh.get(f"{two_workers}/v1/symbols", params={"limit": 1}).status_code)
    assert statuses.count(200) == BURST, statuses  # per-process buckets would let up to 2 x BURST through
    assert set(statuses[BURST:]) == {429}
    assert len(_worker_pids(two_workers)) == 2  # two processes serve the port (metrics merged over both)


def test_every_alert_fires_once_with_two_api_workers(two_workers: str, settings: Settings, stack: Stack) -> None:
    symbol = "K" + uuid.uuid4().hex[:6].upper()
    headers = {"X-API-Key": create_key(settings, "workers-alerts")[1]}
    receiver = Receiver(fail_first=0)
    writer = RedisWriter(redis_section(settings), settings.stream.redis_ttl_s)
    try:
        with alert_service(settings, ARTIFACTS / "workers-alerts.log", **LOOPBACK_WEBHOOKS):
            _price_rule(two_workers, headers, symbol, "above", 50, receiver.url)
            _prices(writer, symbol, (49.0, 51.0, 52.0, 48.0, 53.0))  # crosses twice: 49 -> 51 and 48 -> 53
            wait_until(lambda: len(receiver.posts) >= 2, 15.0)
            time.sleep(1.0)  # a duplicate, if any, would arrive now
        events = httpx.get(f"{two_workers}/v1/alerts/events", headers=headers).json()["items"]
    finally:
        writer.close()
        receiver.close()
    assert [e["observed"]["price"] for e in events] == [53.0, 51.0]  # newest first, each crossing once
    assert len(receiver.posts) == 2


def test_two_alert_services_fire_once_and_the_standby_takes_over(
    two_workers: str, settings: Settings, stack: Stack
) -> None:
    """An operator starts the alert service twice: one leads (fires), the other stands by; when the leader stops,
    the standby fires the next crossing — each crossing once."""
    symbol = "L" + uuid.uuid4().hex[:6].upper()
    headers = {"X-API-Key": create_key(settings, "leader")[1]}
    receiver = Receiver(fail_first=0)
    writer = RedisWriter(redis_section(settings), settings.stream.redis_ttl_s)
    try:
        with (  # entered in order: the first one leads
            alert_service(settings, ARTIFACTS / "leader-1.log", **LOOPBACK_WEBHOOKS) as first,
            alert_service(settings, ARTIFACTS / "leader-2.log", **LOOPBACK_WEBHOOKS),
        ):
            _price_rule(two_workers, headers, symbol, "above", 50, receiver.url)
            _prices(writer, symbol, (49.0, 51.0))
            wait_until(lambda: len(receiver.posts) >= 1, 15.0)
            first.send_signal(signal.SIGTERM)  # the leader goes; its lease is released
            first.wait(timeout=15)
            time.sleep(LEASE_S / 3 + 1)  # the standby's next lease attempt
            _prices(writer, symbol, (48.0, 52.0))
            wait_until(lambda: len(receiver.posts) >= 2, 15.0)
            time.sleep(1.0)  # a duplicate, if any, would arrive now
        events = httpx.get(f"{two_workers}/v1/alerts/events", headers=headers).json()["items"]
    finally:
        writer.close()
        receiver.close()
    assert [e["observed"]["price"] for e in events] == [52.0, 51.0]
    assert len(receiver.posts) == 2


def test_a_webhook_cut_short_by_a_stop_is_delivered_after_restart(
    two_workers: str, settings: Settings, stack: Stack
) -> None:
    symbol = "D" + uuid.uuid4().hex[:6].upper()
    headers = {"X-API-Key": create_key(settings, "durable")[1]}
    receiver = Receiver(fail_first=0, failing=True)
    writer = RedisWriter(redis_section(settings), settings.stream.redis_ttl_s)
    # 2 s between tries: the stop lands while the second try is waiting.
    slow_retries = {"webhook_backoff_s": "2", "webhook_attempts": "4", **LOOPBACK_WEBHOOKS}
    try:
        with alert_service(settings, ARTIFACTS / "durable-alerts-1.log", **slow_retries) as first:
            _price_rule(two_workers, headers, symbol, "below", 10, receiver.url)
            _prices(writer, symbol, (11.0, 9.0))
            wait_until(lambda: len(receiver.posts) >= 1, 15.0)
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=15)
        pending = httpx.get(f"{two_workers}/v1/alerts/events", headers=headers).json()["items"]
        assert [(e["webhook_status"], e["webhook_attempts"]) for e in pending] == [("pending", 1)]
        receiver.failing = False
        with alert_service(settings, ARTIFACTS / "durable-alerts-2.log", **slow_retries):

            def delivered() -> bool:
                items = httpx.get(f"{two_workers}/v1/alerts/events", headers=headers).json()["items"]
                return items[0]["webhook_status"] == "delivered"

            wait_until(delivered, 20)
        events = httpx.get(f"{two_workers}/v1/alerts/events", headers=headers).json()["items"]
    finally:
        writer.close()
        receiver.close()
    assert [(e["webhook_status"], e["webhook_attempts"]) for e in events] == [("delivered", 2)]
    assert [status for _, _, status in receiver.posts] == [500, 200]
    assert receiver.posts[0][1] == receiver.posts[1][1]  # the same alert body, rebuilt from the store


def test_the_alert_service_checks_the_target_again_at_delivery(
    two_workers: str, settings: Settings, stack: Stack
) -> None:
    """A rule accepted while the API allowed loopback webhooks is refused at delivery by a service that does
    not: no POST leaves, the event is failed with no try."""
    symbol = "R" + uuid.uuid4().hex[:6].upper()
    headers = {"X-API-Key": create_key(settings, "refused")[1]}
    receiver = Receiver(fail_first=0)
    writer = RedisWriter(redis_section(settings), settings.stream.redis_ttl_s)
    try:
        with alert_service(settings, ARTIFACTS / "refusing-alerts.log"):
            _price_rule(two_workers, headers, symbol, "above", 50, receiver.url)
            _prices(writer, symbol, (49.0, 51.0))

            def settled() -> bool:
                items = httpx.get(f"{two_workers}/v1/alerts/events", headers=headers).json()["items"]
                return bool(items) and items[0]["webhook_status"] != "pending"

            wait_until(settled, 15.0)
        events = httpx.get(f"{two_workers}/v1/alerts/events", headers=headers).json()["items"]
    finally:
        writer.close()
        receiver.close()
    assert [(e["webhook_status"], e["webhook_attempts"]) for e in events] == [("failed", 0)]
    assert receiver.posts == []


def test_rate_limit_buckets_live_in_redis(two_workers: str, settings: Settings) -> None:
    """The bucket of a key is one Redis hash that expires once it would be full again (no leak per key)."""
    api_key, plain = create_key(settings, "bucket")
    assert httpx.get(f"{two_workers}/v1/symbols", params={"limit": 1}, headers={"X-API-Key": plain}).status_code == 200
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        bucket = client.hgetall(f"mp:ratelimit:{api_key.key_id}")
        ttl = client.ttl(f"mp:ratelimit:{api_key.key_id}")
    finally:
        client.close()
    assert float(bucket["tokens"]) == pytest.approx(BURST - 1, abs=0.1)
    assert 0 < ttl <= 10
