"""The sentiment job: Kafka social.posts + news.articles -> parse/validate -> score -> every store.

One streaming query (checkpoint `sentiment`) over both text topics. Each micro-batch, in foreachBatch:
1. rejected rows -> `<topic>.dlq` with the reason (same headers as the market job);
2. valid texts reach the driver through Arrow and are scored there in one batched model call; the model is
   loaded once per process (`_model`), at start-up, never per row or per batch. Texts arrive tens per second,
   so the driver scores them in milliseconds, and the job starts no Python workers at all: one copy of the
   model in memory instead of one per worker (decision 0013);
3. per (text, symbol) scores -> Cassandra `sentiment_items`;
4. the windows those texts touched are recomputed from Cassandra with `features.sentiment` (the same code
   training uses), checked against the contract, and every sink (`stream.sentiment_sinks`) writes the batch:
   windows to Cassandra, Postgres and Redis, scores to Kafka `signals.sentiment`.
Every write is a keyed upsert and windows are recomputed from the stored items, so a batch replayed after
a crash leaves the same rows: effectively-once into the stores, at-least-once into signals.sentiment.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd  # type: ignore[import-untyped, unused-ignore]
from prometheus_client import Counter, Gauge, Histogram

from marketpulse.config import Settings
from marketpulse.contracts import Topics
from marketpulse.contracts.spark import parse_wire
from marketpulse.contracts.text import NewsArticle, SocialPost, TextItem
from marketpulse.features.sentiment import ITEM_COLUMNS, known_at, sentiment_windows, window_ends
from marketpulse.kafka_config import spark_kafka_options
from marketpulse.models.sentiment import load_with_fallback, polarity
from marketpulse.stores.sentiment import CassandraSentiment, checked_windows
from marketpulse.stream.market_job import dlq_records
from marketpulse.stream.runner import StreamJobRunner
from marketpulse.stream.sentiment_sinks import (
    CassandraSentimentSink,
    RedisSentimentSink,
    SentimentFacts,
    SentimentSink,
    sentiment_sinks,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming.query import StreamingQuery

log = logging.getLogger(__name__)

SENTIMENT_QUERY = "sentiment"
#: Columns every text topic shares (TextItem's fields), in order.
TEXT_COLUMNS = list(TextItem.model_fields)

SCORED = Counter("marketpulse_sentiment_scored_total", "Texts scored by the sentiment job", ["source"])
WINDOWS = Counter("marketpulse_sentiment_windows_written_total", "Symbol windows (re)computed and written")
REJECTED = Counter("marketpulse_sentiment_rejected_total", "Text records sent to a DLQ", ["topic"])
MODEL_SERVING = Gauge(
    "marketpulse_sentiment_model_info",
    "1 for the sentiment model this job scores with; fallback=1 when the configured one could not be loaded",
    ["configured", "version", "fallback"],
)
LATENCY = Histogram(
    "marketpulse_sentiment_e2e_latency_seconds",
    "Kafka CreateTime of the oldest text in a micro-batch -> its scores and windows written",
    buckets=(0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0),
)

# --- scoring on the driver -----------------------------------------------------------------------------------

#: The model of this process, by (kind, threads), with the reason it fell back (None when it did not): loaded
#: once (check_model_available at start-up), reused by every batch.
_MODELS: dict[tuple[str, int], tuple[Any, str | None]] = {}


def _model(kind: str, torch_threads: int) -> tuple[Any, str | None]:
    key = (kind, torch_threads)
    if key not in _MODELS:
        model, problem = load_with_fallback(kind, threads=torch_threads)
        if problem:
            log.warning(
                "sentiment model %r cannot be loaded, scoring with %s instead: %s", kind, model.version, problem
            )
        _MODELS[key] = (model, problem)
    return _MODELS[key]


def score_frame(texts: pd.Series, kind: str, torch_threads: int = 1) -> pd.DataFrame:
    """texts -> p_bearish, p_neutral, p_bullish, model_version (one batched model call)."""
    model, _ = _model(kind, torch_threads)
    probs = model.score(texts.fillna("").tolist()) if len(texts) else []
    frame = pd.DataFrame(probs, columns=["p_bearish", "p_neutral", "p_bullish"], dtype="float64")
    frame["model_version"] = str(model.version)
    return frame


def scored_texts(valid: pd.DataFrame, kind: str, torch_threads: int = 1) -> pd.DataFrame:
    """The batch's valid text rows (pandas, on the driver) + their model scores."""
    rows = valid.reset_index(drop=True)
    return pd.concat([rows, score_frame(rows["text"], kind, torch_threads)], axis=1)


