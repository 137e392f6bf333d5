"""`make chaos`: attack the running market pipeline one fault at a time and check the stores against the ticks sent.

    python -m bench.chaos                       # every scenario, ~15-25 min on a laptop
    python -m bench.chaos --scenario kill --kills 3 --ticks 6000

It starts its own stack instance ('chaos': every port shifted by 46000, data under .stack/chaos), launches the
market job the way `platform up` does (`stream.supervisor.launch_job`: spark-submit of spark/market_job.py),
runs the stream supervisor's judgement and restart path as shipped (`check_job`, then `restart_job` for a dead or
stuck job) every `--cadence` seconds (the DAG runs every minute), drives synthetic ticks at `--rate`, injects one
fault, and checks every store against the ground truth of the ticks it sent (their 1-min bars, exactly once):

- Cassandra `bars` (1min): every closed bar present, volume and close equal to the bars of the sent ticks;
- PostgreSQL `fact_bar_1m`: one row per closed bar;
- the raw lake (parquet): every sent tick exactly once;
- Redis latest state: each symbol's newest tick.

Each scenario prints one row: fault, load, time to detect (a new driver, or the first dead/stuck verdict, after the
fault), time to recover (fault -> first micro-batch of the job after it; for a store outage: store back -> every tick
sent by then in every store; for the burst: its end -> the lag under one second of nominal input), lost, duplicated,
wrong, verdict. Scenarios:

  kill              kill -9 of the market job's driver (spark-submit's JVM and the Python driver), `--kills` times at
                    random moments: its keeper starts it again
  kill-all          the same, with the driver's keeper killed too (its whole process group): the supervisor restarts it
  sentiment-kill    kill -9 of the sentiment job's driver while texts stream in (`--ticks`/10 texts at `--rate`/10 per
                    second): every text scored once in Cassandra, its windows counting it once, PostgreSQL's the same
  burst             10x the nominal rate (5,000 ticks/s) for 60 s between nominal phases, the API probed meanwhile:
                    no micro-batch above maxOffsetsPerTrigger, the lag drains, nothing dropped, API p99 within 2x
  redis             Redis stopped for `--outage` seconds mid-stream (the job must stay up and catch up)
  postgres, cassandra, s3
                    the same for PostgreSQL, Cassandra and the object store (SeaweedFS)
  kafka             the Kafka broker SIGKILLed mid-stream and started again (producer retries, job resumes)
  kafka-term        the same with SIGTERM (a controlled broker shutdown)
  replay-twice      the same ticks sent twice (operator mistake): stores identical to one replay
  platform-restart  the job stopped (`make down`), heartbeats left stale, launched again: no supervisor restart
                    during start-up

`--no-keeper` launches the jobs without their keeper, `--no-supervisor` lets the supervisor only judge: with both, a
killed job stays down and the kill rows FAIL. `tests/integration/test_chaos.py` runs a short kill (driver) and kill-all
in `make test` (marked slow).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from tests.factories import sample_text

from marketpulse.config import Settings, StreamSettings
from marketpulse.contracts import Topics, to_wire
from marketpulse.contracts.text import NewsArticle, TextItem
from marketpulse.features.bars import ticks_to_bars
from marketpulse.ingest.synthetic import tick_wire
from marketpulse.stack.manager import Stack
from marketpulse.stack.process import find_process
from marketpulse.stores.redis_store import heartbeat_key, latest_key, read_heartbeat, redis_client
from marketpulse.stream.market_job import LIVE_QUERY
from marketpulse.stream.supervisor import (
    MARKET_JOB,
    batch_offsets,
    check_job,
    driver_started_at,
    is_keeper,
    job_readiness,
    launch_job,
    restart_job,
    stream_job,
)

CHAOS_OFFSET = 46000
#: Event time of the synthetic ticks: one trading day (the lake and Cassandra partition by day).
START = datetime(2013, 2, 4, 14, 30, tzinfo=UTC)
SCENARIOS = (
    "kill",
    "kill-all",
    "sentiment-kill",
    "burst",
    "redis",
    "kafka",
    "kafka-term",
    "replay-twice",
    "platform-restart",
    "postgres",
    "cassandra",
    "s3",
)
#: Row names of the stores a scenario stops (stack service -> name).
STORE_NAMES = {"redis": "Redis", "postgres": "PostgreSQL", "cassandra": "Cassandra", "seaweedfs": "object store"}


def chaos_settings(offset: int = CHAOS_OFFSET, name: str = "chaos") -> Settings:
    from marketpulse.stack.instances import side_by_side_settings

    return side_by_side_settings(name, offset)


# --- load and ground truth -----------------------------------------------------------------------------------


def synthetic_ticks(symbols: list[str], count: int, seed: int, per_second: int = 4) -> pd.DataFrame:
    """`count` ticks over the symbols, ~`per_second` per second of event time each, random-walk prices, in event-time
    order (distinct times per symbol, whole milliseconds)."""
    rng = np.random.default_rng(seed)
    per_symbol = max(1, count // len(symbols))
    span_ms = per_symbol * 1000 // per_second
    frames = []
    for number, symbol in enumerate(symbols):
        offsets = np.sort(rng.choice(span_ms, size=per_symbol, replace=False))
        prices = 20 * (number + 1) * np.exp(np.cumsum(rng.normal(0, 0.0008, per_symbol)))
        frames.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "ts": pd.Timestamp(START) + pd.to_timedelta(offsets, unit="ms"),
                    "price": np.round(prices, 4),
                    "size": rng.integers(1, 400, per_symbol).astype(float),
                    "seq": np.arange(per_symbol),
                }
            )
        )
    return pd.concat(frames).sort_values("ts", kind="stable").reset_index(drop=True)


def tick_messages(ticks: pd.DataFrame) -> Iterator[tuple[str, bytes, bytes]]:
    """(topic, key, value) of each tick, made as they are sent (a million ticks never sit in memory as bytes), with
    the bytes `to_wire(Tick(...))` gives (`tick_wire`: fast enough for a 50k ticks/s burst from one thread)."""
    wire = tick_wire("chaos")
    ts_us = (ticks["ts"].astype("int64") // 1000).tolist()
    columns = (ticks["symbol"].tolist(), ts_us, ticks["price"].tolist(), ticks["size"].tolist(), ticks["seq"].tolist())
    for symbol, ts, price, size, seq in zip(*columns, strict=True):
        yield Topics.TICKS, symbol.encode(), wire(symbol, ts, price, size, seq)


def text_messages(items: list[TextItem]) -> Iterator[tuple[str, bytes, bytes]]:
    for item in items:
        topic = Topics.NEWS_ARTICLES if isinstance(item, NewsArticle) else Topics.SOCIAL_POSTS
        yield topic, item.symbols[0].encode(), to_wire(item)


class Pacer:
    """When message i is due (seconds from the start), over phases of (messages, rate per second): open loop, so a
    slow consumer never lowers the offered rate."""

    def __init__(self, phases: list[tuple[int, float]]) -> None:
        self.phases = phases
        self.ends = list(np.cumsum([count for count, _ in phases]))
        self.phase = 0
        self.phase_start_i = 0
        self.phase_start_s = 0.0

    def due_s(self, i: int) -> float:
        while self.phase < len(self.phases) - 1 and i >= self.ends[self.phase]:
            count, rate = self.phases[self.phase]
            self.phase_start_s += count / rate
            self.phase_start_i += count
            self.phase += 1
        return self.phase_start_s + (i - self.phase_start_i) / self.phases[self.phase][1]


class Load:
    """Sends messages (`tick_messages`, `text_messages`) at `rate` per second, or over phases of (messages, rate),
    from a thread (idempotent producer that rides out a broker restart: it buffers and retries for up to 10 min)."""

    def __init__(
        self,
        settings: Settings,
        messages: pd.DataFrame | Iterator[tuple[str, bytes, bytes]],
        rate: float | list[tuple[int, float]],
    ) -> None:
        self.settings = settings
        self.messages = tick_messages(messages) if isinstance(messages, pd.DataFrame) else messages
        self.pacer = Pacer(rate if isinstance(rate, list) else [(2**62, rate)])
        self.sent = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="chaos-load", daemon=True)

    def start(self) -> Load:
        self._thread.start()
        return self

    def _run(self) -> None:
        from confluent_kafka import Producer

        producer = Producer(
            {
                "bootstrap.servers": self.settings.kafka_bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "message.timeout.ms": 600_000,
                "linger.ms": 20,
            }
        )
        started = time.monotonic()
        try:
            for topic, key, value in self.messages:
                while True:
                    try:
                        producer.produce(topic, key=key, value=value)
                        break
                    except BufferError:
                        producer.poll(0.5)
                self.sent += 1
                ahead = self.pacer.due_s(self.sent) - (time.monotonic() - started)
                if ahead > 0:
                    producer.poll(ahead)
            remaining = producer.flush(600)
            if remaining:
                raise RuntimeError(f"{remaining} ticks not delivered within 10 minutes")
        except BaseException as exc:
            self.error = exc

    def wait(self, timeout_s: float = 900) -> None:
        self._thread.join(timeout_s)
        if self.error is not None:
            raise self.error


@dataclass
class Truth:
    """What the stores must hold for the sent ticks."""

    ticks: pd.DataFrame
    closed: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        bars = ticks_to_bars(self.ticks, "1min")
        # The newest minute of each symbol stays open (no later tick closes it): not in the history stores yet.
        self.closed = bars[bars.groupby("symbol")["ts"].transform("max") != bars["ts"]].reset_index(drop=True)

    @property
    def symbols(self) -> list[str]:
        return sorted(set(self.ticks["symbol"]))

    def head(self, count: int) -> Truth:
        """The truth of the first `count` ticks sent."""
        return Truth(self.ticks.iloc[:count].reset_index(drop=True))


@dataclass
class Tally:
    lost: int = 0
    duplicated: int = 0
    wrong: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.lost == self.duplicated == self.wrong == 0


def _cassandra_bars(settings: Settings, symbols: list[str]) -> pd.DataFrame:
    from marketpulse.stores.cassandra import cassandra_cluster

    cluster = cassandra_cluster(settings)
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        rows = [
            row
            for symbol in symbols
            for row in session.execute(
                "SELECT symbol, ts, volume, close FROM bars WHERE symbol = %s AND interval = %s AND day = %s",
                (symbol, "1min", START.date()),
            )
        ]
    finally:
        cluster.shutdown()
    frame = pd.DataFrame(rows, columns=["symbol", "ts", "volume", "close"])
    frame["ts"] = pd.to_datetime(frame["ts"]).dt.tz_localize("UTC") if len(frame) else frame["ts"]
    return frame


def _postgres_counts(settings: Settings, symbols: list[str]) -> dict[str, int]:
    import psycopg

    with psycopg.connect(settings.postgres_dsn()) as conn:
        rows = conn.execute(
            "SELECT symbol, count(*) FROM fact_bar_1m WHERE symbol = ANY(%s) GROUP BY symbol", (symbols,)
        ).fetchall()
    return {symbol: int(count) for symbol, count in rows}


def _lake_ticks(settings: Settings, symbols: list[str]) -> dict[str, int]:
    import pyarrow.parquet as pq

    from marketpulse.stores.objectstore import lake_filesystem

    fs = lake_filesystem(settings)
    fs.invalidate_cache()  # s3fs caches listings: a poll must see the files archived since the last one
    landed = {}
    for symbol in symbols:
        paths = fs.glob(f"{settings.s3.buckets['raw']}/ticks/date={START.date()}/symbol={symbol}/*.parquet")
        total = 0
        for path in paths:
            with fs.open(path, "rb") as handle:
                total += pq.read_table(handle).num_rows
        landed[symbol] = total
    return landed


def tally(settings: Settings, truth: Truth) -> Tally:
    """Lost, duplicated and wrong rows of every store against the truth."""
    result = Tally()
    symbols = truth.symbols
    got = _cassandra_bars(settings, symbols)
    want = truth.closed
    merged = want.merge(got, on=["symbol", "ts"], how="left", suffixes=("", "_got"))
    missing = int(merged["volume_got"].isna().sum())
    present = merged.dropna(subset=["volume_got"])
    off = sum(
        int((~np.isclose(present[name].astype(float), present[f"{name}_got"].astype(float), rtol=1e-9)).sum())
        for name in ("volume", "close")
    )
    result.lost += missing
    result.wrong += off
    if missing or off:
        result.notes.append(f"cassandra: {missing} bars missing, {off} values wrong")
    counts = _postgres_counts(settings, symbols)
    expected = want.groupby("symbol").size().to_dict()
    for symbol in symbols:
        diff = counts.get(symbol, 0) - int(expected.get(symbol, 0))
        if diff:
            result.lost += max(0, -diff)
            result.duplicated += max(0, diff)
            result.notes.append(f"postgres {symbol}: {diff:+d} bars")
    landed = _lake_ticks(settings, symbols)
    sent = truth.ticks.groupby("symbol").size().to_dict()
    for symbol in symbols:
        diff = landed.get(symbol, 0) - int(sent[symbol])
        if diff:
            result.lost += max(0, -diff)
            result.duplicated += max(0, diff)
            result.notes.append(f"lake {symbol}: {diff:+d} ticks")
    client = redis_client(settings)
    try:
        last = truth.ticks.groupby("symbol").tail(1).set_index("symbol")["price"].to_dict()
        for symbol in symbols:
            price = client.hget(latest_key(symbol), "tick.price")
            if price is None or not np.isclose(float(price), float(last[symbol])):
                result.wrong += 1
                result.notes.append(f"redis {symbol}: tick.price {price}, sent last {last[symbol]}")
    finally:
        client.close()
    return result


def wait_for_stores(settings: Settings, truth: Truth, timeout_s: float) -> Tally:
    """Poll until every store holds the truth (the archive runs on its own cadence) or the time is up."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = tally(settings, truth)
        if result.clean or time.monotonic() > deadline:
            return result
        time.sleep(5)


