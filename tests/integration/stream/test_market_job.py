"""The Spark market job on the real stack: every store must equal the batch computation of the same features.

Ticks go through Kafka with a few bad records mixed in; the job runs with availableNow in small micro-batches
(so bar and indicator state crosses batch boundaries), is stopped half-way and restarted from its checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from factories import random_walk_ticks
from kafka_helpers import dead_letters, produce, tick_records
from marketpulse.config import Settings, StreamSettings
from marketpulse.contracts import Tick, to_wire
from marketpulse.features.bars import ticks_to_bars
from marketpulse.features.indicators import INDICATOR_COLUMNS, indicators
from marketpulse.features.model_inputs import model_inputs
from marketpulse.models.price import MODEL_NAME, replay_minute_bars, train, training_set
from marketpulse.models.registry import ModelRegistry
from marketpulse.stack.manager import Stack
from marketpulse.stores.cassandra import cassandra_cluster
from marketpulse.stores.objectstore import s3fs_options
from marketpulse.stores.redis_store import latest_key, redis_client
from marketpulse.stream.market_job import start_market_job
from marketpulse.stream.session import spark_session

pytestmark = pytest.mark.slow

START = datetime(2013, 2, 1, 14, 30, tzinfo=UTC)
MINUTES = 45  # > WARMUP_BARS (34) so every indicator becomes defined


def _ticks(symbols: list[str], seed: int = 3) -> pd.DataFrame:
    """About one tick every 3 s per symbol, random-walk prices, strictly increasing times per symbol."""
    rng = np.random.default_rng(seed)
    n = MINUTES * 20
    frames = [
        random_walk_ticks(
            symbol, START, minutes=MINUTES, count=n, rng=rng, price=50 * (number + 1), max_size=500, decimals=4
        ).assign(seq=np.arange(n))
        for number, symbol in enumerate(symbols)
    ]
    return pd.concat(frames).sort_values("ts", kind="stable").reset_index(drop=True)


def _run_until_done(spark: SparkSession, settings: Settings, topic: str) -> None:
    queries, sinks = start_market_job(spark, settings, available_now=True, topic=topic)
    try:
        for query in queries:
            query.awaitTermination(600)
            assert query.exception() is None, query.exception()
    finally:
        sinks.close()


@pytest.fixture(scope="module")
def spark(stack: Stack, settings: Settings) -> Iterator[SparkSession]:
    session = spark_session(settings, "marketpulse-market-job-it")
    yield session
    session.stop()


def _cassandra_rows(settings: Settings, table: str, symbol: str, interval: str) -> pd.DataFrame:
    cluster = cassandra_cluster(settings)
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        rows = session.execute(
            f"SELECT * FROM {table} WHERE symbol = %s AND interval = %s AND day = %s",
            (symbol, interval, START.date()),
        )
        frame = pd.DataFrame(list(rows))
    finally:
        cluster.shutdown()
    frame["ts"] = pd.to_datetime(frame["ts"]).dt.tz_localize("UTC")
    return frame.sort_values("ts").reset_index(drop=True)


def test_market_job_stores_equal_batch_features_across_a_restart(
    spark: SparkSession, settings: Settings, unique: str, tmp_path: Path
) -> None:
    symbols = [f"Z{unique[:5].upper()}{i}" for i in range(3)]
    topic = f"it.ticks.{unique}"
    job_settings = settings.model_copy(
        update={"stream": StreamSettings(checkpoint_root=str(tmp_path / "ckpt"), max_offsets_per_trigger=700)}
    )
    ticks = _ticks(symbols)
    half = len(ticks) // 2
    good = to_wire(Tick(symbol=symbols[0], ts=START, price=1.0, size=1.0, source="test"))
    bad = [b"{not json", good.replace(b'"price":1.0', b'"price":-3.0'), good.replace(b'"v":1', b'"v":7')]

    model = train(training_set(replay_minute_bars(["IBM"], date(2012, 11, 1), date(2012, 11, 9), 200, 1)), epochs=1)
    registry = ModelRegistry(settings)
    registry.promote(MODEL_NAME, registry.save(MODEL_NAME, model.weights, model.meta, version=f"it-{unique}"))

    produce(settings, topic, tick_records(ticks.iloc[:half]) + [(b"BAD", raw) for raw in bad])
    _run_until_done(spark, job_settings, topic)  # first run stops with state in the checkpoint
    produce(settings, topic, tick_records(ticks.iloc[half:]))
    _run_until_done(spark, job_settings, topic)  # the restart continues from it

    # Expected: the batch computation over all ticks; each symbol's last bar is still open in the stream.
    bars = ticks_to_bars(ticks, "1min")
    closed = bars[bars.groupby("symbol")["ts"].transform("max") != bars["ts"]].reset_index(drop=True)
    expected_indicators = indicators(bars)
    for symbol in symbols:
        want = closed[closed["symbol"] == symbol].reset_index(drop=True)
        got = _cassandra_rows(settings, "bars", symbol, "1min")
        assert list(got["ts"]) == list(want["ts"]), symbol  # no gap, no duplicate across the restart
        for column in ("open", "high", "low", "close", "volume", "vwap", "trades"):
            np.testing.assert_allclose(got[column].astype(float), want[column].astype(float), rtol=1e-12)

        got_ind = _cassandra_rows(settings, "indicators", symbol, "1min")
        want_ind = expected_indicators[
            expected_indicators["ts"].isin(want["ts"]) & (expected_indicators["symbol"] == symbol)
        ].reset_index(drop=True)
        assert list(got_ind["ts"]) == list(want_ind["ts"])
        for column in INDICATOR_COLUMNS:
            np.testing.assert_allclose(got_ind[column].astype(float), want_ind[column], rtol=1e-9, equal_nan=True)

    # Predictions: one per closed bar whose inputs are all defined, in every store.
    scorable = model_inputs(expected_indicators).notna().all(axis=1)
    expected_predictions = expected_indicators[scorable & expected_indicators["ts"].isin(closed["ts"])]
    cluster = cassandra_cluster(settings)
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        for symbol in symbols:
            rows = list(
                session.execute(
                    "SELECT feature_ts, prob_up, model_version FROM predictions WHERE symbol = %s AND day = %s",
                    (symbol, START.date()),
                )
            )
            want_ts = expected_predictions.loc[expected_predictions["symbol"] == symbol, "ts"]
            assert len(rows) == len(want_ts) > 0, symbol
            assert {r.model_version for r in rows} == {f"it-{unique}"}
            assert all(0 <= r.prob_up <= 1 for r in rows)
    finally:
        cluster.shutdown()

    import psycopg

    with psycopg.connect(settings.postgres_dsn()) as conn:
        (predicted,) = conn.execute(
            "SELECT count(*) FROM fact_prediction WHERE symbol = ANY(%s)", (symbols,)
        ).fetchone()
    assert predicted == len(expected_predictions)

    with psycopg.connect(settings.postgres_dsn()) as conn:
        pg = conn.execute(
            "SELECT symbol, count(*), count(DISTINCT ts), sum(volume) FROM fact_bar_1m WHERE symbol = ANY(%s) "
            "GROUP BY symbol ORDER BY symbol",
            (symbols,),
        ).fetchall()
    expected_counts = {s: int((closed["symbol"] == s).sum()) for s in symbols}
    assert [(s, n, d) for s, n, d, _ in pg] == [(s, expected_counts[s], expected_counts[s]) for s in symbols]
    for symbol, _, _, volume in pg:
        assert math.isclose(volume, closed.loc[closed["symbol"] == symbol, "volume"].sum())

    client = redis_client(settings)
    try:
        for symbol in symbols:
            last = ticks[ticks["symbol"] == symbol].iloc[-1]
            assert float(client.hget(latest_key(symbol), "tick.price")) == last["price"]
            assert 0 <= float(client.hget(latest_key(symbol), "pred.prob_up")) <= 1
    finally:
        client.close()

    import pyarrow.parquet as pq
    import s3fs

    fs = s3fs.S3FileSystem(**s3fs_options(settings))
    landed = 0
    for symbol in symbols:
        for path in fs.glob(f"{settings.s3.buckets['raw']}/ticks/date=2013-02-01/symbol={symbol}/*.parquet"):
            with fs.open(path, "rb") as handle:
                landed += pq.read_table(handle).num_rows
    assert landed == len(ticks)  # every valid tick, once, although the job ran twice

    # settle_s: read on after three records, in case one is a second copy and a bad record is still to come.
    reasons = {letter.value: letter.reason for letter in dead_letters(settings, topic, len(bad), settle_s=2.0)}
    assert reasons == {
        bad[0]: "not JSON, or no schema version 'v'",
        bad[1]: "price: must be greater than 0",
        bad[2]: "schema version is not 1",
    }
