"""Rate limits shared by every API worker and replica: one token bucket per key in Redis, taken atomically by a
Lua script that reads Redis' own clock (so workers on different hosts agree on time).

If Redis does not answer, each process falls back to its own in-memory bucket (logged once per outage): routes
that do not need Redis (history from Cassandra) keep working, with a per-process limit until Redis is back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)


def bucket_key(key_id: str) -> str:
    return f"mp:ratelimit:{key_id}"


def failure_bucket(client: str) -> str:
    """The bucket of failed API key attempts from one client address (not a key id: no clash with bucket_key)."""
    return f"authfail:{client}"


#: `take(key, rate, burst)`: seconds to wait before one more request (0: it may go now, and a token was taken).
#: Shared by the plain limit script and the latest-quote script, which checks the limit in the same round trip.
TOKEN_BUCKET_LUA = """
local function take(key, rate, burst)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  local b = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(b[1]) or burst
  local ts = tonumber(b[2]) or now
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  local wait = 0
  if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('EXPIRE', key, math.ceil(burst / rate) + 1)
  return wait
end
"""

_TAKE_LUA = TOKEN_BUCKET_LUA + "return tostring(take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])))"

#: `peek(key, rate, burst)`: the seconds `take` would ask to wait, without taking a token (read only).
_PEEK_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
if tokens >= 1 then return '0' end
return tostring((1 - tokens) / rate)
"""


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """In-memory token buckets: `rate` tokens per second up to `burst`; one request takes one token."""

    burst: int
    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, key_id: str, rate: float, now: float) -> float:
        """0 if the request may go, else seconds until a token is available."""
        bucket = self.buckets.get(key_id)
        if bucket is None:
            bucket = self.buckets[key_id] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate

    def peek(self, key_id: str, rate: float, now: float) -> float:
        """What `take` would answer, without taking a token."""
        bucket = self.buckets.get(key_id)
        if bucket is None:
            return 0.0
        tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / rate


class SharedRateLimiter:
    """Token buckets in Redis (async client), with the in-memory limiter as the fallback during an outage."""

    def __init__(self, aredis: Any, burst: int) -> None:
        self.burst = burst
        self.fallback = RateLimiter(burst)
        self._script = aredis.register_script(_TAKE_LUA)
        self._peek = aredis.register_script(_PEEK_LUA)
        self._degraded = False

    async def take(self, key_id: str, rate: float, now: float) -> float:
        return await self._call(self._script, key_id, rate, now, take=True)

    async def peek(self, key_id: str, rate: float, now: float) -> float:
        """What `take` would answer, without taking a token."""
        return await self._call(self._peek, key_id, rate, now, take=False)

    async def _call(self, script: Any, key_id: str, rate: float, now: float, *, take: bool) -> float:
        try:
            wait = float(await script(keys=[bucket_key(key_id)], args=[rate, self.burst]))
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            return self.degraded(exc, key_id, rate, now, take=take)
        self._degraded = False
        return wait

    def degraded(self, exc: Exception, key_id: str, rate: float, now: float, *, take: bool = True) -> float:
        """The answer while Redis is away: this process' own bucket."""
        if not self._degraded:
            log.warning("rate limits fall back to per-process buckets while Redis is unavailable: %r", exc)
            self._degraded = True
        return self.fallback.take(key_id, rate, now) if take else self.fallback.peek(key_id, rate, now)
