"""Latest-quote latency of the API (GET /v1/symbols/{symbol}/latest with a key) at fixed request rates.

Open loop: requests are sent on a fixed schedule whatever the server does, over a pool of keep-alive
connections, by a minimal HTTP/1.1 client on asyncio streams (so the client is not the bottleneck). Latency is
measured from the *scheduled* send time (queueing included, no coordinated omission); the service time (write
to full response) is reported beside it. Goals (issue 15): p99 <= 10 ms at 2,000 requests/s on 2 cores and
<= 150 us of server CPU per request (all workers together); Redis' CPU per request is printed beside it.

    python -m bench.api_latency --rates 500,1000,2000 --seconds 10 --variants fastapi:1,lane:1,lane:2
    git worktree add /tmp/mp-before <commit> && python -m bench.api_latency --variants before,lane:2 \
        --baseline-src /tmp/mp-before/src
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import psutil

from bench.api_common import (
    RESULTS_DIR,
    api_process,
    bench_key,
    bench_settings,
    listening_process,
    percentile,
    stores,
    tree_cpu_s,
)
from marketpulse.config import Settings
from marketpulse.stores.redis_store import RedisWriter, redis_section

SYMBOLS = [f"B{i:03d}" for i in range(100)]
POOL = 64


@dataclass
class RateResult:
    target_rps: int
    sent: int
    achieved_rps: float
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    service_p50_ms: float
    service_p99_ms: float
    server_cpu_s: float = 0.0
    server_cpu_us_per_request: float = 0.0
    load_average: float = 0.0


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def get(self, request: bytes) -> int:
        self.writer.write(request)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])


async def run_rate(host: str, port: int, key: str, rate: int, seconds: float) -> RateResult:
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(POOL):
        pool.put_nowait(Connection(*await asyncio.open_connection(host, port)))
    requests = [
        f"GET /v1/symbols/{s}/latest HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {key}\r\n\r\n".encode() for s in SYMBOLS
    ]
    latencies: list[float] = []
    service: list[float] = []
    errors = 0

    async def one(scheduled: float, request: bytes) -> None:
        nonlocal errors
        connection = await pool.get()
        started = time.perf_counter()
        try:
            status = await connection.get(request)
        finally:
            pool.put_nowait(connection)
        done = time.perf_counter()
        if status != 200:
            errors += 1
        latencies.append(done - scheduled)
        service.append(done - started)

    tasks = []
    begin = time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        scheduled = begin + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, random.choice(requests))))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - begin
    while not pool.empty():
        pool.get_nowait().writer.close()
    ms = 1000.0
    return RateResult(
        target_rps=rate,
        sent=total,
        achieved_rps=round(total / elapsed, 1),
        errors=errors,
        p50_ms=round(percentile(latencies, 50) * ms, 3),
        p99_ms=round(percentile(latencies, 99) * ms, 3),
        max_ms=round(max(latencies) * ms, 3),
        service_p50_ms=round(percentile(service, 50) * ms, 3),
        service_p99_ms=round(percentile(service, 99) * ms, 3),
    )


@dataclass
class Variant:
    """One server configuration measured at every rate."""

    name: str
    workers: int = 1
    fast_latest: bool = True
    #: Another checkout's src/ (e.g. a git worktree of the commit before a change): the "before" of one run.
    pythonpath: str | None = None


def parse_variants(text: str, baseline_src: str | None) -> list[Variant]:
    """`before,fastapi:1,lane:1,lane:2` -> variants; `before` needs --baseline-src."""
    variants = []
    for item in text.split(","):
        kind, _, workers = item.partition(":")
        if kind == "before":
            if not baseline_src:
                raise SystemExit("variant 'before' needs --baseline-src (a checkout's src folder)")
            variants.append(Variant("before", int(workers or 1), pythonpath=baseline_src))
        elif kind in ("fastapi", "lane"):
            variants.append(Variant(f"{kind}:{workers or 1}", int(workers or 1), fast_latest=kind == "lane"))
        else:
            raise SystemExit(f"unknown variant {item!r}: before, fastapi:N or lane:N")
    return variants


def measure_variant(settings: Settings, key: str, variant: Variant, rates: list[int], seconds: float) -> list[dict]:
    env = {"workers": str(variant.workers), "fast_latest": str(variant.fast_latest).lower()}
    if variant.pythonpath:
        env = {}  # the old code knows neither setting
    log = RESULTS_DIR / f"api-latency-server-{variant.name.replace(':', '-')}.log"
    out = []
    redis_server = listening_process(settings.redis.port)
    with api_process(settings, log, variant.pythonpath, **env) as (_, process):
        host, port = "127.0.0.1", settings.api.port
        server = psutil.Process(process.pid)
        asyncio.run(run_rate(host, port, key, 200, 2.0))  # warm-up: key cache, connections, code paths
        for rate in rates:
            cpu_before, redis_before = tree_cpu_s(server), tree_cpu_s(redis_server)
            result = asyncio.run(run_rate(host, port, key, rate, seconds))
            result.server_cpu_s = round(tree_cpu_s(server) - cpu_before, 2)
            result.server_cpu_us_per_request = round(result.server_cpu_s / result.sent * 1e6, 1)
            redis_us = round((tree_cpu_s(redis_server) - redis_before) / result.sent * 1e6, 1)
            result.load_average = os.getloadavg()[0]
            print(
                f"[{variant.name:>10}] {rate:>5} req/s: achieved {result.achieved_rps:>7.1f}/s, "
                f"errors {result.errors}, "
                f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms (goal 10 ms: {result.p99_ms / 10:.2f}x), "
                f"max {result.max_ms:.1f} ms; service p99 {result.service_p99_ms:.2f} ms; server CPU "
                f"{result.server_cpu_us_per_request:.0f} us/request (goal 150), Redis CPU {redis_us:.0f} us/request, "
                f"load average {result.load_average:.1f}",
                flush=True,
            )
            out.append(
                {
                    "variant": variant.name,
                    "workers": variant.workers,
                    "redis_cpu_us_per_request": redis_us,
                    **asdict(result),
                }
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="500,1000,2000", help="Comma-separated requests/s.")
    parser.add_argument("--seconds", type=float, default=10.0, help="Duration of each rate.")
    parser.add_argument(
        "--variants",
        default="fastapi:1,lane:1,lane:2",
        help="Server configurations, each measured at every rate: fastapi:N (the FastAPI route, N workers), "
        "lane:N (the plain-ASGI latest-quote lane), before (the code in --baseline-src, one worker).",
    )
    parser.add_argument("--baseline-src", help="src folder of another checkout, for the 'before' variant.")
    args = parser.parse_args()
    settings = bench_settings()
    rates = [int(r) for r in args.rates.split(",")]
    results: list[dict] = []
    with stores(settings):
        key = bench_key(settings)
        writer = RedisWriter(redis_section(settings), settings.stream.redis_ttl_s)
        writer.update_latest({s: {"tick.price": 100.0, "tick.ts": "2024-03-07T15:00:00+00:00"} for s in SYMBOLS})
        writer.close()
        for variant in parse_variants(args.variants, args.baseline_src):
            results += measure_variant(settings, key, variant, rates, args.seconds)
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / "api_latency.json"
    meta = {
        "at": datetime.now(UTC).isoformat(),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "args": vars(args),
    }
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
