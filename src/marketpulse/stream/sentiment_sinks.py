"""The sentiment job's sinks: one class per store, written in a loop by the job's foreachBatch writer.

They have the shape of the market job's archive sinks (`stream.spool.ArchiveSink`: write a batch, close), over
what one micro-batch leaves: its scored texts and the windows they touched. Each opens its store's client on
first use and keeps it. A new store is one class here plus one entry in `sentiment_sinks`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.config import Settings
from marketpulse.contracts.text import SentimentScore
from marketpulse.ingest.producer import EventProducer
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

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
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

    def open(self) -> CassandraSentiment:
        return CassandraSentiment(self.settings)


class PostgresSentimentSink(WindowsSink[PostgresSentiment]):
    """fact_sentiment_window of the reporting schema."""

    name = "postgres"

    def open(self) -> PostgresSentiment:
        return PostgresSentiment(self.settings)


class RedisSentimentSink(WindowsSink[RedisSentiment]):
    """Recent windows per symbol (the market job's fusion reads them), latest sent.* fields, live fan-out."""

    name = "redis"

    def open(self) -> RedisSentiment:
        return RedisSentiment(self.settings)


class KafkaScoresSink(SentimentSink[EventProducer]):
    """signals.sentiment: one SentimentScore per (text, symbol), keyed by symbol."""

    name = "kafka"

    def __init__(self, settings: Settings, topic: str) -> None:
        super().__init__(settings)
        self.topic = topic

    def open(self) -> EventProducer:
        return EventProducer(self.settings, "marketpulse-sentiment-job")

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
    """Every store of the sentiment job, in the order a batch reaches them (Cassandra first: the history)."""
    return [
        CassandraSentimentSink(settings),
        PostgresSentimentSink(settings),
        RedisSentimentSink(settings),
        KafkaScoresSink(settings, scores_topic),
    ]