# --- the pure transforms -------------------------------------------------------------------------------------


def read_texts(spark: SparkSession, settings: Settings, topics: tuple[str, str]) -> DataFrame:
    """The raw Kafka stream of both text topics, rate-limited per micro-batch."""
    return (
        spark.readStream.format("kafka")
        .options(**spark_kafka_options(settings))
        # A pattern, not a list: a topic no collector has written to yet (no news key) must not fail the query.
        .option("subscribePattern", "^(" + "|".join(re.escape(topic) for topic in topics) + ")$")
        .option("startingOffsets", settings.stream.starting_offsets)
        .option("maxOffsetsPerTrigger", settings.sentiment.max_offsets_per_trigger)
        .load()
    )


def parse_texts(raw: DataFrame, topics: tuple[str, str]) -> DataFrame:
    """Kafka rows of both topics -> topic, key, value, kafka_ts, reason + the shared TextItem columns."""
    from marketpulse.optional.pyspark import F

    parts = []
    models: tuple[type[TextItem], type[TextItem]] = (SocialPost, NewsArticle)
    for topic, model in zip(topics, models, strict=True):
        parsed = parse_wire(raw.filter(F.col("topic") == topic), model)
        parts.append(parsed.select(F.lit(topic).alias("topic"), "key", "value", "kafka_ts", "reason", *TEXT_COLUMNS))
    union: DataFrame = parts[0].unionByName(parts[1])
    return union


def item_scores(scored: pd.DataFrame) -> pd.DataFrame:
    """One row per (text, symbol) with known_at and polarity: what the stores and the window math take."""
    if scored.empty:
        return scored.assign(symbol=pd.Series(dtype="object"), known_at=pd.Series(dtype="datetime64[ns, UTC]"))
    frame = scored.copy()
    frame["polarity"] = polarity(frame[["p_bearish", "p_neutral", "p_bullish"]].to_numpy())
    frame["known_at"] = known_at(frame)
    frame = frame.explode("symbols").rename(columns={"symbols": "symbol", "id": "item_id"})
    return frame.reset_index(drop=True)


def affected_windows(items: pd.DataFrame, length: pd.Timedelta) -> dict[str, list[pd.Timestamp]]:
    """symbol -> the window ends this batch's texts fall into."""
    ends = window_ends(items["known_at"], length)
    return {str(s): sorted(set(group)) for s, group in ends.groupby(items["symbol"])}


# --- the sinks ------------------------------------------------------------------------------------------------


