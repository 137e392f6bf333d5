"""Sentiment in every store: item scores and windows in Cassandra, windows in Postgres and Redis.

One class per store (CassandraSentiment, PostgresSentiment, RedisSentiment); the sentiment job writes them
through its sinks (stream/sentiment_sinks.py). Cassandra holds the history (`sentiment_items` by (symbol, day
of known_at), `sentiment_windows` by (symbol, day of window_end)); the sentiment job re-reads items from it to
recompute the windows a batch touched, so windows never depend on what one process happened to keep in memory.
Redis keeps, per symbol, a sorted set of windows scored by window_end: the market job's point-in-time lookup
("the newest window that ended by this bar's cutoff") is one ZREVRANGEBYSCORE, correct in live and in historic
replay time.
"""

from __future__ import annotations

import json
import math
import time
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.config import CassandraSettings, PostgresSettings, RedisSettings
from marketpulse.contracts.columns import STORED_ITEM_COLUMNS as ITEM_COLUMNS
from marketpulse.contracts.columns import WINDOW_COLUMNS
from marketpulse.contracts.text import TEXT_SOURCES, SentimentWindow
from marketpulse.stores.cassandra import CassandraWriter
from marketpulse.stores.postgres import PostgresWriter
from marketpulse.stores.redis_store import (
    LatestMerger,
    OutageRetry,
    live_channel,
    section_client,
    sentiment_windows_key,
    write_heartbeat,
)

_WINDOW_VALUES = [c for c in WINDOW_COLUMNS if c not in ("symbol", "window_end")]
_TIME_COLUMNS = ("window_start", "window_end", "last_published_at", "last_ingested_at")


def _py(value: Any) -> Any:
    """pandas/numpy scalar -> what the drivers take (NaN/NaT -> None)."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return _py(value.item())
    return value


def _days(start: datetime, end: datetime) -> list[date]:
    first, last = start.date(), end.date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


class CassandraSentiment:
    """Scored texts and windows in Cassandra: the history the sentiment job recomputes windows from."""

    def __init__(self, cassandra: CassandraSettings) -> None:
        """cassandra: a section from `cassandra.cassandra_section`."""
        self.cassandra = CassandraWriter(cassandra)  # connects and migrates (creates the sentiment tables)
        session = self.cassandra.session
        self._insert_item = session.prepare(
            f"INSERT INTO sentiment_items ({', '.join(ITEM_COLUMNS)}) VALUES ({', '.join('?' * len(ITEM_COLUMNS))})"
        )
        window_columns = ["symbol", "day", "window_end", *_WINDOW_VALUES, "model_version"]
        self._insert_window = session.prepare(
            f"INSERT INTO sentiment_windows ({', '.join(window_columns)}, updated_at) "
            f"VALUES ({', '.join('?' * len(window_columns))}, toTimestamp(now()))"
        )
        self._select_items = session.prepare(
            "SELECT symbol, source, polarity, published_at, ingested_at FROM sentiment_items "
            "WHERE symbol = ? AND day = ? AND known_at >= ? AND known_at < ?"
        )

    def write_items(self, scores: pd.DataFrame) -> None:
        """scores: one row per (text, symbol) with ITEM_COLUMNS except `day` (derived from known_at)."""
        rows = []
        for r in scores.itertuples(index=False):
            values = {column: getattr(r, column) for column in ITEM_COLUMNS if column != "day"}
            values["day"] = r.known_at.date()
            rows.append(tuple(_py(values[column]) for column in ITEM_COLUMNS))
        self.cassandra._write(self._insert_item, rows)

    def read_items(self, symbol: str, start: datetime, end: datetime) -> pd.DataFrame:
        """A symbol's scored texts known in [start, end), as the window math wants them."""
        futures = [
            self.cassandra.session.execute_async(self._select_items, (symbol, day, start, end))
            for day in _days(start, end)
        ]
        rows = [row for future in futures for row in future.result()]
        frame = pd.DataFrame(rows, columns=["symbol", "source", "polarity", "published_at", "ingested_at"])
        for column in ("published_at", "ingested_at"):
            frame[column] = (
                pd.to_datetime(frame[column]).dt.tz_localize("UTC")
                if rows
                else pd.Series([], dtype="datetime64[ns, UTC]")
            )
        return frame

    def write_windows(self, windows: pd.DataFrame, model_version: str) -> None:
        """Windows by (symbol, day of window_end); checked_windows first (every store gets only valid ones)."""
        rows = [
            (
                r.symbol,
                r.window_end.date(),
                r.window_end.to_pydatetime(),
                *(_py(getattr(r, column)) for column in _WINDOW_VALUES),
                model_version,
            )
            for r in windows.itertuples(index=False)
        ]
        self.cassandra._write(self._insert_window, rows)

    def close(self) -> None:
        self.cassandra.close()


