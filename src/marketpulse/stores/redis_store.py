"""Redis: latest state per symbol (hash + ready-to-send JSON document), live fan-out (pub/sub), stream heartbeats.

Each symbol's latest state is kept twice, merged atomically by one Lua script per symbol and batch:
- `mp:latest:{symbol}`, a hash of flat `kind.field` strings (tick.price, bar_1m.close, ind.rsi_14...), read by
  the symbol list, the replay's resume and the operations tasks;
- `mp:latest:doc:{symbol}`, the API's response body for `GET /v1/symbols/{symbol}/latest`, built inside Redis
  from per-field JSON fragments (`mp:latest:frag:{symbol}`) that the writer encoded once. The hot read path
  is then one GET and no parsing: the JSON text of every value is decided here, by the writer.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import redis
from redis.exceptions import NoScriptError

from marketpulse.config import RedisSettings, Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

SYMBOLS_KEY = "mp:symbols"
#: How long a stream job's Redis writer waits out an outage (retrying with backoff, its micro-batch stalled) before
#: it gives up and lets the job fail; far beyond a restart of Redis (seconds) or a minute-long outage.
OUTAGE_GIVE_UP_S = 600.0

#: Hash prefix -> section of the latest-state document, in the document's order ("other" collects the rest).
SECTIONS = {
    "tick": "tick",
    "bar_1s": "bar_1s",
    "bar_1m": "bar_1m",
    "ind": "indicators",
    "pred": "prediction",
    "sent": "sentiment",
}
SECTION_ORDER = (*SECTIONS.values(), "other")

LatestValue = float | str


def latest_key(symbol: str) -> str:
    return f"mp:latest:{symbol}"


def latest_doc_key(symbol: str) -> str:
    """The ready-to-send JSON body of a symbol's latest state."""
    return f"mp:latest:doc:{symbol}"


def latest_fragments_key(symbol: str) -> str:
    return f"mp:latest:frag:{symbol}"


def live_channel(symbol: str) -> str:
    return f"mp:live:{symbol}"


def heartbeat_key(query: str) -> str:
    return f"mp:stream:{query}:heartbeat"


#: Every query's heartbeat (SCAN pattern); `heartbeat_query` turns a key back into the query's name.
HEARTBEAT_PATTERN = heartbeat_key("*")


def heartbeat_query(key: str) -> str:
    prefix, suffix = HEARTBEAT_PATTERN.split("*")
    return key.removeprefix(prefix).removesuffix(suffix)


def started_key(job: str) -> str:
    """Written by a stream job's driver once its queries run: pid and time (what a launcher waits for)."""
    return f"mp:stream:{job}:started"


