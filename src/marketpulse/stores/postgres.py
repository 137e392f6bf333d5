"""Idempotent upserts into the PostgreSQL star schema Power BI reads (its tables: marketpulse.migrations)."""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from marketpulse.config import PostgresSettings, Settings
from marketpulse.migrations import require_schema
from marketpulse.stores.cassandra import INDICATOR_CQL_COLUMNS, prediction_head, sentiment_used


def postgres_section(settings: Settings) -> PostgresSettings:
    """settings.postgres with its host filled in (default: the stack host): a section that connects by itself, what
    writers and sinks are given."""
    return settings.postgres.model_copy(update={"host": settings.postgres_host})


class PostgresWriter:
    """Upserts keyed by natural keys: writing the same micro-batch twice leaves the same rows."""

    def __init__(self, postgres: PostgresSettings) -> None:
        """postgres: a section from `postgres_section` (its host filled in)."""
        self.conn = psycopg.connect(postgres.dsn())
        # Tables come from `marketpulse db migrate`: DDL here would lock the facts against readers and writers.
        require_schema(self.conn)
        self.conn.commit()  # end the check's transaction: an idle one would hold locks until the first batch

    def upsert_symbols(self, seen: Any) -> None:
        """seen: frame with symbol, first (min ts) and last (max ts) of this batch."""
        rows = [(r.symbol, r.first.to_pydatetime(), r.last.to_pydatetime()) for r in seen.itertuples(index=False)]
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO dim_symbol VALUES (%s, %s, %s) ON CONFLICT (symbol) DO UPDATE SET "
                    "first_seen = LEAST(dim_symbol.first_seen, EXCLUDED.first_seen), "
                    "last_seen = GREATEST(dim_symbol.last_seen, EXCLUDED.last_seen)",
                    rows,
                )

    def upsert_bars_1m(self, bars: Any) -> None:
        columns = ["open", "high", "low", "close", "volume", "vwap", "trades"]
        rows = [
            (r.symbol, r.ts.to_pydatetime(), *(getattr(r, c) for c in columns[:-1]), int(r.trades))
            for r in bars.itertuples(index=False)
        ]
        self._upsert("fact_bar_1m", ["symbol", "ts", *columns], ["symbol", "ts"], rows)

    def upsert_indicators_1m(self, frame: Any) -> None:
        columns = ["close", *INDICATOR_CQL_COLUMNS]
        rows = [
            (
                r.symbol,
                r.ts.to_pydatetime(),
                *(None if getattr(r, c) != getattr(r, c) else float(getattr(r, c)) for c in columns),
            )
            for r in frame.itertuples(index=False)
        ]
        self._upsert("fact_indicator_1m", ["symbol", "ts", *columns], ["symbol", "ts"], rows)

    def upsert_predictions(self, frame: Any) -> None:
        columns = [
            "symbol",
            "feature_ts",
            "horizon",
            "model_name",
            "model_version",
            "prob_up",
            "expected_return",
            "sentiment_window_end",
            "sentiment_model_version",
        ]
        rows = [
            (r.symbol, *prediction_head(r), float(r.expected_return), *sentiment_used(r))
            for r in frame.itertuples(index=False)
        ]
        self._upsert("fact_prediction", columns, ["symbol", "feature_ts", "horizon", "model_name"], rows)

    def _upsert(self, table: str, columns: list[str], key: list[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
        statement = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        )
        with self.conn.cursor() as cur:
            cur.executemany(statement, rows)

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


class GuardedConnection:
    """One autocommit connection shared by a process's threads: guarded by a lock, its schema version checked on
    connect, reopened after a failure. A PostgreSQL outage raises `unavailable(message)`, not psycopg's own error."""

    def __init__(self, settings: Settings, what: str, unavailable: type[Exception]) -> None:
        self._dsn = settings.postgres_dsn()
        self._what = what
        self._unavailable = unavailable
        self._lock = threading.Lock()
        self._conn: Any = None

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Run one statement; its rows (none for statements without a result)."""
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    conn = psycopg.connect(self._dsn, autocommit=True)
                    try:
                        require_schema(conn)
                    except BaseException:
                        conn.close()  # checked again on the next call, after `db migrate` has run
                        raise
                    self._conn = conn
                cursor = self._conn.execute(statement, params)
                return cursor.fetchall() if cursor.description else []
            except psycopg.OperationalError as exc:
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                raise self._unavailable(f"PostgreSQL ({self._what}) is not available: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