def wait_until_none_lost(settings: Settings, truth: Truth, timeout_s: float) -> float | None:
    """Unix time at which every store holds all of `truth` (rows of later ticks may be there too), or None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # a store may still be starting
            if tally(settings, truth).lost == 0:
                return time.time()
        time.sleep(2)
    return None


# --- the job and the supervisor ------------------------------------------------------------------------------


@dataclass
class Events:
    """Times (monotonic) the supervisor loop and the fault injector saw."""

    verdicts: list[tuple[float, str, str]] = field(default_factory=list)
    restarts: list[tuple[float, dict[str, object]]] = field(default_factory=list)

    def first_verdict(self, after: float, verdicts: tuple[str, ...] = ("dead", "stuck")) -> float | None:
        return next((at for at, verdict, _ in self.verdicts if at >= after and verdict in verdicts), None)


class Supervisor:
    """The stream_supervisor DAG's logic as shipped (check_job, then restart_job of a dead or stuck job) every
    `cadence_s`, in a thread; `enabled=False` only judges (a harness check that recovery really is needed)."""

    def __init__(self, settings: Settings, cadence_s: float, *, enabled: bool = True, job: str = MARKET_JOB) -> None:
        self.settings = settings
        self.job = job
        self.cadence_s = cadence_s
        self.enabled = enabled
        self.events = Events()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-supervisor", daemon=True)

    def __enter__(self) -> Supervisor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop judging (waits for a restart in progress)."""
        self._stop.set()
        self._thread.join(timeout=600)

    @property
    def restarts(self) -> list[tuple[float, dict[str, object]]]:
        """The restarts it really made (a restart that found the job launched, recovered or stopped is skipped)."""
        return [(at, outcome) for at, outcome in self.events.restarts if "skipped" not in outcome]

    def _run(self) -> None:
        spec = stream_job(self.job)
        while not self._stop.wait(self.cadence_s):
            try:
                verdict = check_job(self.settings, spec)
            except Exception as exc:  # a store down: the DAG's check task fails, the next minute tries again
                self.events.verdicts.append((time.monotonic(), "check-failed", str(exc)[:200]))
                continue
            self.events.verdicts.append((time.monotonic(), verdict.verdict, verdict.reason))
            if verdict.needs_restart and self.enabled:
                try:
                    outcome = restart_job(
                        self.settings, self.job, verdict=verdict.verdict, reason=verdict.reason, seen_pid=verdict.pid
                    )
                except Exception as exc:
                    outcome = {"error": str(exc)[:300]}
                self.events.restarts.append((time.monotonic(), outcome))


