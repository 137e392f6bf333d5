"""WebSocket fan-out: N clients subscribed to one symbol's ticks, updates published into Redis the way the
market job publishes them; delivery latency (publish -> client receive) and what fraction arrived.

Goal from issue 7: 1,000 WebSocket clients served on 2 cores. Clients run in this process (asyncio,
websockets), the API in its own; server CPU per delivered message is reported beside the latencies because
on a shared machine the latencies mostly measure the neighbours.

    python -m bench.api_ws_fanout --clients 100,500,1000 --rate 2 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import redis.asyncio as aioredis
import websockets

from bench.api_common import RESULTS_DIR, api_process, bench_key, bench_settings, percentile, raise_fd_limit, stores
from bench.api_latency import server_process
from marketpulse.stores.redis_store import live_channel

SYMBOL = "FANOUT"


@dataclass
class FanoutResult:
    clients: int
    connected: int
    messages: int
    expected: int
    delivered: int
    dropped_clients: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_s: float
    server_cpu_us_per_delivery: float
    load_average: float
    close_codes: dict[str, int] = field(default_factory=dict)


async def client(
    url: str, key: str, latencies: list[float], counts: list[int], codes: dict[str, int], go: asyncio.Event
) -> None:
    try:
        async with websockets.connect(
            url, additional_headers={"X-API-Key": key}, open_timeout=60, max_queue=None
        ) as ws:
            await ws.send(json.dumps({"op": "subscribe", "symbols": [SYMBOL], "channels": ["ticks"]}))
            counts[0] += 1
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] == "data":
                    latencies.append(time.time() - message["data"]["sent"])
                    counts[1] += 1
                elif message["type"] == "subscribed":
                    go.set()
    except websockets.ConnectionClosed as exc:
        code = str(exc.rcvd.code if exc.rcvd else "none")
        codes[code] = codes.get(code, 0) + 1
    except (OSError, TimeoutError) as exc:
        codes[type(exc).__name__] = codes.get(type(exc).__name__, 0) + 1


async def run(url: str, redis_url: str, key: str, clients: int, rate: float, seconds: float, port: int) -> FanoutResult:
    latencies: list[float] = []
    counts = [0, 0]  # connected, delivered
    codes: dict[str, int] = {}
    go = asyncio.Event()
    tasks = []
    for i in range(clients):
        tasks.append(asyncio.create_task(client(url, key, latencies, counts, codes, go)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # do not open 1,000 handshakes in one burst
    deadline = time.monotonic() + 120
    while counts[0] + sum(codes.values()) < clients and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # the last subscriptions settle
    server = server_process(port)
    cpu_before = sum(server.cpu_times()[:2])
    publisher = aioredis.Redis.from_url(redis_url)
    messages = int(rate * seconds)
    begin = time.monotonic()
    for i in range(messages):
        await asyncio.sleep(max(0.0, begin + i / rate - time.monotonic()))
        body = {"symbol": SYMBOL, "tick.price": 100.0 + i, "tick.sent": time.time(), "published_at": time.time()}
        await publisher.publish(live_channel(SYMBOL), json.dumps(body))
    await asyncio.sleep(3.0)  # let the last deliveries arrive
    cpu = sum(server.cpu_times()[:2]) - cpu_before
    await publisher.aclose()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    ms = 1000.0
    delivered = counts[1]
    return FanoutResult(
        clients=clients,
        connected=counts[0],
        messages=messages,
        expected=messages * counts[0],
        delivered=delivered,
        dropped_clients=codes.get("4001", 0),
        p50_ms=round(percentile(latencies, 50) * ms, 2),
        p99_ms=round(percentile(latencies, 99) * ms, 2),
        max_ms=round(max(latencies, default=float("nan")) * ms, 2),
        server_cpu_s=round(cpu, 2),
        server_cpu_us_per_delivery=round(cpu / max(delivered, 1) * 1e6, 1),
        load_average=os.getloadavg()[0],
        close_codes=codes,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="100,500,1000", help="Comma-separated numbers of clients.")
    parser.add_argument("--rate", type=float, default=2.0, help="Updates published per second.")
    parser.add_argument("--seconds", type=float, default=10.0, help="How long updates are published.")
    args = parser.parse_args()
    print(f"file descriptor limit {raise_fd_limit()}")
    settings = bench_settings()
    results = []
    with stores(settings):
        key = bench_key(settings)
        with api_process(settings, RESULTS_DIR / "api-ws-server.log", ws_queue_size="256") as base:
            url = base.replace("http://", "ws://") + "/v1/ws"
            for n in (int(c) for c in args.clients.split(",")):
                result = asyncio.run(run(url, settings.redis_url, key, n, args.rate, args.seconds, settings.api.port))
                results.append(result)
                print(
                    f"{n:>5} clients: {result.connected} connected, delivered {result.delivered}/{result.expected} "
                    f"({result.delivered / max(result.expected, 1):.1%}), dropped {result.dropped_clients}, "
                    f"latency p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, max {result.max_ms:.1f} ms; "
                    f"server CPU {result.server_cpu_us_per_delivery:.0f} us/delivery, load average "
                    f"{result.load_average:.1f}, closes {result.close_codes}",
                    flush=True,
                )
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / "api_ws_fanout.json"
    meta = {"at": datetime.now(UTC).isoformat(), "cpus": os.cpu_count(), "rate": args.rate, "seconds": args.seconds}
    out.write_text(json.dumps({"meta": meta, "results": [asdict(r) for r in results]}, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
