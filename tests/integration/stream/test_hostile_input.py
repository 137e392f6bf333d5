"""Hostile input flood (issue 16, scenario 5) at test size: ~2,000 malformed records on the ticks topic and on the
text topics, mixed with valid ones, through the real market and sentiment jobs. Every bad record must reach its
DLQ with a reason, every valid one must be processed, and neither job may fail. The generator and the checks are
bench/hostile_input.py's (`python -m bench.hostile_input --count 100000` is the full-size run)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bench.hostile_input import run_texts, run_ticks
from pyspark.sql import SparkSession

from marketpulse.config import Settings
from marketpulse.stack.manager import Stack
from marketpulse.stream.session import spark_session

pytestmark = pytest.mark.slow

BAD_RECORDS = 2_000


@pytest.fixture(scope="module")
def spark(stack: Stack, settings: Settings) -> Iterator[SparkSession]:
    session = spark_session(settings, "marketpulse-hostile-input-it")
    yield session
    session.stop()


def test_every_bad_tick_is_dead_lettered_and_every_valid_one_processed(
    spark: SparkSession, settings: Settings, unique: str
) -> None:
    row = run_ticks(spark, settings, BAD_RECORDS, unique)

    assert row.crashed is None
    assert row.missing_kinds == {}  # kinds of bad records that got through, with counts
    assert (row.dead_lettered, row.with_reason, row.unexpected) == (row.bad, row.bad, 0)
    assert row.processed == row.valid  # every valid tick (SQL-looking and Unicode sources too) reached the lake
    assert row.bad == BAD_RECORDS


def test_every_bad_text_is_dead_lettered_and_every_valid_one_scored(
    spark: SparkSession, settings: Settings, unique: str
) -> None:
    row = run_texts(spark, settings, BAD_RECORDS, unique)

    assert row.crashed is None
    assert row.missing_kinds == {}
    assert (row.dead_lettered, row.with_reason, row.unexpected) == (row.bad, row.bad, 0)
    assert row.processed == row.valid