@dataclass(frozen=True)
class Beat:
    """A heartbeat (after a query's micro-batch) or a start marker (a job's queries run), as read back."""

    at: float
    pid: int | None
    batch_id: int | None = None
    rows: int | None = None

    def age_s(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.at

    def since(self, started_at: float | None) -> bool:
        """Written by a process started at `started_at` (unix s) or later: a beat left by an older run is not."""
        return started_at is None or self.at >= started_at - 1.0


def _beat(raw: Mapping[str, str]) -> Beat | None:
    def number(name: str) -> float | None:
        try:
            return float(raw[name])
        except (KeyError, TypeError, ValueError):
            return None

    at = number("at")
    if at is None:
        return None
    pid, batch, rows = (number(name) for name in ("pid", "batch_id", "rows"))
    return Beat(at, int(pid) if pid else None, *(int(n) if n is not None else None for n in (batch, rows)))


def write_heartbeat(client: Any, query: str, batch_id: int, rows: int) -> None:
    """What a streaming query writes after each micro-batch; the stream supervisor and `platform status` read it."""
    # pid: the stream supervisor tells a restarted driver's batches from an older process's.
    mapping = {"batch_id": batch_id, "rows": rows, "at": time.time(), "pid": os.getpid()}
    client.hset(heartbeat_key(query), mapping=mapping)


def read_heartbeat(client: Any, query: str) -> Beat | None:
    return _beat(client.hgetall(heartbeat_key(query)))


def read_heartbeats(client: Any) -> dict[str, Beat | None]:
    """query -> its last heartbeat (None: unreadable), for every query that ever wrote one."""
    return {
        heartbeat_query(key): _beat(client.hgetall(key))
        for key in sorted(client.scan_iter(match=HEARTBEAT_PATTERN, count=100))
    }


def write_started(client: Any, job: str) -> None:
    client.hset(started_key(job), mapping={"pid": os.getpid(), "at": time.time()})


def read_started(client: Any, job: str) -> Beat | None:
    return _beat(client.hgetall(started_key(job)))


def sentiment_windows_key(symbol: str) -> str:
    """Sorted set of a symbol's sentiment windows, scored by window end (epoch s): point-in-time lookups."""
    return f"mp:sentiment:windows:{symbol}"


def redis_section(settings: Settings) -> RedisSettings:
    """settings.redis with its URL filled in (default: the stack host; AUTH and CA in it): a section that connects
    by itself, what writers and sinks are given."""
    return settings.redis.model_copy(update={"url": settings.redis_url})


def redis_client(settings: Settings) -> Any:
    """A redis-py client (str responses, 10 s socket timeout) for the configured server."""
    return section_client(redis_section(settings))


def section_client(section: RedisSettings) -> Any:
    """redis_client for a section from `redis_section` (its URL filled in)."""
    return redis.Redis.from_url(section.client_url(), decode_responses=True, socket_timeout=10)


class OutageRetry:
    """Runs a Redis call again through an outage: backoff from 0.2 s to 5 s, one warning when Redis goes away and one
    when it is back, and the error after `give_up_after_s` of outage. What the stream jobs write through: their
    micro-batch stalls (Spark commits nothing meanwhile, so nothing accepted is lost) and catches up afterwards.

    The call must be whole: a pipeline is rebuilt by each attempt (redis-py empties one that failed). After a restart
    Redis has forgotten the merge script (NOSCRIPT); the next attempt's pipeline loads it again.
    """

    def __init__(
        self,
        what: str,
        give_up_after_s: float = OUTAGE_GIVE_UP_S,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.give_up_after_s = give_up_after_s
        self.sleep = sleep
        self.clock = clock
        self.down_since: float | None = None
        #: Outages ridden out (or given up on) so far.
        self.outages = 0

    def call(self, action: Callable[[], T]) -> T:
        delay = 0.2
        while True:
            try:
                result = action()
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, NoScriptError) as exc:
                now = self.clock()
                if self.down_since is None:
                    self.down_since = now
                    self.outages += 1
                    log.warning(
                        "%s: Redis unavailable (%s: %s); retrying with backoff for up to %.0fs",
                        self.what,
                        type(exc).__name__,
                        str(exc)[:200],
                        self.give_up_after_s,
                    )
                elif now - self.down_since > self.give_up_after_s:
                    log.error("%s: Redis still unavailable after %.0fs; giving up", self.what, now - self.down_since)
                    raise
                self.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if self.down_since is not None:
                log.warning("%s: Redis is back after %.1fs; catching up", self.what, self.clock() - self.down_since)
                self.down_since = None
            return result


# --- the latest-state document ------------------------------------------------------------------------------


def parse_value(name: str, raw: str) -> LatestValue | None:
    """Timestamps stay ISO strings, numbers become floats (non-finite ones are dropped), other text stays text."""
    if name == "ts" or name.endswith("_ts"):
        return raw
    try:
        number = float(raw)
    except ValueError:
        return raw
    return number if math.isfinite(number) else None


def section_of(flat: str) -> tuple[str, str]:
    """`ind.rsi_14` -> ("indicators", "rsi_14"); a key of an unknown kind goes whole into "other"."""
    prefix, dot, name = flat.partition(".")
    section = SECTIONS.get(prefix) if dot else None
    return (section, name) if section else ("other", flat)


def fragment(flat: str, raw: str) -> str:
    """What the merge script stores for one field: the section's index, then `"name":<json value>`; empty for a
    value the document leaves out (non-finite numbers)."""
    section, name = section_of(flat)
    value = parse_value(name, raw)
    if value is None:
        return ""
    index = SECTION_ORDER.index(section)
    return f"{index}{orjson.dumps(name).decode()}:{orjson.dumps(value).decode()}"


# KEYS: hash, fragments, document, symbol set. ARGV: ttl, symbol, symbol as JSON, then (field, raw, fragment)*.
# Atomic, so the market and sentiment jobs may merge into the same symbol at once; sections and fields are
# sorted so the document does not depend on write order.
_MERGE_LUA = """
local ttl = tonumber(ARGV[1])
local raw, frag, gone = {}, {}, {}
for i = 4, #ARGV, 3 do
  raw[#raw + 1] = ARGV[i]; raw[#raw + 1] = ARGV[i + 1]
  if ARGV[i + 2] == '' then gone[#gone + 1] = ARGV[i]
  else frag[#frag + 1] = ARGV[i]; frag[#frag + 1] = ARGV[i + 2] end
end
if #raw > 0 then redis.call('HSET', KEYS[1], unpack(raw)) end
if #frag > 0 then redis.call('HSET', KEYS[2], unpack(frag)) end
if #gone > 0 then redis.call('HDEL', KEYS[2], unpack(gone)) end
local all = redis.call('HGETALL', KEYS[2])
local parts = {}
for i = 1, #all, 2 do
  local v = all[i + 1]
  local s = tonumber(string.sub(v, 1, 1)) + 1
  parts[s] = parts[s] or {}
  table.insert(parts[s], {all[i], string.sub(v, 2)})
end
local names = {SECTION_NAMES}
local out = {'{"symbol":', ARGV[3]}
for s = 1, #names do
  out[#out + 1] = ',"' .. names[s] .. '":'
  local p = parts[s]
  if p then
    table.sort(p, function(a, b) return a[1] < b[1] end)
    local f = {}
    for j = 1, #p do f[j] = p[j][2] end
    out[#out + 1] = '{' .. table.concat(f, ',') .. '}'
  else
    out[#out + 1] = 'null'
  end
end
out[#out + 1] = '}'
redis.call('SET', KEYS[3], table.concat(out), 'EX', ttl)
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('SADD', KEYS[4], ARGV[2])
return 1
""".replace("SECTION_NAMES", ", ".join(f"'{name}'" for name in SECTION_ORDER))


class LatestMerger:
    """Queues the atomic merge of a symbol's changed fields (hash + document) on a pipeline."""

    def __init__(self, client: Any, ttl_s: int) -> None:
        self.script = client.register_script(_MERGE_LUA)
        self.ttl_s = ttl_s

    def queue(self, pipe: Any, symbol: str, fields: Mapping[str, Any]) -> None:
        """fields: flat `kind.field` -> value (None values are skipped, as they mean "not changed")."""
        args: list[Any] = [self.ttl_s, symbol, orjson.dumps(symbol).decode()]
        for flat, value in fields.items():
            if value is None:
                continue
            raw = str(value)
            args += [flat, raw, fragment(flat, raw)]
        keys = [latest_key(symbol), latest_fragments_key(symbol), latest_doc_key(symbol), SYMBOLS_KEY]
        self.script(keys=keys, args=args, client=pipe)


class RedisWriter:
    """Writes a micro-batch's updates in one pipeline round trip, then publishes them per symbol."""

    def __init__(self, redis: RedisSettings, ttl_s: int, give_up_after_s: float = OUTAGE_GIVE_UP_S) -> None:
        """redis: a section from `redis_section` (its URL filled in); ttl_s: stream.redis_ttl_s."""
        self.client = section_client(redis)
        self.ttl_s = ttl_s
        self.merger = LatestMerger(self.client, self.ttl_s)
        #: Every write rides out a Redis outage (the caller's micro-batch waits). One retry state per thread (the
        #: micro-batch thread, the archiver's heartbeats): each logs an outage once.
        self._give_up_after_s = give_up_after_s
        self._local = threading.local()

    @property
    def retry(self) -> OutageRetry:
        retry: OutageRetry | None = getattr(self._local, "retry", None)
        if retry is None:
            name = threading.current_thread().name
            retry = self._local.retry = OutageRetry(f"stream Redis writer ({name})", self._give_up_after_s)
        return retry

    def update_latest(self, updates: dict[str, dict[str, Any]]) -> None:
        """updates: symbol -> flat fields (prefixed by kind, e.g. bar_1m.close) that changed in this batch;
        merged into the hash and the ready JSON document, and published as one JSON message per symbol."""
        if not updates:
            return

        def write() -> None:
            pipe = self.client.pipeline(transaction=False)
            for symbol, fields in updates.items():
                clean = {k: v for k, v in fields.items() if v is not None}
                self.merger.queue(pipe, symbol, clean)
                # published_at (unix s) lets subscribers measure the Redis -> client stage.
                message = {"symbol": symbol, **clean, "published_at": time.time()}
                payload = orjson.dumps(message, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
                pipe.publish(live_channel(symbol), payload)
            pipe.execute()

        self.retry.call(write)

    def heartbeat(self, query: str, batch_id: int, rows: int) -> None:
        self.retry.call(lambda: write_heartbeat(self.client, query, batch_id, rows))

    def close(self) -> None:
        self.client.close()
