"""Kafka over SASL_SSL + SCRAM, as a managed bus offers it: a second listener on a broker of its own (the default
stack stays PLAINTEXT-only), certificate from the stack's CA, a SCRAM user with a hostile password. The same
KafkaSettings reach confluent-kafka (producer, consumer, admin) and Spark's Kafka source."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from marketpulse.config import KafkaSettings, Settings
from marketpulse.kafka_config import client_config, spark_kafka_options
from marketpulse.stack.manager import Stack
from marketpulse.stack.services import KafkaService

from .conftest import TEST_PORT_OFFSET, TEST_STACK_NAME, make_test_settings

#: Quote, backslash, space, '@', '/', ':' and '=': each breaks a naively built JAAS line or URL.
PASSWORD = 'sc "ram" \\ p@ss/w:rd=1'


@pytest.fixture(scope="module")
def secure_settings() -> Iterator[Settings]:
    base = make_test_settings(f"{TEST_STACK_NAME}-kafka-sasl", TEST_PORT_OFFSET + 700)
    port = base.kafka.port + 2
    kafka = KafkaSettings(
        **{
            **base.kafka.model_dump(exclude={"sasl_password"}),
            "sasl_ssl_port": port,
            "bootstrap_servers": f"{base.stack.host}:{port}",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "marketpulse-app",
            "sasl_password": SecretStr(PASSWORD),
            "ssl_ca_location": base.stack.run_dir / "kafka" / "tls" / "ca.pem",
        }
    )
    settings = base.model_copy(update={"kafka": kafka})
    stack = Stack(settings, services=[KafkaService(settings)])
    stack.up()
    yield settings
    stack.down()


def test_confluent_kafka_produces_and_consumes_over_scram_and_tls(secure_settings: Settings, unique: str) -> None:
    topic = f"it.sasl.{unique}"
    producer = Producer(client_config(secure_settings, **{"enable.idempotence": True, "acks": "all"}))
    for i in range(20):
        producer.produce(topic, key="AAPL", value=str(i))
    assert producer.flush(30) == 0

    consumer = Consumer(client_config(secure_settings, **{"group.id": f"it-{unique}", "auto.offset.reset": "earliest"}))
    consumer.subscribe([topic])
    values: list[int] = []
    try:
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                values.append(int(msg.value()))
            if len(values) == 20:
                break
    finally:
        consumer.close()
    assert values == list(range(20))

    # The listener really authenticates: a wrong password is refused, not ignored.
    wrong = secure_settings.kafka.model_copy(update={"sasl_password": SecretStr("wrong")})
    admin = AdminClient(client_config(secure_settings.model_copy(update={"kafka": wrong}), log_level=0))
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=10)


@pytest.mark.slow
def test_spark_reads_the_secured_topic(secure_settings: Settings, unique: str) -> None:
    from marketpulse.stream.session import spark_session

    topic = f"it.sasl.spark.{unique}"
    producer = Producer(client_config(secure_settings, **{"enable.idempotence": True}))
    for i in range(30):
        producer.produce(topic, key="MSFT" if i % 3 else "IBM", value=str(i))
    assert producer.flush(30) == 0

    spark = spark_session(secure_settings, "marketpulse-it-sasl")
    try:
        frame = (
            spark.read.format("kafka")
            .options(**spark_kafka_options(secure_settings))
            .option("subscribe", topic)
            .option("startingOffsets", "earliest")
            .option("endingOffsets", "latest")
            .load()
            .selectExpr("CAST(key AS STRING) AS symbol", "CAST(value AS STRING) AS value")
        )
        rows = frame.collect()
    finally:
        spark.stop()
    assert sorted(int(row["value"]) for row in rows) == list(range(30))
    assert {row["symbol"] for row in rows} == {"MSFT", "IBM"}
