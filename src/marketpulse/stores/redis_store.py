"""Redis: latest state per symbol (hash + ready-to-send JSON document), live fan-out (pub/sub), stream heartbeats.

Each symbol's latest state is kept twice, merged atomically by one Lua script per symbol and batch:
- `mp:latest:{symbol}`, a hash of flat `kind.field` strings (tick.price, bar_1m.close, ind.rsi_14...), read by
  the symbol list, the replay's resume and the operations tasks;
- `mp:latest:doc:{symbol}`, the API's response body for `GET /v1/symbols/{symbol}/latest`, built inside Redis
  from per-field JSON fragments (`mp:latest:frag:{symbol}`) that the writer encoded once. The hot read path
  is then one GET and no parsing: the JSON text of every value is decided here, by the writer.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from typing import Any

import orjson

from marketpulse.config import Settings

SYMBOLS_KEY = "mp:symbols"

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

    def __init__(self, settings: Settings) -> None:
        self.client = redis_client(settings)
        self.ttl_s = settings.stream.redis_ttl_s
        self.merger = LatestMerger(self.client, self.ttl_s)

    def update_latest(self, updates: dict[str, dict[str, Any]]) -> None:
        """updates: symbol -> flat fields (prefixed by kind, e.g. bar_1m.close) that changed in this batch;
        merged into the hash and the ready JSON document, and published as one JSON message per symbol."""
        if not updates:
            return
        pipe = self.client.pipeline(transaction=False)
        for symbol, fields in updates.items():
            clean = {k: v for k, v in fields.items() if v is not None}
            self.merger.queue(pipe, symbol, clean)
            # published_at (unix s) lets subscribers measure the Redis -> client stage.
            message = {"symbol": symbol, **clean, "published_at": time.time()}
            pipe.publish(live_channel(symbol), orjson.dumps(message, default=str, option=orjson.OPT_SERIALIZE_NUMPY))
        pipe.execute()

    def heartbeat(self, query: str, batch_id: int, rows: int) -> None:
        write_heartbeat(self.client, query, batch_id, rows)

    def close(self) -> None:
        self.client.close()
