"""The market job's archive sinks: one class per history store, each taking only its own settings section.

The live job's archiver and backfill loop over the same list (`history_sinks`), so a new history store is one
class here plus one entry in that list. That list is the one place the whole Settings is read: it hands each sink
its section, completed by the store module (`cassandra_section`, `postgres_section`, `s3_section`) with what the
section takes from others (the stack host its servers default to).
"""

from __future__ import annotations

from typing import Any

import pandas as pd  # type: ignore[import-untyped, unused-ignore]

from marketpulse.config import CassandraSettings, PostgresSettings, S3Settings, Settings
from marketpulse.models.scorecard import write_ensemble_inputs
from marketpulse.stores.cassandra import CassandraWriter, cassandra_section
from marketpulse.stores.lake import LakeWriter
from marketpulse.stores.objectstore import s3_section
from marketpulse.stores.postgres import PostgresWriter, postgres_section
from marketpulse.stream.spool import ArchiveSink, MarketFacts


class CassandraHistorySink(ArchiveSink):
    """bars (1 s, 1 min), indicators and predictions by (symbol, day) partitions; inserts are upserts."""

    name = "cassandra"

    def __init__(self, cassandra: CassandraSettings) -> None:
        """cassandra: a section from `stores.cassandra.cassandra_section`."""
        self._section = cassandra
        self._writer: Any = None

    def _open(self) -> Any:
        if self._writer is None:
            self._writer = CassandraWriter(self._section)
        return self._writer

    def write(self, facts: MarketFacts) -> None:
        writer = self._open()
        writer.write_bars(facts.bars_1s, "1s")
        writer.write_bars(facts.bars_1m, "1min")
        writer.write_indicators(facts.indicators, "1min")
        if not facts.predictions.empty:
            writer.write_predictions(facts.predictions)

    def reopen(self) -> None:
        self.close()
        self._open()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class PostgresReportingSink(ArchiveSink):
    """The Power BI star schema: one transaction per archive step, so a bar, its indicators and its prediction
    become visible together."""

    name = "postgres"

    def __init__(self, postgres: PostgresSettings) -> None:
        """postgres: a section from `stores.postgres.postgres_section`."""
        self._section = postgres
        self._writer: Any = None

    def _open(self) -> Any:
        if self._writer is None:
            self._writer = PostgresWriter(self._section)
        return self._writer

    def write(self, facts: MarketFacts) -> None:
        writer = self._open()
        try:
            bars = [frame for frame in (facts.bars_1s, facts.bars_1m) if not frame.empty]
            if bars:
                seen = pd.concat([b[["symbol", "ts"]] for b in bars]).groupby("symbol")["ts"]
                writer.upsert_symbols(seen.agg(first="min", last="max").reset_index())
            writer.upsert_bars_1m(facts.bars_1m)
            writer.upsert_indicators_1m(facts.indicators)
            if not facts.predictions.empty:
                writer.upsert_predictions(facts.predictions)
            write_ensemble_inputs(writer.conn, facts.ensemble_inputs)
            writer.commit()
        except Exception:
            self.close()  # a broken transaction or connection: the retry starts on a fresh one
            raise

    def reopen(self) -> None:
        self.close()
        self._open()

    def close(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                self._writer = None


class LakeSink(ArchiveSink):
    """Raw ticks the stream accepted (valid and on time: late ones are dead-lettered) as parquet, one file per
    (archive step, date, symbol), named by its batch range."""

    name = "lake"

    def __init__(self, s3: S3Settings) -> None:
        """s3: a section from `stores.objectstore.s3_section`."""
        self._writer = LakeWriter(s3)

    def write(self, facts: MarketFacts) -> None:
        self._writer.write_ticks(facts.ticks, f"batch-{facts.first_batch:010d}-{facts.last_batch:010d}")


def history_sinks(settings: Settings) -> list[ArchiveSink]:
    """Where closed bars, indicators and predictions are kept (the live job's archiver and backfill); each sink gets
    only its own section of `settings`."""
    return [CassandraHistorySink(cassandra_section(settings)), PostgresReportingSink(postgres_section(settings))]


def archive_sinks(settings: Settings) -> list[ArchiveSink]:
    """Every store of the live job's archive path: the history stores and the raw tick lake."""
    return [*history_sinks(settings), LakeSink(s3_section(settings))]