def driver_start(settings: Settings, job: str = MARKET_JOB) -> float | None:
    """When the job's current driver started (a restart of the driver, by its keeper or the supervisor, changes it)."""
    proc = find_process(stream_job(job).app(settings).pid_path)
    return driver_started_at(proc) if proc is not None else None


def newest_batch(settings: Settings, query: str = LIVE_QUERY) -> tuple[int | None, float | None, int | None]:
    """(batch id, unix time, pid) of a query's newest heartbeat (the market job's live query by default)."""
    client = redis_client(settings)
    try:
        beat = read_heartbeat(client, query)
    finally:
        client.close()
    return (beat.batch_id, beat.at, beat.pid) if beat else (None, None, None)


def wait_for_batch_after(
    settings: Settings, since_unix: float, timeout_s: float, query: str = LIVE_QUERY
) -> float | None:
    """Unix time of the first micro-batch heartbeat written after `since_unix` (None: none within the timeout)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # Redis may be the store that is down
            _, at, _ = newest_batch(settings, query)
            if at is not None and at > since_unix:
                return at
        time.sleep(0.5)
    return None


def stop_job(settings: Settings, job: str = MARKET_JOB) -> None:
    """What `make down` does to the job (`platform down` -> MarketJobApp.stop)."""
    stream_job(job).app(settings).stop()


def kill_driver(settings: Settings, job: str = MARKET_JOB) -> None:
    """kill -9 of the job's driver: spark-submit's JVM and the Python driver it started. Its keeper (when the job
    runs under one) lives on, as a cluster manager does when a driver's container dies."""
    proc = find_process(stream_job(job).app(settings).pid_path)
    if proc is None:
        raise RuntimeError(f"{job} is not running")
    if not is_keeper(proc.cmdline()):
        os.killpg(os.getpgid(proc.pid), signal.SIGKILL)
        return
    for driver in proc.children():
        for victim in [driver, *driver.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                victim.kill()


def kill_unit(settings: Settings, job: str = MARKET_JOB) -> None:
    """kill -9 of the job's whole process group: its keeper and its driver (only the supervisor can restart it)."""
    proc = find_process(stream_job(job).app(settings).pid_path)
    if proc is None:
        raise RuntimeError(f"{job} is not running")
    os.killpg(os.getpgid(proc.pid), signal.SIGKILL)


def ensure_topic(settings: Settings, topics: tuple[str, ...] = (Topics.TICKS,)) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    missing = [topic for topic in topics if topic not in admin.list_topics(timeout=30).topics]
    if not missing:
        return
    partitions = settings.kafka.default_partitions
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions) for topic in missing])
    for future in futures.values():
        with contextlib.suppress(Exception):
            future.result(30)


