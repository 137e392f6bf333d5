"""Benchmark of the market pipeline: raw Kafka ceiling -> Spark source -> parse -> the full job, a peer, latency.

One run, one broker, one pre-loaded topic (N synthetic ticks, produced once), so the stages' ratios are comparable:

  B0a   confluent-kafka consumer counting messages (the raw read ceiling of this broker from Python)
  B0b   Spark Kafka source -> noop sink (streaming, availableNow)
  B1    Spark Kafka source -> parse_wire + validation -> noop sink
  B2    the full market job (start_market_job, availableNow): lake + DLQ + state function + every store
  Peer  a "seed-style" consumer: json.loads + one INSERT into Postgres (autocommit) + one Cassandra insert per tick
  Lat   open-loop synthetic load at fixed rates into the RUNNING market job; p50/p95/p99 of the job's own
        end-to-end samples (Kafka CreateTime of a symbol's oldest tick in a batch -> that batch in every store)

CPU is measured per process (psutil) over each stage: this driver, Spark's JVM (a child of the driver), the Python
workers (children of the JVM), and the bench stack's servers (found through their pid files). Run it with
`make bench` or `python -m bench.market_pipeline --help`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing as mp
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from marketpulse.config import (
    Settings,
    StreamSettings,
)
from marketpulse.stack.instances import side_by_side_settings
from marketpulse.stack.manager import Stack

#: Ports of the bench stack are the defaults shifted by this much (the test stack uses 10000).
PORT_OFFSET = 30_000
TARGET_EPS = 50_000
TARGET_P99_S = 1.0
RESULTS_DIR = Path(__file__).resolve().parent / "results"
CLIENT_GROUPS = ("driver", "spark-jvm", "spark-py-workers")
SERVER_GROUPS = ("kafka", "cassandra", "postgres", "redis", "minio")

_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')} +{time.monotonic() - _T0:6.0f}s] {message}", flush=True)


# --------------------------------------------------------------------------------------------------------------
# Settings and the stack
# --------------------------------------------------------------------------------------------------------------


def bench_settings(offset: int = PORT_OFFSET) -> Settings:
    """The "bench" stack instance: every port shifted by `offset`, data under .stack/bench."""
    return side_by_side_settings("bench", offset)


def with_stream(settings: Settings, checkpoint_root: Path, max_offsets: int, trigger: str) -> Settings:
    stream = StreamSettings(
        checkpoint_root=str(checkpoint_root), max_offsets_per_trigger=max_offsets, trigger_interval=trigger
    )
    return settings.model_copy(update={"stream": stream})


def ensure_stack(stack: Stack) -> bool:
    """Start the bench stack unless it already runs healthy; True when this call started it."""
    rows = stack.status()
    if all(row.healthy for row in rows):
        log("bench stack already running and healthy: reusing it (it is left running at the end)")
        return False
    log("starting the bench stack (ports +30000, data under .stack/bench) ...")
    started = time.monotonic()
    stack.up()
    log(f"bench stack up in {time.monotonic() - started:.0f}s")
    return True


# --------------------------------------------------------------------------------------------------------------
# CPU accounting
# --------------------------------------------------------------------------------------------------------------


@dataclass
class CpuReport:
    wall_s: float
    groups: dict[str, float]
    machine_busy_s: float
    ncpu: int

    @property
    def pipeline_s(self) -> float:
        return sum(self.groups.get(g, 0.0) for g in CLIENT_GROUPS)

    @property
    def servers_s(self) -> float:
        return sum(self.groups.get(g, 0.0) for g in SERVER_GROUPS)

    @property
    def others_share(self) -> float:
        """Share of the machine's CPU used by processes outside this benchmark (other people's work)."""
        ours = sum(self.groups.values())
        return max(0.0, self.machine_busy_s - ours) / max(self.wall_s * self.ncpu, 1e-9)


def _busy(times: Any) -> float:
    return float(times.user + times.nice + times.system + times.irq + times.softirq)


class CpuMeter:
    """Samples the CPU time of this process tree and of the stack's servers every 0.5 s, grouped by role.

    A process seen for the first time during the window counts from 0 if it was created in the window. Only the
    processes' own user+system time is summed (children_* would count reaped children twice).
    """

    def __init__(self, server_pids: dict[str, int], load_pids: set[int] | None = None) -> None:
        self.server_pids = server_pids
        self.load_pids = load_pids if load_pids is not None else set()
        self.me = psutil.Process()
        self._base: dict[tuple[int, float], tuple[str, float]] = {}
        self._last: dict[tuple[int, float], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._wall0 = 0.0
        self._machine0 = 0.0

    def _processes(self) -> Iterator[tuple[psutil.Process, str]]:
        yield self.me, "driver"

        def walk(proc: psutil.Process, group: str) -> Iterator[tuple[psutil.Process, str]]:
            with contextlib.suppress(psutil.Error):
                for child in proc.children():
                    child_group = group
                    if child.pid in self.load_pids or group == "load-gen":
                        child_group = "load-gen"
                    elif group == "driver":
                        with contextlib.suppress(psutil.Error):
                            child_group = "spark-jvm" if "java" in child.name() else "driver"
                    elif group == "spark-jvm":
                        child_group = "spark-py-workers"
                    yield child, child_group
                    yield from walk(child, child_group)

        yield from walk(self.me, "driver")
        for name, pid in self.server_pids.items():
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                yield proc, name
                for child in proc.children(recursive=True):
                    yield child, name

    def _snapshot(self) -> dict[tuple[int, float], tuple[str, float]]:
        snap: dict[tuple[int, float], tuple[str, float]] = {}
        for proc, group in self._processes():
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                snap[(proc.pid, proc.create_time())] = (group, times.user + times.system)
        return snap

    def _merge(self, snap: dict[tuple[int, float], tuple[str, float]], first: bool) -> None:
        with self._lock:
            for key, (group, cpu) in snap.items():
                if key not in self._base:
                    new_in_window = not first and key[1] >= self._started_at
                    self._base[key] = (group, 0.0 if new_in_window else cpu)
                self._last[key] = (group, cpu)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._merge(self._snapshot(), first=False)

    def start(self) -> CpuMeter:
        self._started_at = time.time() - 0.05
        self._wall0 = time.monotonic()
        self._machine0 = _busy(psutil.cpu_times())
        self._merge(self._snapshot(), first=True)
        self._thread = threading.Thread(target=self._run, name="cpu-meter", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> CpuReport:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._merge(self._snapshot(), first=False)
        wall = time.monotonic() - self._wall0
        machine = _busy(psutil.cpu_times()) - self._machine0
        groups: dict[str, float] = defaultdict(float)
        with self._lock:
            for key, (group, cpu) in self._last.items():
                groups[group] += max(0.0, cpu - self._base[key][1])
        return CpuReport(wall, dict(groups), machine, psutil.cpu_count() or 1)


# --------------------------------------------------------------------------------------------------------------
# Kafka helpers and the load generator (a separate process, so its GIL never competes with the job's driver)
# --------------------------------------------------------------------------------------------------------------


def create_topic(settings: Settings, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

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
    results: Any,
) -> None:
    """Child process: SyntheticSource.iter_wire() -> Kafka, open loop at `rate` (0 = as fast as possible)."""
    from confluent_kafka import Producer

    from marketpulse.ingest.synthetic import SyntheticSource

    producer = Producer(config)
    source = SyntheticSource(symbols, rate, seed=seed, count=count, duration_s=duration_s)
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
    def __init__(
        self,
        settings: Settings,
        topic: str,
        symbols: int,
        rate: float,
        count: int | None = None,
        duration_s: float | None = None,
        seed: int = 7,
    ) -> None:
        from marketpulse.ingest.producer import producer_config

        ctx = mp.get_context("spawn")
        self.results = ctx.Queue()
        self.process = ctx.Process(
            target=_producer_main,
            args=(producer_config(settings, "bench-load"), topic, symbols, rate, count, duration_s, seed, self.results),
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


# --------------------------------------------------------------------------------------------------------------
# Stage results
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Stage:
    key: str
    what: str
    events: int = 0
    seconds: float = 0.0
    cpu: CpuReport | None = None
    note: str = ""
    error: str | None = None

    @property
    def eps(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def per_m(self, cpu_s: float) -> float:
        return cpu_s / self.events * 1e6 if self.events else float("nan")


@dataclass
class LatencyResult:
    rate: float
    trigger: str
    produced: int = 0
    produced_eps: float = 0.0
    processed_eps: float = 0.0
    samples: list[float] = field(default_factory=list)
    batches: int = 0
    mean_batch_rows: float = 0.0
    mean_batch_s: float = 0.0
    lag_start: int = 0
    lag_end: int = 0
    drained_s: float | None = None
    cpu: CpuReport | None = None
    breakdown: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def pct(self, q: float) -> float:
        if not self.samples:
            return float("nan")
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]

    @property
    def kept_up(self) -> bool:
        # Lag at the end within ~2 s of input, and not grown by more than ~1 s of input over the window.
        return self.lag_end <= 2 * self.rate and self.lag_end - self.lag_start <= self.rate


# --------------------------------------------------------------------------------------------------------------
# Spark instrumentation: where a market-job micro-batch spends its time
# --------------------------------------------------------------------------------------------------------------


class ProgressCollector:
    """A StreamingQueryListener keeping every progress event (recentProgress keeps only the last 100)."""

    def __init__(self, spark: Any) -> None:
        from pyspark.sql.streaming import StreamingQueryListener

        events: list[dict[str, Any]] = []
        lock = threading.Lock()

        class _Listener(StreamingQueryListener):  # type: ignore[misc]
            def onQueryStarted(self, event: Any) -> None:
                return None

            def onQueryProgress(self, event: Any) -> None:
                with lock:
                    events.append(json.loads(event.progress.json))

            def onQueryIdle(self, event: Any) -> None:
                return None

            def onQueryTerminated(self, event: Any) -> None:
                return None

        self.events = events
        self._lock = lock
        self._listener = _Listener()
        self._spark = spark
        spark.streams.addListener(self._listener)

    def batches(self, names: Iterable[str], since: float = 0.0, until: float = float("inf")) -> list[dict[str, Any]]:
        """Progress of batches with input, of the named queries, that ended in [since, until] (epoch s)."""
        wanted = set(names)
        out = []
        with self._lock:
            events = list(self.events)
        seen = set()
        for event in events:
            if event.get("name") not in wanted or not event.get("numInputRows"):
                continue
            key = (event.get("runId"), event.get("batchId"))
            if key in seen:
                continue
            seen.add(key)
            start = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
            end = start + event.get("durationMs", {}).get("triggerExecution", 0) / 1000
            if since <= end <= until:
                out.append({**event, "_end": end})
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._spark.streams.removeListener(self._listener)


class _TimedClient:
    """Proxy of a sink client: every method call is timed into the probe (per thread, per batch)."""

    def __init__(self, client: Any, name: str, probe: JobProbe) -> None:
        self._client = client
        self._name = name
        self._probe = probe

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._client, attr)
        if not callable(value):
            return value
        probe, label = self._probe, f"{self._name}.{attr}"

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                probe.add_sink_time(label, time.perf_counter() - started)

        return timed


def _timed_state_fn(original: Callable[..., Any], log_path: str) -> Callable[..., Any]:
    """A wrapper of update_symbol that appends 'end wall cpu rows' per call to log_path (runs in Spark's workers)."""

    def timed_update_symbol(key: Any, batches: Any, group_state: Any) -> Any:
        import time as _time

        wall0, cpu0 = _time.perf_counter(), _time.process_time()
        out = list(original(key, batches, group_state))
        wall, cpu = _time.perf_counter() - wall0, _time.process_time() - cpu0
        rows = sum(len(frame) for frame in out)
        with open(log_path, "a") as handle:
            handle.write(f"{_time.time():.3f} {wall:.6f} {cpu:.6f} {rows}\n")
        yield from out

    return timed_update_symbol


class JobProbe:
    """Monkeypatches the market job (in this process only) to time each foreachBatch call:

    - `spark`: from the call's start to the first `_utc(...)`, i.e. the Spark jobs that produce the batch's pandas
      frame (Kafka read, parse, shuffle, the Python state function, Arrow to the driver);
    - `sinks`: every method call on the sink clients (Cassandra, Postgres, Redis, lake, producer, model);
    - `glue`: the rest (pandas grouping and shaping in the driver);
    and, in Spark's Python workers, the wall and CPU time of each update_symbol call (the state function).
    """

    def __init__(self, workdir: Path) -> None:
        self.state_log = workdir / "state_fn.log"
        self.state_log.touch()
        self.batches: list[dict[str, Any]] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._saved: list[tuple[Any, str, Any]] = []

    def add_sink_time(self, label: str, seconds: float) -> None:
        by_sink = getattr(self._local, "by_sink", None)
        if by_sink is not None:
            by_sink[label] += seconds

    def install(self) -> None:
        from marketpulse.stream import market_job as mj

        probe = self
        sinks_cls = mj.MarketSinks
        self._saved = [
            (sinks_cls, "write_features_batch", sinks_cls.write_features_batch),
            (sinks_cls, "write_lake_batch", sinks_cls.write_lake_batch),
            (sinks_cls, "_client", sinks_cls._client),
            (mj, "_utc", mj._utc),
            (mj, "update_symbol", mj.update_symbol),
        ]
        original_utc = mj._utc
        original_client = sinks_cls._client

        def timed_batch(query: str, original: Callable[..., None]) -> Callable[..., None]:
            def wrapper(sinks: Any, batch: Any, batch_id: int) -> None:
                local = probe._local
                local.t0, local.spark, local.by_sink = time.perf_counter(), None, defaultdict(float)
                try:
                    original(sinks, batch, batch_id)
                finally:
                    total = time.perf_counter() - local.t0
                    record = {
                        "query": query,
                        "batch_id": batch_id,
                        "end": time.time(),
                        "total": total,
                        "spark": local.spark if local.spark is not None else total,
                        "by_sink": dict(local.by_sink),
                    }
                    local.by_sink = None
                    with probe._lock:
                        probe.batches.append(record)

            return wrapper

        def timed_utc(frame: Any) -> Any:
            local = probe._local
            if getattr(local, "by_sink", None) is not None and local.spark is None:
                local.spark = time.perf_counter() - local.t0
            return original_utc(frame)

        def timed_client(sinks: Any, name: str, factory: Callable[[], Any]) -> Any:
            return _TimedClient(original_client(sinks, name, factory), name, probe)

        sinks_cls.write_features_batch = timed_batch(mj.FEATURES_QUERY, sinks_cls.write_features_batch)
        sinks_cls.write_lake_batch = timed_batch(mj.LAKE_QUERY, sinks_cls.write_lake_batch)
        sinks_cls._client = timed_client
        mj._utc = timed_utc
        mj.update_symbol = _timed_state_fn(mj.update_symbol, str(self.state_log))

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved = []

    def state_calls(self, since: float, until: float) -> list[tuple[float, float, float, int]]:
        calls = []
        for line in self.state_log.read_text().splitlines():
            parts = line.split()
            if len(parts) == 4 and since <= float(parts[0]) <= until:
                calls.append((float(parts[0]), float(parts[1]), float(parts[2]), int(parts[3])))
        return calls

    def summary(self, since: float, until: float) -> dict[str, Any]:
        """Per query: batches, total foreachBatch s, Spark s, sinks s (by sink), glue s; state fn totals."""
        out: dict[str, Any] = {}
        with self._lock:
            batches = [b for b in self.batches if since <= b["end"] <= until]
        for query in sorted({b["query"] for b in batches}):
            mine = [b for b in batches if b["query"] == query]
            by_sink: dict[str, float] = defaultdict(float)
            for b in mine:
                for label, seconds in b["by_sink"].items():
                    by_sink[label] += seconds
            total = sum(b["total"] for b in mine)
            spark = sum(b["spark"] for b in mine)
            sinks = sum(by_sink.values())
            out[query] = {
                "batches": len(mine),
                "total": total,
                "spark": spark,
                "sinks": sinks,
                "glue": max(0.0, total - spark - sinks),
                "by_sink": dict(sorted(by_sink.items(), key=lambda kv: -kv[1])),
            }
        calls = self.state_calls(since, until)
        out["state_fn"] = {
            "calls": len(calls),
            "wall": sum(c[1] for c in calls),
            "cpu": sum(c[2] for c in calls),
            "rows_out": sum(c[3] for c in calls),
        }
        return out


def progress_totals(batches: list[dict[str, Any]]) -> dict[str, float]:
    """Sums of the durationMs parts (seconds) and input rows of some progress events."""
    totals: dict[str, float] = defaultdict(float)
    for b in batches:
        totals["rows"] += b.get("numInputRows", 0)
        for part, ms in b.get("durationMs", {}).items():
            totals[part] += ms / 1000
    totals["batches"] = len(batches)
    return dict(totals)


# --------------------------------------------------------------------------------------------------------------
# The stages
# --------------------------------------------------------------------------------------------------------------


def stage_b0a(settings: Settings, topic: str, partitions: int, events: int, meter: CpuMeter) -> Stage:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    stage = Stage("B0a", "confluent-kafka consumer, count only (raw ceiling)")
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"bench-b0a-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    count, first, deadline = 0, None, time.monotonic() + 300
    meter.start()
    try:
        while count < events and time.monotonic() < deadline:
            messages = consumer.consume(num_messages=10_000, timeout=1.0)
            if messages and first is None:
                first = time.monotonic()
            count += len(messages)
        last = time.monotonic()
    finally:
        stage.cpu = meter.stop()
        consumer.close()
    stage.events, stage.seconds = count, last - (first or last)
    stage.note = "timed from the first message (assign(), no group join)"
    return stage


def stage_peer(settings: Settings, topic: str, max_events: int, max_s: float, meter: CpuMeter) -> Stage:
    """A typical hobby pipeline: poll one message, json.loads, INSERT into Postgres (autocommit), INSERT into
    Cassandra (synchronous, unprepared), repeat."""
    import psycopg
    from confluent_kafka import Consumer

    from marketpulse.stores.cassandra import cassandra_cluster

    stage = Stage("Peer", "seed-style: poll -> json.loads -> per-row PG INSERT + Cassandra INSERT")
    pg = psycopg.connect(settings.postgres_dsn(), autocommit=True)
    pg.execute(
        "CREATE TABLE IF NOT EXISTS bench_peer_ticks (id bigserial PRIMARY KEY, symbol text, ts timestamptz, "
        "price double precision, size double precision)"
    )
    pg.execute("TRUNCATE bench_peer_ticks")
    cluster = cassandra_cluster(settings)
    session = cluster.connect(settings.cassandra.keyspace)
    session.execute(
        "CREATE TABLE IF NOT EXISTS bench_peer_ticks (symbol text, ts timestamp, price double, size double, "
        "PRIMARY KEY (symbol, ts))",
        timeout=60,
    )
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"bench-peer-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    count, first = 0, None
    meter.start()
    try:
        wait_until = time.monotonic() + 60
        while count < max_events:
            now = time.monotonic()
            if (first is not None and now - first >= max_s) or (first is None and now > wait_until):
                break
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            if first is None:
                first = time.monotonic()
            tick = json.loads(msg.value())
            ts = datetime.fromtimestamp(tick["ts"] / 1e9, tz=UTC)
            pg.execute(
                "INSERT INTO bench_peer_ticks (symbol, ts, price, size) VALUES (%s, %s, %s, %s)",
                (tick["symbol"], ts, tick["price"], tick["size"]),
            )
            session.execute(
                "INSERT INTO bench_peer_ticks (symbol, ts, price, size) VALUES (%s, %s, %s, %s)",
                (tick["symbol"], ts, tick["price"], tick["size"]),
            )
            count += 1
            if count % 10_000 == 0:
                log(f"  peer: {count:,} rows, {count / (time.monotonic() - first):,.0f}/s")
        last = time.monotonic()
    finally:
        stage.cpu = meter.stop()
        consumer.close()
        cluster.shutdown()
        pg.close()
    stage.events, stage.seconds = count, last - (first or last)
    stage.note = f"bounded: {max_events:,} rows or {max_s:.0f} s; timed from the first message"
    return stage


def await_queries(queries: list[Any], label: str, timeout_s: float) -> bool:
    """Wait for availableNow queries to finish, printing progress every 10 s; False if stopped at timeout."""
    started = last_print = time.monotonic()
    while any(q.isActive for q in queries):
        for q in queries:
            if q.isActive:
                q.awaitTermination(2)
        now = time.monotonic()
        if now - last_print >= 10:
            last_print = now
            parts = []
            for q in queries:
                progress = q.recentProgress
                rows = sum(json.loads(p.json).get("numInputRows", 0) for p in progress)
                parts.append(f"{q.name}: {len(progress)} batches, {rows:,} rows{'' if q.isActive else ' (done)'}")
            log(f"  {label} {now - started:.0f}s: " + "; ".join(parts))
        if now - started > timeout_s:
            log(f"  {label}: timeout after {timeout_s:.0f}s, stopping")
            for q in queries:
                q.stop()
            return False
    for q in queries:
        if q.exception() is not None:
            raise RuntimeError(f"query {q.name} failed: {q.exception()}")
    return True


def stage_spark_noop(
    spark: Any, settings: Settings, topic: str, parse: bool, workdir: Path, meter: CpuMeter, timeout_s: float
) -> Stage:
    from marketpulse.contracts import Tick
    from marketpulse.contracts.spark import parse_wire
    from marketpulse.stream.market_job import read_ticks

    key = "B1" if parse else "B0b"
    what = "Spark Kafka source -> parse_wire + validate -> noop" if parse else "Spark Kafka source -> noop"
    stage = Stage(key, what)
    frame = read_ticks(spark, settings, topic)
    if parse:
        frame = parse_wire(frame, Tick)
    meter.start()
    started = time.monotonic()
    try:
        query = (
            frame.writeStream.queryName(f"bench-{key.lower()}")
            .format("noop")
            .option("checkpointLocation", str(workdir / f"ckpt-{key.lower()}"))
            .trigger(availableNow=True)
            .start()
        )
        done = await_queries([query], key, timeout_s)
        stage.seconds = time.monotonic() - started
    finally:
        stage.cpu = meter.stop()
    progress = [json.loads(p.json) for p in query.recentProgress]
    stage.events = sum(p.get("numInputRows", 0) for p in progress)
    batches = [p for p in progress if p.get("numInputRows")]
    stage.note = (
        f"availableNow, {len(batches)} batches of <= {settings.stream.max_offsets_per_trigger:,}; "
        f"timed from start() incl. planning{'' if done else '; TIMED OUT'}"
    )
    return stage


def stage_b2(
    spark: Any,
    settings: Settings,
    topic: str,
    probe: JobProbe,
    collector: ProgressCollector,
    meter: CpuMeter,
    timeout_s: float,
) -> tuple[Stage, dict[str, Any]]:
    from marketpulse.stream.market_job import FEATURES_QUERY, LAKE_QUERY, start_market_job

    stage = Stage("B2", "full market job (lake+DLQ, state fn, Cassandra, Postgres, Redis)")
    since = time.time()
    meter.start()
    started = time.monotonic()
    try:
        queries, sinks = start_market_job(spark, settings, available_now=True, topic=topic)
        try:
            done = await_queries(queries, "B2", timeout_s)
        finally:
            sinks.close()
        stage.seconds = time.monotonic() - started
    finally:
        stage.cpu = meter.stop()
    time.sleep(2)  # the listener bus delivers the last progress events asynchronously
    until = time.time()
    features = collector.batches([FEATURES_QUERY], since, until)
    lake = collector.batches([LAKE_QUERY], since, until)
    stage.events = int(progress_totals(features).get("rows", 0))
    lake_rows = int(progress_totals(lake).get("rows", 0))
    stage.note = (
        f"availableNow; both queries read every tick (lake {lake_rows:,} rows); events = features rows; "
        f"no model promoted, so no scoring{'' if done else '; TIMED OUT'}"
    )
    detail = {
        "probe": probe.summary(since, until),
        "progress": {FEATURES_QUERY: progress_totals(features), LAKE_QUERY: progress_totals(lake)},
    }
    return stage, detail


def latency_phase(
    spark: Any,
    settings: Settings,
    args: argparse.Namespace,
    run_id: str,
    probe: JobProbe,
    collector: ProgressCollector,
    servers: dict[str, int],
    workdir: Path,
) -> list[LatencyResult]:
    from marketpulse.stream.market_job import FEATURES_QUERY, LAKE_QUERY, start_market_job

    topic = f"bench.latency.{run_id}"
    create_topic(settings, topic, args.partitions)
    job_settings = with_stream(settings, workdir / "ckpt-latency", args.max_offsets, args.trigger)
    offsets = Offsets(settings, topic, args.partitions)
    queries, sinks = start_market_job(spark, job_settings, available_now=False, topic=topic)
    features = next(q for q in queries if q.name == FEATURES_QUERY)

    def lag() -> int:
        high = offsets.high()
        progress = features.lastProgress
        if progress is None:
            return sum(high.values())
        end = json.loads(progress.json)["sources"][0].get("endOffset") or {}
        if isinstance(end, str):
            end = json.loads(end)
        done = {int(p): int(o) for p, o in end.get(topic, {}).items()}
        return sum(max(0, h - done.get(p, 0)) for p, h in high.items())

    results = []
    log(f"latency: market job running on {topic}, trigger '{args.trigger}' (lake query: '10 seconds')")
    try:
        # Prime: one small batch through both queries, so worker start-up and client connections are not measured.
        primer = LoadGenerator(settings, topic, args.symbols, 0, count=args.symbols * 20, seed=1)
        primer.start()
        primer.result(timeout_s=120)
        primed, phase_started = time.monotonic(), time.time() - 1
        while (lag() > 0 or not collector.batches([LAKE_QUERY], phase_started)) and time.monotonic() - primed < 300:
            time.sleep(0.5)
        log(f"latency: job primed in {time.monotonic() - primed:.0f}s")
        for rate in args.rates:
            result = LatencyResult(rate=rate, trigger=args.trigger)
            results.append(result)
            load = LoadGenerator(
                settings, topic, args.symbols, rate, duration_s=args.warmup + args.steady + 1, seed=int(rate)
            )
            try:
                load.start()
                log(f"latency {rate:,.0f}/s: open-loop producer pid {load.pid}; warm-up {args.warmup:.0f}s")
                time.sleep(args.warmup)
                if not features.isActive:
                    raise RuntimeError(f"market job stopped: {features.exception()}")
                meter = CpuMeter(servers, {load.pid})
                sinks.latencies.clear()
                high0, since = offsets.total(), time.time()
                result.lag_start = lag()
                meter.start()
                window_end = time.monotonic() + args.steady
                while time.monotonic() < window_end:
                    time.sleep(min(10.0, max(0.0, window_end - time.monotonic())))
                    recent = list(sinks.latencies)
                    p99 = sorted(recent)[int(0.99 * (len(recent) - 1))] if recent else float("nan")
                    last = features.lastProgress
                    batch_s = json.loads(last.json)["durationMs"].get("triggerExecution", 0) / 1000 if last else 0
                    log(
                        f"  {rate:,.0f}/s: lag {lag():,}, last batch {batch_s:.2f}s, "
                        f"{len(recent):,} samples, p99 so far {p99:.2f}s"
                    )
                until = time.time()
                result.lag_end = lag()
                result.cpu = meter.stop()
                result.produced = offsets.total() - high0
                result.produced_eps = result.produced / (until - since)
                report = load.result(timeout_s=180)
                if report.get("unflushed"):
                    result.error = f"producer left {report['unflushed']} unflushed"
                # Drain: the ticks of the window's tail are still measured, so a backlog shows as latency.
                drain_started = time.monotonic()
                while lag() > 0 and time.monotonic() - drain_started < args.drain:
                    time.sleep(0.5)
                if lag() == 0:
                    result.drained_s = time.monotonic() - drain_started
                result.samples = list(sinks.latencies)
                batches = collector.batches([FEATURES_QUERY], since, until)
                totals = progress_totals(batches)
                result.batches = len(batches)
                result.processed_eps = totals.get("rows", 0) / (until - since)
                result.mean_batch_rows = totals.get("rows", 0) / max(1, len(batches))
                result.mean_batch_s = totals.get("triggerExecution", 0) / max(1, len(batches))
                probe_summary = probe.summary(since, until)
                feat = probe_summary.get(FEATURES_QUERY, {})
                lake = probe_summary.get(LAKE_QUERY, {})
                n = max(1, feat.get("batches", 0))
                result.breakdown = {
                    "features batches": feat.get("batches", 0),
                    "trigger s/batch": result.mean_batch_s,
                    "foreachBatch s/batch": feat.get("total", 0) / n,
                    "spark s/batch": feat.get("spark", 0) / n,
                    "sinks s/batch": feat.get("sinks", 0) / n,
                    "glue s/batch": feat.get("glue", 0) / n,
                    "state fn wall s/batch (sum of workers)": probe_summary["state_fn"]["wall"] / n,
                    "lake batches": lake.get("batches", 0),
                    "lake s/batch": lake.get("total", 0) / max(1, lake.get("batches", 0)),
                }
                log(
                    f"latency {rate:,.0f}/s: produced {result.produced_eps:,.0f}/s, processed "
                    f"{result.processed_eps:,.0f}/s, p50 {result.pct(50):.2f}s p95 {result.pct(95):.2f}s "
                    f"p99 {result.pct(99):.2f}s over {len(result.samples):,} samples, lag at end {result.lag_end:,}"
                )
            except Exception as exc:  # keep the other rates and the report
                result.error = f"{type(exc).__name__}: {exc}"
                log(f"latency {rate:,.0f}/s failed: {result.error}")
            finally:
                load.kill()
    finally:
        stop_when_idle(queries)
        sinks.close()
        offsets.close()
    return results


def stop_when_idle(queries: list[Any], timeout_s: float = 60) -> None:
    """Stop queries between micro-batches: stopping one inside foreachBatch makes Spark 4.1 log a
    StackOverflowError while it matches the cancelled job's long error message."""
    deadline = time.monotonic() + timeout_s
    pending = [q for q in queries if q.isActive]
    while pending and time.monotonic() < deadline:
        for q in list(pending):
            with contextlib.suppress(Exception):
                if not q.status.get("isTriggerActive", False):
                    q.stop()
                    pending.remove(q)
        time.sleep(0.05)
    for q in pending:
        with contextlib.suppress(Exception):
            q.stop()


class _FakeGroupState:
    """The slice of Spark's GroupState that update_symbol uses."""

    def __init__(self) -> None:
        self.value: tuple[str] | None = None

    @property
    def exists(self) -> bool:
        return self.value is not None

    @property
    def get(self) -> tuple[str]:
        assert self.value is not None
        return self.value

    def update(self, value: tuple[str]) -> None:
        self.value = value


def state_fn_micro(rows_per_call: Iterable[int], calls: int = 20) -> list[dict[str, float]]:
    """update_symbol alone, in this process: CPU per call (one symbol, one micro-batch) at several batch sizes.

    Each call gets `rows` ticks spread over 2 s of event time after the previous call's, as in a stream.
    """
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

    from marketpulse.stream.market_state import update_symbol

    out = []
    for rows in rows_per_call:
        state, step_ns = _FakeGroupState(), 2_000_000_000
        start_ns = (time.time_ns() // step_ns - 4 * calls) * step_ns
        rng = np.random.default_rng(1)

        frames = []
        for i in range(2 * calls):
            ts = pd.to_datetime(start_ns + i * step_ns + np.arange(rows) * (step_ns // rows))
            prices = 100 + rng.random(rows)
            frames.append(pd.DataFrame({"symbol": "SYN0001", "ts": ts, "price": prices, "size": 100.0, "kafka_ts": ts}))
        for i in range(calls):  # warm-up: open bars, indicator tail, pandas caches
            list(update_symbol(("SYN0001",), iter([frames[i]]), state))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for i in range(calls, 2 * calls):
            list(update_symbol(("SYN0001",), iter([frames[i]]), state))
        cpu = (time.process_time() - cpu0) / calls
        wall = (time.perf_counter() - wall0) / calls
        out.append({"rows": rows, "cpu_ms": cpu * 1000, "wall_ms": wall * 1000})
        log(f"  state fn alone: {rows:,} rows/call -> {cpu * 1000:.0f} ms CPU per call")
    return out


# --------------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------------


def _f(value: float, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _r(ratio: float) -> str:
    return "n/a" if math.isnan(ratio) else f"{ratio:.3g}"


def render(
    args: argparse.Namespace,
    meta: dict[str, Any],
    stages: list[Stage],
    b2: dict[str, Any] | None,
    latency: list[LatencyResult],
    micro: list[dict[str, float]] | None = None,
) -> str:
    from marketpulse.stream.market_job import FEATURES_QUERY, LAKE_QUERY

    by_key = {s.key: s for s in stages}
    b0a, b0b = by_key.get("B0a"), by_key.get("B0b")
    lines = [
        f"# MarketPulse market pipeline benchmark — {meta['started']}",
        "",
        f"- command: `{meta['command']}`",
        f"- machine: {meta['machine']}; load average at start {meta['load_start']}, at end {meta['load_end']}",
        "- the machine was shared: other people's stacks and tests ran at the same time (column 'others' = share "
        "of all cores used by processes outside this benchmark during the stage); compare ratios within one run",
        f"- data: {args.events:,} synthetic ticks, {args.symbols} symbols, one topic with {args.partitions} "
        f"partitions, produced once at {meta['produce_eps']:,.0f}/s; Spark {meta['spark_master']}, "
        f"maxOffsetsPerTrigger {args.max_offsets:,}",
        f"- git: {meta['git']}; total wall time of this run {meta['wall']}",
        "",
        "## Throughput (same broker, same pre-loaded topic)",
        "",
        "| Stage | What | Events | Wall s | Events/s | × B0a | × B0b | CPU-s/M pipeline | CPU-s/M servers "
        "| CPU-s/M total | others |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in stages:
        if s.error:
            lines.append(f"| {s.key} | {s.what} | failed: {s.error} | | | | | | | | |")
            continue
        cpu = s.cpu
        ratio_a = s.eps / b0a.eps if b0a and b0a.eps else float("nan")
        ratio_b = s.eps / b0b.eps if b0b and b0b.eps else float("nan")
        lines.append(
            f"| {s.key} | {s.what} | {s.events:,} | {s.seconds:.1f} | {_f(s.eps)} | {_r(ratio_a)} | "
            f"{_r(ratio_b)} | {_f(s.per_m(cpu.pipeline_s) if cpu else float('nan'), 1)} | "
            f"{_f(s.per_m(cpu.servers_s) if cpu else float('nan'), 1)} | "
            f"{_f(s.per_m(cpu.pipeline_s + cpu.servers_s) if cpu else float('nan'), 1)} | "
            f"{_f(100 * cpu.others_share if cpu else float('nan'))}% |"
        )
    lines += ["", "Notes: " + "; ".join(f"**{s.key}** {s.note}" for s in stages if s.note), ""]
    lines += [
        "## CPU by process (CPU-seconds per million events)",
        "",
        "| Stage | " + " | ".join((*CLIENT_GROUPS, *SERVER_GROUPS)) + " | cores busy (ours) |",
        "|---|" + "---:|" * (len(CLIENT_GROUPS) + len(SERVER_GROUPS) + 1),
    ]
    for s in stages:
        if s.cpu is None or not s.events:
            continue
        cells = [_f(s.per_m(s.cpu.groups.get(g, 0.0)), 1) for g in (*CLIENT_GROUPS, *SERVER_GROUPS)]
        ours = (s.cpu.pipeline_s + s.cpu.servers_s) / max(s.cpu.wall_s, 1e-9)
        lines.append(f"| {s.key} | " + " | ".join(cells) + f" | {ours:.2f} |")
    lines.append("")

    if b2:
        probe, progress = b2["probe"], b2["progress"]
        lines += [
            "## B2: where a micro-batch spends its time",
            "",
            "| Query | batches | rows | trigger s | addBatch s | foreachBatch s | Spark jobs s | sinks s | "
            "driver glue s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for query in (FEATURES_QUERY, LAKE_QUERY):
            p, q = progress.get(query, {}), probe.get(query, {})
            lines.append(
                f"| {query} | {int(p.get('batches', 0))} | {int(p.get('rows', 0)):,} | "
                f"{p.get('triggerExecution', 0):.1f} | {p.get('addBatch', 0):.1f} | {q.get('total', 0):.1f} | "
                f"{q.get('spark', 0):.1f} | {q.get('sinks', 0):.1f} | {q.get('glue', 0):.1f} |"
            )
        state = probe["state_fn"]
        lines += [
            "",
            f"- state function (update_symbol, in Spark's Python workers): {state['calls']:,} calls, "
            f"{state['wall']:.1f} s wall summed over calls ({state['cpu']:.1f} s CPU), {state['rows_out']:,} rows out; "
            f"with {meta['spark_master']} up to 2 run at once, so ≈ {state['wall'] / 2:.1f} s of the features "
            "query's 'Spark jobs' time",
            "- 'Spark jobs' = start of foreachBatch to the pandas frame in the driver (Kafka read, parse, shuffle, "
            "state function, Arrow); 'sinks' = calls on the store clients; 'glue' = the rest (pandas in the driver)",
        ]
        for query in (FEATURES_QUERY, LAKE_QUERY):
            sinks = probe.get(query, {}).get("by_sink", {})
            if sinks:
                lines.append(
                    f"- {query} sinks: " + ", ".join(f"{label} {seconds:.2f} s" for label, seconds in sinks.items())
                )
        lines.append("")

    if micro:
        symbols = args.symbols
        lines += [
            "## The state function alone (update_symbol in this process, no Spark, no Arrow)",
            "",
            "| ticks per call (one symbol, one batch) | CPU ms per call | CPU-s per batch of "
            f"{symbols} symbols | ticks/s ceiling on 2 cores at that batch size |",
            "|---:|---:|---:|---:|",
        ]
        for m in micro:
            per_batch = m["cpu_ms"] / 1000 * symbols
            ceiling = 2 * m["rows"] * symbols / per_batch if per_batch else float("nan")
            lines.append(f"| {m['rows']:,.0f} | {m['cpu_ms']:.0f} | {per_batch:.1f} | {_f(ceiling)} |")
        lines += [
            "",
            "A fixed cost per (symbol, micro-batch) dominates: every batch pays it once per symbol, whatever its "
            "size, so the batch time has a floor of about symbols × that cost / 2 cores.",
            "",
        ]

    if latency:
        lines += [
            f"## Latency: open-loop load into the running job (trigger '{args.trigger}', {args.warmup:.0f} s warm-up, "
            f"{args.steady:.0f} s window)",
            "",
            "| Offered/s | produced/s | processed/s | batches | rows/batch | s/batch | p50 s | p95 s | p99 s | max s "
            "| samples | lag start → end | kept up | CPU-s/M total | others |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|",
        ]
        for r in latency:
            if r.error and not r.samples:
                lines.append(f"| {r.rate:,.0f} | failed: {r.error} |" + " |" * 13)
                continue
            cpu = r.cpu
            per_m = (cpu.pipeline_s + cpu.servers_s) / max(r.produced, 1) * 1e6 if cpu else float("nan")
            lines.append(
                f"| {r.rate:,.0f} | {_f(r.produced_eps)} | {_f(r.processed_eps)} | {r.batches} | "
                f"{_f(r.mean_batch_rows)} | {r.mean_batch_s:.2f} | {_f(r.pct(50), 2)} | {_f(r.pct(95), 2)} | "
                f"{_f(r.pct(99), 2)} | {_f(max(r.samples) if r.samples else float('nan'), 2)} | {len(r.samples):,} | "
                f"{r.lag_start:,} → {r.lag_end:,} | {'yes' if r.kept_up else 'NO'} | {_f(per_m, 1)} | "
                f"{_f(100 * cpu.others_share if cpu else float('nan'))}% |"
            )
        lines += ["", "Per features micro-batch in the window (means):", ""]
        for r in latency:
            if r.breakdown:
                lines.append(
                    f"- {r.rate:,.0f}/s: "
                    + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.breakdown.items())
                )
        lines += [
            "",
            "Samples: one per symbol per features batch — Kafka CreateTime of its oldest tick in the batch → the end "
            "of that batch's writes to Cassandra, Postgres and Redis (`MarketSinks.latencies`); collected from the "
            f"start of the window until the job has drained the window's ticks (at most {args.drain:.0f} s after).",
            "",
        ]

    b2_stage = by_key.get("B2")
    half = [r for r in latency if r.rate == TARGET_EPS / 2]
    lines += ["## Targets", ""]
    if b2_stage and not b2_stage.error:
        verdict = "met" if b2_stage.eps >= TARGET_EPS else "NOT met"
        lines.append(
            f"- ≥ {TARGET_EPS:,} ticks/s sustained through the full job: B2 reached {b2_stage.eps:,.0f}/s — {verdict}"
        )
    else:
        lines.append(f"- ≥ {TARGET_EPS:,} ticks/s sustained through the full job: B2 not measured")
    if half and half[0].samples:
        r = half[0]
        verdict = "met" if r.pct(99) <= TARGET_P99_S and r.kept_up else "NOT met"
        lines.append(
            f"- p99 ≤ {TARGET_P99_S:.0f} s at {TARGET_EPS // 2:,}/s: p99 {r.pct(99):.2f} s, "
            f"kept up: {'yes' if r.kept_up else 'no'} — {verdict}"
        )
    else:
        lines.append(f"- p99 ≤ {TARGET_P99_S:.0f} s at {TARGET_EPS // 2:,}/s: not measured at that rate")
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.market_pipeline",
        description=(
            "Benchmark the market pipeline on its own 'bench' stack (ports +30000): raw Kafka ceiling (B0a), Spark "
            "source (B0b), parse (B1), the full market job (B2), a seed-style peer, and end-to-end latency at fixed "
            "rates. Prints a Markdown table and writes it to bench/results/."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="ticks pre-loaded into the topic")
    parser.add_argument("--symbols", type=int, default=100, help="synthetic symbols")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of the bench topics")
    parser.add_argument("--max-offsets", type=int, default=500_000, help="maxOffsetsPerTrigger of the Spark stages")
    parser.add_argument("--peer-max", type=int, default=50_000, help="peer: stop after this many ticks")
    parser.add_argument("--peer-seconds", type=float, default=60, help="peer: stop after this many seconds")
    parser.add_argument(
        "--rates", type=lambda s: [float(x) for x in s.split(",") if x], default=[5_000.0, 25_000.0],
        help="latency: offered rates, ticks/s, comma-separated",
    )  # fmt: skip
    parser.add_argument("--warmup", type=float, default=30, help="latency: seconds before each window")
    parser.add_argument("--steady", type=float, default=60, help="latency: length of each measured window, s")
    parser.add_argument("--drain", type=float, default=30, help="latency: max seconds to wait for the window's tail")
    parser.add_argument(
        "--trigger", default="0 seconds", help="processingTime trigger of the features query in the latency phase"
    )
    parser.add_argument("--stage-timeout", type=float, default=900, help="give up on a Spark stage after this, s")
    parser.add_argument(
        "--skip", type=lambda s: {x.strip().lower() for x in s.split(",") if x.strip()}, default=set(),
        help="stages to skip, comma-separated: b0a,peer,state,b0b,b1,b2,latency",
    )  # fmt: skip
    parser.add_argument("--keep-stack", action="store_true", help="leave the bench stack running at the end")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the Markdown report goes")
    return parser.parse_args(argv)


def _git() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + (" (working tree has changes)" if dirty.stdout.strip() else "")
    except Exception:
        return "unknown"


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _run_stage(stages: list[Stage], key: str, what: str, fn: Callable[[], Stage]) -> Stage | None:
    log(f"{key}: {what} ...")
    try:
        stage = fn()
    except Exception as exc:
        stage = Stage(key, what, error=f"{type(exc).__name__}: {exc}"[:300])
        log(f"{key} failed: {stage.error}")
        stages.append(stage)
        return None
    stages.append(stage)
    cpu = stage.cpu
    log(
        f"{key}: {stage.events:,} events in {stage.seconds:.1f}s = {stage.eps:,.0f}/s"
        + (f", {stage.per_m(cpu.pipeline_s + cpu.servers_s):.1f} CPU-s per million events" if cpu else "")
    )
    return stage


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started_at = datetime.now(UTC)
    run_started = time.monotonic()
    meta: dict[str, Any] = {
        "started": started_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": " ".join([Path(sys.executable).name, "-m", "bench.market_pipeline", *(argv or sys.argv[1:])]),
        "machine": f"{platform.node()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB RAM",
        "load_start": _load(),
        "git": _git(),
        "produce_eps": 0.0,
    }
    settings = bench_settings()
    meta["spark_master"] = settings.spark.master
    workdir = Path(tempfile.mkdtemp(prefix="mp-bench-"))
    run_id = uuid.uuid4().hex[:8]
    topic = f"bench.ticks.{run_id}"
    stack = Stack(settings, progress=lambda message: log(f"stack: {message}"))
    stages: list[Stage] = []
    b2_detail: dict[str, Any] | None = None
    latency: list[LatencyResult] = []
    micro: list[dict[str, float]] = []
    started_stack = False
    spark = probe = collector = None
    try:
        started_stack = ensure_stack(stack)
        servers = {row.name: row.pid for row in stack.status() if row.pid}
        log(f"servers: {', '.join(f'{name} pid {pid}' for name, pid in servers.items())}")
        job_settings = with_stream(settings, workdir / "ckpt-b2", args.max_offsets, args.trigger)

        create_topic(settings, topic, args.partitions)
        log(f"producing {args.events:,} ticks over {args.symbols} symbols into {topic} ({args.partitions} partitions)")
        load = LoadGenerator(settings, topic, args.symbols, 0, count=args.events)
        load.start()
        report = load.result(timeout_s=1800)
        offsets = Offsets(settings, topic, args.partitions)
        in_topic = offsets.total()
        offsets.close()
        meta["produce_eps"] = report["sent"] / report["flushed_s"]
        log(f"produced {report['sent']:,} in {report['flushed_s']:.1f}s ({meta['produce_eps']:,.0f}/s); topic holds "
            f"{in_topic:,}")  # fmt: skip
        if in_topic != args.events:
            raise RuntimeError(f"topic holds {in_topic:,} records, expected {args.events:,}")

        def meter() -> CpuMeter:
            return CpuMeter(servers)

        if "b0a" not in args.skip:
            _run_stage(
                stages,
                "B0a",
                "raw confluent-kafka consumer",
                lambda: stage_b0a(settings, topic, args.partitions, args.events, meter()),
            )
        if "peer" not in args.skip:
            _run_stage(
                stages,
                "Peer",
                "seed-style per-row consumer",
                lambda: stage_peer(settings, topic, args.peer_max, args.peer_seconds, meter()),
            )

        if "state" not in args.skip:
            log("state function alone (update_symbol, in-process) ...")
            try:
                micro = state_fn_micro([10, 100, 1_000, 10_000])
            except Exception as exc:
                log(f"state function micro-benchmark failed: {type(exc).__name__}: {exc}")

        spark_needed = {"b0b", "b1", "b2", "latency"} - args.skip
        if spark_needed:
            from marketpulse.stream.session import spark_session

            log("starting Spark ...")
            spark = spark_session(job_settings, "marketpulse-bench")
            spark.sparkContext.setLogLevel("WARN")
            collector = ProgressCollector(spark)
            _spark_warmup(spark, job_settings, topic, args.partitions)

        if "b0b" not in args.skip:
            _run_stage(
                stages,
                "B0b",
                "Spark Kafka source -> noop",
                lambda: stage_spark_noop(spark, job_settings, topic, False, workdir, meter(), args.stage_timeout),
            )
        if "b1" not in args.skip:
            _run_stage(
                stages,
                "B1",
                "Spark parse + validate -> noop",
                lambda: stage_spark_noop(spark, job_settings, topic, True, workdir, meter(), args.stage_timeout),
            )
        if {"b2", "latency"} - args.skip:
            probe = JobProbe(workdir)
            probe.install()
        if "b2" not in args.skip:
            holder: dict[str, Any] = {}

            def run_b2() -> Stage:
                stage, holder["detail"] = stage_b2(
                    spark, job_settings, topic, probe, collector, meter(), args.stage_timeout
                )
                return stage

            _run_stage(stages, "B2", "the full market job, availableNow", run_b2)
            b2_detail = holder.get("detail")
        if "latency" not in args.skip:
            latency = latency_phase(spark, settings, args, run_id, probe, collector, servers, workdir)
    except KeyboardInterrupt:
        log("interrupted: reporting what was measured")
    finally:
        if probe is not None:
            probe.uninstall()
        if collector is not None:
            collector.close()
        if spark is not None:
            with contextlib.suppress(Exception):
                spark.stop()
        if started_stack and not args.keep_stack:
            log("stopping the bench stack (use --keep-stack to leave it running)")
            stack.down()
        shutil.rmtree(workdir, ignore_errors=True)

    wall = time.monotonic() - run_started
    meta["wall"] = f"{wall / 60:.1f} min"
    meta["load_end"] = _load()
    text = render(args, meta, stages, b2_detail, latency, micro)
    print("\n" + text, flush=True)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"market_pipeline-{started_at.strftime('%Y%m%d-%H%M%S')}.md"
    out.write_text(text)
    log(f"written {out} (run took {wall / 60:.1f} min)")
    return 0 if stages and not any(s.error for s in stages) else 1


def _spark_warmup(spark: Any, settings: Settings, topic: str, partitions: int) -> None:
    """One small batch read + parse, so class loading and JIT of the Kafka source are not charged to B0b."""
    from marketpulse.contracts import Tick
    from marketpulse.contracts.spark import parse_wire

    started = time.monotonic()
    offsets = Offsets(settings, topic, partitions)
    high = offsets.high()
    offsets.close()
    ending = json.dumps({topic: {str(p): min(5_000, h) for p, h in high.items()}})
    raw = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", ending)
        .load()
    )
    parse_wire(raw, Tick).write.format("noop").mode("overwrite").save()
    log(f"Spark warm-up (batch read of 5,000 per partition) took {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
