"""Same-run peers of the market job, all reading the same pre-loaded topic:

- B0a: a confluent-kafka consumer that only counts (the raw read ceiling from Python);
- the seed-style consumer: one message, json.loads, one Postgres and one Cassandra INSERT per tick;
- the hand-tuned loop, "what a user would write instead": batch consume, json.loads + the Tick rules per tick,
  pandas 1 s OHLCV bars, one Redis pipeline of the latest bars per batch.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from bench.market.cpu import CpuMeter
from bench.market.results import Stage, log
from marketpulse.config import Settings
from marketpulse.contracts.base import to_epoch_ns
from marketpulse.contracts.market import EARLIEST_EVENT, MAX_CLOCK_SKEW, SYMBOL_PATTERN, Tick

#: Messages per consume() call of the hand-tuned loop.
PEER_BATCH = 20_000
#: Redis hash of the hand-tuned loop's latest 1 s bar per symbol (its own keys: the job's are left alone).
PEER_KEY_PREFIX = "mp:bench:peer:bar_1s:"
BAR_COLUMNS = ["symbol", "sec", "open", "high", "low", "close", "volume", "pv", "trades", "last_ts"]


def _consumer(settings: Settings, name: str) -> Any:
    from confluent_kafka import Consumer

    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"bench-{name}-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )


def _assign_from_start(consumer: Any, topic: str, partitions: int) -> None:
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])


def stage_b0a(settings: Settings, topic: str, partitions: int, events: int, meter: CpuMeter) -> Stage:
    stage = Stage("B0a", "confluent-kafka consumer, count only (raw ceiling)")
    consumer = _consumer(settings, "b0a")
    _assign_from_start(consumer, topic, partitions)
    count, first, deadline = 0, None, time.monotonic() + 300
    meter.start()
    try:
        while count < events and time.monotonic() < deadline:
            messages = consumer.consume(num_messages=10_000, timeout=1.0)
            if messages and first is None:
                first = time.monotonic()
            count += len(messages)
        last = time.monotonic()
    finally:
        stage.cpu = meter.stop()
        consumer.close()
    stage.events, stage.seconds = count, last - (first or last)
    stage.note = "timed from the first message (assign(), no group join)"
    return stage


def stage_seed_peer(settings: Settings, topic: str, max_events: int, max_s: float, meter: CpuMeter) -> Stage:
    """A typical hobby pipeline: poll one message, json.loads, INSERT into Postgres (autocommit), INSERT into
    Cassandra (synchronous, unprepared), repeat."""
    import psycopg

    from marketpulse.stores.cassandra import cassandra_cluster

    stage = Stage("Peer-seed", "seed-style: poll -> json.loads -> per-row PG INSERT + Cassandra INSERT")
    pg = psycopg.connect(settings.postgres_dsn(), autocommit=True)
    pg.execute(
        "CREATE TABLE IF NOT EXISTS bench_peer_ticks (id bigserial PRIMARY KEY, symbol text, ts timestamptz, "
        "price double precision, size double precision)"
    )
    pg.execute("TRUNCATE bench_peer_ticks")
    cluster = cassandra_cluster(settings)
    session = cluster.connect(settings.cassandra.keyspace)
    session.execute(
        "CREATE TABLE IF NOT EXISTS bench_peer_ticks (symbol text, ts timestamp, price double, size double, "
        "PRIMARY KEY (symbol, ts))",
        timeout=60,
    )
    consumer = _consumer(settings, "peer-seed")
    consumer.subscribe([topic])
    count, first = 0, None
    meter.start()
    try:
        wait_until = time.monotonic() + 60
        while count < max_events:
            now = time.monotonic()
            if (first is not None and now - first >= max_s) or (first is None and now > wait_until):
                break
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            if first is None:
                first = time.monotonic()
            tick = json.loads(msg.value())
            row = (tick["symbol"], datetime.fromtimestamp(tick["ts"] / 1e9, tz=UTC), tick["price"], tick["size"])
            pg.execute("INSERT INTO bench_peer_ticks (symbol, ts, price, size) VALUES (%s, %s, %s, %s)", row)
            session.execute("INSERT INTO bench_peer_ticks (symbol, ts, price, size) VALUES (%s, %s, %s, %s)", row)
            count += 1
            if count % 10_000 == 0:
                log(f"  seed peer: {count:,} rows, {count / (time.monotonic() - first):,.0f}/s")
        last = time.monotonic()
    finally:
        stage.cpu = meter.stop()
        consumer.close()
        cluster.shutdown()
        pg.close()
    stage.events, stage.seconds = count, last - (first or last)
    stage.note = f"bounded: {max_events:,} rows or {max_s:.0f} s; timed from the first message"
    return stage


# --- the hand-tuned loop ----------------------------------------------------------------------------------------


class TickRules:
    """The Tick contract's rules on a decoded wire dict, as plain comparisons (a pydantic model per tick costs
    several times the whole loop). Timestamps must be epoch ns integers, the wire form producers send."""

    FIELDS = frozenset({"v", *Tick.model_fields})
    EARLIEST_NS = to_epoch_ns(EARLIEST_EVENT)
    SKEW_NS = int(MAX_CLOCK_SKEW.total_seconds() * 1e9)
    SOURCE_MAX = 32

    def __init__(self) -> None:
        self._symbol_ok: dict[str, bool] = {}
        self._pattern = re.compile(SYMBOL_PATTERN)

    def _symbol(self, symbol: object) -> bool:
        if not isinstance(symbol, str):
            return False
        ok = self._symbol_ok.get(symbol)
        if ok is None:
            ok = self._symbol_ok[symbol] = self._pattern.match(symbol) is not None
        return ok

    def valid(self, t: Any, now_ns: int) -> bool:
        """Whether `from_wire(Tick, ...)` would accept this dict (same checks, same order of cost)."""
        if type(t) is not dict or t.get("v") != Tick.SCHEMA_VERSION or not t.keys() <= self.FIELDS:
            return False
        ts, bid, ask, source, seq = t.get("ts"), t.get("bid"), t.get("ask"), t.get("source"), t.get("seq")
        return (
            self._symbol(t.get("symbol"))
            and type(ts) is int
            and self.EARLIEST_NS <= ts <= now_ns + self.SKEW_NS
            and _positive(t.get("price"))
            and _positive(t.get("size"))
            and (bid is None or _positive(bid))
            and (ask is None or _positive(ask))
            and (bid is None or ask is None or bid <= ask)
            and type(source) is str
            and 1 <= len(source) <= self.SOURCE_MAX
            and (seq is None or (type(seq) is int and seq >= 0))
        )


def _positive(value: object) -> bool:
    return type(value) in (float, int) and 0 < value < math.inf  # type: ignore[operator]


def one_second_bars(symbols: list[str], ts_ns: list[int], prices: list[float], sizes: list[float]) -> pd.DataFrame:
    """OHLCV (+ price×size for VWAP, trades, event time of the last tick) per (symbol, second) of one batch."""
    frame = pd.DataFrame({"symbol": symbols, "ts": ts_ns, "price": prices, "size": sizes})
    frame["sec"] = frame["ts"] // 1_000_000_000
    frame["pv"] = frame["price"] * frame["size"]
    bars = frame.groupby(["symbol", "sec"], sort=False).agg(
        open=("price", "first"),
        high=("price", "max"),
        low=("price", "min"),
        close=("price", "last"),
        volume=("size", "sum"),
        pv=("pv", "sum"),
        trades=("price", "size"),
        last_ts=("ts", "max"),
    )
    return bars.reset_index()[BAR_COLUMNS]


def merge_bars(carried: pd.DataFrame, bars: pd.DataFrame) -> pd.DataFrame:
    """Bars of the same (symbol, second) from an earlier batch and this one, combined; carried ones come first."""
    both = pd.concat([carried, bars], ignore_index=True) if len(carried) else bars
    merged = both.groupby(["symbol", "sec"], sort=False).agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        pv=("pv", "sum"),
        trades=("trades", "sum"),
        last_ts=("last_ts", "max"),
    )
    return merged.reset_index()[BAR_COLUMNS]


def latest_bars(bars: pd.DataFrame) -> pd.DataFrame:
    """The newest (still open) bar of every symbol: carried into the next batch and written to Redis."""
    return bars.sort_values("sec", kind="stable").groupby("symbol", sort=False).tail(1)


def write_latest(redis: Any, latest: pd.DataFrame) -> None:
    """One pipeline round trip: HSET of each symbol's latest bar."""
    pipe = redis.pipeline(transaction=False)
    for r in latest.itertuples(index=False):
        fields = {"sec": r.sec, "open": r.open, "high": r.high, "low": r.low, "close": r.close}
        fields.update(volume=r.volume, vwap=r.pv / r.volume, trades=r.trades, last_ts=r.last_ts)
        pipe.hset(PEER_KEY_PREFIX + r.symbol, mapping=fields)
    pipe.execute()


