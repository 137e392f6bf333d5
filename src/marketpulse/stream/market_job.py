"""The market job: Kafka `market.ticks` -> live state in Redis within a second -> history stores behind it.

One Spark streaming query (`market-live`) reads the topic once. Each micro-batch is handled in the driver, in
this order:

1. collect: the batch's records (key, value, Kafka timestamp) come to the driver as Arrow in one Spark job, and
   are parsed and validated there against the contract's rules, vectorised (contracts/arrow.py: a JVM parse
   made Spark re-plan a large expression tree every micro-batch, decision 0012);
2. rejected records go to `market.ticks.dlq` with their reason;
3. state: `advance` folds the ticks of every symbol into 1 s / 1 min bars and, when minutes close, indicators
   (numpy over all symbols at once; the same feature code as backfill and training);
4. scoring: closed minutes get sentiment fused point in time and the production model's predictions;
5. live: Redis latest state + pub/sub (what the API and WebSocket serve), `signals.predictions`, late ticks to
   the DLQ;
6. spool + state snapshot: the batch's facts and the state after it go to local disk under the batch id.

The archive path (Cassandra, PostgreSQL, the parquet lake) runs in a thread of the driver (`Archiver`) on its
own cadence, from the spool, for batches Spark has committed. Exactly-once effects in every store: a batch that
Spark re-runs after a crash starts from the state snapshot of the batch before it, so it emits the same facts
again, and every store write is keyed (decision 0012).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import pyarrow as pa
import pyarrow.compute as pc
from prometheus_client import Gauge, Histogram

from marketpulse.config import Settings
from marketpulse.contracts import Prediction, Tick, Topics, to_wire
from marketpulse.contracts.arrow import read_wire, rejection_reasons
from marketpulse.features.indicators import INDICATOR_COLUMNS
from marketpulse.ingest.producer import DLQ_MAX_KEY_BYTES, DLQ_MAX_VALUE_BYTES, EventProducer
from marketpulse.kafka_config import spark_kafka_options
from marketpulse.models.serving import StreamModels
from marketpulse.stores.cassandra import sentiment_used
from marketpulse.stores.redis_store import RedisWriter, redis_section
from marketpulse.stream.market_state import (
    Emitted,
    MarketState,
    StateStore,
    advance_arrays,
    is_late,
    repeated_ticks,
)
from marketpulse.stream.runner import StreamJobRunner
from marketpulse.stream.sentiment_fusion import SentimentLookup, attach_sentiment_used
from marketpulse.stream.sinks import archive_sinks
from marketpulse.stream.spool import Archiver, MarketFacts, Spool

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming.query import StreamingQuery

log = logging.getLogger(__name__)

STREAM_LATENCY = Histogram(
    "marketpulse_stream_e2e_latency_seconds",
    "Kafka CreateTime of a symbol's oldest tick in a micro-batch -> its live state written to Redis",
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0),
)
ARCHIVE_LATENCY = Histogram(
    "marketpulse_stream_archive_latency_seconds",
    "Kafka CreateTime of the oldest tick of an archive step -> its facts in Cassandra, PostgreSQL and the lake",
    buckets=(0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0),
)
ARCHIVE_BACKLOG = Gauge("marketpulse_stream_archive_backlog_batches", "Spooled micro-batches not archived yet")

#: One family for the pipeline's stages, from ingest to prediction (the API adds redis_to_websocket and
#: alert_evaluation under the same name): Grafana plots p50/p99 per stage.
STAGE_LATENCY = Histogram(
    "marketpulse_pipeline_stage_latency_seconds",
    "Latency of one pipeline stage: kafka_to_batch (Kafka CreateTime -> micro-batch in the driver), collect "
    "(Spark job -> Arrow in the driver), state (bars, indicators), prediction (model scoring), live_publish "
    "(Redis state + pub/sub), archive (spool -> history stores)",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

LIVE_QUERY = "market-live"
#: Not a Spark query: the driver thread that drains the spool into the history stores (heartbeat name).
ARCHIVE_STAGE = "market-archive"
#: How many recent latency samples the job keeps (for the benchmark and tests).
LATENCY_SAMPLES = 100_000
#: One latency sample per this many ticks.
TICK_SAMPLE_EVERY = 25
_TICK_FIELDS = list(Tick.model_fields)
#: Records per Kafka poll in the live query's consumers (see read_ticks).
MAX_POLL_RECORDS = 20_000


def read_ticks(spark: SparkSession, settings: Settings, topic: str) -> DataFrame:
    """The raw Kafka stream of the ticks topic, rate-limited per micro-batch."""
    return (
        spark.readStream.format("kafka")
        .options(**spark_kafka_options(settings))
        .option("subscribe", topic)
        .option("startingOffsets", settings.stream.starting_offsets)
        .option("maxOffsetsPerTrigger", settings.stream.max_offsets_per_trigger)
        # The consumer's default of 500 records per poll made each task poll ~7 times for a 14k-tick batch: with
        # 20,000 a micro-batch took 20-30% less (same run, 5 alternating rounds: median trigger 0.275-0.479 s
        # against 0.376-0.722 s per 14k ticks, lower in every round; decision 0012).
        .option("kafka.max.poll.records", str(MAX_POLL_RECORDS))
        .load()
    )


def dlq_records(rejected: DataFrame, source_topic: str, stage: str) -> DataFrame:
    """Rejected rows as Kafka records: original key and bytes, the reason in headers (the sentiment job's DLQ)."""
    from pyspark.sql import functions as F

    def header(name: str, value: Any) -> Any:
        return F.struct(F.lit(name).alias("key"), F.encode(value, "UTF-8").alias("value"))

    def capped(column: str, limit: int, name: str) -> tuple[Any, Any]:
        """The column cut to `limit` bytes (as EventProducer.reject does) and the header naming its full size."""
        size = F.octet_length(F.col(column))
        too_big = size > limit
        value = F.when(too_big, F.substring(F.col(column), 1, limit)).otherwise(F.col(column))
        return value, F.when(too_big, header(name, size.cast("string")))

    value, value_cut = capped("value", DLQ_MAX_VALUE_BYTES, "mp.truncated_from")
    key, key_cut = capped("key", DLQ_MAX_KEY_BYTES, "mp.key_truncated_from")
    headers = F.array(
        header("mp.reason", F.col("reason")),
        header("mp.stage", F.lit(stage)),
        header("mp.source_topic", F.lit(source_topic)),
        value_cut,
        key_cut,
    )
    return rejected.select(
        key.alias("key"), value.alias("value"), F.filter(headers, lambda h: h.isNotNull()).alias("headers")
    )


def collect_batch(batch: DataFrame) -> tuple[pa.Table, pa.Table]:
    """The micro-batch's raw records in the driver through Arrow, in one Spark job, parsed and validated there
    (`contracts.arrow`): (valid ticks with kafka_ts, rejected rows as value/key/reason)."""
    from pyspark.sql import functions as F

    raw = batch.select("key", "value", F.col("timestamp").alias("kafka_ts")).toArrow()
    return split_valid(raw)


def split_valid(raw: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Kafka records (key, value, kafka_ts) -> (valid ticks: the contract's columns with ts as a UTC timestamp,
    plus kafka_ts; rejected: value, key, reason)."""
    wire = read_wire(Tick, raw["value"].to_pylist())
    reasons = rejection_reasons(Tick, wire)
    is_valid = pa.array(reasons == None)  # noqa: E711 (elementwise over an object array)
    valid = wire.filter(is_valid)
    columns = {
        name: valid[name] if name != "ts" else pc.divide(valid["ts"], 1000).cast(pa.timestamp("us", tz="UTC"))
        for name in _TICK_FIELDS
    }
    columns["kafka_ts"] = raw["kafka_ts"].filter(is_valid)
    rejected = raw.select(["value", "key"]).filter(pc.invert(is_valid))
    reasons_of_rejected = pa.array(reasons[~is_valid.to_numpy(zero_copy_only=False)], pa.string())
    return pa.table(columns), rejected.append_column("reason", reasons_of_rejected)


def advance_valid(
    state: MarketState, valid: pa.Table
) -> tuple[Emitted, npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Fold the batch's valid ticks into the state straight from Arrow (no Python object per tick); returns what
    it emitted, the ticks' Kafka CreateTimes (ns), which ticks were on time (neither late nor repeated: the ones
    archived) and which were repeated (their source sent them before: `repeated_ticks`)."""
    names = valid["symbol"].combine_chunks().dictionary_encode()
    slots = state.slots_of(names.dictionary.to_pylist())[names.indices.to_numpy(zero_copy_only=False)]
    kafka_ns = _epoch_ns(valid["kafka_ts"])
    ts_ns = _epoch_ns(valid["ts"])
    repeated = _repeated(state, valid, slots)
    fresh = ~repeated
    on_time = ~is_late(state, slots, ts_ns) & fresh  # judged against the state before this batch, as advance does
    price = valid["price"].to_numpy().astype(np.float64, copy=False)
    size = valid["size"].to_numpy().astype(np.float64, copy=False)
    if repeated.any():
        slots, ts_ns, price, size, kafka_fresh = slots[fresh], ts_ns[fresh], price[fresh], size[fresh], kafka_ns[fresh]
    else:
        kafka_fresh = kafka_ns
    emitted = advance_arrays(state, slots, ts_ns, price, size, kafka_fresh)
    return emitted, kafka_ns, on_time, repeated


def _repeated(state: MarketState, valid: pa.Table, slots: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """`repeated_ticks` over the ticks that carry a seq (none: nothing is repeated)."""
    if "seq" not in valid.column_names or valid["seq"].null_count == valid.num_rows:
        return np.zeros(valid.num_rows, dtype=bool)
    seq = valid["seq"].combine_chunks()
    sources = valid["source"].combine_chunks().dictionary_encode()
    codes = np.where(
        seq.is_valid().to_numpy(zero_copy_only=False),
        sources.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        -1,
    )
    values = seq.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    return repeated_ticks(state, codes, sources.dictionary.to_pylist(), slots, values)


def _epoch_ns(column: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    return np.asarray(column.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64()).to_numpy(), dtype=np.int64)


class LatencySamples:
    """Kafka CreateTime -> live state written to Redis: for every TICK_SAMPLE_EVERY-th tick (`ticks`, counted across
    batches, so a big batch weighs as much as its ticks do), and per (symbol, batch) from the symbol's oldest tick
    (`oldest`, the conservative measure of the earlier reports). Bounded memory."""

    def __init__(self) -> None:
        self.ticks: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self.oldest: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self._ticks_seen = 0

    def record(self, kafka_ns: npt.NDArray[np.int64], latest: pd.DataFrame, in_driver: float, written: float) -> None:
        """One batch: its valid ticks' CreateTimes (ns) and its `latest` rows (none when every tick was late)."""
        if not len(kafka_ns):
            return
        created = kafka_ns / 1e9
        STAGE_LATENCY.labels("kafka_to_batch").observe(float(in_driver - created.min()))
        first = (-self._ticks_seen) % TICK_SAMPLE_EVERY
        self._ticks_seen += len(created)
        self.ticks.extend((written - created[first::TICK_SAMPLE_EVERY]).tolist())
        if latest.empty:
            return
        oldest = latest["kafka_ts_min"].dropna()
        for seconds in (written - oldest.astype("int64").to_numpy() / 1e9).tolist():
            self.oldest.append(seconds)
            STREAM_LATENCY.observe(seconds)


def driver_folder(settings: Settings, query: str) -> Path:
    """Where the driver keeps a query's state snapshots and spool: inside its checkpoint when that is a local
    folder (so the two can never be mixed up), else under the stack's run folder."""
    checkpoint = settings.checkpoint_location(query)
    if "://" not in checkpoint or checkpoint.startswith("file://"):
        return Path(checkpoint.removeprefix("file://")) / "driver"
    return settings.stack.run_dir / "stream" / query


def committed_below(checkpoint: str) -> int | None:
    """One past the newest batch id in a local checkpoint's commit log (None: unknown, e.g. object storage)."""
    if "://" in checkpoint and not checkpoint.startswith("file://"):
        return None
    commits = Path(checkpoint.removeprefix("file://")) / "commits"
    ids = [int(p.name) for p in commits.glob("[0-9]*") if p.name.isdigit()]
    return max(ids) + 1 if ids else None


class MarketJob:
    """The foreachBatch handler of `market-live` and its archiver; clients are opened once and reused."""

    def __init__(self, settings: Settings, topic: str, *, available_now: bool = False) -> None:
        self.settings = settings
        self.topic = topic
        self.available_now = available_now
        folder = driver_folder(settings, LIVE_QUERY)
        self.states = StateStore(folder / "state")
        self.spool = Spool(folder / "spool")
        self.state = MarketState()
        self.state_batch: int | None = None  # the batch the in-memory state is "after"
        self.tails_batch: int | None = None
        self.redis = RedisWriter(redis_section(settings), settings.stream.redis_ttl_s)
        self.producer = EventProducer(settings, "marketpulse-market-job")
        self.sentiment = SentimentLookup(settings)
        # Built (torch imported) at start-up, not at the first closed minute: that batch would pay seconds.
        self._models = StreamModels(settings)
        checkpoint = settings.checkpoint_location(LIVE_QUERY)
        self.archiver = Archiver(
            self.spool,
            archive_sinks(settings),
            on_archived=self._archived,
            committed_below=lambda: committed_below(checkpoint),
            interval_s=settings.stream.archive_interval_s,
        ).start()
        self._last_archive_plan = time.monotonic()
        self.last_batch: int | None = None
        self.queries: list[StreamingQuery] = []
        self.samples = LatencySamples()
        self.latencies, self.tick_latencies = self.samples.oldest, self.samples.ticks
        self.archive_latencies = self.archiver.latencies
        self.timings: deque[dict[str, float]] = deque(maxlen=LATENCY_SAMPLES)

    # -- one micro-batch -----------------------------------------------------------------------------------------

    def write_batch(self, batch: DataFrame, batch_id: int) -> None:
        started = time.perf_counter()
        valid, rejected = collect_batch(batch)
        in_driver = time.time()
        collected = time.perf_counter()
        self._restore_state(batch_id)
        self._dead_letter_rejects(rejected)
        emitted, kafka_ns, on_time, repeated = advance_valid(self.state, valid)
        kinds = emitted.by_kind()
        state_done = time.perf_counter()
        predictions, ensemble_inputs = self._predict(kinds["indicators"], kinds["context"])
        scored = time.perf_counter()
        self._publish_live(kinds, predictions)
        written = time.time()
        live_done = time.perf_counter()
        self._dead_letter_late(kinds["late"])
        if repeated.any():
            self._dead_letter_repeated(valid.filter(pa.array(repeated)))
        self.producer.flush()  # DLQ and signals are durable before Spark commits the batch
        facts = MarketFacts(
            ticks=valid.filter(pa.array(on_time)),  # late and repeated ticks are dead-lettered, not archived
            bars_1s=kinds["bar_1s"],
            bars_1m=kinds["bar_1m"],
            indicators=kinds["indicators"],
            predictions=predictions,
            ensemble_inputs=ensemble_inputs,
            first_batch=batch_id,
            last_batch=batch_id,
        )
        self.spool.write(batch_id, facts)
        tails_changed = not kinds["bar_1m"].empty
        self.tails_batch = self.states.save(batch_id, self.state, tails_changed, self.tails_batch)
        self.state_batch = self.last_batch = batch_id
        self.redis.heartbeat(LIVE_QUERY, batch_id, valid.num_rows + rejected.num_rows)
        self._plan_archive(batch_id)
        done = time.perf_counter()
        self.samples.record(kafka_ns, kinds["latest"], in_driver, written)
        self._record_timings(batch_id, valid.num_rows, started, collected, state_done, scored, live_done, done)

    def _restore_state(self, batch_id: int) -> None:
        """Start this batch from the state after batch_id - 1: a re-run batch after a crash sees what its first run
        saw (the in-memory state may be ahead of it, or absent after a restart)."""
        if self.state_batch == batch_id - 1:
            return
        if batch_id == 0:
            self.state, self.tails_batch = MarketState(), None
        else:
            self.state, self.tails_batch = self.states.load(batch_id - 1)
        self.state_batch = batch_id - 1
        # Spooled batches below this one are committed (Spark runs batches one after another): archive them.
        self.archiver.submit(below=batch_id)

    def _dead_letter_rejects(self, rejected: pa.Table) -> None:
        for row in rejected.to_pylist():
            self.producer.reject(self.topic, row["value"], row["reason"], row["key"], stage="stream-parse")

    def _predict(self, indicators: pd.DataFrame, context: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Predictions of the production price model (and ensemble) for this batch's closed minutes, with the
        sentiment each was fused with (point in time); empty without closed minutes or a model."""
        empty = pd.DataFrame(columns=["symbol", "feature_ts"])
        if indicators.empty:
            return empty, pd.DataFrame()
        started = time.perf_counter()
        fused = self.sentiment.fuse(indicators)
        predictions, ensemble_inputs = self._models.predict(fused, context)
        STAGE_LATENCY.labels("prediction").observe(time.perf_counter() - started)
        if predictions.empty:
            return empty, ensemble_inputs
        return attach_sentiment_used(predictions, fused), ensemble_inputs

    def _publish_live(self, kinds: dict[str, pd.DataFrame], predictions: pd.DataFrame) -> None:
        started = time.perf_counter()
        fields = latest_fields(kinds["latest"], kinds["bar_1s"], kinds["bar_1m"], kinds["indicators"])
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
        self.redis.update_latest(fields)
        if not predictions.empty:
            self._publish_predictions(predictions)
        STAGE_LATENCY.labels("live_publish").observe(time.perf_counter() - started)

    def _publish_predictions(self, predictions: pd.DataFrame) -> None:
        """signals.predictions, keyed by symbol (consumers dedupe on symbol + feature_ts + horizon)."""
        for r in predictions.itertuples(index=False):
            window_end, sentiment_version = sentiment_used(r)
            self.producer.send(
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

    def _dead_letter_late(self, late: pd.DataFrame) -> None:
        """Ticks older than an already-closed bar cannot change history: keep them in the DLQ, never drop them."""
        for r in late.itertuples(index=False):
            tick = Tick(symbol=r.symbol, ts=r.ts.to_pydatetime(), price=r.price, size=r.size, source="stream")
            self.producer.reject(
                self.topic, to_wire(tick), "late: its 1 s bar was already closed", r.symbol.encode(), "stream-state"
            )

    def _dead_letter_repeated(self, repeated: pa.Table) -> None:
        """Ticks their source sent before (seq not above its newest for the symbol): in the DLQ, never applied twice."""
        for row in repeated.select(list(_TICK_FIELDS)).to_pylist():
            reason = f"repeated: seq {row['seq']} of {row['source']} was already seen for {row['symbol']}"
            self.producer.reject(self.topic, to_wire(Tick(**row)), reason, row["symbol"].encode(), "stream-state")

    # -- archive path ------------------------------------------------------------------------------------------------

    def _plan_archive(self, batch_id: int) -> None:
        """Every archive_interval_s, hand the committed batches (those before this one) to the archiver."""
        if time.monotonic() - self._last_archive_plan < self.settings.stream.archive_interval_s:
            return
        self._last_archive_plan = time.monotonic()
        self.archiver.submit(below=batch_id)
        ARCHIVE_BACKLOG.set(len(self.spool.batches()))

    def _archived(self, facts: MarketFacts, done: float) -> None:
        oldest = facts.oldest_kafka_ts
        if oldest is not None:
            ARCHIVE_LATENCY.observe(done - oldest.timestamp())
        self.redis.heartbeat(ARCHIVE_STAGE, facts.last_batch, len(facts.ticks))

    # -- measurements --------------------------------------------------------------------------------------------

    def _record_timings(self, batch_id: int, rows: int, *marks: float) -> None:
        started, collected, state_done, scored, live_done, done = marks
        STAGE_LATENCY.labels("collect").observe(collected - started)
        STAGE_LATENCY.labels("state").observe(state_done - collected)
        self.timings.append(
            {
                "batch_id": batch_id,
                "rows": rows,
                "collect_s": collected - started,
                "state_s": state_done - collected,
                "score_s": scored - state_done,
                "live_s": live_done - scored,
                "spool_s": done - live_done,
                "total_s": done - started,
                "end": time.time(),
            }
        )

    def close(self) -> None:
        """Archive what is committed, then release every client. After an availableNow run that ended normally
        every batch is committed; after a stop, the last batch may not be, so it stays spooled for the next run."""
        ended_cleanly = self.available_now and all(not q.isActive and q.exception() is None for q in self.queries)
        if self.last_batch is not None:
            # After a stop, whatever is left stays in the spool for the next run: do not hold a shutdown for long.
            below, timeout_s = (self.last_batch + 1, 600.0) if ended_cleanly else (self.last_batch, 30.0)
            self.archiver.drain(below=below, timeout_s=timeout_s)
        self.archiver.stop()
        for client in (self.redis, self.sentiment, self.producer):
            client.close()


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


def latest_fields(
    latest: pd.DataFrame, bars_1s: pd.DataFrame, bars_1m: pd.DataFrame, indicators: pd.DataFrame
) -> dict[str, dict[str, Any]]:
    """symbol -> flat fields of its newest tick, bars and indicators in this batch (for the Redis hash).

    Bars carry `last_ts`, the event time of their last tick: a client measures a bar's latency from it."""
    updates: dict[str, dict[str, Any]] = {}

    def newest(frame: pd.DataFrame, prefix: str, columns: list[str]) -> None:
        if frame.empty:
            return
        last_rows = frame.sort_values("ts", kind="stable").groupby("symbol", sort=False, observed=True).tail(1)
        values = {column: last_rows[column].to_numpy() for column in columns}
        stamps = {c: last_rows[c].map(pd.Timestamp.isoformat).to_numpy() for c in ("ts", "last_ts") if c in columns}
        for i, symbol in enumerate(last_rows["symbol"].to_numpy()):
            fields = updates.setdefault(symbol, {})
            for column in columns:
                value = stamps[column][i] if column in stamps else values[column][i]
                fields[f"{prefix}.{column}"] = None if _missing(value) else _plain(value)

    newest(latest, "tick", ["ts", "price", "size"])
    newest(bars_1s, "bar_1s", ["ts", "open", "high", "low", "close", "volume", "vwap", "last_ts"])
    newest(bars_1m, "bar_1m", ["ts", "open", "high", "low", "close", "volume", "vwap", "last_ts"])
    newest(indicators, "ind", ["ts", "close", *INDICATOR_COLUMNS])
    return updates


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _plain(value: Any) -> Any:
    """numpy scalars as Python values (Redis and JSON take those)."""
    return value.item() if isinstance(value, np.generic) else value


def start_market_job(
    spark: SparkSession, settings: Settings, *, available_now: bool = False, topic: str = Topics.TICKS
) -> tuple[list[StreamingQuery], MarketJob]:
    """Start the live query; `available_now` processes what is in Kafka now and stops (tests, catch-up)."""
    raw = read_ticks(spark, settings, topic)
    job = MarketJob(settings, topic, available_now=available_now)
    trigger: dict[str, Any] = (
        {"availableNow": True} if available_now else {"processingTime": settings.stream.trigger_interval}
    )
    live = (
        raw.writeStream.queryName(LIVE_QUERY)
        .option("checkpointLocation", settings.checkpoint_location(LIVE_QUERY))
        .trigger(**trigger)
        .foreachBatch(job.write_batch)
        .start()
    )
    job.queries = [live]
    return job.queries, job


class MarketJobRunner(StreamJobRunner):
    """The market job's live query (with its archiver), restarted from its checkpoint on a failure."""

    job_name = "market job"

    def start_queries(self) -> tuple[list[StreamingQuery], MarketJob]:
        return start_market_job(self.spark, self.settings, available_now=self.available_now)
