"""Run the data-quality checks against the stores, store every result in Postgres, and fail loudly on breaches.

The window is event time (bars, ticks), because replayed history is years old while the pipeline runs
now; the DLQ rate is measured over a wall-clock interval (Kafka timestamps are arrival times). Results go
to `dq_run` / `dq_result`, keyed by the window, so re-running an interval replaces its rows; the
operations collector (`quality.metrics`) exports the newest run as Prometheus metrics.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import psycopg
import pyarrow.parquet as pq
from confluent_kafka import Consumer, TopicPartition

from marketpulse.config import Settings
from marketpulse.contracts import Topics
from marketpulse.errors import MarketPulseError
from marketpulse.kafka_config import client_config
from marketpulse.migrations import require_schema
from marketpulse.quality import checks
from marketpulse.quality.checks import CheckResult
from marketpulse.stores.cassandra import cassandra_cluster
from marketpulse.stream.backfill import TickLake
from marketpulse.stream.supervisor import check_market_job

#: Arrow type prefixes the lake may hold for each Tick field (all-null optional columns land as `null`).
LAKE_TICK_TYPES: dict[str, tuple[str, ...]] = {
    "ts": ("timestamp",),
    "price": ("double",),
    "size": ("double",),
    "bid": ("double", "null"),
    "ask": ("double", "null"),
    "source": ("string", "large_string"),
    "seq": ("int", "double", "null"),
}
#: Bars newer than this before the window end may be half-written by a running micro-batch.
_IN_FLIGHT = timedelta(minutes=2)


class DataQualityBreach(MarketPulseError):
    """At least one data-quality check failed; the message lists each failing check and subject."""

    http_status = 409


@dataclass
class QualityReport:
    """Every result of one run over one window."""

    run_key: str
    window_start: datetime
    window_end: datetime
    symbols: list[str]
    results: list[CheckResult] = field(default_factory=list)

    @property
    def breaches(self) -> list[CheckResult]:
        return [result for result in self.results if not result.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_key": self.run_key,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "symbols": self.symbols,
            "checks": len(self.results),
            "breaches": [result.as_dict() for result in self.breaches],
        }


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def market_clock(settings: Settings, symbols: Sequence[str] | None = None) -> datetime | None:
    """The newest 1-min bar in the reporting store (of the given symbols): event time 'now' of the data."""
    with psycopg.connect(settings.postgres_dsn()) as conn:
        if conn.execute("SELECT to_regclass('fact_bar_1m')").fetchone() == (None,):
            return None
        if symbols:
            row = conn.execute("SELECT max(ts) FROM fact_bar_1m WHERE symbol = ANY(%s)", (list(symbols),)).fetchone()
        else:
            row = conn.execute("SELECT max(ts) FROM fact_bar_1m").fetchone()
    return row[0] if row and row[0] else None


def resolve_window(
    settings: Settings, start: datetime | None, end: datetime | None, symbols: Sequence[str] | None
) -> tuple[datetime, datetime]:
    """Given bounds, or the last `quality.window_hours` of event time ending just after the market clock."""
    if start and end:
        return _utc(start), _utc(end)
    clock = market_clock(settings, symbols)
    window_end = _utc(end) if end else (clock + timedelta(minutes=1) if clock else datetime.now(UTC))
    return (_utc(start) if start else window_end - timedelta(hours=settings.quality.window_hours)), window_end


def _load_bars(settings: Settings, start: datetime, end: datetime, symbols: Sequence[str] | None) -> pd.DataFrame:
    query = "SELECT symbol, ts, open, high, low, close, volume FROM fact_bar_1m WHERE ts >= %s AND ts < %s"
    args: list[Any] = [start, end]
    if symbols:
        query += " AND symbol = ANY(%s)"
        args.append(list(symbols))
    with psycopg.connect(settings.postgres_dsn()) as conn:
        rows = conn.execute(query, args).fetchall()
    frame = pd.DataFrame(rows, columns=["symbol", "ts", "open", "high", "low", "close", "volume"])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def _cassandra_counts(settings: Settings, symbols: list[str], start: datetime, end: datetime) -> pd.DataFrame:
    days = pd.date_range(start.date(), end.date(), freq="D").date
    cluster = cassandra_cluster(settings)
    rows = []
    try:
        session = cluster.connect(settings.cassandra.keyspace)
        statement = session.prepare(
            "SELECT count(*) FROM bars WHERE symbol = ? AND interval = '1min' AND day = ? AND ts >= ? AND ts < ?"
        )
        for symbol in symbols:
            for day in days:
                count = session.execute(statement, (symbol, day, start, end)).one()[0]
                if count:
                    rows.append((symbol, day.isoformat(), int(count)))
    finally:
        cluster.shutdown()
    return pd.DataFrame(rows, columns=["symbol", "day", "bars"])


def _postgres_counts(bars: pd.DataFrame, end: datetime) -> pd.DataFrame:
    if bars.empty:
        return pd.DataFrame({"symbol": pd.Series([], dtype="str"), "day": pd.Series([], dtype="str"), "bars": 0})
    kept = bars[bars["ts"] < pd.Timestamp(end)]
    counts = kept.groupby(["symbol", kept["ts"].dt.date.astype(str).rename("day")]).size()
    return counts.rename("bars").reset_index()


def _lake_checks(
    settings: Settings, symbols: list[str], start: datetime, end: datetime, clock: datetime
) -> list[CheckResult]:
    """Freshness per source and symbol, and the lake's schema, from the raw ticks of the window's days."""
    lake = TickLake(settings)
    newest = []
    columns: dict[str, str] = {}
    for symbol in symbols:
        for day in reversed(lake.days(symbol, start.date(), end.date())):
            ticks = lake.ticks(symbol, day)
            ticks = ticks[(ticks["ts"] >= pd.Timestamp(start)) & (ticks["ts"] < pd.Timestamp(end))]
            if not columns:
                files = lake.fs.glob(f"{lake.root}/date={day.isoformat()}/symbol={symbol}/*.parquet")
                if files:
                    with lake.fs.open(files[0], "rb") as handle:
                        schema = pq.read_schema(handle)
                    columns = {name: str(schema.field(name).type) for name in schema.names}
            if not ticks.empty:
                newest.append(ticks.groupby("source", as_index=False)["ts"].max().assign(symbol=symbol))
                break
    last_tick = pd.concat(newest, ignore_index=True) if newest else pd.DataFrame(columns=["source", "ts", "symbol"])
    results = checks.freshness(last_tick, symbols, clock, settings.quality.max_lag_minutes)
    if columns:
        results.append(checks.lake_schema(columns, LAKE_TICK_TYPES))
    return results


def _kafka_count(consumer: Any, topic: str, start: datetime, end: datetime) -> int | None:
    """Messages of topic with a Kafka timestamp in [start, end), over all partitions (None: topic unknown)."""
    meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        return None
    total = 0
    for partition in meta.partitions:
        bounds = []
        for moment in (start, end):
            found = consumer.offsets_for_times([TopicPartition(topic, partition, int(moment.timestamp() * 1000))], 10)
            offset = found[0].offset
            if offset < 0:  # no message at or after that time: the end of the partition
                offset = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
            bounds.append(offset)
        total += max(0, bounds[1] - bounds[0])
    return total


def _dlq_check(settings: Settings, interval: tuple[datetime, datetime] | None) -> CheckResult:
    if interval is None or interval[1] <= interval[0]:
        return checks.dlq_rate(Topics.TICKS, None, None, settings.quality.max_dlq_rate)
    consumer = Consumer(client_config(settings, **{"group.id": "marketpulse-quality", "log_level": 0}))
    try:
        accepted = _kafka_count(consumer, Topics.TICKS, *interval)
        rejected = _kafka_count(consumer, Topics.dlq(Topics.TICKS), *interval)
    finally:
        consumer.close()
    return checks.dlq_rate(
        Topics.TICKS,
        accepted,
        0 if accepted is not None and rejected is None else rejected,
        settings.quality.max_dlq_rate,
    )


def _stream_health(settings: Settings) -> CheckResult:
    verdict = check_market_job(settings)
    ages = [q.age_s for q in verdict.queries if q.age_s is not None]
    return checks.stream_health(
        verdict.job, verdict.verdict, verdict.reason, min(ages) if ages else None, settings.airflow.stuck_after_s
    )


def run_key_of(start: datetime, end: datetime, symbols: Sequence[str] | None) -> str:
    """Identity of a run: its window (and symbol filter), so re-running an interval replaces its rows."""
    scope = hashlib.sha1(",".join(sorted(symbols)).encode()).hexdigest()[:8] if symbols else "all"
    return f"{start.isoformat()}/{end.isoformat()}/{scope}"


def run_checks(
    settings: Settings,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    symbols: Sequence[str] | None = None,
    interval: tuple[datetime, datetime] | None = None,
    progress: Callable[[str], None] | None = None,
) -> QualityReport:
    """Every check over the event-time window [start, end) (default: the newest quality.window_hours)."""
    say = progress or (lambda _message: None)
    window_start, window_end = resolve_window(settings, start, end, symbols)
    bars = _load_bars(settings, window_start, window_end, symbols)
    chosen = sorted(set(symbols) if symbols else set(bars["symbol"]))
    report = QualityReport(run_key_of(window_start, window_end, symbols), window_start, window_end, chosen)
    say(f"window {window_start} .. {window_end}: {len(bars):,} 1-min bars of {len(chosen)} symbols")
    q = settings.quality
    report.results += checks.bar_gaps(bars, q.max_gap_minutes)
    report.results += checks.price_outliers(bars, q.outlier_sigmas)
    report.results += checks.bar_validity(bars)
    say("bars: gaps, outliers, validity checked")
    clock = bars["ts"].max().to_pydatetime() if not bars.empty else window_end
    report.results += _lake_checks(settings, chosen, window_start, window_end, clock)
    say("lake: freshness per source and symbol, schema checked")
    settled = min(window_end, clock - _IN_FLIGHT + timedelta(minutes=1))
    cassandra = _cassandra_counts(settings, chosen, window_start, settled)
    report.results += checks.store_consistency(cassandra, _postgres_counts(bars, settled))
    say("stores: Cassandra vs Postgres counts checked")
    report.results.append(_dlq_check(settings, interval))
    report.results.append(_stream_health(settings))
    say(f"{len(report.results)} results, {len(report.breaches)} breaches")
    return report


def store_report(settings: Settings, report: QualityReport) -> None:
    """Replace the rows of this run key with the report's (one transaction)."""
    with psycopg.connect(settings.postgres_dsn()) as conn:
        require_schema(conn)  # dq_run and dq_result come from `marketpulse db migrate`
        conn.execute("DELETE FROM dq_run WHERE run_key = %s", (report.run_key,))
        conn.execute(
            "INSERT INTO dq_run VALUES (%s, %s, %s, %s, now(), %s, %s)",
            (
                report.run_key,
                report.window_start,
                report.window_end,
                json.dumps(report.symbols),
                len(report.results),
                len(report.breaches),
            ),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO dq_result VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(report.run_key, r.check, r.subject, r.ok, r.value, r.threshold, r.detail) for r in report.results],
            )
        conn.commit()


def raise_on_breach(report: dict[str, Any]) -> None:
    """Fail loudly: one line per failing check and subject."""
    breaches = report["breaches"]
    if breaches:
        lines = [f"{b['check']} {b['subject']}: {b['detail']}" for b in breaches]
        raise DataQualityBreach(f"{len(breaches)} data-quality breach(es) in {report['run_key']}:\n" + "\n".join(lines))