class PostgresSentiment:
    """Windows in the reporting schema (`fact_sentiment_window`), one transaction per batch."""

    def __init__(self, postgres: PostgresSettings) -> None:
        """postgres: a section from `postgres.postgres_section`."""
        self.postgres = PostgresWriter(postgres)

    def write_windows(self, windows: pd.DataFrame, model_version: str) -> None:
        seen = windows.groupby("symbol").agg(first=("window_start", "min"), last=("window_end", "max")).reset_index()
        self.postgres.upsert_symbols(seen)
        columns = [
            "symbol",
            "window_end",
            "window_start",
            "item_count",
            "mean",
            "dispersion",
            "buzz",
            *(c for source in TEXT_SOURCES for c in (f"mean_{source}", f"count_{source}")),
            "model_version",
        ]
        rows = [
            (
                r.symbol,
                r.window_end.to_pydatetime(),
                r.window_start.to_pydatetime(),
                int(r.count),
                *(_py(getattr(r, c)) for c in columns[4:-1]),
                model_version,
            )
            for r in windows.itertuples(index=False)
        ]
        self.postgres._upsert("fact_sentiment_window", columns, ["symbol", "window_end"], rows)
        self.postgres.commit()

    def close(self) -> None:
        self.postgres.close()


class RedisSentiment:
    """Per symbol, the recent windows as a sorted set by window_end (the market job's point-in-time lookup), the
    sent.* fields of the latest state with their live fan-out, and the job's heartbeat. Writes ride out a Redis
    outage (the batch waits; Spark commits nothing meanwhile)."""

    def __init__(self, redis: RedisSettings, *, recent_windows: int, ttl_s: int) -> None:
        """redis: a section from `redis_store.redis_section`; recent_windows: sentiment.recent_windows (windows kept
        per symbol); ttl_s: stream.redis_ttl_s (of the latest-state keys)."""
        self.redis = section_client(redis)
        self.keep = recent_windows
        self.ttl_s = ttl_s
        self.retry = OutageRetry("sentiment Redis writer")

    def write_windows(self, windows: pd.DataFrame, model_version: str) -> None:
        self.retry.call(lambda: self._windows(windows, model_version))

    def _windows(self, windows: pd.DataFrame, model_version: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        for r in windows.itertuples(index=False):
            member = window_member(r, model_version)
            score = r.window_end.timestamp()
            key = sentiment_windows_key(r.symbol)
            # One member per window end: a recomputed window (late texts) replaces its earlier version.
            pipe.zremrangebyscore(key, score, score)
            pipe.zadd(key, {member: score})
            pipe.zremrangebyrank(key, 0, -self.keep - 1)
        pipe.execute()
        self._latest(sorted(set(windows["symbol"])))

    def _latest(self, symbols: list[str]) -> None:
        """sent.* fields of the latest-state hash from each symbol's newest window (for the dashboard)."""
        pipe = self.redis.pipeline(transaction=False)
        for symbol in symbols:
            pipe.zrevrange(sentiment_windows_key(symbol), 0, 0)
        newest = pipe.execute()
        pipe = self.redis.pipeline(transaction=False)
        for symbol, members in zip(symbols, newest, strict=True):
            if not members:
                continue
            window = json.loads(members[0])
            fields = {f"sent.{k}": str(v) for k, v in window.items() if v is not None}
            # Hash and the API's ready JSON document, merged atomically (redis_store.LatestMerger).
            LatestMerger(self.redis, self.ttl_s).queue(pipe, symbol, fields)
            # Live fan-out like the market job's updates: the WebSocket's sentiment channel and sentiment alerts.
            update = {"symbol": symbol, **{k: v for k, v in fields.items() if k != "sent.symbol"}}
            pipe.publish(live_channel(symbol), json.dumps({**update, "published_at": time.time()}))
        pipe.execute()

    def heartbeat(self, query: str, batch_id: int, rows: int) -> None:
        self.retry.call(lambda: write_heartbeat(self.redis, query, batch_id, rows))

    def close(self) -> None:
        self.redis.close()


def checked_windows(windows: pd.DataFrame, model_version: str) -> pd.DataFrame:
    """windows, each checked against the SentimentWindow contract before any store sees it (a window holding a text
    known at or after its end would break the point-in-time rule: never stored); pydantic's ValidationError if not."""
    for row in windows.itertuples(index=False):
        as_contract(row, model_version)
    return windows


def as_contract(row: Any, model_version: str) -> SentimentWindow:
    """A window row as the SentimentWindow contract (pydantic's ValidationError if it breaks it)."""
    values = {column: _py(getattr(row, column)) for column in WINDOW_COLUMNS}
    return SentimentWindow.model_validate({**values, "model_version": model_version})


def window_member(row: Any, model_version: str) -> str:
    """A window as the JSON member of the Redis sorted set (times ISO-8601, NaN as null)."""
    values: dict[str, Any] = {"symbol": row.symbol, "window_end": row.window_end.isoformat()}
    for column in _WINDOW_VALUES:
        value = _py(getattr(row, column))
        values[column] = value.isoformat() if isinstance(value, datetime) else value
    values["model_version"] = model_version
    return json.dumps(values, separators=(",", ":"), sort_keys=True)


def windows_from_redis(client: Any, symbols: list[str], start: datetime, end: datetime) -> pd.DataFrame:
    """Every stored window of symbols with start <= window_end <= end, as a frame of WINDOW_COLUMNS."""
    pipe = client.pipeline(transaction=False)
    for symbol in symbols:
        pipe.zrangebyscore(sentiment_windows_key(symbol), start.timestamp(), end.timestamp())
    records = [json.loads(member) for members in pipe.execute() for member in members]
    frame = pd.DataFrame(records, columns=[*WINDOW_COLUMNS, "model_version"])
    for column in _TIME_COLUMNS:
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    for column in frame.columns:
        if column not in (*_TIME_COLUMNS, "symbol", "model_version"):
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
    return frame
