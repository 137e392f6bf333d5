"""Spark in local mode reads a real Kafka topic through the spark-sql-kafka connector."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from kafka_helpers import produce
from marketpulse.config import Settings
from marketpulse.stack.manager import Stack
from marketpulse.stream.session import spark_session


@pytest.fixture(scope="module")
def spark(stack: Stack, settings: Settings) -> Iterator[SparkSession]:
    session = spark_session(settings, "marketpulse-it")
    yield session
    session.stop()


@pytest.mark.slow
def test_spark_batch_reads_kafka_topic(spark: SparkSession, settings: Settings, unique: str) -> None:
    topic = f"it.spark.{unique}"
    produce(settings, topic, [("AAPL" if i % 2 else "MSFT", str(i).encode()) for i in range(50)])

    frame = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
        .selectExpr("CAST(key AS STRING) AS symbol", "CAST(value AS STRING) AS value")
    )
    counts = {row["symbol"]: row["count"] for row in frame.groupBy("symbol").count().collect()}
    values = sorted(int(row["value"]) for row in frame.collect())
    assert counts == {"AAPL": 25, "MSFT": 25}
    assert values == list(range(50))
