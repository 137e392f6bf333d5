"""Benchmark of the market pipeline: raw Kafka ceiling -> Spark source -> parse -> the full job, two peers, latency
as the job and as a client see it, and the memory of every process.

One run, one broker, one pre-loaded topic (N synthetic ticks, produced once), so the stages' ratios are comparable:

  B0a         confluent-kafka consumer counting messages (the raw read ceiling of this broker from Python)
  Peer-seed   a "seed-style" consumer: json.loads + one Postgres and one Cassandra INSERT per tick
  Peer-numpy  the hand-tuned loop a user would write instead: consume(20000), json.loads + the Tick rules per tick,
              pandas 1 s OHLCV bars, one Redis pipeline of the latest bars per batch
  B0b         Spark Kafka source -> noop sink (streaming, availableNow)
  B1          Spark Kafka source -> parse_wire + validation -> noop sink
  B2          the full market job (start_market_job, availableNow), its archive flushed by job.close()
  Latency     open-loop load at fixed rates into the RUNNING job: the job's own samples (tick -> Redis, oldest tick
              per symbol and batch -> Redis, -> history stores) and a pub/sub subscriber's (tick, bar close, prediction)
  Memory      RSS/PSS of every process of a running `make run` platform of this checkout, by role

CPU is measured per process (psutil) over each stage: this driver, Spark's JVM (a child of the driver), the Python
workers (children of the JVM), and the bench stack's servers (found through their pid files). `--quick` runs a
short plan and ends with one JSON line. Run it with `make bench` or `python -m bench.market_pipeline --help`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.market.cpu import CpuMeter
from bench.market.kafka_io import preload
from bench.market.memory import PlatformMemory, platform_memory
from bench.market.peers import stage_b0a, stage_hand_tuned, stage_seed_peer
from bench.market.report import render
from bench.market.results import LatencyResult, Stage, log, summary
from marketpulse.config import Settings
from marketpulse.stack.instances import side_by_side_settings
from marketpulse.stack.manager import Stack

#: Ports of the bench stack are the defaults shifted by this much (the test stack uses 10000).
#: Below Linux's ephemeral port range (32768-60999): a client connection there can hold a bench port for a
#: minute after it closes (TIME-WAIT) and the stack refuses to start.
PORT_OFFSET = 13_000
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SERVER_GROUPS = ("kafka", "cassandra", "postgres", "redis", "seaweedfs")
STAGES = ("b0a", "peer-seed", "peer-numpy", "b0b", "b1", "b2", "latency")

#: The plans: options left unset on the command line take these values (`--quick` fits in 4 min on 2 cores).
FULL_PLAN: dict[str, Any] = {
    "events": 1_000_000,
    "rates": [5_000.0, 25_000.0],
    "warmup": 30.0,
    "steady": 60.0,
    "drain": 30.0,
    "skip": set(),
}
QUICK_PLAN: dict[str, Any] = {
    "events": 300_000,
    "rates": [25_000.0],
    "warmup": 10.0,
    "steady": 20.0,
    "drain": 10.0,
    "skip": {"b0a", "peer-seed", "b1"},
}


def bench_settings(offset: int = PORT_OFFSET) -> Settings:
    """The "bench" stack instance: every port shifted by `offset`, data under .stack/bench."""
    return side_by_side_settings("bench", offset)


def ensure_stack(stack: Stack) -> bool:
    """Start the bench stack unless it already runs healthy; True when this call started it."""
    if all(row.healthy for row in stack.status()):
        log("bench stack already running and healthy: reusing it (it is left running at the end)")
        return False
    log("starting the bench stack (ports +13000, data under .stack/bench) ...")
    started = time.monotonic()
    stack.up()
    log(f"bench stack up in {time.monotonic() - started:.0f}s")
    return True


def _stage_set(text: str) -> set[str]:
    names = {x.strip().lower() for x in text.split(",") if x.strip()}
    names = {"peer-seed" if n == "peer" else n for n in names}  # the old name of the seed-style peer
    unknown = names - set(STAGES)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown stage(s) {', '.join(sorted(unknown))}; known: {', '.join(STAGES)}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.market_pipeline",
        description=(
            "Benchmark the market pipeline on its own 'bench' stack (ports +13000): raw Kafka ceiling (B0a), two "
            "same-run peers (seed-style, hand-tuned), Spark source (B0b), parse (B1), the full market job (B2), "
            "latency at fixed rates (job side and pub/sub client side) and the memory of a running platform. "
            "Prints a Markdown report, writes it to bench/results/, and ends with one JSON line."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short plan (<= 4 min on 2 cores incl. stack start): 300k ticks, Peer-numpy + B0b + B2 + one 25k/s "
        "window (10 s warm-up, 20 s); unset options below take the quick values",
    )
    parser.add_argument("--events", type=int, help="ticks pre-loaded into the topic (full 1,000,000; quick 300,000)")
    parser.add_argument("--symbols", type=int, default=100, help="synthetic symbols")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of the bench topics")
    parser.add_argument(
        "--max-offsets", type=int, help="maxOffsetsPerTrigger of the Spark stages (default: the job's own setting)"
    )
    parser.add_argument("--peer-max", type=int, default=50_000, help="seed-style peer: stop after this many ticks")
    parser.add_argument("--peer-seconds", type=float, default=60, help="seed-style peer: stop after this many seconds")
    parser.add_argument(
        "--rates", type=lambda s: [float(x) for x in s.split(",") if x],
        help="latency: offered rates, ticks/s, comma-separated (full 5000,25000; quick 25000)",
    )  # fmt: skip
    parser.add_argument("--warmup", type=float, help="latency: seconds before each window (full 30; quick 10)")
    parser.add_argument("--steady", type=float, help="latency: length of each measured window, s (full 60; quick 20)")
    parser.add_argument("--drain", type=float, help="latency: max seconds to wait for the window's tail (30; 10)")
    parser.add_argument("--trigger", default="0 seconds", help="processingTime trigger of the job in the latency phase")
    parser.add_argument("--stage-timeout", type=float, default=900, help="give up on a Spark stage after this, s")
    parser.add_argument(
        "--skip", type=_stage_set,
        help=f"stages to skip, comma-separated: {','.join(STAGES)} (quick: b0a,peer-seed,b1)",
    )  # fmt: skip
    parser.add_argument("--keep-stack", action="store_true", help="leave the bench stack running at the end")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the Markdown report goes")
    return resolve_plan(parser.parse_args(argv))


def resolve_plan(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the options left unset with the quick or the full plan's values."""
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    for name, value in plan.items():
        if getattr(args, name) is None:
            setattr(args, name, value.copy() if isinstance(value, list | set) else value)
    return args


