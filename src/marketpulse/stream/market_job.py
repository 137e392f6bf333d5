"""The market job: Kafka `market.ticks` -> parse/validate -> per-symbol bars and indicators -> every store.

Two streaming queries over the same topic, each with its own checkpoint:
- `ticks-lake`: rejected rows -> `market.ticks.dlq` (original bytes + reason), valid ticks -> raw parquet lake;
- `market-features`: valid ticks -> applyInPandasWithState (bars, indicators) -> Cassandra, Postgres, Redis.
Sinks are idempotent (keyed by symbol + ts, lake files named by batch id), so a batch replayed after a
crash rewrites the same rows: effectively-once into the stores.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd  # type: ignore[import-untyped, unused-ignore]
from prometheus_client import Histogram

from marketpulse.config import Settings
from marketpulse.contracts import Tick, Topics, to_wire
from marketpulse.contracts.spark import parse_wire
from marketpulse.stream.market_state import OUTPUT_DDL, STATE_DDL, update_symbol
from marketpulse.stream.runner import StreamJobRunner
from marketpulse.stream.sentiment_fusion import SentimentLookup, attach_sentiment_used

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming.query import StreamingQuery

log = logging.getLogger(__name__)

STREAM_LATENCY = Histogram(
    "marketpulse_stream_e2e_latency_seconds",
    "Kafka CreateTime of a symbol's oldest tick in a micro-batch -> its bars/state written to every store",
    buckets=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0),
)

#: One family for the pipeline's stages, from ingest to prediction (the API adds redis_to_websocket and
#: alert_evaluation under the same name): Grafana plots p50/p99 per stage.
STAGE_LATENCY = Histogram(
    "marketpulse_pipeline_stage_latency_seconds",
    "Latency of one pipeline stage: kafka_to_batch (Kafka CreateTime -> micro-batch in the driver), history_writes "
    "(Cassandra + Postgres), prediction (model scoring), live_publish (Redis state + pub/sub)",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

LAKE_QUERY = "ticks-lake"
FEATURES_QUERY = "market-features"
_TIMESTAMP_COLUMNS = ("ts", "last_ts", "kafka_ts_min")
#: How many recent end-to-end latency samples the sinks keep (for the benchmark and /metrics).
LATENCY_SAMPLES = 100_000


def read_ticks(spark: SparkSession, settings: Settings, topic: str) -> DataFrame:
    """The raw Kafka stream of the ticks topic, rate-limited per micro-batch."""
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", settings.stream.starting_offsets)
        .option("maxOffsetsPerTrigger", settings.stream.max_offsets_per_trigger)
        .load()
    )


def dlq_records(rejected: DataFrame, source_topic: str, stage: str) -> DataFrame:
    """Rejected rows as Kafka records: original key and bytes, the reason in headers."""
    from pyspark.sql import functions as F

    def header(name: str, value: Any) -> Any:
        return F.struct(F.lit(name).alias("key"), F.encode(value, "UTF-8").alias("value"))

    return rejected.select(
        F.col("key"),
        F.col("value"),
        F.array(
            header("mp.reason", F.col("reason")),
            header("mp.stage", F.lit(stage)),
            header("mp.source_topic", F.lit(source_topic)),
        ).alias("headers"),
    )


def symbol_updates(ticks: DataFrame, watermark: str) -> DataFrame:
    """Valid ticks -> the per-symbol state function's rows (bars, indicators, latest, late)."""
    from pyspark.sql.streaming.state import GroupStateTimeout

    return (
        ticks.filter("reason IS NULL")
        .select("symbol", "ts", "price", "size", "kafka_ts")
        .withWatermark("ts", watermark)
        .groupBy("symbol")
        .applyInPandasWithState(
            update_symbol,  # type: ignore[arg-type]  # pyspark's stub wants GroupState; ours is duck-typed
            OUTPUT_DDL,
            STATE_DDL,
            "append",
            GroupStateTimeout.NoTimeout,
        )
    )