@contextlib.contextmanager
def running_job(settings: Settings, ready_timeout_s: float = 300, job: str = MARKET_JOB) -> Iterator[None]:
    """The job launched as `platform up` does, ready (its queries run), stopped at the end."""
    spec = stream_job(job)
    for _, topics in spec.queries:
        ensure_topic(settings, topics)
    proc = launch_job(settings, job)
    deadline = time.monotonic() + ready_timeout_s
    try:
        while not job_readiness(settings, spec, driver_started_at(proc))[0]:
            if not proc.is_running() or time.monotonic() > deadline:
                log = spec.app(settings).log_path
                raise RuntimeError(f"{job} did not start; see {log}")
            time.sleep(1)
        yield
    finally:
        stop_job(settings, job)


# --- scenarios ---------------------------------------------------------------------------------------------------


@dataclass
class Row:
    fault: str
    load: str
    detect_s: float | None
    recover_s: float | None
    tally: Tally
    goal_recover_s: float | None = 60.0
    extra: str = ""
    #: Restarts the supervisor made during the scenario (None: not counted).
    supervisor_restarts: int | None = None
    #: A goal other than recovery time that was missed (the row then says MISS).
    goal_note: str | None = None

    @property
    def verdict(self) -> str:
        if not self.tally.clean:
            return "FAIL"
        if self.recover_s is None:
            return "FAIL"
        if self.goal_recover_s is not None and self.recover_s > self.goal_recover_s:
            return f"MISS (>{self.goal_recover_s:.0f}s)"
        if self.goal_note is not None:
            return f"MISS ({self.goal_note})"
        return "PASS"

    def cells(self) -> list[str]:
        def seconds(value: float | None) -> str:
            return "-" if value is None else f"{value:.0f}s"

        t = self.tally
        return [self.fault, self.load, seconds(self.detect_s), seconds(self.recover_s), str(t.lost), str(t.duplicated)]

    def line(self) -> str:
        cells = [*self.cells(), str(self.tally.wrong), self.verdict]
        widths = (30, 22, 8, 9, 6, 6, 6, 12)
        text = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        notes = "; ".join([*self.tally.notes[:4], self.extra] if self.extra else self.tally.notes[:4])
        return text + (f"  {notes}" if notes else "")


HEADER = "  ".join(
    name.ljust(width)
    for name, width in zip(
        ("fault", "load", "detect", "recover", "lost", "dup", "wrong", "verdict"),
        (30, 22, 8, 9, 6, 6, 6, 12),
        strict=True,
    )
)


@dataclass
class Options:
    ticks: int = 6000
    rate: float = 100.0
    symbols: int = 4
    kills: int = 3
    cadence_s: float = 60.0
    outage_s: float = 60.0
    settle_s: float = 240.0
    #: How long after a kill the job may take to write a batch again before the scenario calls it lost.
    recover_timeout_s: float = 300.0
    #: The stream supervisor restarts a dead or stuck job (off: it only judges).
    restart: bool = True
    #: The job runs under its keeper, which starts a dead driver again at once (off: spark-submit alone).
    keeper: bool = True
    #: The burst scenario: nominal ticks/s, then `burst_factor` times that for `burst_s`, then nominal again.
    burst_nominal: float = 5000.0
    burst_factor: float = 10.0
    burst_s: float = 60.0
    seed: int = 7


def _scenario_settings(base: Settings, tag: str, options: Options | None = None) -> Settings:
    """The chaos stack's settings with this scenario's own checkpoints (a fresh query reading from the earliest
    offset of this scenario's ticks only: each scenario uses new symbols; older ticks in the topic are other days)."""
    stream = base.stream.model_copy(
        update={
            "checkpoint_root": str(base.stack.run_dir / "chaos-checkpoints" / tag),
            "starting_offsets": "latest",
            "trigger_interval": "1 second",
            "archive_interval_s": 5.0,
            "keep_driver": options.keeper if options is not None else True,
        }
    )
    return base.model_copy(update={"stream": StreamSettings(**stream.model_dump())})


def _symbols(tag: str, count: int) -> list[str]:
    stem = tag.upper().replace("-", "")[:3]
    salt = uuid.uuid4().hex[:4].upper()
    return [f"C{stem}{salt}{i}" for i in range(count)]


def scenario_kill(base: Settings, stack: Stack, options: Options, *, whole_unit: bool = False) -> Row:
    """kill -9 of the market job's driver `options.kills` times at random moments (its keeper starts it again), or
    with `whole_unit` of the driver and its keeper (only the supervisor can bring it back)."""
    tag = "killall" if whole_unit else "kill"
    settings = _scenario_settings(base, f"{tag}-{uuid.uuid4().hex[:6]}", options)
    truth = Truth(synthetic_ticks(_symbols(tag, options.symbols), options.ticks, options.seed))
    with running_job(settings), Supervisor(settings, options.cadence_s, enabled=options.restart) as supervisor:
        load = Load(settings, truth.ticks, options.rate).start()
        kill = kill_unit if whole_unit else kill_driver
        detects, recovers = kill_repeatedly(
            settings, MARKET_JOB, kill, supervisor, options, options.ticks / options.rate
        )
        load.wait()
        # Not recovered: what the stores hold now (waiting would not change it).
        all_back = all(r is not None for r in recovers)
        result = wait_for_stores(settings, truth, options.settle_s if all_back else 0)
    return _kill_row(
        f"kill -9 {'driver+keeper' if whole_unit else 'driver'} x{len(recovers)}",
        f"{options.ticks:,} ticks @{options.rate:.0f}/s",
        detects,
        recovers,
        result,
        supervisor,
    )