def _git() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + (" (working tree has changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _run_stage(stages: list[Stage], key: str, what: str, fn: Callable[[], Stage]) -> Stage | None:
    log(f"{key}: {what} ...")
    try:
        stage = fn()
    except Exception as exc:  # one failed stage must not lose the others' figures
        stage = Stage(key, what, error=f"{type(exc).__name__}: {exc}"[:300])
        log(f"{key} failed: {stage.error}")
        stages.append(stage)
        return None
    stages.append(stage)
    cpu = stage.cpu
    log(
        f"{key}: {stage.events:,} events in {stage.seconds:.1f}s = {stage.eps:,.0f}/s"
        + (f", {stage.total_per_m():.1f} CPU-s per million events, others {100 * cpu.others_share:.0f}%" if cpu else "")
    )
    return stage


class Run:
    """One benchmark run: the stages in order, on the bench stack, with what each measured."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.settings = bench_settings()
        self.workdir = Path(tempfile.mkdtemp(prefix="mp-bench-"))
        self.run_id = uuid.uuid4().hex[:8]
        self.topic = f"bench.ticks.{self.run_id}"
        self.stack = Stack(self.settings, progress=lambda message: log(f"stack: {message}"))
        self.stages: list[Stage] = []
        self.latency: list[LatencyResult] = []
        self.memory: PlatformMemory | None = None
        self.servers: dict[str, int] = {}
        self.errors: list[str] = []
        self.started_stack = False
        self.spark: Any = None
        self.collector: Any = None
        self.produce_eps = 0.0
        self.max_offsets = args.max_offsets or self.settings.stream.max_offsets_per_trigger

    def meter(self) -> CpuMeter:
        return CpuMeter(self.servers)

    def wanted(self, stage: str) -> bool:
        return stage not in self.args.skip

    def execute(self) -> None:
        try:
            self._measure_platform()
            self.started_stack = ensure_stack(self.stack)
            self.servers = {row.name: row.pid for row in self.stack.status() if row.pid}
            log(f"servers: {', '.join(f'{name} pid {pid}' for name, pid in self.servers.items())}")
            log(f"producing {self.args.events:,} ticks over {self.args.symbols} symbols into {self.topic}")
            self.produce_eps = preload(
                self.settings, self.topic, self.args.partitions, self.args.symbols, self.args.events
            )
            log(f"produced at {self.produce_eps:,.0f}/s")
            self._python_stages()
            self._spark_stages()
        except KeyboardInterrupt:
            log("interrupted: reporting what was measured")
        except Exception as exc:  # the report and the JSON line still say what was measured
            self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            log(f"run failed: {self.errors[-1]}")
        finally:
            self._tear_down()

    def _measure_platform(self) -> None:
        try:
            self.memory = platform_memory(Settings())
        except Exception as exc:  # memory is one section of the report: never lose the run for it
            self.errors.append(f"platform memory: {type(exc).__name__}: {exc}"[:300])
            return
        rss = self.memory.rss_gib
        log(f"platform of this checkout: {'not running' if rss is None else f'{rss:.2f} GiB resident'}")

    def _python_stages(self) -> None:
        args, settings, topic = self.args, self.settings, self.topic
        if self.wanted("b0a"):
            _run_stage(
                self.stages,
                "B0a",
                "raw confluent-kafka consumer",
                lambda: stage_b0a(settings, topic, args.partitions, args.events, self.meter()),
            )
        if self.wanted("peer-numpy"):
            _run_stage(
                self.stages,
                "Peer-numpy",
                "hand-tuned consumer loop",
                lambda: stage_hand_tuned(settings, topic, args.partitions, args.events, self.meter()),
            )
        if self.wanted("peer-seed"):
            _run_stage(
                self.stages,
                "Peer-seed",
                "seed-style per-row consumer",
                lambda: stage_seed_peer(settings, topic, args.peer_max, args.peer_seconds, self.meter()),
            )

    def _spark_stages(self) -> None:
        from bench.market.spark_stages import (
            ProgressCollector,
            job_settings,
            latency_phase,
            spark_warmup,
            stage_b2,
            stage_spark_noop,
        )

        if not {"b0b", "b1", "b2", "latency"} - self.args.skip:
            return
        from marketpulse.stream.session import spark_session

        args, workdir = self.args, self.workdir
        b2_settings = job_settings(self.settings, workdir, "b2", self.max_offsets, args.trigger)
        log("starting Spark ...")
        self.spark = spark_session(b2_settings, "marketpulse-bench")
        self.spark.sparkContext.setLogLevel("WARN")
        self.collector = ProgressCollector(self.spark)
        spark_warmup(self.spark, b2_settings, self.topic, args.partitions)
        for key, parse in (("b0b", False), ("b1", True)):
            if self.wanted(key):
                _run_stage(
                    self.stages,
                    key.upper(),
                    "Spark Kafka source -> " + ("parse + validate -> noop" if parse else "noop"),
                    lambda parse=parse: stage_spark_noop(  # type: ignore[misc]
                        self.spark, b2_settings, self.topic, parse, workdir, self.meter(), args.stage_timeout
                    ),
                )
        if self.wanted("b2"):
            _run_stage(
                self.stages,
                "B2",
                "the full market job, availableNow, archive flushed at close",
                lambda: stage_b2(self.spark, b2_settings, self.topic, self.collector, self.meter(), args.stage_timeout),
            )
        if self.wanted("latency"):
            self.latency = latency_phase(
                self.spark, self.settings, args, self.run_id, self.collector, self.servers, workdir
            )

    def _tear_down(self) -> None:
        if self.collector is not None:
            self.collector.close()
        if self.spark is not None:
            with contextlib.suppress(Exception):
                self.spark.stop()
        if self.started_stack and not self.args.keep_stack:
            log("stopping the bench stack (use --keep-stack to leave it running)")
            self.stack.down()
        shutil.rmtree(self.workdir, ignore_errors=True)


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
    }
    run = Run(args)
    run.execute()
    wall = time.monotonic() - run_started
    meta.update(
        wall=f"{wall / 60:.1f} min",
        load_end=_load(),
        produce_eps=run.produce_eps,
        spark_master=run.settings.spark.master,
        max_offsets=run.max_offsets,
    )
    text = render(args, meta, run.stages, run.latency, run.memory, SERVER_GROUPS)
    print("\n" + text, flush=True)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"market_pipeline-{started_at.strftime('%Y%m%d-%H%M%S')}.md"
    out.write_text(text)
    errors = run.errors + [f"{s.key}: {s.error}" for s in run.stages if s.error]
    errors += [f"latency {r.rate:,.0f}/s: {r.error}" for r in run.latency if r.error]
    line = summary(
        run.stages,
        run.latency,
        run.memory.rss_gib if run.memory else None,
        {"others_cpu_share": _others_share(run), "wall_s": round(wall, 1), "errors": errors},
    )
    log(f"written {out} (run took {wall / 60:.1f} min)")
    # The last line of stdout: one JSON object, for the checks that run `--quick`.
    print(json.dumps(line, separators=(",", ":")), flush=True)
    return 0 if run.stages and not errors else 1


def _others_share(run: Run) -> float | None:
    """Mean share of the machine's CPU that other processes used during the measured stages and windows."""
    reports = [s.cpu for s in run.stages if s.cpu] + [r.cpu for r in run.latency if r.cpu]
    if not reports:
        return None
    return round(sum(c.others_share * c.wall_s for c in reports) / sum(c.wall_s for c in reports), 3)


if __name__ == "__main__":
    sys.exit(main())
