"""Bench topics, their high watermarks, and the open-loop load generator (a separate process, so its GIL never
competes with the job's driver)."""

from __future__ import annotations

import multiprocessing as mp
import time
from datetime import datetime
from typing import Any

from marketpulse.config import Settings


def create_topic(settings: Settings, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        meta = admin.list_topics(topic, timeout=10).topics.get(topic)
        if meta is not None and meta.error is None and len(meta.partitions) == partitions:
            return
        time.sleep(0.2)
    raise RuntimeError(f"topic {topic} did not appear with {partitions} partitions")


class Offsets:
    """High watermarks of a topic (a metadata-only consumer, never joins a group)."""

    def __init__(self, settings: Settings, topic: str, partitions: int) -> None:
        from confluent_kafka import Consumer, TopicPartition

        self.consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "bench-offsets"})
        self.partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self.topic = topic

    def high(self) -> dict[int, int]:
        return {tp.partition: self.consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in self.partitions}

    def total(self) -> int:
        return sum(self.high().values())

    def close(self) -> None:
        self.consumer.close()


def _producer_main(
    config: dict[str, Any],
    topic: str,
    symbols: int,
    rate: float,
    count: int | None,
    duration_s: float | None,
    seed: int,
    start_ts: datetime | None,
    results: Any,
) -> None:
    """Child process: SyntheticSource.iter_wire() -> Kafka, open loop at `rate` (0 = as fast as possible)."""
    from confluent_kafka import Producer

    from marketpulse.ingest.synthetic import SyntheticSource

    producer = Producer(config)
    source = SyntheticSource(symbols, rate, seed=seed, count=count, duration_s=duration_s, start_ts=start_ts)
    produce, poll = producer.produce, producer.poll
    results.put({"started": time.time()})
    started = time.monotonic()
    sent = 0
    for key, value in source.iter_wire():
        while True:
            try:
                produce(topic, value, key)
                break
            except BufferError:
                poll(0.05)
        sent += 1
        if not sent & 1023:
            poll(0)
    produced_s = time.monotonic() - started
    unflushed = producer.flush(120)
    results.put({"sent": sent, "seconds": produced_s, "flushed_s": time.monotonic() - started, "unflushed": unflushed})


class LoadGenerator:
    """SyntheticSource ticks produced by a child process; event time is the wall clock at emission unless
    `start_ts` is given (then 1 ms apart when unthrottled)."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        symbols: int,
        rate: float,
        count: int | None = None,
        duration_s: float | None = None,
        seed: int = 7,
        start_ts: datetime | None = None,
    ) -> None:
        from marketpulse.ingest.producer import producer_config

        ctx = mp.get_context("spawn")
        self.results = ctx.Queue()
        self.process = ctx.Process(
            target=_producer_main,
            args=(
                producer_config(settings, "bench-load"),
                *(topic, symbols, rate, count, duration_s, seed, start_ts),
                self.results,
            ),
            name="bench-load",
            daemon=True,
        )

    def start(self, timeout_s: float = 120) -> float:
        """Start the child; returns the wall time it began sending."""
        self.process.start()
        return float(self.results.get(timeout=timeout_s)["started"])

    @property
    def pid(self) -> int:
        return self.process.pid or -1

    def result(self, timeout_s: float) -> dict[str, Any]:
        report = dict(self.results.get(timeout=timeout_s))
        self.process.join(30)
        return report

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(10)


def preload(settings: Settings, topic: str, partitions: int, symbols: int, events: int) -> float:
    """Create `topic` and fill it with `events` ticks as fast as possible; returns the produce rate, ticks/s."""
    create_topic(settings, topic, partitions)
    load = LoadGenerator(settings, topic, symbols, 0, count=events)
    load.start()
    report = load.result(timeout_s=1800)
    offsets = Offsets(settings, topic, partitions)
    in_topic = offsets.total()
    offsets.close()
    if in_topic != events:
        raise RuntimeError(f"topic holds {in_topic:,} records, expected {events:,}")
    return float(report["sent"] / report["flushed_s"])