class SentimentSinks:
    """foreachBatch writer: DLQ the rejects, score the rest, store the items in Cassandra, recompute the windows they
    touched from there, then write every sink (`sentiment_sinks`) in a loop."""

    def __init__(
        self,
        settings: Settings,
        topics: tuple[str, str],
        scores_topic: str = Topics.SENTIMENT,
        sinks: Sequence[SentimentSink[Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.window = pd.Timedelta(settings.sentiment.window)
        self.sinks = list(sinks) if sinks is not None else sentiment_sinks(settings, scores_topic)
        #: The history the windows are recomputed from, and where the heartbeat goes.
        self.history = next(s for s in self.sinks if isinstance(s, CassandraSentimentSink))
        self.live = next(s for s in self.sinks if isinstance(s, RedisSentimentSink))

    def write_batch(self, batch: DataFrame, batch_id: int) -> None:
        """DLQ the rejects, score the rest, write items, recompute and write the touched windows."""
        phases: dict[str, float] = {}
        began = time.perf_counter()
        batch = batch.persist()
        try:
            self._dead_letter(batch)
            phases["dlq"] = time.perf_counter() - began
            valid = _utc(batch.filter("reason IS NULL").drop("key", "value", "reason").toPandas())
            phases["collect"] = time.perf_counter() - began - sum(phases.values())
            sentiment = self.settings.sentiment
            frame = scored_texts(valid, sentiment.model, sentiment.torch_threads)
            phases["score"] = time.perf_counter() - began - sum(phases.values())
        finally:
            batch.unpersist()
        items = item_scores(frame)
        if not items.empty:
            history = self.history.client
            history.write_items(items)
            phases["items"] = time.perf_counter() - began - sum(phases.values())
            model_version = str(items["model_version"].iloc[0])
            windows = checked_windows(self._windows(history, items), model_version)
            phases["windows"] = time.perf_counter() - began - sum(phases.values())
            facts = SentimentFacts(items, windows, model_version)
            for sink in self.sinks:
                sink.write(facts)
                phases[sink.name] = time.perf_counter() - began - sum(phases.values())
            WINDOWS.inc(len(windows))
            for source, count in items.drop_duplicates("item_id")["source"].value_counts().items():
                SCORED.labels(str(source)).inc(int(count))
            LATENCY.observe(max(0.0, time.time() - frame["kafka_ts"].min().timestamp()))
        self.live.client.heartbeat(SENTIMENT_QUERY, batch_id, len(frame))
        log.info(
            "batch %d: %d texts in %.2fs (%s)",
            batch_id,
            len(frame),
            time.perf_counter() - began,
            ", ".join(f"{name} {seconds:.2f}s" for name, seconds in phases.items()),
        )

    def _dead_letter(self, batch: DataFrame) -> None:
        rejected = batch.filter("reason IS NOT NULL")
        # One pass over the batch (it also fills the cache the scoring reads); writes only where rejects exist.
        counts = {row["topic"]: int(row["count"]) for row in rejected.groupBy("topic").count().collect()}
        for topic, count in counts.items():
            (
                dlq_records(rejected.filter(rejected["topic"] == topic), topic, "stream-parse")
                .write.format("kafka")
                .options(**spark_kafka_options(self.settings))
                .option("topic", Topics.dlq(topic))
                .save()
            )
            REJECTED.labels(topic).inc(count)

    def _windows(self, history: CassandraSentiment, items: pd.DataFrame) -> pd.DataFrame:
        """Every window these items touched, recomputed from the stored items (plus the buzz baseline's history)."""
        baseline = self.settings.sentiment.baseline_windows
        recomputed = []
        for symbol, ends in affected_windows(items, self.window).items():
            start = ends[0] - (baseline + 1) * self.window
            stored = history.read_items(symbol, start.to_pydatetime(), ends[-1].to_pydatetime())
            windows = sentiment_windows(stored[list(ITEM_COLUMNS)], self.window, baseline)
            recomputed.append(windows[windows["window_end"].isin(ends)])
        return pd.concat(recomputed, ignore_index=True) if recomputed else pd.DataFrame()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def _utc(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("published_at", "ingested_at", "kafka_ts"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC")
    return frame


# --- wiring ---------------------------------------------------------------------------------------------------


def start_sentiment_job(
    spark: SparkSession,
    settings: Settings,
    *,
    available_now: bool = False,
    topics: tuple[str, str] = (Topics.SOCIAL_POSTS, Topics.NEWS_ARTICLES),
    scores_topic: str = Topics.SENTIMENT,
) -> tuple[StreamingQuery, SentimentSinks]:
    """Start the query; `available_now` processes what is in Kafka now and stops (tests, catch-up)."""
    sinks = SentimentSinks(settings, topics, scores_topic)
    trigger: dict[str, Any] = (
        {"availableNow": True} if available_now else {"processingTime": settings.sentiment.trigger_interval}
    )
    query = (
        parse_texts(read_texts(spark, settings, topics), topics)
        .writeStream.queryName(SENTIMENT_QUERY)
        .option("checkpointLocation", settings.checkpoint_location(SENTIMENT_QUERY))
        .trigger(**trigger)
        .foreachBatch(sinks.write_batch)
        .start()
    )
    return query, sinks


def check_model_available(kind: str, torch_threads: int = 1) -> str:
    """Load the model the batches will score with: its version, or the VADER baseline's (logged, metric) when
    it fails. A missing or corrupt model file slows nothing down but is visible: in this log, in
    `marketpulse_sentiment_model_info{fallback="1"}` and in every score's model_version.
    """
    model, problem = _model(kind, torch_threads)
    MODEL_SERVING.labels(kind, model.version, "1" if problem else "0").set(1)
    return str(model.version)


class SentimentJobRunner(StreamJobRunner):
    """The sentiment query, restarted from its checkpoint on a failure; checks the model before Spark starts it."""

    job_name = "sentiment job"

    def start_queries(self) -> tuple[list[StreamingQuery], SentimentSinks]:
        query, sinks = start_sentiment_job(self.spark, self.settings, available_now=self.available_now)
        return [query], sinks

    def run(self) -> None:
        configured = self.settings.sentiment.model
        version = check_model_available(configured, self.settings.sentiment.torch_threads)
        self.report(f"sentiment job: {configured} model configured, scoring with {version}")
        super().run()
