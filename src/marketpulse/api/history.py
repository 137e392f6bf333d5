"""Cassandra reads of the time-series tables: one lazily connected Cluster per app, prepared statements,
and newest-first pages that walk (symbol[, interval], day) partitions with `ts < cursor` conditions."""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cassandra import InvalidRequest

from marketpulse.api.errors import DependencyUnavailableError
from marketpulse.api.paging import Cursor, PageRequest, day_partitions, encode_cursor, to_epoch_ms
from marketpulse.config import Settings
from marketpulse.stores.cassandra import INDICATOR_CQL_COLUMNS, cassandra_cluster

log = logging.getLogger(__name__)

#: Most day partitions read in parallel. A page starts with one and doubles the number in flight after each
#: partition that did not fill it, so dense data costs no wasted reads and sparse ranges few round trips.
MAX_PREFETCH_DAYS = 64
REQUEST_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Table:
    """A time-series table: partition key columns besides `day`, the time column, and the clustering columns
    after it (which a cursor must carry to resume inside a run of equal timestamps)."""

    name: str
    partition: tuple[str, ...]
    ts: str
    ties: tuple[str, ...]
    columns: tuple[str, ...]


BARS = Table("bars", ("symbol", "interval"), "ts", (), ("open", "high", "low", "close", "volume", "vwap", "trades"))
INDICATORS = Table("indicators", ("symbol", "interval"), "ts", (), ("close", *INDICATOR_CQL_COLUMNS))
PREDICTIONS = Table(
    "predictions",
    ("symbol",),
    "feature_ts",
    ("horizon", "model_name"),
    ("model_version", "prob_up", "expected_return", "created_at", "sentiment_window_end", "sentiment_model_version"),
)
TABLES = (BARS, INDICATORS, PREDICTIONS)


@dataclass
class _Statements:
    range: Any
    #: ties[i]: rows at the cursor's ts with ties[:i] equal and ties[i] greater, in clustering order.
    ties: list[Any]


def _row_dict(row: Any) -> dict[str, Any]:
    """Driver row (naive UTC datetimes) -> dict with aware datetimes."""
    values = row._asdict()
    return {k: v.replace(tzinfo=UTC) if isinstance(v, datetime) else v for k, v in values.items()}


class History:
    """Reads for the API. Connects on first use and again after a failure (a failed connect shuts its Cluster)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._cluster: Any = None
        self._session: Any = None
        self._statements: dict[str, _Statements] = {}

    def connect(self) -> Any:
        """The session, connecting first if needed; 503 if Cassandra does not answer."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._open()
        return self._session

    def _open(self) -> None:
        cluster = cassandra_cluster(self._settings, timeout_s=REQUEST_TIMEOUT_S)
        try:
            session = cluster.connect(self._settings.cassandra.keyspace)
        except Exception as exc:
            cluster.shutdown()
            raise DependencyUnavailableError(f"Cassandra is not available: {exc}") from exc
        self._cluster, self._session = cluster, session

    def statements(self, table: Table) -> _Statements:
        """Prepared once per table; a table no writer has created yet is a 503 until one does."""
        session = self.connect()
        if table.name not in self._statements:
            try:
                self._statements[table.name] = self._prepare(session, table)
            except InvalidRequest as exc:
                raise DependencyUnavailableError(f"Cassandra table {table.name} is not readable yet: {exc}") from exc
        return self._statements[table.name]

    @staticmethod
    def _prepare(session: Any, table: Table) -> _Statements:
        select = ", ".join((*table.partition, table.ts, *table.ties, *table.columns))
        where = " AND ".join(f"{column} = ?" for column in (*table.partition, "day"))
        head = f"SELECT {select} FROM {table.name} WHERE {where}"
        ties = []
        for i, tie in enumerate(table.ties):
            equal = "".join(f" AND {column} = ?" for column in table.ties[:i])
            ties.append(session.prepare(f"{head} AND {table.ts} = ?{equal} AND {tie} > ?"))
        ranged = session.prepare(f"{head} AND {table.ts} >= ? AND {table.ts} < ? LIMIT ?")
        return _Statements(ranged, ties)

    def ping(self, timeout_s: float) -> None:
        self.connect().execute("SELECT now() FROM system.local", timeout=timeout_s)

    def page(self, table: Table, key: tuple[str, ...], request: PageRequest) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `limit` rows with start <= ts < min(end, cursor) in the partitions of `key` (symbol[, interval]),
        newest first, and the token of the next page (None when no row is left)."""
        session, statements = self.connect(), self.statements(table)
        window, limit, cursor = request.window, request.limit, request.cursor
        wanted = limit + 1  # one extra row tells whether another page exists
        rows: list[Any] = []
        upper = window.end
        if cursor is not None:
            upper = min(upper, cursor.ts)
            if table.ties and window.start <= cursor.ts < window.end:
                rows.extend(self._ties(session, statements, key, cursor))
        pending: deque[Any] = deque()
        days, depth = day_partitions(window.start, upper), 1
        while len(rows) < wanted:
            for day in days:
                need = wanted - len(rows)
                pending.append(session.execute_async(statements.range, (*key, day, window.start, upper, need)))
                if len(pending) >= depth:
                    break
            if not pending:
                break
            rows.extend(pending.popleft().result())
            depth = min(depth * 2, MAX_PREFETCH_DAYS)
        # Prefetched futures still pending are left to finish on their own: the driver cannot cancel them.
        items = [_row_dict(row) for row in rows[:wanted]]
        if len(items) <= limit:
            return items, None
        last = items[limit - 1]
        next_cursor = Cursor(to_epoch_ms(last[table.ts]), tuple(str(last[tie]) for tie in table.ties))
        return items[:limit], encode_cursor(next_cursor)

    @staticmethod
    def _ties(session: Any, statements: _Statements, key: tuple[str, ...], cursor: Cursor) -> list[Any]:
        """Rows at exactly the cursor's timestamp that sort after it, deepest clustering column first."""
        day = cursor.ts.date()
        rows: list[Any] = []
        for i in reversed(range(len(statements.ties))):
            params = (*key, day, cursor.ts, *cursor.keys[:i], cursor.keys[i])
            rows.extend(session.execute(statements.ties[i], params))
        return rows

    def close(self) -> None:
        with self._lock:
            if self._cluster is not None:
                self._cluster.shutdown()
            self._cluster = self._session = None
            self._statements.clear()
