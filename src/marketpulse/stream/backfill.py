"""Backfill: replay the raw tick lake through the stream's own per-symbol state into the history stores.

The stream's `market_state.advance` (ticks -> closed 1 s / 1 min bars -> indicators, the same
`marketpulse.features` calls) is fed one day of lake ticks at a time, in event-time order, with its
indicator tail warmed up from the reporting bars just before the range. Writes go through the stream's own
history sinks (`stream.sinks.history_sinks`: Cassandra rows by primary key, Postgres ON CONFLICT), so a second
run over the same range rewrites the same values: running it twice changes nothing.

The lake holds what the live stream kept: ticks it dead-lettered (late: their 1 s bar had already closed;
repeated: their source had sent them before) are not in it, so a backfill rebuilds the stream's own bars. One
deliberate difference: the last open bar of the range is closed at its end, since no later tick will come.
Predictions are not backfilled: they are what the model serving at that time said (see decision 0009).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd  # type: ignore[import-untyped, unused-ignore]
import psycopg
import pyarrow.parquet as pq

from marketpulse.config import Settings
from marketpulse.errors import ConfigError
from marketpulse.features.bars import BAR_COLUMNS, empty_bars
from marketpulse.features.indicators import INDICATOR_COLUMNS, TAIL_WINDOW
from marketpulse.stores.objectstore import lake_filesystem
from marketpulse.stream.market_state import MarketState, advance, close_open_bars, split_kinds
from marketpulse.stream.sinks import history_sinks
from marketpulse.stream.spool import ArchiveSink, MarketFacts

log = logging.getLogger(__name__)

#: Columns that identify one tick in the lake; a tick landed twice (a re-run batch under a new id) counts once.
_TICK_IDENTITY = ["ts", "price", "size", "source", "seq"]


@dataclass
class DayProgress:
    """One symbol-day replayed: what it read and wrote."""

    symbol: str
    day: date
    ticks: int
    bars_1s: int
    bars_1m: int
    indicators: int
    days_done: int
    days_total: int


@dataclass
class BackfillResult:
    """Totals of a backfill over one symbol and range."""

    symbol: str
    start: date
    end: date
    days: list[str] = field(default_factory=list)
    ticks: int = 0
    bars_1s: int = 0
    bars_1m: int = 0
    indicators: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": self.days,
            "ticks": self.ticks,
            "bars_1s": self.bars_1s,
            "bars_1m": self.bars_1m,
            "indicators": self.indicators,
        }


class TickLake:
    """Reads the raw lake the market job writes: `<raw bucket>/ticks/date=YYYY-MM-DD/symbol=SYM/*.parquet`."""

    def __init__(self, settings: Settings) -> None:
        self.fs = lake_filesystem(settings)
        self.root = f"{settings.s3.buckets['raw']}/ticks"

    def days(self, symbol: str, start: date, end: date) -> list[date]:
        """Days in [start, end] for which the lake holds ticks of symbol."""
        found = []
        for path in self.fs.glob(f"{self.root}/date=*/symbol={symbol}"):
            day = date.fromisoformat(path.split("date=")[1].split("/")[0])
            if start <= day <= end:
                found.append(day)
        return sorted(found)

    def symbols(self) -> list[str]:
        """Every symbol the lake holds ticks of."""
        return sorted({path.rsplit("symbol=", 1)[1] for path in self.fs.glob(f"{self.root}/date=*/symbol=*")})

    def ticks(self, symbol: str, day: date) -> pd.DataFrame:
        """One symbol-day of ticks, deduplicated, in arrival order within equal timestamps."""
        files = sorted(self.fs.glob(f"{self.root}/date={day.isoformat()}/symbol={symbol}/*.parquet"))
        parts = []
        for path in files:
            with self.fs.open(path, "rb") as handle:
                parts.append(pq.read_table(handle).to_pandas())
        if not parts:
            return pd.DataFrame(
                {"symbol": [], "ts": pd.Series([], dtype="datetime64[ns, UTC]"), "price": [], "size": []}
            )
        frame = pd.concat(parts, ignore_index=True)
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.as_unit("ns")
        frame.insert(0, "symbol", symbol)
        identity = [column for column in _TICK_IDENTITY if column in frame]
        frame = frame.drop_duplicates(subset=identity, keep="first")
        order = [column for column in ("ts", "kafka_ts", "seq") if column in frame]
        return frame.sort_values(order, kind="stable").reset_index(drop=True)


def warmup_tail(settings: Settings, symbol: str, before: datetime) -> pd.DataFrame:
    """The last TAIL_WINDOW 1-min bars of symbol before `before`, from the reporting store (the stream's tail)."""
    with psycopg.connect(settings.postgres_dsn()) as conn:
        exists = conn.execute("SELECT to_regclass('fact_bar_1m')").fetchone()
        if not exists or exists[0] is None:
            return empty_bars()
        rows = conn.execute(
            "SELECT symbol, ts, open, high, low, close, volume, vwap, trades FROM fact_bar_1m "
            "WHERE symbol = %s AND ts < %s ORDER BY ts DESC LIMIT %s",
            (symbol, before, TAIL_WINDOW),
        ).fetchall()
    if not rows:
        return empty_bars()
    frame = pd.DataFrame(rows, columns=[c for c in BAR_COLUMNS if c != "last_ts"]).iloc[::-1]
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.as_unit("ns")
    frame["last_ts"] = frame["ts"]  # only closes feed the indicators; the tail never reopens a bar
    frame["trades"] = frame["trades"].fillna(0).astype("int64")
    return frame[BAR_COLUMNS].reset_index(drop=True)


def replay_symbol_day(state: MarketState, ticks: pd.DataFrame, last_day: bool) -> pd.DataFrame:
    """One day of one symbol's ticks through the stream's state function (plus the final flush)."""
    rows = advance(state, ticks[["symbol", "ts", "price", "size"]])
    if last_day:
        rows = pd.concat([rows, close_open_bars(state)], ignore_index=True)
    return rows


class HistoryWriter:
    """The stream's history sinks (`history_sinks`), written once per symbol-day (one Postgres transaction each)."""

    def __init__(self, sinks: Sequence[ArchiveSink]) -> None:
        self.sinks = list(sinks)

    def write(self, rows: pd.DataFrame) -> dict[str, int]:
        kinds = split_kinds(rows)
        facts = MarketFacts(
            ticks=pd.DataFrame(),
            bars_1s=kinds["bar_1s"][BAR_COLUMNS],
            bars_1m=kinds["bar_1m"][BAR_COLUMNS],
            indicators=kinds["indicators"][["symbol", "ts", "close", *INDICATOR_COLUMNS]],
            predictions=pd.DataFrame(),
            ensemble_inputs=pd.DataFrame(),
        )
        for sink in self.sinks:
            sink.write(facts)
        return {"bars_1s": len(facts.bars_1s), "bars_1m": len(facts.bars_1m), "indicators": len(facts.indicators)}

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def _utc_midnight(day: date) -> datetime:
    return pd.Timestamp(day, tz="UTC").to_pydatetime()  # type: ignore[no-any-return]


def backfill_symbol(
    settings: Settings,
    symbol: str,
    start: date,
    end: date,
    *,
    progress: Callable[[DayProgress], None] | None = None,
    lake: TickLake | None = None,
    writer: HistoryWriter | None = None,
) -> BackfillResult:
    """Replay symbol's lake ticks in [start, end] (UTC days) into Cassandra and Postgres, day by day."""
    if end < start:
        raise ConfigError(f"backfill end {end} is before start {start}")
    lake = lake or TickLake(settings)
    days = lake.days(symbol, start, end)
    result = BackfillResult(symbol, start, end)
    if not days:
        return result
    own_writer = writer is None
    writer = writer or HistoryWriter(history_sinks(settings))
    try:
        state = MarketState()
        state.set_tail(symbol, warmup_tail(settings, symbol, _utc_midnight(days[0])))
        for index, day in enumerate(days, start=1):
            ticks = lake.ticks(symbol, day)
            rows = replay_symbol_day(state, ticks, last_day=index == len(days))
            written = writer.write(rows)
            result.days.append(day.isoformat())
            result.ticks += len(ticks)
            result.bars_1s += written["bars_1s"]
            result.bars_1m += written["bars_1m"]
            result.indicators += written["indicators"]
            if progress:
                progress(DayProgress(symbol, day, len(ticks), days_done=index, days_total=len(days), **written))
    finally:
        if own_writer:
            writer.close()
    return result


def plan(settings: Settings, symbols: Sequence[str] | None, start: date, end: date) -> list[dict[str, Any]]:
    """One job per symbol that has lake ticks in [start, end] (all lake symbols when symbols is empty)."""
    if end < start:
        raise ConfigError(f"backfill end {end} is before start {start}")
    lake = TickLake(settings)
    chosen = list(symbols) if symbols else lake.symbols()
    jobs = []
    for symbol in chosen:
        days = lake.days(symbol, start, end)
        if days:
            jobs.append({"symbol": symbol, "start": start.isoformat(), "end": end.isoformat(), "days": len(days)})
    return jobs
