"""Validated events into Kafka; rejects into `<topic>.dlq` with the reason and the original bytes.

The producer is idempotent with acks=all, so broker retries never duplicate; a full local queue is
back-pressure (we poll and retry), never a drop. Anything the broker finally refuses is counted and
raised at flush, so a run that lost data cannot exit 0.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Producer

from marketpulse.config import Settings
from marketpulse.contracts import Contract, ContractError, Tick, Topics, from_wire, to_wire
from marketpulse.errors import MarketPulseError
from marketpulse.ingest import metrics
from marketpulse.kafka_config import client_config

#: The largest original value (and key) a DLQ record carries whole: with its headers it stays under librdkafka's
#: default message.max.bytes (1,000,000) and the broker's (1 MiB), whatever a producer managed to write.
DLQ_MAX_VALUE_BYTES = 900_000
DLQ_MAX_KEY_BYTES = 4_096


class DeliveryError(MarketPulseError):
    """Kafka refused records after all retries; the count and first error are in the message."""


class SequenceGuard:
    """Rejects a tick whose per-(source, symbol) sequence number does not increase."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], int] = {}

    def check(self, tick: Tick) -> None:
        if tick.seq is None:
            return
        key = (tick.source, tick.symbol)
        last = self._last.get(key)
        if last is not None and tick.seq <= last:
            raise ContractError(f"seq {tick.seq} from {tick.source} for {tick.symbol} is not after {last}")
        self._last[key] = tick.seq


def producer_config(settings: Settings, client_id: str) -> dict[str, Any]:
    """librdkafka settings for an idempotent, batching producer (the only place they are chosen)."""
    return client_config(
        settings,
        **{
            "client.id": client_id,
            "enable.idempotence": True,
            "acks": "all",
            # Batching: a few ms of linger turns 50k small sends/s into a few hundred requests/s.
            "linger.ms": 5,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 500_000,
            # Retries are safe with idempotence; give the broker 5 minutes before a record counts as failed.
            "delivery.timeout.ms": 300_000,
        },
    )


class EventProducer:
    """Sends events keyed by symbol, routes invalid input to the DLQ, and counts everything."""

    def __init__(self, settings: Settings, client_id: str) -> None:
        self._producer = Producer(producer_config(settings, client_id))
        self._failed = 0
        self._first_failure: str | None = None
        self.sequence = SequenceGuard()

    def _on_delivery(self, err: Any, msg: Any) -> None:
        topic = msg.topic()
        if err is not None:
            self._failed += 1
            self._first_failure = self._first_failure or f"{topic}: {err}"
            metrics.DELIVERY_ERRORS.labels(topic).inc()
            return
        metrics.EVENTS_OUT.labels(topic).inc()
        _, created_ms = msg.timestamp()
        if created_ms > 0:
            metrics.BROKER_LATENCY.observe(max(0.0, time.time() - created_ms / 1000))

    def _produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
    ) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=headers, on_delivery=self._on_delivery)
                break
            except BufferError:
                # Local queue full: serve delivery reports until there is room (back-pressure, not loss).
                self._producer.poll(0.05)
        self._producer.poll(0)

    def send(self, topic: str, event: Contract, key: str | None = None) -> None:
        """Send an already-valid event; key defaults to its symbol."""
        symbol = key or getattr(event, "symbol", None)
        self._produce(topic, symbol.encode() if symbol else None, to_wire(event))

    def send_wire(self, topic: str, key: bytes, value: bytes) -> None:
        """Send bytes that are already valid wire records (the synthetic load generator's fast path)."""
        self._produce(topic, key, value)

    def reject(
        self, topic: str, raw: bytes | None, reason: str, key: bytes | None = None, stage: str = "ingest"
    ) -> None:
        """Send the original bytes to `<topic>.dlq` with the reason in headers, and count it.

        A record too large to be copied whole (a ~1 MB one leaves no room for the headers under the client's and
        the broker's limits) keeps its first DLQ_MAX_VALUE_BYTES, with its full size in `mp.truncated_from`:
        a record that cannot be dead-lettered would fail its micro-batch again on every restart."""
        headers: list[tuple[str, str | bytes | None]] = [
            ("mp.reason", reason.encode()),
            ("mp.stage", stage.encode()),
            ("mp.source_topic", topic.encode()),
        ]
        if raw is not None and len(raw) > DLQ_MAX_VALUE_BYTES:
            headers.append(("mp.truncated_from", str(len(raw)).encode()))
            raw = raw[:DLQ_MAX_VALUE_BYTES]
        if key is not None and len(key) > DLQ_MAX_KEY_BYTES:
            headers.append(("mp.key_truncated_from", str(len(key)).encode()))
            key = key[:DLQ_MAX_KEY_BYTES]
        self._produce(Topics.dlq(topic), key, raw, headers)
        metrics.DLQ.labels(topic, stage).inc()

    def ingest_tick(self, raw: bytes, source: str) -> Tick | None:
        """Validate one raw tick record: valid -> market.ticks, invalid -> market.ticks.dlq. Returns the tick."""
        metrics.EVENTS_IN.labels(source).inc()
        try:
            tick = from_wire(Tick, raw)
            self.sequence.check(tick)
        except ContractError as exc:
            self.reject(Topics.TICKS, raw, str(exc))
            return None
        self._produce(Topics.TICKS, tick.symbol.encode(), raw)
        return tick

    def ingest_ticks(self, ticks: Iterable[Tick], source: str) -> int:
        """Send ticks from a trusted in-process source (already validated models); returns the count."""
        count = 0
        for tick in ticks:
            metrics.EVENTS_IN.labels(source).inc()
            try:
                self.sequence.check(tick)
            except ContractError as exc:
                self.reject(Topics.TICKS, to_wire(tick), str(exc))
                continue
            self.send(Topics.TICKS, tick)
            count += 1
        return count

    def close(self) -> None:
        """Flush, then drop the client so librdkafka's threads end (no reconnect noise after the broker is gone)."""
        self.flush()
        del self._producer

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait for every record to be acknowledged; raise DeliveryError if any was finally refused."""
        remaining = self._producer.flush(timeout_s)
        if remaining:
            raise DeliveryError(f"{remaining} records still unacknowledged after {timeout_s:.0f}s")
        if self._failed:
            raise DeliveryError(f"{self._failed} records were refused by Kafka; first: {self._first_failure}")
