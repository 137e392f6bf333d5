"""Kafka 4 (KRaft) of the local stack, through confluent-kafka's idempotent producer."""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from marketpulse.config import Settings
from marketpulse.stack.manager import Stack


def test_idempotent_producer_round_trip(stack: Stack, settings: Settings, unique: str) -> None:
    topic = f"it.kafka.{unique}"
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(timeout=30)

    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True, "acks": "all"})
    errors: list[KafkaError] = []
    in_send_order = [f"{symbol}-{i}" for i in range(100) for symbol in ("AAPL", "MSFT", "IBM")]
    sent = set(in_send_order)
    for value in in_send_order:
        producer.produce(
            topic,
            key=value.split("-")[0],
            value=value,
            on_delivery=lambda err, _msg: errors.append(err) if err else None,
        )
    assert producer.flush(30) == 0
    assert errors == []

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"it-{unique}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    received: dict[str, list[str]] = {}
    partitions_by_key: dict[str, set[int]] = {}
    try:
        for _ in range(120):
            if sum(len(v) for v in received.values()) >= len(sent):
                break
            for msg in consumer.consume(num_messages=500, timeout=1.0):
                assert msg.error() is None, msg.error()
                key = msg.key().decode()
                received.setdefault(key, []).append(msg.value().decode())
                partitions_by_key.setdefault(key, set()).add(msg.partition())
    finally:
        consumer.close()

    assert {v for values in received.values() for v in values} == sent
    # key = symbol: one partition per symbol, so per-symbol order is the send order.
    assert all(len(parts) == 1 for parts in partitions_by_key.values())
    for key, values in received.items():
        assert values == sorted(values, key=lambda v: int(v.split("-")[1])), key