class HandTunedLoop:
    """The "what a user would write instead" consumer: one step per consume(PEER_BATCH) call."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self.rules = TickRules()
        self.carried = pd.DataFrame(columns=BAR_COLUMNS)
        self.rejected = 0

    def step(self, values: list[bytes]) -> None:
        now_ns = time.time_ns()
        symbols: list[str] = []
        ts: list[int] = []
        prices: list[float] = []
        sizes: list[float] = []
        valid, loads = self.rules.valid, json.loads
        for value in values:
            try:
                t = loads(value)
            except ValueError:
                self.rejected += 1
                continue
            if not valid(t, now_ns):
                self.rejected += 1
                continue
            symbols.append(t["symbol"])
            ts.append(t["ts"])
            prices.append(t["price"])
            sizes.append(t["size"])
        if not symbols:
            return
        bars = merge_bars(self.carried, one_second_bars(symbols, ts, prices, sizes))
        self.carried = latest_bars(bars)
        write_latest(self.redis, self.carried)


def stage_hand_tuned(settings: Settings, topic: str, partitions: int, events: int, meter: CpuMeter) -> Stage:
    """The hand-tuned loop over the whole pre-loaded topic, timed from the first message."""
    from marketpulse.stores.redis_store import redis_client

    stage = Stage(
        "Peer-numpy", f"hand-tuned: consume({PEER_BATCH:,}) -> json.loads + rules -> pandas 1 s bars -> Redis"
    )
    consumer = _consumer(settings, "peer-numpy")
    _assign_from_start(consumer, topic, partitions)
    redis = redis_client(settings)
    loop = HandTunedLoop(redis)
    count, batches, first, idle_until = 0, 0, None, time.monotonic() + 60
    meter.start()
    try:
        while count < events and time.monotonic() < idle_until:
            messages = consumer.consume(num_messages=PEER_BATCH, timeout=1.0)
            if not messages:
                continue
            if first is None:
                first = time.monotonic()
            loop.step([m.value() for m in messages if m.error() is None])
            count, batches, idle_until = count + len(messages), batches + 1, time.monotonic() + 10
        last = time.monotonic()
    finally:
        stage.cpu = meter.stop()
        consumer.close()
        _drop_keys(redis)
        redis.close()
    stage.events, stage.seconds = count, last - (first or last)
    stage.note = (
        f"{batches} batches ({stage.seconds / max(batches, 1):.3f} s each), {loop.rejected} rejected; timed from "
        "the first message; no DLQ, no history stores, no indicators"
    )
    return stage


def _drop_keys(redis: Any) -> None:
    keys = list(redis.scan_iter(match=PEER_KEY_PREFIX + "*", count=1000))
    if keys:
        redis.delete(*keys)
