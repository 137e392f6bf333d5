"""WebSocket fan-out: N clients, each subscribed to one symbol's ticks, while a separate publisher process writes
updates with the stream's own `RedisWriter.update_latest` (merge + publish); delivery latency is measured from
the writer's `published_at` (the stream's write) to the client's receipt, so it covers Redis pub/sub, the API's
hub, its queues and the socket.

Goal (issue 15): 1,000 clients subscribed, p99 <= 100 ms at 1,000 messages/s delivered in total, slow clients cut
off without slowing the others. Defaults: 1,000 clients over 100 symbols (10 per symbol), 100 updates/s (one per
symbol per second) = 1,000 deliveries/s, plus `--slow` clients that subscribe to every channel of every symbol
and never read (each must be dropped with close code 4001, counted by the server's
marketpulse_ws_dropped_total). Server CPU per delivery is printed beside the latencies because on a shared
machine the latencies also measure the neighbours.

    python -m bench.api_ws_fanout --clients 1000 --symbols 100 --rate 100 --seconds 20 --workers 1,2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import httpx
import psutil
import uvloop
import websockets

from bench.api_common import (
    RESULTS_DIR,
    api_process,
    bench_key,
    bench_settings,
    percentile,
    raise_fd_limit,
    stores,
    tree_cpu_s,
)
from marketpulse.config import Settings
from marketpulse.stores.redis_store import RedisWriter, redis_section


@dataclass
class FanoutResult:
    workers: int
    clients: int
    symbols: int
    rate: float
    connected: int
    published: int
    expected: int
    delivered: int
    slow_clients: int
    slow_dropped: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    deliveries_per_s: float
    server_cpu_s: float
    server_cpu_us_per_delivery: float
    load_average: float
    close_codes: dict[str, int] = field(default_factory=dict)


def symbol_name(i: int) -> str:
    return f"WS{i:03d}"


def publish(settings: Settings, symbols: int, rate: float, seconds: float) -> None:
    """In its own process: update_latest one symbol at a time, round robin, `rate` times per second."""
    writer = RedisWriter(redis_section(settings), settings.stream.redis_ttl_s)
    begin, total = time.monotonic(), int(rate * seconds)
    for i in range(total):
        time.sleep(max(0.0, begin + i / rate - time.monotonic()))
        price = 100.0 + i * 0.01
        update = {
            "tick.price": price,
            "tick.ts": datetime.now(UTC).isoformat(),
            "bar_1s.close": price,
            "ind.rsi_14": 50.0,
        }
        writer.update_latest({symbol_name(i % symbols): update})
    writer.close()


async def reader(
    url: str,
    key: str,
    symbol: str,
    latencies: list[float],
    counts: dict[str, int],
    codes: dict[str, int],
    edges: list[float],
) -> None:
    try:
        async with websockets.connect(url, additional_headers={"X-API-Key": key}, open_timeout=60) as ws:
            await ws.send(json.dumps({"op": "subscribe", "symbols": [symbol], "channels": ["ticks"]}))
            counts["connected"] += 1
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "data":
                    now = time.time()
                    latencies.append(now - message["published_at"])
                    counts["delivered"] += 1
                    edges.append(now)
                    del edges[1:-1]  # keep the first and the latest receipt
    except websockets.ConnectionClosed as exc:
        code = str(exc.rcvd.code if exc.rcvd else "none")
        codes[code] = codes.get(code, 0) + 1
    except (OSError, TimeoutError) as exc:
        codes[type(exc).__name__] = codes.get(type(exc).__name__, 0) + 1


async def stalled(url: str, key: str, stop: asyncio.Event) -> None:
    """Subscribes to everything, then never reads (max_queue=1: the library stops reading the socket too; a
    4 KiB receive buffer: the kernel does not soak up minutes of messages first)."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    async with websockets.connect(url, sock=sock, additional_headers={"X-API-Key": key}, max_queue=1) as ws:
        await ws.send(json.dumps({"op": "subscribe", "symbols": ["*"]}))
        await stop.wait()


