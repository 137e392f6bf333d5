"""The Spark stages: B0b (Kafka source -> noop), B1 (+ parse), B2 (the full market job, availableNow) and the
latency windows (the job RUNNING, fed by an open-loop producer), measured with the job's own instruments
(`job.timings`, `job.tick_latencies`, `job.latencies`, `job.archive_latencies`) and Spark's progress events."""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.market.client_probe import ClientProbe
from bench.market.cpu import CpuMeter
from bench.market.kafka_io import LoadGenerator, Offsets, create_topic
from bench.market.results import LatencyResult, Stage, log, percentile
from marketpulse.config import Settings

#: job.timings keys summed or averaged in the report (seconds per batch).
TIMING_KEYS = ("collect_s", "state_s", "score_s", "live_s", "spool_s", "total_s")


def job_settings(settings: Settings, workdir: Path, name: str, max_offsets: int, trigger: str) -> Settings:
    """The bench stack's settings with a fresh checkpoint (and spool) folder per job run, so runs never share
    batch ids."""
    update: dict[str, Any] = {
        "checkpoint_root": str(workdir / f"ckpt-{name}"),
        "max_offsets_per_trigger": max_offsets,
        "trigger_interval": trigger,
    }
    if "spool_root" in type(settings.stream).model_fields:
        update["spool_root"] = str(workdir / f"spool-{name}")
    return settings.model_copy(update={"stream": settings.stream.model_copy(update=update)})


class ProgressCollector:
    """A StreamingQueryListener keeping every progress event (recentProgress keeps only the last 100)."""

    def __init__(self, spark: Any) -> None:
        from pyspark.sql.streaming.listener import StreamingQueryListener

        events: list[dict[str, Any]] = []
        lock = threading.Lock()

        class _Listener(StreamingQueryListener):
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
        with self._lock:
            events = list(self.events)
        out, seen = [], set()
        for event in events:
            key = (event.get("runId"), event.get("batchId"))
            if event.get("name") not in wanted or not event.get("numInputRows") or key in seen:
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


def progress_totals(batches: list[dict[str, Any]]) -> dict[str, float]:
    """Sums of the durationMs parts (seconds) and input rows of some progress events."""
    totals: dict[str, float] = defaultdict(float)
    for b in batches:
        totals["rows"] += b.get("numInputRows", 0)
        for part, ms in b.get("durationMs", {}).items():
            totals[part] += ms / 1000
    totals["batches"] = len(batches)
    return dict(totals)


def timing_totals(timings: Iterable[dict[str, float]], since: float, until: float) -> dict[str, float]:
    """Sums of job.timings parts over the batches that ended in [since, until], plus their count and rows."""
    totals: dict[str, float] = defaultdict(float)
    for t in timings:
        if since <= t.get("end", 0.0) <= until:
            totals["batches"] += 1
            totals["rows"] += t.get("rows", 0)
            for key in TIMING_KEYS:
                totals[key] += t.get(key, 0.0)
    return dict(totals)


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


def spark_warmup(spark: Any, settings: Settings, topic: str, partitions: int) -> None:
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


def stage_spark_noop(
    spark: Any, settings: Settings, topic: str, parse: bool, workdir: Path, meter: CpuMeter, timeout_s: float
) -> Stage:
    from marketpulse.contracts import Tick
    from marketpulse.contracts.spark import parse_wire
    from marketpulse.stream.market_job import read_ticks

    key = "B1" if parse else "B0b"
    stage = Stage(key, "Spark Kafka source -> parse_wire + validate -> noop" if parse else "Spark Kafka source -> noop")
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
    spark: Any, settings: Settings, topic: str, collector: ProgressCollector, meter: CpuMeter, timeout_s: float
) -> Stage:
    """The full job over the pre-loaded topic: the live query until it has read everything, then job.close()
    (the archive thread flushes every committed batch to Cassandra, PostgreSQL and the lake), timed apart."""
    from marketpulse.stream.market_job import LIVE_QUERY, start_market_job

    stage = Stage("B2", "full market job (one query: parse, DLQ, state, Redis; archive thread: history stores)")
    since = time.time()
    meter.start()
    started = time.monotonic()
    live_s = close_s = float("nan")
    try:
        queries, job = start_market_job(spark, settings, available_now=True, topic=topic)
        try:
            done = await_queries(queries, "B2", timeout_s)
            live_s = time.monotonic() - started
        finally:
            close_started = time.monotonic()
            job.close()
            close_s = time.monotonic() - close_started
        stage.seconds = time.monotonic() - started
    finally:
        stage.cpu = meter.stop()
    time.sleep(2)  # the listener bus delivers the last progress events asynchronously
    until = time.time()
    progress = progress_totals(collector.batches([LIVE_QUERY], since, until))
    stage.events = int(progress.get("rows", 0))
    stage.extra = {
        "live_s": live_s,
        "archive_close_s": close_s,
        "live_eps": stage.events / live_s if live_s > 0 else float("nan"),
        "progress": progress,
        "timings": timing_totals(list(job.timings), since, until),
        "archive_samples": len(job.archive_latencies),
        "archive_p99_s": percentile(list(job.archive_latencies), 99),
    }
    stage.note = (
        f"availableNow, then job.close() flushes the archive: live {live_s:.1f} s + archive flush {close_s:.1f} s; "
        f"events/s counts both; no model promoted on the bench stack, so no scoring{'' if done else '; TIMED OUT'}"
    )
    return stage


