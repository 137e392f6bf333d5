"""Kafka in and out for the integration tests and the benches that check a topic's contents.

Import as `from kafka_helpers import ...` in tests (pytest puts tests/ on sys.path) and as
`from tests.kafka_helpers import ...` from bench/ (run from the repository root). Every client gets its security
settings from `client_config`, so the helpers work against any stack the settings point at.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

import pandas as pd
from confluent_kafka import Consumer, KafkaException, Message, Producer

from marketpulse.config import Settings
from marketpulse.contracts import Tick, Topics, to_wire
from marketpulse.contracts.base import Contract
from marketpulse.kafka_config import client_config

#: A record to produce: (key, value); a str key is encoded as UTF-8, a contract value goes out as `to_wire` gives it.
Record = tuple[str | bytes, bytes | Contract]


def tick_records(ticks: pd.DataFrame, source: str = "test") -> list[Record]:
    """A frame of ticks (symbol, ts, price, size, seq; e.g. from `factories.random_walk_ticks`) as records keyed
    by symbol, in the frame's order."""
    return [
        (
            row.symbol,
            Tick(
                symbol=row.symbol,
                ts=row.ts.to_pydatetime(),
                price=row.price,
                size=row.size,
                source=source,
                seq=int(row.seq),
            ),
        )
        for row in ticks.itertuples(index=False)
    ]


def produce(settings: Settings, topic: str, records: Iterable[Record]) -> None:
    """Write records to topic in order, through an idempotent producer (acks=all); fail unless all are delivered."""
    producer = Producer(client_config(settings, **{"enable.idempotence": True, "acks": "all"}))
    for key, value in records:
        producer.produce(
            topic,
            key=key.encode() if isinstance(key, str) else key,
            value=value if isinstance(value, bytes) else to_wire(value),
        )
    assert producer.flush(60) == 0


def consume(
    settings: Settings, topic: str, expected: int, *, timeout_s: float = 60.0, settle_s: float = 0.0
) -> list[Message]:
    """Every record of topic from its beginning (a fresh consumer group): reads until `expected` records arrived
    and then none for settle_s more (0: stop at `expected`; more: catch any extra), or until timeout_s.
    Fails on a record that carries a consumer error."""
    consumer = Consumer(
        client_config(
            settings,
            **{
                "group.id": f"it-{topic}-{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "fetch.message.max.bytes": 2_097_152,  # room for ~1 MB records and their headers
            },
        )
    )
    consumer.subscribe([topic])
    records: list[Message] = []
    deadline = time.monotonic() + timeout_s
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            if len(records) >= expected and time.monotonic() - quiet_since >= settle_s:
                break
            messages = consumer.consume(num_messages=500, timeout=0.5)
            for message in messages:
                if message.error() is not None:
                    raise KafkaException(message.error())
                records.append(message)
            if messages:
                quiet_since = time.monotonic()
    finally:
        consumer.close()
    return records


class DeadLetter(NamedTuple):
    """A record of a dead-letter topic: its value, the `mp.reason` header decoded, and every header."""

    value: bytes
    reason: str
    headers: dict[str, bytes]


def dead_letters(
    settings: Settings, topic: str, expected: int, *, timeout_s: float = 60.0, settle_s: float = 0.0
) -> list[DeadLetter]:
    """The records of `<topic>.dlq`, read as `consume` reads (at least `expected`, then settle_s of quiet)."""
    letters = []
    for message in consume(settings, Topics.dlq(topic), expected, timeout_s=timeout_s, settle_s=settle_s):
        headers = {name: _bytes(value) for name, value in message.headers() or []}
        reason = headers.get("mp.reason", b"").decode("utf-8", "replace")
        letters.append(DeadLetter(message.value() or b"", reason, headers))
    return letters


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value or "").encode()
