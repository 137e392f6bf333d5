"""Signed webhook delivery with retries.

Each POST carries `X-MarketPulse-Timestamp` (unix seconds) and `X-MarketPulse-Signature: sha256=<hex>`, the
HMAC-SHA256 of `<timestamp>.<body>` under the rule's secret; receivers recompute it and reject old timestamps.
Connection errors, 5xx and 429 are retried with doubling waits; other 4xx and redirects are final. The target
is checked and pinned to one resolved address once per delivery (`alerts.targets`): no SSRF, no rebinding.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import httpx

from marketpulse.alerts.targets import WebhookTargetError, resolve_target

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-MarketPulse-Signature"
TIMESTAMP_HEADER = "X-MarketPulse-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, max_age_s: float = 300.0) -> bool:
    """What a receiver does: same HMAC, constant-time compare, and a fresh timestamp (no replays)."""
    fresh = abs(time.time() - float(timestamp)) <= max_age_s
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


def _retryable(status: int) -> bool:
    return status >= 500 or status == 429


async def deliver(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    body: bytes,
    *,
    attempts: int,
    backoff_s: float,
    event_id: int,
    on_failed_try: Callable[[int], Awaitable[None]] | None = None,
    allow: Sequence[str] = (),
) -> tuple[str, int]:
    """POST until a 2xx, a final 4xx or `attempts` tries; returns (delivered|failed, tries made).
    `on_failed_try(tries)` runs after each retryable failure, before the wait (to record progress); `allow` is
    the operator's allowlist of otherwise refused targets. A refused target is failed with 0 tries."""
    try:
        target = await asyncio.to_thread(resolve_target, url, allow)
    except WebhookTargetError as exc:
        log.warning("alert %d webhook refused: %s", event_id, exc)
        return "failed", 0
    tls = {"sni_hostname": target.host} if target.connect_url.startswith("https") else {}
    wait = backoff_s
    for attempt in range(1, attempts + 1):
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            "X-MarketPulse-Event-Id": str(event_id),
            "Host": target.host_header,
        }
        try:
            response = await client.post(target.connect_url, content=body, headers=headers, extensions=tls)
        except httpx.HTTPError as exc:
            log.warning("alert %d webhook try %d/%d failed: %s", event_id, attempt, attempts, type(exc).__name__)
        else:
            if 200 <= response.status_code < 300:
                return "delivered", attempt
            log.warning("alert %d webhook try %d/%d: HTTP %d", event_id, attempt, attempts, response.status_code)
            if not _retryable(response.status_code):
                return "failed", attempt
        if attempt < attempts:
            if on_failed_try is not None:
                await on_failed_try(attempt)
            await asyncio.sleep(wait)
            wait *= 2
    return "failed", attempts
