"""Authentication and rate limiting of every /v1 route and the WebSocket.

Clients send `X-API-Key: mpk_...` (WebSocket clients may pass `?api_key=` instead, as browsers cannot set headers
there; access logs redact it). A verified key is cached for `api.key_cache_ttl_s` so the hot path never waits
on PostgreSQL; revocation therefore takes effect within that many seconds (expiry is checked on every request).
Rate limits are token buckets per key in Redis, shared by every worker and replica (`api.ratelimit`).

Guessing keys is limited per client address: every refused key (unknown, malformed, revoked, expired) takes a
token from the address' own bucket (FAILURE_BURST, then FAILURE_RATE_PER_S); an address with none left gets 429
before PostgreSQL is asked. Valid keys are never slowed by it. A refusal is logged with the key id (or, for a
malformed key, its length) and the address, never the key itself.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, ClassVar

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from marketpulse.api.ratelimit import RateLimiter, SharedRateLimiter, failure_bucket
from marketpulse.auth.keys import ApiKey, ApiKeyStore, Scope, describe_presented
from marketpulse.config import ApiSettings
from marketpulse.errors import MarketPulseError

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="An API key from `marketpulse apikeys create`."
)


#: Refused keys one client address may present at once, then FAILURE_RATE_PER_S more per second.
FAILURE_BURST = 30
FAILURE_RATE_PER_S = 0.5


class UnauthenticatedError(MarketPulseError):
    """No API key, or one that is unknown, revoked or expired."""

    http_status = 401
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": "ApiKey"}


class ForbiddenError(MarketPulseError):
    """The key is valid but lacks the scope this route needs."""

    http_status = 403


class RateLimitedError(MarketPulseError):
    """The key sent more requests than its rate limit allows; retry after the Retry-After header."""

    http_status = 429

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after_s)))}


def rate_limited(key: ApiKey, rate: float, wait: float) -> RateLimitedError:
    return RateLimitedError(f"rate limit of {rate:g} requests/s exceeded for key {key.key_id}", wait)


class Authenticator:
    """Verifies keys through the store, caching the answer (valid or not) for a few seconds, and limits the keys
    a client address may get refused."""

    def __init__(self, store: ApiKeyStore, settings: ApiSettings) -> None:
        self.store = store
        self.settings = settings
        self.failure_burst, self.failure_rate_per_s = FAILURE_BURST, FAILURE_RATE_PER_S
        #: Per process until `share_limits` (the app's lifespan) hands it Redis.
        self.limiter: RateLimiter | SharedRateLimiter = RateLimiter(settings.rate_limit_burst)
        self.failures: RateLimiter | SharedRateLimiter = RateLimiter(self.failure_burst)
        self._cache: dict[str, tuple[ApiKey | None, float]] = {}

    async def authenticate(self, plain: str | None, client: str | None = None) -> ApiKey:
        """The key `plain` names if it may be used now; else 401 (or 429 once `client`, the caller's address, had
        too many keys refused)."""
        if not plain:
            raise UnauthenticatedError(f"this route needs an API key in the {API_KEY_HEADER} header")
        digest = hashlib.sha256(plain.encode()).hexdigest()  # the cache never holds the plain key
        now = time.monotonic()
        cached = self._cache.get(digest)
        fresh = cached is not None and cached[1] > now
        if fresh and cached is not None and cached[0] is not None and cached[0].refusal() is None:
            return cached[0]  # the hot path: a verified key, no store and no Redis call
        address = client or "unknown"
        await self._refuse_if_blocked(address)
        if fresh and cached is not None:
            key = cached[0]
        else:
            key = await run_in_threadpool(self.store.lookup, plain)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (key, now + self.settings.key_cache_ttl_s)
        refusal = "the API key is unknown" if key is None else key.refusal()
        if refusal is None:
            assert key is not None
            return key
        await self._count_failure(address, plain, refusal)
        raise UnauthenticatedError(refusal)

    async def _refuse_if_blocked(self, address: str) -> None:
        wait = await _ask(self.failures, failure_bucket(address), self.failure_rate_per_s, take=False)
        if wait > 0:
            raise _too_many_failures(wait)

    async def _count_failure(self, address: str, plain: str, refusal: str) -> None:
        wait = await _ask(self.failures, failure_bucket(address), self.failure_rate_per_s, take=True)
        # One line per counted refusal: a guessing client is logged at most at the failure rate, not per request.
        log.warning("refused %s from %s: %s", describe_presented(plain), address, refusal)
        if wait > 0:
            log.warning("client %s had too many API keys refused; it gets 429 for %.0f s", address, wait)
            raise _too_many_failures(wait)

    def share_limits(self, aredis: Any) -> None:
        """Keep the buckets in Redis, shared by every process serving this API."""
        self.limiter = SharedRateLimiter(aredis, self.settings.rate_limit_burst)
        self.failures = SharedRateLimiter(aredis, self.failure_burst)

    def rate_of(self, key: ApiKey) -> float:
        return key.rate_limit_per_s or self.settings.rate_limit_per_s

    async def check_rate(self, key: ApiKey) -> None:
        rate = self.rate_of(key)
        wait = await _ask(self.limiter, key.key_id, rate, take=True)
        if wait > 0:
            raise rate_limited(key, rate, wait)

    def forget(self) -> None:
        """Drop cached verdicts (after a revocation in this process)."""
        self._cache.clear()


async def _ask(limiter: RateLimiter | SharedRateLimiter, bucket: str, rate: float, *, take: bool) -> float:
    """Seconds to wait for a token of `bucket` (0: there is one, and `take` took it) from either limiter."""
    now = time.monotonic()
    if isinstance(limiter, SharedRateLimiter):
        return await (limiter.take(bucket, rate, now) if take else limiter.peek(bucket, rate, now))
    return limiter.take(bucket, rate, now) if take else limiter.peek(bucket, rate, now)


def _too_many_failures(wait: float) -> RateLimitedError:
    return RateLimitedError(
        "too many refused API keys from this address; retry after the Retry-After header with a valid key", wait
    )


def get_authenticator(request: Request) -> Authenticator:
    authenticator = request.app.state.authenticator
    assert isinstance(authenticator, Authenticator), "create_app builds the authenticator"
    return authenticator


def require_scope(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    """Dependency: the caller's key, refused (401/403/429) unless it is valid, has `scope` and is within its rate."""

    async def dependency(request: Request, plain: Annotated[str | None, Security(api_key_header)] = None) -> ApiKey:
        authenticator = get_authenticator(request)
        key = await authenticator.authenticate(plain, request.client.host if request.client else None)
        if not key.allows(scope):
            raise ForbiddenError(f"this route needs the {scope!r} scope; key {key.key_id} has {', '.join(key.scopes)}")
        if getattr(request.state, "rate_checked", False) is False:
            await authenticator.check_rate(key)  # once per request even when several scopes are checked
            request.state.rate_checked = True
        request.state.api_key = key
        return key

    dependency.__name__ = f"require_{scope}_scope"
    return dependency


require_read = require_scope("read")
require_admin = require_scope("admin")

#: The caller's key on a route under the read-scope router (FastAPI runs the dependency once per request).
ReadKey = Annotated[ApiKey, Depends(require_read)]
AdminKey = Annotated[ApiKey, Depends(require_admin)]