def kill_repeatedly(
    settings: Settings,
    job: str,
    kill: Callable[[Settings, str], None],
    supervisor: Supervisor,
    options: Options,
    budget_s: float,
) -> tuple[list[float | None], list[float | None]]:
    """`options.kills` kills of a running job at random moments over `budget_s`; (detect, recover) seconds per kill
    (detect: the first new driver or dead/stuck verdict; recover: its first micro-batch). Stops at one not recovered."""
    progress = stream_job(job).progress_query
    rng = random.Random(options.seed)
    detects: list[float | None] = []
    recovers: list[float | None] = []
    for _ in range(options.kills):
        time.sleep(rng.uniform(0.15, 0.35) * budget_s / max(1, options.kills))
        # Kill only a job that is running (an earlier kill recovered): each kill is a separate fault.
        if wait_for_batch_after(settings, time.time() - 10, 300, progress) is None:
            break
        killed_at, killed_unix = time.monotonic(), time.time()
        kill(settings, job)
        timeout_s = options.cadence_s * 2 + options.recover_timeout_s
        relaunched, recovered = wait_for_new_driver_batch(settings, job, killed_unix, timeout_s)
        verdict = supervisor.events.first_verdict(killed_at)
        seen = [t for t in (relaunched and relaunched - killed_unix, verdict and verdict - killed_at) if t]
        detects.append(min(seen) if seen else None)
        recovers.append(None if recovered is None else recovered - killed_unix)
        if recovered is None:
            break
    return detects, recovers


def _kill_row(
    fault: str, load: str, detects: list[float | None], recovers: list[float | None], result: Tally, sup: Supervisor
) -> Row:
    known = [d for d in detects if d is not None]
    done = [r for r in recovers if r is not None]
    return Row(
        fault,
        load,
        max(known) if known else None,
        max(done) if len(done) == len(recovers) and done else None,
        result,
        extra="recover per kill: "
        + ", ".join("-" if r is None else f"{r:.0f}s" for r in recovers)
        + f"; supervisor restarts: {len(sup.restarts)}",
        supervisor_restarts=len(sup.restarts),
    )


def wait_for_new_driver_batch(
    settings: Settings, job: str, since_unix: float, timeout_s: float
) -> tuple[float | None, float | None]:
    """(unix time a new driver of the job started, unix time of its first micro-batch) after `since_unix`; the second
    is None when it is not ready (`job_readiness`: its queries run and it wrote a micro-batch since it started, or
    nothing waits in Kafka) within the timeout."""
    spec = stream_job(job)
    relaunched: float | None = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            proc = find_process(spec.app(settings).pid_path)
            started = driver_started_at(proc) if proc is not None else None
            if started is not None and started > since_unix:
                relaunched = relaunched or started
                if job_readiness(settings, spec, started)[0]:
                    _, at, _ = newest_batch(settings, spec.progress_query)
                    return relaunched, at if at is not None and at > since_unix else time.time()
        time.sleep(0.5)
    return relaunched, None


# --- the sentiment job ------------------------------------------------------------------------------------------


def synthetic_texts(symbols: list[str], count: int) -> list[TextItem]:
    """`count` posts and headlines, one symbol each, published 5 s apart (event time) in one trading day."""
    items = []
    for k in range(count):
        published = START + timedelta(seconds=5 * k)
        items.append(sample_text(k, [symbols[k % len(symbols)]], published, published + timedelta(seconds=2)))
    return items


def sentiment_tally(settings: Settings, items: list[TextItem]) -> Tally:
    """Every sent text scored once in Cassandra (`sentiment_items`); its windows count each text once (the sum of
    their counts per symbol equals the texts); PostgreSQL holds the same windows as Cassandra."""
    import psycopg

    from marketpulse.stores.cassandra import cassandra_cluster

    result = Tally()
    sent: dict[str, set[str]] = {}
    for item in items:
        sent.setdefault(item.symbols[0], set()).add(item.id)
    cluster = cassandra_cluster(settings)
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        stored, counted, windows = {}, {}, {}
        for symbol in sent:
            key = (symbol, START.date())
            stored[symbol] = [
                r.item_id
                for r in session.execute("SELECT item_id FROM sentiment_items WHERE symbol=%s AND day=%s", key)
            ]
            rows = list(session.execute("SELECT count FROM sentiment_windows WHERE symbol=%s AND day=%s", key))
            counted[symbol], windows[symbol] = sum(r.count for r in rows), len(rows)
    finally:
        cluster.shutdown()
    with psycopg.connect(settings.postgres_dsn()) as conn:
        reported = dict(
            conn.execute(
                "SELECT symbol, count(*) FROM fact_sentiment_window WHERE symbol = ANY(%s) GROUP BY symbol",
                (list(sent),),
            ).fetchall()
        )
    for symbol, ids in sent.items():
        missing, unknown = len(ids - set(stored[symbol])), len(set(stored[symbol]) - ids)
        result.lost += missing
        result.wrong += unknown
        if missing or unknown:
            result.notes.append(f"cassandra items {symbol}: {missing} missing, {unknown} not sent")
        diff = counted[symbol] - len(ids)
        if diff:
            result.lost += max(0, -diff)
            result.duplicated += max(0, diff)
            result.notes.append(f"windows {symbol}: count {diff:+d} against the texts")
        if reported.get(symbol, 0) != windows[symbol]:
            result.wrong += 1
            result.notes.append(f"postgres {symbol}: {reported.get(symbol, 0)} windows, cassandra {windows[symbol]}")
    return result


