"""A Redis outage stalls the stream's Redis writer instead of failing it: the write waits (backoff), nothing it was
given is lost, it completes once Redis is back, and the outage is logged once. Against the test stack's real Redis,
stopped and started again."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from marketpulse.config import Settings
from marketpulse.stack.manager import Stack
from marketpulse.stores.redis_store import RedisWriter, latest_doc_key, latest_key, redis_client, redis_section

pytestmark = pytest.mark.integration


def test_the_stream_writer_waits_out_a_redis_outage(
    stack: Stack, settings: Settings, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    symbol = f"RO{unique[:6].upper()}"
    writer = RedisWriter(redis_section(settings), settings.stream.redis_ttl_s)
    writer.update_latest({symbol: {"tick.price": 1.0}})  # connected before the outage
    outcome: list[BaseException | None] = []

    def batch() -> None:
        try:
            writer.update_latest({symbol: {"tick.price": 2.5, "bar_1m.close": 2.4}})
            writer.heartbeat("outage-test", 7, 1)
            outcome.append(None)
        except BaseException as exc:  # the assertion below shows it
            outcome.append(exc)

    stack.down(["redis"])
    try:
        with caplog.at_level(logging.WARNING, logger="marketpulse.stores.redis_store"):
            during = threading.Thread(target=batch)
            during.start()
            time.sleep(6)
            assert during.is_alive() and not outcome  # stalled, not failed
            stack.up(["redis"])
            during.join(timeout=60)
    finally:
        stack.up(["redis"])
    assert outcome == [None]
    client = redis_client(settings)
    try:
        assert client.hget(latest_key(symbol), "tick.price") == "2.5"
        assert '"close":2.4' in client.get(latest_doc_key(symbol))
    finally:
        client.close()
        writer.close()
    outage_logs = [r.getMessage() for r in caplog.records if "Redis" in r.getMessage()]
    assert len([m for m in outage_logs if "unavailable" in m]) == 1, outage_logs
    assert len([m for m in outage_logs if "back after" in m]) == 1, outage_logs
