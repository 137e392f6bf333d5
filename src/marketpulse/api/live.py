"""Live fan-out for the WebSocket: one Redis pub/sub subscription per API process, many clients.

The market job publishes one JSON object per symbol and micro-batch on `mp:live:{symbol}` with flat
`kind.field` keys (tick.price, bar_1m.close, ind.rsi_14, pred.prob_up, sent.score) and `published_at` (unix s,
when the writer sent it); the alert service publishes fired alerts on `mp:alerts:{key_id}`. The hub splits
each message into channels and offers it to the clients subscribed to that (symbol, channel) — found through
an index, not a scan of every client — without ever waiting: a client whose bounded queue is full is dropped
(close code 4001), so one slow reader never delays the others. Each data message carries `published_at`, so a
client can tell the age of what it sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from marketpulse.api.metrics import ApiMetrics
from marketpulse.config import ApiSettings
from marketpulse.stores.pubsub import ALERTS_PATTERN, LIVE_PATTERN, alerts_key_of, split_update

log = logging.getLogger(__name__)

Channel = Literal["ticks", "bars", "indicators", "predictions", "sentiment", "alerts"]
CHANNELS: tuple[str, ...] = get_args(Channel)
ALL_SYMBOLS = "*"
SLOW_CONSUMER_CLOSE = 4001  # application close code: "you did not read fast enough"


@dataclass(eq=False)  # hashed by identity: clients live in sets
class Client:
    """One WebSocket connection: its key, its subscriptions and its outgoing queue."""

    key_id: str
    queue: asyncio.Queue[str]
    #: (symbol or "*", channel) -> fields kept (None = all).
    subscriptions: dict[tuple[str, str], frozenset[str] | None] = field(default_factory=dict)
    dropped: asyncio.Event = field(default_factory=asyncio.Event)
    #: time.monotonic() of the last message queued to it (heartbeats fill the silences).
    last_queued: float = field(default_factory=time.monotonic)

    def fields_for(self, symbol: str, channel: str) -> tuple[bool, frozenset[str] | None]:
        for key in ((symbol, channel), (ALL_SYMBOLS, channel)):
            if key in self.subscriptions:
                return True, self.subscriptions[key]
        return False, None


def filter_fields(data: dict[str, Any], fields: frozenset[str] | None) -> dict[str, Any]:
    """Only the asked fields, plus what identifies the row (ts, interval)."""
    if fields is None:
        return data
    return {k: v for k, v in data.items() if k in fields or k in ("ts", "interval", "feature_ts")}


SubscriptionKey = tuple[str, str]


class LiveHub:
    """Subscribes to Redis once and fans out to the clients; never blocks on a client."""

    def __init__(self, redis_url: str, metrics: ApiMetrics, settings: ApiSettings | None = None) -> None:
        self.redis_url = redis_url
        self.metrics = metrics
        self.settings = settings or ApiSettings()
        self.clients: set[Client] = set()
        #: (symbol or "*", channel) -> the clients subscribed to it.
        self.index: dict[SubscriptionKey, set[Client]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.ready = asyncio.Event()

    def add(self, client: Client) -> None:
        self.clients.add(client)
        self.reindex(client, set())
        self.metrics.ws_connections.set(len(self.clients))

    def remove(self, client: Client) -> None:
        self.clients.discard(client)
        for key in client.subscriptions:
            self._unindex(key, client)
        self.metrics.ws_connections.set(len(self.clients))

    def reindex(self, client: Client, before: set[SubscriptionKey]) -> None:
        """After the client's subscriptions changed from `before`."""
        if client not in self.clients:
            return
        now = set(client.subscriptions)
        for key in before - now:
            self._unindex(key, client)
        for key in now - before:
            self.index.setdefault(key, set()).add(client)

    def _unindex(self, key: SubscriptionKey, client: Client) -> None:
        members = self.index.get(key)
        if members is not None:
            members.discard(client)
            if not members:
                del self.index[key]

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name="live-hub"),
            asyncio.create_task(self._heartbeats(), name="live-heartbeats"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _heartbeats(self) -> None:
        """One timer for every client (not a timeout per message): a heartbeat to each client idle for
        `ws_heartbeat_s`, so idle sockets stay visibly alive."""
        every = self.settings.ws_heartbeat_s
        while True:
            await asyncio.sleep(every / 2)
            idle_since = time.monotonic() - every
            text = heartbeat_message()
            for client in list(self.clients):
                if client.last_queued <= idle_since:
                    self.offer(client, text, "heartbeat")

    async def _run(self) -> None:
        """Subscribe and dispatch forever; reconnect with a pause when Redis goes away."""
        while True:
            client = aioredis.Redis.from_url(self.redis_url, decode_responses=True)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(LIVE_PATTERN, ALERTS_PATTERN)
                self.ready.set()
                async for message in pubsub.listen():
                    if message.get("type") == "pmessage":
                        self.dispatch(str(message["channel"]), str(message["data"]))
                        await asyncio.sleep(0)  # let client senders run between messages of a burst
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                self.ready.clear()
                log.warning("live hub lost Redis (%s); resubscribing in 1 s", exc)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                    await client.aclose()

    def dispatch(self, redis_channel: str, payload: str | bytes) -> None:
        """Offer one pub/sub message to every client subscribed to any of its parts."""
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            log.warning("ignored a non-JSON message on %s", redis_channel)
            return
        if not isinstance(body, dict):
            return
        published_at = body.get("published_at")
        if not isinstance(published_at, int | float):
            published_at = None
        key_id = alerts_key_of(redis_channel)
        if key_id is not None:
            self._fan_out("alerts", str(body.get("symbol", "")), body, published_at, only_key=key_id)
            return
        for channel, symbol, data in split_update(body):
            self._fan_out(channel, symbol, data, published_at)
        if published_at is not None:
            self.metrics.stage_latency.labels("redis_to_websocket").observe(max(0.0, time.time() - published_at))

    def _subscribers(self, symbol: str, channel: str) -> set[Client]:
        exact = self.index.get((symbol, channel), set())
        wildcard = self.index.get((ALL_SYMBOLS, channel))
        return exact | wildcard if wildcard else exact

    def _fan_out(
        self,
        channel: str,
        symbol: str,
        data: dict[str, Any],
        published_at: float | None,
        only_key: str | None = None,
    ) -> None:
        encoded: dict[frozenset[str] | None, str] = {}  # encode once per distinct field filter
        queued = 0
        for client in list(self._subscribers(symbol, channel)):
            if only_key is not None and client.key_id != only_key:
                continue
            _, fields = client.fields_for(symbol, channel)
            text = encoded.get(fields)
            if text is None:
                message: dict[str, Any] = {
                    "type": "data",
                    "channel": channel,
                    "symbol": symbol,
                    "data": filter_fields(data, fields),
                }
                if published_at is not None:
                    message["published_at"] = published_at
                text = encoded[fields] = orjson.dumps(message, default=str).decode()
            queued += self.queue(client, text)
        if queued:  # one metric update per fan-out, not per client (it is a file write with several workers)
            self.metrics.ws_messages.labels(channel).inc(queued)

    def offer(self, client: Client, text: str, channel: str) -> None:
        if self.queue(client, text):
            self.metrics.ws_messages.labels(channel).inc()

    def queue(self, client: Client, text: str) -> bool:
        """Put without waiting; False (and the client dropped) when its queue is full."""
        if client.dropped.is_set():
            return False
        try:
            client.queue.put_nowait(text)
            client.last_queued = time.monotonic()
        except asyncio.QueueFull:
            client.dropped.set()  # the connection's handler closes it with SLOW_CONSUMER_CLOSE
            self.remove(client)
            self.metrics.ws_dropped.labels("slow_consumer").inc()
            log.warning("dropped a WebSocket client of key %s: %d messages unread", client.key_id, client.queue.qsize())
            return False
        return True


def heartbeat_message() -> str:
    return orjson.dumps({"type": "heartbeat", "ts": time.time()}).decode()