def _utc(frame: pd.DataFrame) -> pd.DataFrame:
    for column in _TIMESTAMP_COLUMNS:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC")
    return frame


class MarketSinks:
    """foreachBatch writers; clients are opened on first use and reused for every batch."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.settings = settings
        self.topic = topic
        self._clients: dict[str, Any] = {}
        #: Sentiment inputs of the ensemble's predictions in the current batch (stored for its re-fits).
        self._ensemble_inputs = pd.DataFrame()
        #: Seconds from Kafka CreateTime of each symbol's oldest tick in a batch to the end of that batch's writes.
        self.latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)

    def _client(self, name: str, factory: Callable[[], Any]) -> Any:
        if name not in self._clients:
            self._clients[name] = factory()
        return self._clients[name]

    def write_lake_batch(self, batch: DataFrame, batch_id: int) -> None:
        """DLQ the rejected rows (in the JVM), land the valid ticks as parquet."""
        from marketpulse.stores.lake import LakeWriter
        from marketpulse.stores.redis_store import RedisWriter

        batch = batch.persist()
        rejected = batch.filter("reason IS NOT NULL")
        (
            dlq_records(rejected, self.topic, "stream-parse")
            .write.format("kafka")
            .option("kafka.bootstrap.servers", self.settings.kafka_bootstrap)
            .option("topic", Topics.dlq(self.topic))
            .save()
        )
        valid = _utc(batch.filter("reason IS NULL").drop("key", "value", "reason").toPandas())
        self._client("lake", lambda: LakeWriter(self.settings)).write_ticks(valid, batch_id)
        self._client("redis", lambda: RedisWriter(self.settings)).heartbeat(LAKE_QUERY, batch_id, len(valid))
        batch.unpersist()

    def write_features_batch(self, batch: DataFrame, batch_id: int) -> None:
        """History first (Cassandra, Postgres), then the live state and fan-out (Redis)."""
        from marketpulse.stores.cassandra import CassandraWriter
        from marketpulse.stores.postgres import PostgresWriter
        from marketpulse.stores.redis_store import RedisWriter

        rows = _utc(batch.toPandas())
        batch_in_driver, stage_started = pd.Timestamp.now(tz="UTC"), time.perf_counter()
        by_kind = {kind: part for kind, part in rows.groupby("kind")}
        empty = rows.iloc[0:0]
        bars_1s, bars_1m = by_kind.get("bar_1s", empty), by_kind.get("bar_1m", empty)
        indicators, latest, late = (
            by_kind.get("indicators", empty),
            by_kind.get("latest", empty),
            by_kind.get("late", empty),
        )

        cassandra = self._client("cassandra", lambda: CassandraWriter(self.settings))
        cassandra.write_bars(bars_1s, "1s")
        cassandra.write_bars(bars_1m, "1min")
        cassandra.write_indicators(indicators, "1min")

        postgres = self._client("postgres", lambda: PostgresWriter(self.settings))
        seen = rows.groupby("symbol")["ts"].agg(first="min", last="max").reset_index()
        postgres.upsert_symbols(seen)
        postgres.upsert_bars_1m(bars_1m)
        postgres.upsert_indicators_1m(indicators)

        stage_started = _observe_stage("history_writes", stage_started)
        # Sentiment known by each bar's start (point in time), as extra columns the scorer may use.
        fused = self._client("sentiment", lambda: SentimentLookup(self.settings)).fuse(indicators)
        predictions = attach_sentiment_used(self._score(fused, by_kind.get("context", empty)), fused)
        stage_started = _observe_stage("prediction", stage_started)
        if not predictions.empty:
            cassandra.write_predictions(predictions)
            postgres.upsert_predictions(predictions)
            from marketpulse.models.scorecard import write_ensemble_inputs

            write_ensemble_inputs(postgres.conn, self._ensemble_inputs)
        # One transaction per batch: a bar, its indicators and its prediction become visible to Power BI together.
        postgres.commit()
        if not predictions.empty:
            self._publish_predictions(predictions)

        self._dead_letter_late(late)
        redis = self._client("redis", lambda: RedisWriter(self.settings))
        fields = latest_fields(latest, bars_1s, bars_1m, indicators)
        for row in _headline_predictions(predictions, self.settings.models).itertuples(index=False):
            fields.setdefault(row.symbol, {}).update(
                {
                    "pred.feature_ts": row.feature_ts.isoformat(),
                    "pred.horizon": row.horizon,
                    "pred.prob_up": row.prob_up,
                    "pred.expected_return": row.expected_return,
                    "pred.model_version": row.model_version,
                }
            )
        stage_started = time.perf_counter()
        redis.update_latest(fields)
        _observe_stage("live_publish", stage_started)
        redis.heartbeat(FEATURES_QUERY, batch_id, len(rows))
        if not latest.empty:
            for seconds in (batch_in_driver - latest["kafka_ts_min"].dropna()).dt.total_seconds():
                STAGE_LATENCY.labels("kafka_to_batch").observe(float(seconds))
        self._record_latency(latest)

    def _record_latency(self, latest: pd.DataFrame) -> None:
        if latest.empty or latest["kafka_ts_min"].isna().all():
            return
        written = pd.Timestamp.now(tz="UTC")
        for seconds in (written - latest["kafka_ts_min"].dropna()).dt.total_seconds():
            self.latencies.append(float(seconds))
            STREAM_LATENCY.observe(float(seconds))

    def _score(self, indicators: pd.DataFrame, context: pd.DataFrame | None = None) -> pd.DataFrame:
        """Predictions of the production price model (and ensemble) for this batch's closed bars; `context` holds
        the indicator rows of the bars before them (a sequence model's window). Empty without a model."""
        from marketpulse.models.serving import StreamModels

        predictions, self._ensemble_inputs = self._client("model", lambda: StreamModels(self.settings)).predict(
            indicators, context
        )
        if predictions.empty:
            return pd.DataFrame(columns=["symbol", "feature_ts"])
        return predictions

    def _publish_predictions(self, predictions: pd.DataFrame) -> None:
        """signals.predictions, keyed by symbol (consumers dedupe on symbol + feature_ts + horizon)."""
        from marketpulse.contracts import Prediction
        from marketpulse.ingest.producer import EventProducer
        from marketpulse.stores.cassandra import sentiment_used

        producer = self._client("producer", lambda: EventProducer(self.settings, "marketpulse-market-job"))
        for r in predictions.itertuples(index=False):
            window_end, sentiment_version = sentiment_used(r)
            producer.send(
                Topics.PREDICTIONS,
                Prediction(
                    symbol=r.symbol,
                    feature_ts=r.feature_ts.to_pydatetime(),
                    horizon=r.horizon,
                    prob_up=r.prob_up,
                    expected_return=r.expected_return,
                    model_name=r.model_name,
                    model_version=r.model_version,
                    base_model_version=_text_or_none(getattr(r, "base_model_version", None)),
                    sentiment_window_end=window_end,
                    sentiment_model_version=sentiment_version,
                ),
            )
        producer.flush()

    def _dead_letter_late(self, late: pd.DataFrame) -> None:
        """Ticks older than an already-closed bar cannot change history: keep them in the DLQ, never drop them."""
        if late.empty:
            return
        from marketpulse.ingest.producer import EventProducer

        producer = self._client("producer", lambda: EventProducer(self.settings, "marketpulse-market-job"))
        for r in late.itertuples(index=False):
            tick = Tick(symbol=r.symbol, ts=r.ts.to_pydatetime(), price=r.price, size=r.size, source="stream")
            producer.reject(
                self.topic,
                to_wire(tick),
                "late: its 1 s bar was already closed",
                r.symbol.encode(),
                stage="stream-state",
            )
        producer.flush()

    def close(self) -> None:
        for client in self._clients.values():
            close = getattr(client, "close", None)
            if close:
                close()


def _headline_predictions(predictions: pd.DataFrame, models: Any) -> pd.DataFrame:
    """Predictions ordered so that, per symbol, the last one is the newest bar's primary-horizon prediction of
    the price model: the one the latest-state hash shows (pred.model_version = the serving price model version,
    which the retrain DAG waits for after a promotion)."""
    if predictions.empty:
        return predictions
    rank = (predictions["horizon"] == models.primary_horizon).astype(int) * 2 + (
        predictions["model_name"] == models.price_name
    ).astype(int)
    return predictions.assign(_rank=rank).sort_values(["feature_ts", "_rank"], kind="stable").drop(columns="_rank")


def _text_or_none(value: Any) -> str | None:
    """A string column value, or None where the row has none (NaN after concatenating frames)."""
    return value if isinstance(value, str) else None


def _observe_stage(stage: str, started: float) -> float:
    """Record a stage that began at `started` (perf_counter); returns now, the start of the next stage."""
    now = time.perf_counter()
    STAGE_LATENCY.labels(stage).observe(now - started)
    return now


def latest_fields(
    latest: pd.DataFrame, bars_1s: pd.DataFrame, bars_1m: pd.DataFrame, indicators: pd.DataFrame
) -> dict[str, dict[str, Any]]:
    """symbol -> flat fields of its newest tick, bars and indicators in this batch (for the Redis hash)."""
    updates: dict[str, dict[str, Any]] = {}

    def newest(frame: pd.DataFrame, prefix: str, columns: list[str]) -> None:
        if frame.empty:
            return
        last_rows = frame.sort_values("ts").groupby("symbol").tail(1)
        for row in last_rows.itertuples(index=False):
            fields = updates.setdefault(row.symbol, {})
            fields[f"{prefix}.ts"] = row.ts.isoformat()
            for column in columns:
                value = getattr(row, column)
                fields[f"{prefix}.{column}"] = None if value != value else value

    newest(latest, "tick", ["price", "size"])
    newest(bars_1s, "bar_1s", ["open", "high", "low", "close", "volume", "vwap"])
    newest(bars_1m, "bar_1m", ["open", "high", "low", "close", "volume", "vwap"])
    from marketpulse.features.indicators import INDICATOR_COLUMNS

    newest(indicators, "ind", ["close", *INDICATOR_COLUMNS])
    return updates


def start_market_job(
    spark: SparkSession, settings: Settings, *, available_now: bool = False, topic: str = Topics.TICKS
) -> tuple[list[StreamingQuery], MarketSinks]:
    """Start both queries; `available_now` processes what is in Kafka now and stops (tests, catch-up)."""
    parsed = parse_wire(read_ticks(spark, settings, topic), Tick)
    sinks = MarketSinks(settings, topic)

    def trigger(interval: str) -> dict[str, Any]:
        return {"availableNow": True} if available_now else {"processingTime": interval}

    lake = (
        parsed.writeStream.queryName(LAKE_QUERY)
        .option("checkpointLocation", settings.checkpoint_location(LAKE_QUERY))
        .trigger(**trigger(settings.stream.lake_trigger_interval))
        .foreachBatch(sinks.write_lake_batch)
        .start()
    )
    features = (
        symbol_updates(parsed, settings.stream.watermark)
        .writeStream.queryName(FEATURES_QUERY)
        .outputMode("append")
        .option("checkpointLocation", settings.checkpoint_location(FEATURES_QUERY))
        .trigger(**trigger(settings.stream.trigger_interval))
        .foreachBatch(sinks.write_features_batch)
        .start()
    )
    return [lake, features], sinks


class MarketJobRunner(StreamJobRunner):
    """The market job's two queries (lake, features), restarted together from their checkpoints on a failure."""

    job_name = "market job"

    def start_queries(self) -> tuple[list[StreamingQuery], MarketSinks]:
        return start_market_job(self.spark, self.settings, available_now=self.available_now)