class _LiveJob:
    """The market job running on a latency topic, with the lag of its live query."""

    def __init__(self, spark: Any, settings: Settings, topic: str, partitions: int) -> None:
        from marketpulse.stream.market_job import LIVE_QUERY, start_market_job

        self.topic = topic
        self.offsets = Offsets(settings, topic, partitions)
        self.queries, self.job = start_market_job(spark, settings, available_now=False, topic=topic)
        self.live = next(q for q in self.queries if q.name == LIVE_QUERY)

    def lag(self) -> int:
        """Kafka high watermarks minus the live query's last committed end offsets."""
        high = self.offsets.high()
        progress = self.live.lastProgress
        if progress is None:
            return sum(high.values())
        end = json.loads(progress.json)["sources"][0].get("endOffset") or {}
        if isinstance(end, str):
            end = json.loads(end)
        done = {int(p): int(o) for p, o in end.get(self.topic, {}).items()}
        return sum(max(0, h - done.get(p, 0)) for p, h in high.items())

    def check(self) -> None:
        if not self.live.isActive:
            raise RuntimeError(f"market job stopped: {self.live.exception()}")

    def clear_samples(self) -> None:
        for samples in (self.job.latencies, self.job.tick_latencies, self.job.archive_latencies):
            samples.clear()

    def close(self) -> None:
        stop_when_idle(self.queries)
        self.job.close()
        self.offsets.close()


def latency_phase(
    spark: Any,
    settings: Settings,
    args: argparse.Namespace,
    run_id: str,
    collector: ProgressCollector,
    servers: dict[str, int],
    workdir: Path,
) -> list[LatencyResult]:
    """The job left running (trigger args.trigger); one open-loop window per rate in args.rates."""
    topic = f"bench.latency.{run_id}"
    create_topic(settings, topic, args.partitions)
    running = job_settings(settings, workdir, "latency", args.max_offsets, args.trigger)
    live = _LiveJob(spark, running, topic, args.partitions)
    probe = ClientProbe(settings.redis_url).start()
    log(f"latency: market job running on {topic}, trigger '{args.trigger}'; pub/sub probe pid {probe.pid}")
    results = []
    try:
        _prime(live, settings, topic, args.symbols)
        for rate in args.rates:
            result = LatencyResult(rate=rate, trigger=args.trigger)
            results.append(result)
            try:
                _window(live, probe, result, settings, topic, args, servers, collector)
            except Exception as exc:  # keep the other rates and the report
                result.error = f"{type(exc).__name__}: {exc}"[:300]
                log(f"latency {rate:,.0f}/s failed: {result.error}")
    finally:
        probe.stop()
        live.close()
    return results


def _prime(live: _LiveJob, settings: Settings, topic: str, symbols: int) -> None:
    """Ticks stamped across a minute boundary two minutes ago, so the job runs every path once (1 s and 1 min
    bars closing, indicators, the model lookup) before anything is measured; later ticks are never late to them."""
    minute = (int(time.time()) - 120) // 60 * 60
    start = datetime.fromtimestamp(minute + 58, tz=UTC)
    primer = LoadGenerator(settings, topic, symbols, 0, count=symbols * 40, seed=1, start_ts=start)
    primer.start()
    primer.result(timeout_s=120)
    started = time.monotonic()
    while live.lag() > 0 and time.monotonic() - started < 300:
        live.check()
        time.sleep(0.5)
    log(f"latency: job primed in {time.monotonic() - started:.0f}s")


