"""Versioned PostgreSQL migrations on scratch databases of the test stack: what the modules say before them,
what one upgrade creates, idempotence, adoption of a database made by the old run-time DDL, concurrent runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from marketpulse.auth.keys import ApiKeyStore
from marketpulse.config import Settings, settings_env
from marketpulse.migrations import HEAD, SchemaNotMigratedError, current_revision, upgrade
from marketpulse.models.scorecard import update_scorecard
from marketpulse.stack.manager import Stack
from marketpulse.stores import reporting
from marketpulse.stores.postgres import PostgresWriter, postgres_section
from marketpulse.stores.schema import migrate_postgres

TABLES = {
    "dim_symbol",
    "fact_bar_1m",
    "fact_indicator_1m",
    "fact_prediction",
    "fact_sentiment_window",
    "dq_run",
    "dq_result",
    "agg_bar_1d",
    "dim_date",
    "api_keys",
    "alert_rules",
    "alert_events",
    "scorecard_outcome",
    "ensemble_input",
    "ops_stream_restart",
}
VIEWS = {*reporting.VIEWS, "scorecard_summary", "scorecard_calibration"}


@pytest.fixture
def scratch(stack: Stack, settings: Settings, unique: str) -> Iterator[Settings]:
    """Settings pointing at an empty database of the test stack, dropped afterwards."""
    name = f"it_mig_{unique}"
    with psycopg.connect(settings.postgres_dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield settings.model_copy(update={"postgres": settings.postgres.model_copy(update={"database": name})})
    with psycopg.connect(settings.postgres_dsn("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _relations(settings: Settings) -> tuple[set[str], set[str]]:
    with psycopg.connect(settings.postgres_dsn()) as conn:
        rows = conn.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {n for n, t in rows if t == "BASE TABLE"}, {n for n, t in rows if t == "VIEW"}


def test_modules_refuse_an_unmigrated_database_and_name_the_command(scratch: Settings) -> None:
    with pytest.raises(SchemaNotMigratedError, match=r"revision none.*marketpulse db migrate"):
        PostgresWriter(postgres_section(scratch))
    with psycopg.connect(scratch.postgres_dsn()) as conn, pytest.raises(SchemaNotMigratedError):
        reporting.ensure_schema(conn)
    keys = ApiKeyStore(scratch)
    with pytest.raises(SchemaNotMigratedError):
        keys.list()
    upgrade(scratch)
    assert keys.list() == []  # the same store works once the database is migrated, without a restart
    keys.close()

    tables, _ = _relations(scratch)
    assert "api_keys" in tables  # created by the upgrade above, not by the store


def test_one_upgrade_creates_the_whole_schema_and_a_second_changes_nothing(scratch: Settings) -> None:
    first = migrate_postgres(scratch)
    tables, views = _relations(scratch)
    second = upgrade(scratch)

    assert f"at revision {HEAD}" in first
    assert second == HEAD
    assert tables == {*TABLES, "alembic_version"}
    assert views == VIEWS
    with psycopg.connect(scratch.postgres_dsn()) as conn:
        comment = conn.execute("SELECT obj_description('fact_bar_1m'::regclass, 'pg_class')").fetchone()
        assert current_revision(conn) == HEAD
    assert comment is not None and comment[0]  # the data dictionary's comments came with the migration
    writer = PostgresWriter(postgres_section(scratch))  # and the modules accept the database now
    writer.close()


def test_a_database_made_by_the_old_run_time_ddl_is_adopted_with_its_rows(scratch: Settings) -> None:
    # What `PostgresWriter` created before sentiment existed, with a row in it; no alembic_version table.
    with psycopg.connect(scratch.postgres_dsn()) as conn:
        conn.execute(
            "CREATE TABLE dim_symbol (symbol text PRIMARY KEY, first_seen timestamptz NOT NULL, "
            "last_seen timestamptz NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE fact_prediction (symbol text NOT NULL REFERENCES dim_symbol(symbol), "
            "feature_ts timestamptz NOT NULL, horizon text NOT NULL, model_name text NOT NULL, "
            "model_version text NOT NULL, prob_up double precision, expected_return double precision, "
            "created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (symbol, feature_ts, horizon, model_name))"
        )
        conn.execute("INSERT INTO dim_symbol VALUES ('AAPL', '2024-01-02T14:30Z', '2024-01-02T14:30Z')")
        conn.execute(
            "INSERT INTO fact_prediction VALUES ('AAPL', '2024-01-02T14:30Z', '1min', 'price', 'v1', 0.6, 0.001)"
        )

    assert upgrade(scratch) == HEAD

    with psycopg.connect(scratch.postgres_dsn()) as conn:
        columns = {
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'fact_prediction'"
            )
        }
        rows = conn.execute("SELECT symbol, prob_up, sentiment_model_version FROM fact_prediction").fetchall()
    assert {"sentiment_window_end", "sentiment_model_version"} <= columns
    assert rows == [("AAPL", 0.6, None)]
    assert _relations(scratch)[0] == {*TABLES, "alembic_version"}


def test_concurrent_migrations_run_one_after_the_other(scratch: Settings) -> None:
    # `stack up` in two processes at once, or two deploy jobs: the advisory lock in env.py serialises them.
    env = {**os.environ, **settings_env(scratch)}
    command = [sys.executable, "-m", "marketpulse", "db", "migrate", "--no-cassandra"]
    runs = [subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=300)[1] for run in runs]

    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert all(f"at revision {HEAD}" in output for output in outputs)
    with psycopg.connect(scratch.postgres_dsn()) as conn:
        (versions,) = conn.execute("SELECT count(*) FROM alembic_version").fetchone() or (0,)
    assert versions == 1


T0 = datetime(2013, 2, 5, 15, 0, tzinfo=UTC)


@pytest.fixture
def migrated(scratch: Settings) -> Settings:
    upgrade(scratch)
    return scratch


@pytest.fixture
def reader(migrated: Settings) -> Iterator[psycopg.Connection[Any]]:
    """A Power BI refresh: a transaction that read the facts and stays open (its ACCESS SHARE locks held)."""
    conn = psycopg.connect(migrated.postgres_dsn())
    for table in ("dim_symbol", "fact_bar_1m", "fact_prediction", "scorecard_outcome"):
        conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
    yield conn
    conn.rollback()
    conn.close()


def _one_minute_of(symbol: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    ts = pd.Timestamp(T0)
    seen = pd.DataFrame({"symbol": [symbol], "first": [ts], "last": [ts]})
    bars = pd.DataFrame(
        {"symbol": [symbol], "ts": [ts], "open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0]}
        | {"volume": [5.0], "vwap": [1.0], "trades": [3]}
    )
    predictions = pd.DataFrame(
        {"symbol": [symbol], "feature_ts": [ts], "horizon": ["1min"], "model_name": ["price"]}
        | {"model_version": ["v1"], "prob_up": [0.6], "expected_return": [0.001]}
    )
    return seen, bars, predictions


def _waiting_on_a_lock(settings: Settings, pid: int) -> bool:
    with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
        row = conn.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return row is not None and row[0] == "Lock"


def test_run_time_ddl_would_queue_the_stream_behind_a_reader(migrated: Settings, reader: Any) -> None:
    """The failure this design removes: `ALTER TABLE ... ADD COLUMN IF NOT EXISTS` (what `scorecard update` ran
    every 15 s) waits for ACCESS EXCLUSIVE behind the open reader, and every insert queues behind the ALTER."""
    ddl = psycopg.connect(migrated.postgres_dsn(), autocommit=True)
    ddl.execute("SET lock_timeout = '60s'")  # gives up by itself should the test fail half-way
    with ThreadPoolExecutor(max_workers=1) as pool:
        altering = pool.submit(
            ddl.execute, "ALTER TABLE fact_prediction ADD COLUMN IF NOT EXISTS sentiment_model_version text"
        )
        while not _waiting_on_a_lock(migrated, ddl.info.backend_pid):
            assert not altering.done(), "the ALTER did not wait for the reader"
            time.sleep(0.05)
        with psycopg.connect(migrated.postgres_dsn(), autocommit=True) as stream:
            stream.execute("SET lock_timeout = '1s'")
            stream.execute("INSERT INTO dim_symbol VALUES ('X', now(), now())")  # not behind the ALTER
            with pytest.raises(psycopg.errors.LockNotAvailable):
                stream.execute(
                    "INSERT INTO fact_prediction (symbol, feature_ts, horizon, model_name, model_version) "
                    "VALUES ('X', now(), '1min', 'price', 'v1')"
                )
        reader.rollback()  # the refresh ends: the ALTER runs, and the queue drains
        altering.result(timeout=60)
    ddl.close()


def test_stream_inserts_and_periodic_jobs_pass_a_long_running_reader(
    migrated: Settings, reader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every connection made below gives up after 5 s of waiting for a lock, instead of waiting for the reader.
    monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=5s")
    seen, bars, predictions = _one_minute_of("LOCKS")

    writer = PostgresWriter(postgres_section(migrated))  # the stream's writer: checks the schema version, runs no DDL
    writer.upsert_symbols(seen)
    writer.upsert_bars_1m(bars)
    writer.upsert_predictions(predictions)
    writer.commit()
    writer.close()
    scored = update_scorecard(migrated)  # the periodic job that ran ALTER TABLE every 15 s
    with psycopg.connect(migrated.postgres_dsn()) as conn:
        views = reporting.ensure_schema(conn)  # the bi_export DAG's schema step
        stored = conn.execute("SELECT symbol, close, trades FROM fact_bar_1m").fetchall()

    assert stored == [("LOCKS", 1.0, 3)]
    assert scored.pending == 1  # the prediction waits for its target bar
    assert views == sorted(reporting.VIEWS)
    (reader_state,) = reader.execute("SELECT 1").fetchone() or (None,)
    assert reader_state == 1  # the reader's transaction was open all along
