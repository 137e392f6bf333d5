"""The alert engine: reads the same Redis pub/sub updates as the WebSocket, keeps each symbol's merged state,
steps every rule of that symbol, and for each firing stores the event, publishes it on `mp:alerts:{key_id}`
(the WebSocket's alerts channel) and posts the signed webhook in the background.

It runs as its own service (`marketpulse alerts run`), so API workers and replicas stay stateless. Every alert
fires once even if the service is started twice: the engines elect one leader through a Redis lease
(`mp:alerts:leader`, renewed every LEASE_S / 3); the others evaluate the same updates (their rule memories stay
current) but fire nothing, and one takes over within LEASE_S when the leader is gone (alerts that cross in
that gap are not fired). Rules are reloaded from PostgreSQL every few seconds and at once when an API process
announces a change on `mp:alert-rules:changed`. Webhook deliveries are durable: each try is recorded, and the
leader resumes every event still `pending` (a delivery cut short by a stop) when it starts to lead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from marketpulse.alerts.metrics import AlertMetrics
from marketpulse.alerts.rules import Memory, State, observed_values, step
from marketpulse.alerts.store import AlertEvent, AlertRule, AlertStore, AlertStoreUnavailableError
from marketpulse.alerts.webhook import deliver
from marketpulse.config import Settings
from marketpulse.stores.pubsub import LIVE_PATTERN, alerts_channel, split_update

log = logging.getLogger(__name__)
RELOAD_EVERY_S = 5.0
#: API processes publish here after a rule was created or deleted; the engine reloads at once.
RULES_CHANGED_CHANNEL = "mp:alert-rules:changed"
LEADER_KEY = "mp:alerts:leader"
LEASE_S = 15.0
# Renew the lease only if this engine still holds it (atomic compare-and-expire).
_RENEW_LUA = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE_LUA = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"

#: WebSocket channel -> latest-state section names used by conditions (bars keep the interval apart).
_CHANNEL_SECTIONS = {"ticks": "tick", "indicators": "indicators", "predictions": "prediction", "sentiment": "sentiment"}


@dataclass
class _Armed:
    rule: AlertRule
    secret: str | None
    memory: Memory
    last_fired: float = 0.0


def merge_update(state: State, update: dict[str, Any]) -> None:
    """Fold one published update into a symbol's state, by section."""
    for channel, _symbol, data in split_update(update):
        if channel == "bars":
            section = "bar_1s" if data.get("interval") == "1s" else "bar_1m"
        else:
            section = _CHANNEL_SECTIONS.get(channel, channel)
        state.setdefault(section, {}).update(data)


