"""Ingest -> Kafka on the real broker: valid ticks in market.ticks, the rest in market.ticks.dlq, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime

import numpy as np
from confluent_kafka import Consumer, TopicPartition

from integration.api.test_api_support import free_port
from marketpulse.config import Settings, settings_env
from marketpulse.contracts import Tick, Topics, from_wire, to_wire
from marketpulse.ingest.producer import EventProducer
from marketpulse.ingest.replay import replay_seq
from marketpulse.stack.manager import Stack


def _end_offsets(settings: Settings, topic: str) -> list[TopicPartition]:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "offsets-probe"})
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        if topic not in metadata.topics or not metadata.topics[topic].partitions:
            return []
        partitions = []
        for partition in metadata.topics[topic].partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            partitions.append(TopicPartition(topic, partition, high))
        return partitions
    finally:
        consumer.close()


def _read_from(settings: Settings, start: list[TopicPartition], topic: str, until: float = 20.0) -> list[object]:
    """Every record after the given offsets (new partitions from 0), reading until `until` seconds pass idle."""
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": "reader", "enable.auto.commit": False}
    )
    known = {tp.partition: tp.offset for tp in start}
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, known.get(p, 0)) for p in partitions])
    records: list[object] = []
    idle_since = time.monotonic()
    try:
        while time.monotonic() - idle_since < until:
            batch = consumer.consume(1000, timeout=0.5)
            if batch:
                records.extend(m for m in batch if m.error() is None)
                idle_since = time.monotonic()
            elif records:
                break
    finally:
        consumer.close()
    return records


def test_valid_ticks_to_topic_and_rejects_to_dlq_with_reason(stack: Stack, settings: Settings, unique: str) -> None:
    source = f"it-{unique}"
    EventProducer(settings, "warm-up").flush()
    ticks_start = _end_offsets(settings, Topics.TICKS)
    dlq_start = _end_offsets(settings, Topics.dlq(Topics.TICKS))

    producer = EventProducer(settings, "it-ingest")
    good = [
        to_wire(
            Tick(
                symbol="IBM",
                ts=datetime(2013, 1, 2, 15, 0, i, tzinfo=UTC),
                price=190 + i,
                size=10,
                source=source,
                seq=i,
            )
        )
        for i in range(5)
    ]
    replayed_seq = good[2]  # same (source, symbol, seq) again: the sequence guard must reject it
    bad = [b"garbage", good[0].replace(b'"size":10.0', b'"size":0'), replayed_seq]
    accepted = [producer.ingest_tick(raw, source) for raw in [*good, *bad]]
    producer.flush()

    assert [tick is not None for tick in accepted] == [True] * 5 + [False] * 3
    delivered = [m for m in _read_from(settings, ticks_start, Topics.TICKS) if source.encode() in m.value()]
    assert sorted(m.value() for m in delivered) == sorted(good)
    assert {m.key() for m in delivered} == {b"IBM"}
    rejected = {
        m.value(): dict(m.headers())["mp.reason"].decode()
        for m in _read_from(settings, dlq_start, Topics.dlq(Topics.TICKS))
        if m.value() in bad
    }
    assert rejected[b"garbage"].startswith("not JSON")
    assert rejected[bad[1]] == "size: Input should be greater than 0"
    assert rejected[replayed_seq] == f"seq 2 from {source} for IBM is not after 4"


def test_replay_cli_stops_cleanly_on_sigterm_and_loses_nothing(stack: Stack, settings: Settings) -> None:
    ticks_start = _end_offsets(settings, Topics.TICKS)
    env = {**os.environ, **settings_env(settings), "MARKETPULSE_INGEST__METRICS_PORT": str(free_port())}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "marketpulse",
            "ingest",
            "replay",
            "--symbols",
            "FB",
            "--start",
            "2013-02-25",
            "--end",
            "2013-03-01",
            "--ticks-per-day",
            "400",
            "--speedup",
            "2000",
            "--seed",
            "99",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(12)  # long enough to have sent some ticks, far from the ~58 s the paced replay needs
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "stopped early" in output
    sent = int(output.split("sent ")[-1].split(" ticks")[0].replace(",", ""))
    assert 0 < sent < 2000
    delivered = [from_wire(Tick, m.value()) for m in _read_from(settings, ticks_start, Topics.TICKS)]
    ours = [t for t in delivered if t.source == "replay" and t.symbol == "FB" and t.ts.year == 2013 and t.ts.month >= 2]
    assert len(ours) >= sent  # everything it reported as sent is in Kafka
    # Each day's ticks numbered 0, 1, 2, ... on top of the day's base (replay_seq): none lost, none repeated.
    numbered: Counter[date] = Counter()
    expected = []
    for tick in ours[:sent]:
        expected.append(int(replay_seq(tick.ts.date(), np.array([numbered[tick.ts.date()]]))[0]))
        numbered[tick.ts.date()] += 1
    assert [t.seq for t in ours[:sent]] == expected
