"""The latest state of a symbol: the ready JSON document the stream keeps in Redis, read in one round trip.

`LatestReader.read` runs one Lua script that takes the key's rate-limit token (when asked) and returns the
document; a symbol known to the stream whose document is missing (written before documents existed, or by a
writer that only sets the hash) is parsed from the hash instead, the slow but equal answer.

`LatestQuoteLane` serves `GET /v1/symbols/{symbol}/latest` as plain ASGI in front of FastAPI: the same key check
(`Authenticator`), scope, shared rate limit, error bodies and metrics labels, but no dependency solving and no
response-model pass — the route costs a fraction of its FastAPI cost. The FastAPI route stays (it documents the
operation, answers malformed symbols with 422 and serves everything when `api.fast_latest` is off); both call
`LatestReader`, and the integration tests run the contract against both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.types import ASGIApp, Receive, Scope, Send

from marketpulse.api.auth import ForbiddenError, rate_limited
from marketpulse.api.errors import NotFoundError, render_error, render_store_error
from marketpulse.api.ratelimit import TOKEN_BUCKET_LUA, bucket_key
from marketpulse.api.resp import PipelinedRedis, script_sha
from marketpulse.api.schemas import LatestState, LatestValue, SymbolSummary
from marketpulse.contracts.market import SYMBOL_PATTERN
from marketpulse.errors import MarketPulseError
from marketpulse.stores.redis_store import SYMBOLS_KEY, latest_doc_key, latest_key, parse_value, section_of

#: Fields read for the symbol list: price candidates, newest-kind first, each with its timestamp field.
PRICE_FIELDS = (("tick.price", "tick.ts"), ("bar_1s.close", "bar_1s.ts"), ("bar_1m.close", "bar_1m.ts"))
LATEST_ROUTE = "/v1/symbols/{symbol}/latest"
_LATEST_PATH = re.compile(r"^/v1/symbols/(" + SYMBOL_PATTERN.strip("^$") + r")/latest$")


def parse_latest(symbol: str, fields: dict[str, str]) -> LatestState:
    """The hash's flat fields nested by section (the fallback when no ready document exists)."""
    sections: dict[str, dict[str, LatestValue]] = {}
    for key, raw in sorted(fields.items()):
        section, name = section_of(key)
        value = parse_value(name, raw)
        if value is not None:
            sections.setdefault(section, {})[name] = value
    return LatestState.model_validate({"symbol": symbol, **sections})


def summarize(symbol: str, values: list[str | None]) -> SymbolSummary:
    """values: the hash fields named in PRICE_FIELDS, flattened in order (price, ts, price, ts, ...)."""
    for price_raw, ts in zip(values[::2], values[1::2], strict=True):
        price = parse_value("price", price_raw) if price_raw is not None else None
        if isinstance(price, float):
            return SymbolSummary(symbol=symbol, price=price, ts=ts)
    return SymbolSummary(symbol=symbol, price=None, ts=None)


def summary_field_names() -> list[str]:
    return [name for pair in PRICE_FIELDS for name in pair]


# KEYS: rate bucket, document, symbol set, hash. ARGV: rate (0: not limited here), burst, symbol.
_READ_LUA = (
    TOKEN_BUCKET_LUA
    + """
local rate = tonumber(ARGV[1])
if rate > 0 then
  local wait = take(KEYS[1], rate, tonumber(ARGV[2]))
  if wait > 0 then return {'limited', tostring(wait)} end
end
local doc = redis.call('GET', KEYS[2])
if doc then return {'doc', doc} end
if redis.call('SISMEMBER', KEYS[3], ARGV[3]) == 0 then return {'unknown'} end
local flat = redis.call('HGETALL', KEYS[4])
table.insert(flat, 1, 'hash')
return flat
"""
)


class RateLimited(Exception):
    """The read script refused the request: seconds to wait."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s


class LatestReader:
    """One round trip per latest-quote request, on the pipelined connection (the document goes out as stored)."""

    def __init__(self, redis: PipelinedRedis, burst: int) -> None:
        self.redis = redis
        self.burst = burst
        self._script = _READ_LUA.encode()
        self._sha = script_sha(self._script)

    async def read(self, symbol: str, *, key_id: str = "", rate: float = 0.0) -> bytes:
        """The response body; raises NotFoundError for a symbol the stream never saw, RateLimited when `rate` > 0
        and the key's bucket is empty."""
        keys = (bucket_key(key_id), latest_doc_key(symbol), SYMBOLS_KEY, latest_key(symbol))
        reply = await self.redis.evalsha(self._script, self._sha, keys, (rate, self.burst, symbol))
        kind = reply[0]
        if kind == b"doc":
            return bytes(reply[1])
        if kind == b"limited":
            raise RateLimited(float(reply[1]))
        if kind == b"unknown":
            raise NotFoundError(f"unknown symbol {symbol!r}: the stream has not seen it (GET /v1/symbols lists those)")
        # A known symbol whose state expired (no tick for a TTL) answers with empty sections, not 404.
        flat = [part.decode() for part in reply[1:]]
        return orjson.dumps(parse_latest(symbol, dict(zip(flat[::2], flat[1::2], strict=True))).model_dump())


@dataclass(frozen=True)
class _RouteLabel:
    """What MetricsMiddleware reads from scope["route"]: the route template, for bounded labels."""

    path: str


_LABEL = _RouteLabel(LATEST_ROUTE)
_JSON_HEADERS = [(b"content-type", b"application/json")]


class LatestQuoteLane:
    """Pure ASGI: answers well-formed latest-quote GETs itself, passes everything else on to FastAPI."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _LATEST_PATH.match(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        state = scope["app"].state if match else None
        # A query string goes the long way (FastAPI checks it), as does everything when the lane is off.
        if match is None or scope["query_string"] or state is None or not state.settings.api.fast_latest:
            await self.app(scope, receive, send)
            return
        scope["route"] = _LABEL
        client = scope.get("client")
        address = client[0] if client else None
        status, body, headers = await self._answer(state, match[1], _header(scope, b"x-api-key"), address)
        length = (b"content-length", str(len(body)).encode())
        await send({"type": "http.response.start", "status": status, "headers": [*_JSON_HEADERS, length, *headers]})
        await send({"type": "http.response.body", "body": body})

    async def _answer(
        self, state: Any, symbol: str, plain: str | None, address: str | None
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        authenticator = state.authenticator
        try:
            key = await authenticator.authenticate(plain, address)
            if not key.allows("read"):
                raise ForbiddenError(f"this route needs the 'read' scope; key {key.key_id} has {', '.join(key.scopes)}")
            rate = authenticator.rate_of(key)
            try:
                return 200, await state.resources.latest.read(symbol, key_id=key.key_id, rate=rate), []
            except RateLimited as limited:
                raise rate_limited(key, rate, limited.wait_s) from None
        except MarketPulseError as exc:
            return render_error(exc)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            return render_store_error(exc, scope_path=f"/v1/symbols/{symbol}/latest")


def _header(scope: Scope, name: bytes) -> str | None:
    for header, value in scope["headers"]:
        if header == name:
            return str(value.decode("latin-1"))
    return None