class AlertEngine:
    def __init__(self, settings: Settings, store: AlertStore, metrics: AlertMetrics) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.states: dict[str, State] = {}
        self.armed: dict[str, _Armed] = {}  # rule_id -> rule with its memory
        self._by_symbol: dict[str, list[_Armed]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._deliveries: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self._publisher: Any = None
        self.ready = asyncio.Event()
        self._started_at = datetime.now(UTC)
        #: Set while this engine holds the leader lease (only the leader fires and delivers).
        self.leader = asyncio.Event()
        #: Set once the first lease attempt answered (the service reports healthy only then).
        self.role_known = asyncio.Event()
        self._token = secrets.token_hex(16)

    async def start(self) -> None:
        self._started_at = datetime.now(UTC)  # events fired from now on are this run's own deliveries
        self._http = httpx.AsyncClient(timeout=self.settings.api.webhook_timeout_s, follow_redirects=False)
        self._publisher = aioredis.Redis.from_url(self.settings.redis_url, decode_responses=True)
        self._tasks = [
            asyncio.create_task(self._listen(), name="alerts-listen"),
            asyncio.create_task(self._reload_forever(), name="alerts-reload"),
            asyncio.create_task(self._lead_forever(), name="alerts-lease"),
            asyncio.create_task(self._resume_deliveries(), name="alerts-resume"),
        ]

    async def stop(self) -> None:
        for task in [*self._tasks, *self._deliveries]:
            task.cancel()
        for task in [*self._tasks, *self._deliveries]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.aclose()
        if self._publisher is not None:
            with contextlib.suppress(RedisError, OSError):  # the lease then simply expires
                await self._publisher.eval(_RELEASE_LUA, 1, LEADER_KEY, self._token)
            await self._publisher.aclose()

    async def _lead_forever(self) -> None:
        """Take the leader lease when it is free, renew it while held; log every change of role."""
        lease_ms = int(LEASE_S * 1000)
        while True:
            try:
                held = bool(
                    await self._publisher.eval(_RENEW_LUA, 1, LEADER_KEY, self._token, lease_ms)
                    or await self._publisher.set(LEADER_KEY, self._token, nx=True, px=lease_ms)
                )
            except (RedisError, OSError) as exc:
                log.warning("alert leader lease not renewed: %r", exc)
                held = False
            if held != self.leader.is_set() or not self.role_known.is_set():
                log.info("alert engine is %s", "the leader: it fires alerts" if held else "a standby")
                (self.leader.set if held else self.leader.clear)()
            self.role_known.set()
            await asyncio.sleep(LEASE_S / 3)

    async def reload(self) -> None:
        """Arm new rules (their memory starts empty), disarm deleted ones, keep the memory of the others."""
        rules = await run_in_threadpool(self.store.active_rules)
        armed = {rule.rule_id: self.armed.get(rule.rule_id) or _Armed(rule, secret, Memory()) for rule, secret in rules}
        by_symbol: dict[str, list[_Armed]] = {}
        for entry in armed.values():
            by_symbol.setdefault(entry.rule.symbol, []).append(entry)
        self.armed, self._by_symbol = armed, by_symbol

    async def _reload_forever(self) -> None:
        while True:
            await self.reload_once()
            await asyncio.sleep(RELOAD_EVERY_S)

    async def reload_once(self) -> None:
        try:
            await self.reload()
        except AlertStoreUnavailableError as exc:
            log.warning("alert rules not reloaded: %s", exc)

    async def _resume_deliveries(self) -> None:
        """Deliveries a previous run left pending (stopped mid-retry) start again, with the tries they had left;
        by the leader, once it leads."""
        await self.leader.wait()
        while True:
            try:
                pending = await run_in_threadpool(self.store.pending_deliveries, self._started_at)
                break
            except AlertStoreUnavailableError as exc:
                log.warning("pending webhooks not read yet: %s", exc)
                await asyncio.sleep(RELOAD_EVERY_S)
        for item in pending:
            log.info("resuming webhook of alert %d (%d tries made)", item.event.event_id, item.attempts_made)
            message = alert_message(item.rule, item.event)
            self._spawn_delivery(item.url, item.secret, message, item.event.event_id, item.attempts_made)

    async def _listen(self) -> None:
        while True:
            client = aioredis.Redis.from_url(self.settings.redis_url, decode_responses=True)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(LIVE_PATTERN)
                await pubsub.subscribe(RULES_CHANGED_CHANNEL)
                self.ready.set()
                async for message in pubsub.listen():
                    if message.get("type") == "message":  # RULES_CHANGED_CHANNEL
                        await self.reload_once()
                    elif message.get("type") == "pmessage":
                        try:
                            await self.on_update(str(message["data"]))
                        except AlertStoreUnavailableError as exc:
                            # The rule's memory already moved on: this firing is lost (logged), later ones are not.
                            log.error("an alert fired but could not be stored: %s", exc)
            except (RedisConnectionError, OSError) as exc:
                self.ready.clear()
                log.warning("alert engine lost Redis (%s); resubscribing in 1 s", exc)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                    await client.aclose()

    async def on_update(self, payload: str) -> list[AlertEvent]:
        """Evaluate one published update; returns the events it fired."""
        started = time.perf_counter()
        try:
            update = json.loads(payload)
        except ValueError:
            return []
        if not isinstance(update, dict) or not isinstance(update.get("symbol"), str):
            return []
        symbol = update["symbol"]
        state = self.states.setdefault(symbol, {})
        merge_update(state, update)
        fired = []
        now = time.monotonic()
        leading = self.leader.is_set()
        for entry in self._by_symbol.get(symbol, []):
            if step(entry.rule.condition, state, entry.memory) and now - entry.last_fired >= entry.rule.cooldown_s:
                entry.last_fired = now
                if leading:  # a standby steps the same memories, so it can take over where the leader was
                    fired.append(await self._fire(entry, state))
        self.metrics.stage_latency.labels("alert_evaluation").observe(time.perf_counter() - started)
        return fired

    async def _fire(self, entry: _Armed, state: State) -> AlertEvent:
        rule = entry.rule
        event = await run_in_threadpool(self.store.record_event, rule, observed_values(state))
        self.metrics.alerts_fired.inc()
        message = alert_message(rule, event)
        await self._publisher.publish(alerts_channel(rule.key_id), json.dumps(message))
        if rule.webhook_url and entry.secret:
            self._spawn_delivery(rule.webhook_url, entry.secret, message, event.event_id, 0)
        return event

    def _spawn_delivery(self, url: str, secret: str, message: dict[str, Any], event_id: int, made: int) -> None:
        task = asyncio.create_task(self._deliver(url, secret, message, event_id, made))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, url: str, secret: str, message: dict[str, Any], event_id: int, made: int) -> None:
        """POST with the tries left after `made`; each failed try is recorded, so a restart resumes from there."""
        assert self._http is not None
        api = self.settings.api

        async def record_try(tries: int) -> None:
            await run_in_threadpool(self.store.record_delivery, event_id, "pending", made + tries)

        status, attempts = await deliver(
            self._http,
            url,
            secret,
            json.dumps(message).encode(),
            attempts=max(1, api.webhook_attempts - made),
            backoff_s=api.webhook_backoff_s * 2**made,  # the wait doubles per try, across restarts too
            event_id=event_id,
            on_failed_try=record_try,
            allow=api.webhook_allow_hosts,
        )
        self.metrics.webhooks.labels(status).inc()
        await run_in_threadpool(self.store.record_delivery, event_id, status, made + attempts)


def alert_message(rule: AlertRule, event: AlertEvent) -> dict[str, Any]:
    """The alert as the WebSocket and the webhook carry it (rebuilt the same way when a delivery resumes)."""
    return {
        "event_id": event.event_id,
        "rule_id": rule.rule_id,
        "name": rule.name,
        "symbol": rule.symbol,
        "fired_at": event.fired_at.isoformat(),
        "observed": event.observed,
        "condition": rule.condition.model_dump(mode="json"),
    }