def scenario_sentiment_kill(base: Settings, stack: Stack, options: Options) -> Row:
    """kill -9 of the sentiment job's driver `options.kills` times while texts stream in: its keeper starts it again,
    and every text is scored and windowed exactly once."""
    from marketpulse.sections.text import SentimentSettings
    from marketpulse.stream.supervisor import SENTIMENT_JOB

    settings = _scenario_settings(base, f"sentiment-{uuid.uuid4().hex[:6]}", options)
    # The lexicon model (no weights) and a short trigger: the kill, not the model, is under test.
    sentiment = base.sentiment.model_copy(update={"model": "vader", "trigger_interval": "1 second"})
    settings = settings.model_copy(update={"sentiment": SentimentSettings(**sentiment.model_dump())})
    count = max(60, options.ticks // 10)
    items = synthetic_texts(_symbols("senti", options.symbols), count)
    rate = max(1.0, options.rate / 10)
    running = running_job(settings, job=SENTIMENT_JOB)
    with running, Supervisor(settings, options.cadence_s, enabled=options.restart, job=SENTIMENT_JOB) as supervisor:
        load = Load(settings, text_messages(items), rate).start()
        detects, recovers = kill_repeatedly(settings, SENTIMENT_JOB, kill_driver, supervisor, options, count / rate)
        load.wait()
        deadline = time.monotonic() + (options.settle_s if all(r is not None for r in recovers) else 0)
        while not (result := sentiment_tally(settings, items)).clean and time.monotonic() < deadline:
            time.sleep(5)
    return _kill_row(
        f"kill -9 sentiment driver x{len(recovers)}",
        f"{count:,} texts @{rate:.0f}/s",
        detects,
        recovers,
        result,
        supervisor,
    )


# --- slow and bursty load ----------------------------------------------------------------------------------------

#: API requests per second the probe sends during the burst scenario (half the latest quote, half Cassandra bars).
PROBE_RATE = 20.0


def _probe_api(base: str, key: str, paths: list[str], stop_unix: float, out: Any) -> None:
    """Child process (its own GIL): GET the paths in turn at PROBE_RATE until `stop_unix`; puts a list of
    (sent unix time, seconds, HTTP status, path) on `out`."""
    import httpx

    samples = []
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as client:
        started, i = time.time(), 0
        while time.time() < stop_unix:
            delay = started + i / PROBE_RATE - time.time()
            if delay > 0:
                time.sleep(delay)
            sent, t0 = time.time(), time.perf_counter()
            try:
                status = client.get(paths[i % len(paths)]).status_code
            except httpx.HTTPError:
                status = 0
            samples.append((sent, time.perf_counter() - t0, status, paths[i % len(paths)].split("?")[0]))
            i += 1
    out.put(samples)


def planned_totals(checkpoint: str, known: dict[int, int]) -> None:
    """Add to `known` the end offset (summed over partitions) of every micro-batch planned in a local checkpoint's
    offset log since the last call (Spark keeps only the newest 100 files: call it every second)."""
    root = Path(checkpoint.removeprefix("file:")) / "offsets"
    for path in root.glob("[0-9]*"):
        if not path.name.isdigit() or int(path.name) in known:
            continue
        with contextlib.suppress(OSError, ValueError):
            known[int(path.name)] = sum(sum(ends.values()) for ends in batch_offsets(path).values())


class LagSampler:
    """The live query's Kafka lag (end offsets minus its checkpoint's committed offsets) and the size of each
    micro-batch it plans, every second, in a thread."""

    def __init__(self, settings: Settings) -> None:
        from marketpulse.stream.supervisor import checkpoint_offsets, kafka_lag

        checkpoint = settings.checkpoint_location(LIVE_QUERY)
        self._lag = lambda: kafka_lag(settings, checkpoint_offsets(checkpoint), (Topics.TICKS,))
        self._checkpoint = checkpoint
        self.batch_ends: dict[int, int] = {}
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-lag", daemon=True)

    def __enter__(self) -> LagSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            planned_totals(self._checkpoint, self.batch_ends)
            with contextlib.suppress(Exception):
                lag = self._lag()
                if lag is not None:
                    self.samples.append((time.time(), lag))

    def batch_sizes(self) -> list[int]:
        """Ticks read by each micro-batch seen (end offsets of batch n minus those of batch n-1)."""
        ends = self.batch_ends
        return [ends[n] - ends[n - 1] for n in sorted(ends) if n - 1 in ends]

    def drained_at(self, after_unix: float, at_most: int) -> float | None:
        """First time after `after_unix` the lag was at most `at_most`."""
        return next((at for at, lag in self.samples if at > after_unix and lag <= at_most), None)


def scenario_burst(base: Settings, stack: Stack, options: Options) -> Row:
    """`burst_factor` x the nominal tick rate for `burst_s`, between nominal phases: back-pressure holds (no micro-batch
    above maxOffsetsPerTrigger), the lag drains, nothing is dropped, and the API's p99 while the stream is saturated
    stays within 2x of its p99 at nominal load (the API runs beside the job, as under `make run`)."""
    from bench.api_common import api_process, bench_key

    settings = _scenario_settings(base, f"burst-{uuid.uuid4().hex[:6]}", options)
    stream = settings.stream.model_copy(update={"trigger_interval": StreamSettings().trigger_interval})
    settings = settings.model_copy(update={"stream": StreamSettings(**stream.model_dump())})
    nominal, peak = options.burst_nominal, options.burst_nominal * options.burst_factor
    plan = [int(nominal * 30), int(peak * options.burst_s), int(nominal * 60)]
    symbols = _symbols("burst", 20)
    truth = Truth(synthetic_ticks(symbols, sum(plan), options.seed + 5, per_second=50))
    phases = [(plan[0], nominal), (plan[1], peak), (len(truth.ticks) - plan[0] - plan[1], nominal)]
    day = START.date().isoformat()
    paths = [
        path
        for symbol in symbols[:5]
        for path in (
            f"/v1/symbols/{symbol}/latest",
            f"/v1/symbols/{symbol}/bars?interval=1min&start={day}T14:30:00Z&end={day}T23:00:00Z&limit=50",
        )
    ]
    total_s = sum(count / rate for count, rate in phases)
    ctx = multiprocessing.get_context("spawn")
    samples_out = ctx.Queue()
    log = settings.stack.root / "chaos-burst-api.log"
    with running_job(settings), api_process(settings, log) as (api_base, _), LagSampler(settings) as lag:
        key = bench_key(settings)
        load = Load(settings, truth.ticks, phases).start()
        started = time.time()
        probe = ctx.Process(target=_probe_api, args=(api_base, key, paths, started + total_s + 60, samples_out))
        probe.start()
        load.wait()
        burst_end = started + phases[0][0] / nominal + phases[1][0] / peak
        samples = samples_out.get(timeout=total_s + 300)
        probe.join(30)
        result = wait_for_stores(settings, truth, options.settle_s)
    sizes = lag.batch_sizes()
    cap = settings.stream.max_offsets_per_trigger
    if sizes and max(sizes) > cap:
        result.wrong += 1
        result.notes.append(f"a micro-batch of {max(sizes):,} ticks, above maxOffsetsPerTrigger {cap:,}")
    burst_start = started + phases[0][0] / nominal
    idle = [seconds for at, seconds, status, _ in samples if started + 5 <= at < burst_start and status == 200]
    # Saturated: the job more than a second of nominal input behind, from the burst's start until it drained.
    drained = lag.drained_at(burst_end, int(nominal))
    saturated_until = drained or burst_end
    busy = [seconds for at, seconds, status, _ in samples if burst_start <= at < saturated_until and status == 200]
    # From 5 s on: before, a symbol's latest quote is a 404 until its first tick has been through the job.
    failed = Counter(
        (status, path.rsplit("/", 1)[-1]) for at, _, status, path in samples if status != 200 and at > started + 5
    )
    p99_idle, p99_busy = _p99(idle), _p99(busy)
    ratio = p99_busy / p99_idle if p99_idle else float("nan")
    max_lag = max((behind for _, behind in lag.samples), default=0)
    if failed:
        result.wrong += sum(failed.values())
        result.notes.append("API answers other than 200: " + ", ".join(f"{s} {p} x{n}" for (s, p), n in failed.items()))
    row = Row(
        f"burst {options.burst_factor:.0f}x for {options.burst_s:.0f}s",
        f"{nominal:,.0f}/s -> {peak:,.0f}/s",
        None,
        None if drained is None else drained - burst_end,
        result,
        goal_recover_s=None,
        extra=f"max lag {max_lag:,} ticks, largest batch {max(sizes, default=0):,} "
        f"(cap {cap:,}); API p99 {p99_idle * 1000:.0f} ms at nominal, {p99_busy * 1000:.0f} ms saturated "
        f"({ratio:.1f}x, {len(busy)} requests, goal <= 2x); recover = burst end -> lag under 1 s of nominal input",
    )
    if not ratio <= 2.0:
        row.goal_note = f"API p99 {ratio:.1f}x"
    return row


def _p99(values: list[float]) -> float:
    return float(np.percentile(values, 99)) if values else float("nan")


def scenario_redis(base: Settings, stack: Stack, options: Options) -> Row:
    return store_outage(base, stack, options, "redis")


def store_outage(base: Settings, stack: Stack, options: Options, service: str) -> Row:
    """One store of the stack stopped for `outage_s` mid-stream: the job's process must stay up and catch up."""
    settings = _scenario_settings(base, f"{service}-{uuid.uuid4().hex[:6]}")
    truth = Truth(synthetic_ticks(_symbols(service, options.symbols), options.ticks, options.seed + 1))
    with running_job(settings), Supervisor(settings, options.cadence_s, enabled=options.restart) as supervisor:
        load = Load(settings, truth.ticks, options.rate).start()
        time.sleep(min(20.0, options.ticks / options.rate / 4))
        driver_before = driver_start(settings)
        down_at = time.monotonic()
        stack.down([service])
        time.sleep(options.outage_s)
        stack.up([service])
        back_unix = time.time()
        # Recovered: every tick sent so far is in every store (the load may have ended during the outage, so a new
        # micro-batch is no sign: the stalled sink catching up is).
        sent_by_then = truth.head(load.sent)
        recovered = wait_until_none_lost(settings, sent_by_then, 300)
        driver_after = driver_start(settings)
        load.wait()
        result = wait_for_stores(settings, truth, options.settle_s)
    stayed = driver_before is not None and driver_before == driver_after
    if not stayed:
        result.notes.append("the job's driver was restarted")
    restarts = [r for at, r in supervisor.restarts if at >= down_at]
    return Row(
        f"{STORE_NAMES.get(service, service)} down {options.outage_s:.0f}s",
        f"{options.ticks:,} ticks @{options.rate:.0f}/s",
        None,
        None if recovered is None or not stayed else recovered - back_unix,
        result,
        extra=f"driver {'stayed up' if stayed else 'restarted'}; supervisor restarts: {len(restarts)}; "
        f"recover = store back -> the {len(sent_by_then.ticks):,} ticks sent by then in every store",
    )


def scenario_kafka(base: Settings, stack: Stack, options: Options, stop: signal.Signals = signal.SIGKILL) -> Row:
    """The broker stopped mid-stream by `stop` (SIGKILL: a crash; SIGTERM: a controlled shutdown), started again
    10 s later: producers buffer and retry, the job resumes without a restart."""
    settings = _scenario_settings(base, f"kafka-{uuid.uuid4().hex[:6]}")
    truth = Truth(synthetic_ticks(_symbols("kafka", options.symbols), options.ticks, options.seed + 2))
    kafka = next(service for service in stack.services if service.name == "kafka")
    with running_job(settings), Supervisor(settings, options.cadence_s, enabled=options.restart) as supervisor:
        load = Load(settings, truth.ticks, options.rate).start()
        time.sleep(min(20.0, options.ticks / options.rate / 4))
        driver_before = driver_start(settings)
        killed_at = time.monotonic()
        proc = find_process(kafka.pid_path)
        if proc is not None:
            os.killpg(os.getpgid(proc.pid), stop)
            proc.wait(120)
        time.sleep(10)
        stack.up(["kafka"])
        back_unix = time.time()
        recovered = wait_for_batch_after(settings, back_unix, 300)
        driver_after = driver_start(settings)
        load.wait()
        result = wait_for_stores(settings, truth, options.settle_s)
    detected = supervisor.events.first_verdict(killed_at)
    restarts = [r for at, r in supervisor.restarts if at >= killed_at]
    return Row(
        f"Kafka broker {stop.name}, 10s",
        f"{options.ticks:,} ticks @{options.rate:.0f}/s",
        None if detected is None else detected - killed_at,
        None if recovered is None else recovered - back_unix,
        result,
        extra=f"driver {'stayed up' if driver_before == driver_after else 'restarted'}; "
        f"supervisor restarts: {len(restarts)}",
    )


def scenario_replay_twice(base: Settings, stack: Stack, options: Options) -> Row:
    settings = _scenario_settings(base, f"twice-{uuid.uuid4().hex[:6]}")
    truth = Truth(synthetic_ticks(_symbols("twice", options.symbols), options.ticks, options.seed + 3))
    with running_job(settings):
        Load(settings, truth.ticks, options.rate * 5).start().wait()
        first = wait_for_stores(settings, truth, options.settle_s)
        again_unix = time.time()
        Load(settings, truth.ticks, options.rate * 5).start().wait()
        processed = wait_for_batch_after(settings, again_unix, 300)
        time.sleep(3 * settings.stream.archive_interval_s + 10)  # let the archive run over the second copy
        result = tally(settings, truth)
    if not first.clean:
        result.notes.append("the first replay alone was not clean: " + "; ".join(first.notes[:3]))
    return Row(
        "replay of the same ticks x2",
        f"{options.ticks:,} ticks x2",
        None,
        None if processed is None else processed - again_unix,
        result,
        goal_recover_s=None,
    )


def scenario_platform_restart(base: Settings, stack: Stack, options: Options) -> Row:
    settings = _scenario_settings(base, f"restart-{uuid.uuid4().hex[:6]}")
    truth = Truth(synthetic_ticks(_symbols("restart", options.symbols), options.ticks, options.seed + 4))
    half = len(truth.ticks) // 2
    with running_job(settings):
        Load(settings, truth.ticks.iloc[:half], options.rate * 5).start().wait()
        wait_for_batch_after(settings, time.time() - 1, 120)
    # `make down` happened long ago: the heartbeats and the start marker the old run left are 15 minutes old.
    client = redis_client(settings)
    try:
        for key in (heartbeat_key(LIVE_QUERY), f"mp:stream:{MARKET_JOB}:started"):
            if client.exists(key):
                client.hset(key, "at", time.time() - 915)
    finally:
        client.close()
    launched = time.monotonic()
    launched_unix = time.time()
    # The supervisor runs through the whole start-up, as often as every 2 s (the DAG: every minute).
    with Supervisor(settings, 2.0, enabled=options.restart) as supervisor, running_job(settings):
        ready_s = time.monotonic() - launched
        Load(settings, truth.ticks.iloc[half:], options.rate * 5).start().wait()
        recovered = wait_for_batch_after(settings, launched_unix, 120)
        result = wait_for_stores(settings, truth, options.settle_s)
        supervisor.stop()  # before the job stops: judged from its launch until here
    restarts = len(supervisor.restarts)
    verdicts = sorted({verdict for _, verdict, _ in supervisor.events.verdicts})
    if restarts:
        result.wrong += restarts
        result.notes.append(f"{restarts} supervisor restart(s) during start-up")
    return Row(
        "platform restart, stale beats",
        f"{options.ticks:,} ticks",
        None,
        None if recovered is None else ready_s,
        result,
        goal_recover_s=None,
        extra=f"verdicts during start-up: {', '.join(verdicts)}; restarts: {restarts}",
    )


RUNNERS: dict[str, Callable[[Settings, Stack, Options], Row]] = {
    "kill": scenario_kill,
    "kill-all": lambda base, stack, options: scenario_kill(base, stack, options, whole_unit=True),
    "sentiment-kill": scenario_sentiment_kill,
    "burst": scenario_burst,
    "redis": scenario_redis,
    "kafka": scenario_kafka,
    "kafka-term": lambda base, stack, options: scenario_kafka(base, stack, options, signal.SIGTERM),
    "replay-twice": scenario_replay_twice,
    "platform-restart": scenario_platform_restart,
    "postgres": lambda base, stack, options: store_outage(base, stack, options, "postgres"),
    "cassandra": lambda base, stack, options: store_outage(base, stack, options, "cassandra"),
    "s3": lambda base, stack, options: store_outage(base, stack, options, "seaweedfs"),
}


def run(settings: Settings, scenarios: list[str], options: Options, report: Callable[[str], None] = print) -> list[Row]:
    """Start the stack (if needed), run each scenario, print and return its row."""
    stack = Stack(settings, progress=lambda message: report(f"[chaos stack] {message}"))
    stack.up()
    report(HEADER)
    rows = []
    for name in scenarios:
        row = RUNNERS[name](settings, stack, options)
        report(row.line())
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", choices=SCENARIOS, help="Run only these (repeatable).")
    parser.add_argument("--ticks", type=int, default=Options.ticks)
    parser.add_argument("--rate", type=float, default=Options.rate, help="Ticks per second sent.")
    parser.add_argument("--kills", type=int, default=Options.kills)
    parser.add_argument(
        "--symbols",
        type=int,
        default=Options.symbols,
        help="Symbols the ticks spread over (each ~4 ticks/s of event time).",
    )
    parser.add_argument("--cadence", type=float, default=Options.cadence_s, help="Supervisor period (s).")
    parser.add_argument("--outage", type=float, default=Options.outage_s, help="Store outage (s).")
    parser.add_argument(
        "--recover-timeout",
        type=float,
        default=Options.recover_timeout_s,
        help="How long after a kill (plus two supervisor periods) the job may take to come back before the row FAILs.",
    )
    parser.add_argument(
        "--no-keeper", action="store_true", help="Launch the job without its keeper (only the supervisor restarts it)."
    )
    parser.add_argument("--no-supervisor", action="store_true", help="The supervisor only judges, never restarts.")
    parser.add_argument("--offset", type=int, default=CHAOS_OFFSET, help="Port offset of the chaos stack.")
    parser.add_argument(
        "--name", default="chaos", help="Stack instance (data under .stack/<name>); an instance already up is reused."
    )
    parser.add_argument("--down", action="store_true", help="Stop the chaos stack at the end.")
    args = parser.parse_args()
    options = Options(
        ticks=args.ticks,
        rate=args.rate,
        kills=args.kills,
        symbols=args.symbols,
        cadence_s=args.cadence,
        outage_s=args.outage,
        recover_timeout_s=args.recover_timeout,
        keeper=not args.no_keeper,
        restart=not args.no_supervisor,
    )
    settings = chaos_settings(args.offset, args.name)
    try:
        rows = run(settings, args.scenario or list(SCENARIOS), options)
    finally:
        if args.down:
            Stack(settings).down()
    failed = [row for row in rows if row.verdict == "FAIL"]
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
