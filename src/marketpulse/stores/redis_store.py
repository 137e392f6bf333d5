"""Redis: latest state per symbol (hash), live fan-out (pub/sub), and stream heartbeats."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from marketpulse.config import Settings

SYMBOLS_KEY = "mp:symbols"


def latest_key(symbol: str) -> str:
    return f"mp:latest:{symbol}"


def live_channel(symbol: str) -> str:
    return f"mp:live:{symbol}"


def heartbeat_key(query: str) -> str:
    return f"mp:stream:{query}:heartbeat"


def write_heartbeat(client: Any, query: str, batch_id: int, rows: int) -> None:
    """What a streaming query writes after each micro-batch; the stream supervisor and `platform status` read it."""
    # pid: the stream supervisor tells a restarted driver's batches from an older process's.
    mapping = {"batch_id": batch_id, "rows": rows, "at": time.time(), "pid": os.getpid()}
    client.hset(heartbeat_key(query), mapping=mapping)


def sentiment_windows_key(symbol: str) -> str:
    """Sorted set of a symbol's sentiment windows, scored by window end (epoch s): point-in-time lookups."""
    return f"mp:sentiment:windows:{symbol}"


def redis_client(settings: Settings) -> Any:
    import redis

    return redis.Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=10)


class RedisWriter:
    """Writes a micro-batch's updates in one pipeline round trip, then publishes them per symbol."""

    def __init__(self, settings: Settings) -> None:
        self.client = redis_client(settings)
        self.ttl_s = settings.stream.redis_ttl_s

    def update_latest(self, updates: dict[str, dict[str, Any]]) -> None:
        """updates: symbol -> flat fields (prefixed by kind, e.g. bar_1m.close); published as one JSON message."""
        if not updates:
            return
        pipe = self.client.pipeline(transaction=False)
        for symbol, fields in updates.items():
            clean = {k: v for k, v in fields.items() if v is not None}
            pipe.hset(latest_key(symbol), mapping={k: str(v) for k, v in clean.items()})
            pipe.expire(latest_key(symbol), self.ttl_s)
            pipe.sadd(SYMBOLS_KEY, symbol)
            # published_at (unix s) lets subscribers measure the Redis -> client stage.
            message = {"symbol": symbol, **clean, "published_at": time.time()}
            pipe.publish(live_channel(symbol), json.dumps(message, default=str))
        pipe.execute()

    def heartbeat(self, query: str, batch_id: int, rows: int) -> None:
        write_heartbeat(self.client, query, batch_id, rows)

    def close(self) -> None:
        self.client.close()
