"""Shared by the serving benchmarks: a private Redis + PostgreSQL instance ("serving-bench", ports +40000), a
real API process on it, and percentile helpers. Run the benchmarks as `python -m bench.api_latency` and
`python -m bench.api_ws_fanout`."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import psutil

from marketpulse.auth.keys import ApiKeyStore
from marketpulse.config import Settings
from marketpulse.stack.instances import side_by_side_settings
from marketpulse.stack.manager import Stack

PORT_OFFSET = 40_000
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def bench_settings() -> Settings:
    return side_by_side_settings("serving-bench", PORT_OFFSET)


def raise_fd_limit() -> int:
    """1,000 WebSocket clients need more than the usual 1,024 descriptors (children inherit the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 65_536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return wanted


@contextlib.contextmanager
def stores(settings: Settings) -> Iterator[None]:
    """Redis and PostgreSQL of the bench instance (what the latest-quote path and key checks touch)."""
    stack = Stack(settings, progress=lambda message: print(f"[bench stack] {message}", flush=True))
    started = [row.name for row in stack.status(["redis", "postgres"]) if not row.healthy]
    if started:
        stack.up(started)
    try:
        yield
    finally:
        if started:
            stack.down(started)


def bench_key(settings: Settings) -> str:
    store = ApiKeyStore(settings)
    try:
        return store.create("bench", ["read"], rate_limit_per_s=1_000_000)[1]
    finally:
        store.close()


@contextlib.contextmanager
def api_process(
    settings: Settings, log: Path, pythonpath: str | None = None, **api_env: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`marketpulse serve api` on the bench instance (no Cassandra: history routes are not measured); yields its
    base URL and process. pythonpath: run another checkout's `src` (the code before a change, say)."""
    env = {
        **os.environ,
        **({"PYTHONPATH": pythonpath} if pythonpath else {}),
        "MARKETPULSE_ENVIRONMENT": "test",
        "MARKETPULSE_STACK__NAME": settings.stack.name,
        "MARKETPULSE_REDIS__PORT": str(settings.redis.port),
        "MARKETPULSE_POSTGRES__PORT": str(settings.postgres.port),
        "MARKETPULSE_CASSANDRA__PORT": str(settings.cassandra.port),
        "MARKETPULSE_API__PORT": str(settings.api.port),
        "MARKETPULSE_API__ACCESS_LOG": "false",
        **{f"MARKETPULSE_API__{k.upper()}": v for k, v in api_env.items()},
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{settings.api.port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "marketpulse", "serve", "api"], env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/metrics", timeout=1).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"API did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield base, process
    finally:
        process.terminate()
        process.wait(timeout=20)


def tree_cpu_s(process: psutil.Process) -> float:
    """User + system CPU seconds of a process and its live children (uvicorn's workers)."""
    total = 0.0
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def listening_process(port: int) -> psutil.Process:
    """The process listening on `port` (the bench stack's Redis, say)."""
    for connection in psutil.net_connections("tcp"):
        if connection.laddr and connection.laddr.port == port and connection.status == psutil.CONN_LISTEN:
            return psutil.Process(connection.pid)
    raise RuntimeError(f"no process listens on {port}")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