def dropped_count(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    rows = [
        line for line in text.splitlines() if line.startswith('marketpulse_ws_dropped_total{reason="slow_consumer"}')
    ]
    return sum(float(line.split()[-1]) for line in rows)


async def run(
    base: str, key: str, settings: Settings, server: psutil.Process, workers: int, args: argparse.Namespace
) -> FanoutResult:
    url = base.replace("http://", "ws://") + "/v1/ws"
    latencies: list[float] = []
    counts = {"connected": 0, "delivered": 0}
    codes: dict[str, int] = {}
    edges: list[float] = []  # first and last receipt over all clients
    tasks = []
    for i in range(args.clients):
        symbol = symbol_name(i % args.symbols)
        tasks.append(asyncio.create_task(reader(url, key, symbol, latencies, counts, codes, edges)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # do not open 1,000 handshakes in one burst
    stop_slow = asyncio.Event()
    slow = [asyncio.create_task(stalled(url, key, stop_slow)) for _ in range(args.slow)]
    deadline = time.monotonic() + 120
    while counts["connected"] + sum(codes.values()) < args.clients and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # the last subscriptions settle
    dropped_before = dropped_count(base)
    cpu_before = tree_cpu_s(server)
    publisher = multiprocessing.get_context("spawn").Process(
        target=publish, args=(settings, args.symbols, args.rate, args.seconds)
    )
    publisher.start()
    while publisher.is_alive():
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)  # the last deliveries arrive
    cpu = tree_cpu_s(server) - cpu_before
    slow_dropped = int(dropped_count(base) - dropped_before)
    stop_slow.set()
    for task in [*tasks, *slow]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for outcome in await asyncio.gather(*slow, return_exceptions=True):
        if isinstance(outcome, Exception) and not isinstance(outcome, asyncio.CancelledError):
            print(f"a never-reading client failed: {outcome!r}")
    published = int(args.rate * args.seconds)
    ms = 1000.0
    delivered = counts["delivered"]
    return FanoutResult(
        workers=workers,
        clients=args.clients,
        symbols=args.symbols,
        rate=args.rate,
        connected=counts["connected"],
        published=published,
        expected=published * counts["connected"] // args.symbols,
        delivered=delivered,
        slow_clients=args.slow,
        slow_dropped=slow_dropped,
        p50_ms=round(percentile(latencies, 50) * ms, 2),
        p99_ms=round(percentile(latencies, 99) * ms, 2),
        max_ms=round(max(latencies, default=float("nan")) * ms, 2),
        deliveries_per_s=round(delivered / max(edges[-1] - edges[0], 1e-9), 1) if edges else 0.0,
        server_cpu_s=round(cpu, 2),
        server_cpu_us_per_delivery=round(cpu / max(delivered, 1) * 1e6, 1),
        load_average=os.getloadavg()[0],
        close_codes=codes,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000, help="Reading clients, spread over the symbols.")
    parser.add_argument("--symbols", type=int, default=100, help="Symbols the clients subscribe to (one each).")
    parser.add_argument("--rate", type=float, default=100.0, help="Updates published per second (all symbols).")
    parser.add_argument("--seconds", type=float, default=30.0, help="How long updates are published.")
    parser.add_argument("--slow", type=int, default=5, help="Clients that subscribe to everything and never read.")
    parser.add_argument("--workers", default="1,2", help="API worker counts to measure, comma-separated.")
    args = parser.parse_args()
    print(f"file descriptor limit {raise_fd_limit()}")
    settings = bench_settings()
    results = []
    with stores(settings):
        key = bench_key(settings)
        for workers in (int(w) for w in args.workers.split(",")):
            log = RESULTS_DIR / f"api-ws-server-{workers}w.log"
            with api_process(settings, log, workers=str(workers), ws_queue_size="64") as (base, process):
                result = uvloop.run(run(base, key, settings, psutil.Process(process.pid), workers, args))
            results.append(result)
            print(
                f"{workers} worker(s), {result.clients} clients on {result.symbols} symbols, "
                f"{result.rate:g} updates/s: "
                f"{result.connected} connected, delivered {result.delivered}/{result.expected} "
                f"({result.delivered / max(result.expected, 1):.1%}, {result.deliveries_per_s:.0f}/s), "
                f"latency from the stream's write p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms "
                f"(goal 100 ms: {result.p99_ms / 100:.2f}x), max {result.max_ms:.1f} ms; slow clients dropped "
                f"{result.slow_dropped}/{result.slow_clients}; server CPU {result.server_cpu_us_per_delivery:.0f} "
                f"us/delivery; load average {result.load_average:.1f}; closes {result.close_codes}",
                flush=True,
            )
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / "api_ws_fanout.json"
    meta = {"at": datetime.now(UTC).isoformat(), "cpus": os.cpu_count(), "args": vars(args)}
    out.write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