def _window(
    live: _LiveJob,
    probe: ClientProbe,
    result: LatencyResult,
    settings: Settings,
    topic: str,
    args: argparse.Namespace,
    servers: dict[str, int],
    collector: ProgressCollector,
) -> None:
    from marketpulse.stream.market_job import LIVE_QUERY

    rate = result.rate
    # The producer runs long enough for a warm-up that waits for the start-up backlog (at most 2 x warm-up).
    duration_s = 2 * args.warmup + args.steady + 1
    load = LoadGenerator(settings, topic, args.symbols, rate, duration_s=duration_s, seed=int(rate))
    try:
        load_started = load.start()
        log(f"latency {rate:,.0f}/s: open-loop producer pid {load.pid}; warm-up {args.warmup:.0f}s")
        time.sleep(args.warmup)
        _caught_up(live, rate, args.warmup)
        live.check()
        meter = CpuMeter(servers, {load.pid: "load-gen", probe.pid: "client-probe"})
        live.clear_samples()
        high0, since = live.offsets.total(), time.time()
        result.lag_start = live.lag()
        meter.start()
        _steady(live, rate, args.steady)
        until = time.time()
        result.lag_end = live.lag()
        result.cpu = meter.stop()
        result.produced = live.offsets.total() - high0
        result.produced_eps = result.produced / (until - since)
        report = load.result(timeout_s=180)
        if report.get("unflushed"):
            result.error = f"producer left {report['unflushed']} unflushed"
        result.drained_s = _drain(live, args.drain)
        # The window's last batches reach the history stores on the archive thread's next round.
        time.sleep(min(args.drain, getattr(settings.stream, "archive_interval_s", 5.0) + 1))
    finally:
        load.kill()
    result.tick_samples = list(live.job.tick_latencies)
    result.oldest_samples = list(live.job.latencies)
    result.archive_samples = list(live.job.archive_latencies)
    result.client = probe.window(since, time.time(), load_started)["samples"]
    progress = progress_totals(collector.batches([LIVE_QUERY], since, until))
    result.batches = int(progress.get("batches", 0))
    result.processed_eps = progress.get("rows", 0) / (until - since)
    result.mean_batch_rows = progress.get("rows", 0) / max(1, result.batches)
    result.mean_batch_s = progress.get("triggerExecution", 0) / max(1, result.batches)
    result.spark_parts = {
        part: seconds / max(1, result.batches)
        for part, seconds in progress.items()
        if part not in ("rows", "batches", "triggerExecution")
    }
    totals = timing_totals(list(live.job.timings), since, until)
    result.timings = {k: totals.get(k, 0.0) / max(1.0, totals.get("batches", 0.0)) for k in TIMING_KEYS}
    log(
        f"latency {rate:,.0f}/s: produced {result.produced_eps:,.0f}/s, processed {result.processed_eps:,.0f}/s; "
        f"tick->Redis p50 {result.pct(50):.2f}s p99 {result.pct(99):.2f}s ({len(result.tick_samples):,} samples); "
        f"client bar_1s p99 {result.client_pct('bar_1s', 99):.2f}s; archive p99 "
        f"{percentile(result.archive_samples, 99):.2f}s; lag {result.lag_start:,} -> {result.lag_end:,}"
    )


def _caught_up(live: _LiveJob, rate: float, max_s: float) -> None:
    """Wait (at most max_s) until the lag is under half a second of input: the window measures the job in steady
    state, not while it drains what piled up while its JVM warmed up; the report shows the lag at the start."""
    started = time.monotonic()
    while live.lag() > rate / 2 and time.monotonic() - started < max_s:
        live.check()
        time.sleep(0.5)
    log(f"  {rate:,.0f}/s: lag {live.lag():,} after {time.monotonic() - started:.0f}s more warm-up")


def _steady(live: _LiveJob, rate: float, seconds: float) -> None:
    window_end = time.monotonic() + seconds
    while time.monotonic() < window_end:
        time.sleep(min(10.0, max(0.0, window_end - time.monotonic())))
        live.check()
        recent = list(live.job.tick_latencies)
        last = live.live.lastProgress
        batch_s = json.loads(last.json)["durationMs"].get("triggerExecution", 0) / 1000 if last else 0
        log(
            f"  {rate:,.0f}/s: lag {live.lag():,}, last batch {batch_s:.2f}s, {len(recent):,} tick samples, "
            f"p99 so far {percentile(recent, 99):.2f}s"
        )


def _drain(live: _LiveJob, max_s: float) -> float | None:
    """Wait (at most max_s) until the job has read everything produced; seconds it took, None if it did not."""
    started = time.monotonic()
    while live.lag() > 0 and time.monotonic() - started < max_s:
        time.sleep(0.5)
    return time.monotonic() - started if live.lag() == 0 else None
