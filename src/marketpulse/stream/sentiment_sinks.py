"""The sentiment job's sinks: one class per store, written in a loop by the job's foreachBatch writer.

They have the shape of the market job's archive sinks (`stream.spool.ArchiveSink`: write a batch, close), over
what one micro-batch leaves: its scored texts and the windows they touched. Each takes only its own settings
section (`sentiment_sinks`, the one place that reads the whole Settings, hands it down), opens its store's client
on first use and keeps it. A new store is one class here plus one entry in `sentiment_sinks`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.config import CassandraSettings, PostgresSettings, RedisSettings, Settings
from marketpulse.contracts.text import SentimentScore
from marketpulse.ingest.producer import EventProducer
from marketpulse.stores.cassandra import cassandra_section
from marketpulse.stores.postgres import postgres_section
from marketpulse.stores.redis_store import redis_section
from marketpulse.stores.sentiment import CassandraSentiment, PostgresSentiment, RedisSentiment

C = TypeVar("C")


@dataclass(frozen=True)
class SentimentFacts:
    """What one micro-batch of the sentiment job stores."""

    items: pd.DataFrame  # one row per (text, symbol): scores, polarity, known_at
    windows: pd.DataFrame  # every window those texts touched, recomputed from the stored items
    model_version: str


class SentimentSink(ABC, Generic[C]):
    """One store of the sentiment job; its client is opened on first use (`client`) and kept until `close`."""

    name = "sink"

    def __init__(self) -> None:
        self._client: C | None = None

    @abstractmethod
    def open(self) -> C:
        """A new client of the store."""

    @abstractmethod
    def write(self, facts: SentimentFacts) -> None:
        """Store the facts idempotently (a batch Spark re-runs leaves the same rows); raise on failure."""

    @property
    def client(self) -> C:
        if self._client is None:
            self._client = self.open()
        return self._client

    def close(self) -> None:
        client, self._client = self._client, None
        close: Any = getattr(client, "close", None)
        if close is not None:
            close()


class WindowStore(Protocol):
    def write_windows(self, windows: pd.DataFrame, model_version: str) -> None: ...


W = TypeVar("W", bound=WindowStore)


class WindowsSink(SentimentSink[W]):
    """A store of the recomputed windows."""

    def write(self, facts: SentimentFacts) -> None:
        self.client.write_windows(facts.windows, facts.model_version)


class CassandraSentimentSink(WindowsSink[CassandraSentiment]):
    """Windows by (symbol, day); the job also writes the items here first and recomputes windows from them."""

    name = "cassandra"

    def __init__(self, cassandra: CassandraSettings) -> None:
        """cassandra: a section from `stores.cassandra.cassandra_section`."""
        super().__init__()
        self.section = cassandra

    def open(self) -> CassandraSentiment:
        return CassandraSentiment(self.section)


class PostgresSentimentSink(WindowsSink[PostgresSentiment]):
    """fact_sentiment_window of the reporting schema."""

    name = "postgres"

    def __init__(self, postgres: PostgresSettings) -> None:
        """postgres: a section from `stores.postgres.postgres_section`."""
        super().__init__()
        self.section = postgres

    def open(self) -> PostgresSentiment:
        return PostgresSentiment(self.section)


class RedisSentimentSink(WindowsSink[RedisSentiment]):
    """Recent windows per symbol (the market job's fusion reads them), latest sent.* fields, live fan-out."""

    name = "redis"

    def __init__(self, redis: RedisSettings, *, recent_windows: int, ttl_s: int) -> None:
        """redis: a section from `stores.redis_store.redis_section`; recent_windows: sentiment.recent_windows;
        ttl_s: stream.redis_ttl_s."""
        super().__init__()
        self.section = redis
        self.recent_windows = recent_windows
        self.ttl_s = ttl_s

    def open(self) -> RedisSentiment:
        return RedisSentiment(self.section, recent_windows=self.recent_windows, ttl_s=self.ttl_s)


class KafkaScoresSink(SentimentSink[EventProducer]):
    """signals.sentiment: one SentimentScore per (text, symbol), keyed by symbol."""

    name = "kafka"

    def __init__(self, topic: str, producer: Callable[[], EventProducer]) -> None:
        """producer: opens the job's Kafka producer (built by `sentiment_sinks`: kafka_config derives its client
        settings from kafka, the stack host and the MSK region's s3 fallback)."""
        super().__init__()
        self.topic = topic
        self.producer = producer

    def open(self) -> EventProducer:
        return self.producer()

    def write(self, facts: SentimentFacts) -> None:
        producer = self.client
        for r in facts.items.itertuples(index=False):
            producer.send(
                self.topic,
                SentimentScore(
                    item_id=r.item_id,
                    symbol=r.symbol,
                    source=r.source,
                    published_at=r.published_at.to_pydatetime(),
                    ingested_at=r.ingested_at.to_pydatetime(),
                    p_bearish=float(r.p_bearish),
                    p_neutral=float(r.p_neutral),
                    p_bullish=float(r.p_bullish),
                    polarity=float(r.polarity),
                    model_version=r.model_version,
                ),
            )
        producer.flush()


def sentiment_sinks(settings: Settings, scores_topic: str) -> list[SentimentSink[Any]]:
    """Every store of the sentiment job, in the order a batch reaches them (Cassandra first: the history); each sink
    gets only its own section of `settings`."""
    return [
        CassandraSentimentSink(cassandra_section(settings)),
        PostgresSentimentSink(postgres_section(settings)),
        RedisSentimentSink(
            redis_section(settings),
            recent_windows=settings.sentiment.recent_windows,
            ttl_s=settings.stream.redis_ttl_s,
        ),
        KafkaScoresSink(scores_topic, lambda: EventProducer(settings, "marketpulse-sentiment-job")),
    ]
