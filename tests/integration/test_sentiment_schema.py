"""Dev stacks made before sentiment keep working: the new prediction columns are added idempotently."""

from __future__ import annotations

import psycopg

from marketpulse.config import Settings
from marketpulse.stack.manager import Stack
from marketpulse.stores import cassandra, postgres

OLD_PREDICTIONS_CQL = """CREATE TABLE predictions (
    symbol text, day date, feature_ts timestamp, horizon text, model_name text, model_version text,
    prob_up double, expected_return double, created_at timestamp,
    PRIMARY KEY ((symbol, day), feature_ts, horizon, model_name))"""


def test_cassandra_migration_adds_the_sentiment_columns_to_an_old_table(
    stack: Stack, settings: Settings, unique: str
) -> None:
    keyspace = f"it_schema_{unique}"
    cluster = cassandra.cassandra_cluster(settings)
    try:
        session = cluster.connect()
        session.execute(
            f"CREATE KEYSPACE {keyspace} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
        )
        session.set_keyspace(keyspace)
        session.execute(OLD_PREDICTIONS_CQL)
        cassandra.migrate(session, keyspace)
        cassandra.migrate(session, keyspace)  # a second run changes nothing and does not fail
        columns = {
            row.column_name
            for row in session.execute(
                "SELECT column_name FROM system_schema.columns WHERE keyspace_name = %s AND table_name = 'predictions'",
                (keyspace,),
            )
        }
        assert {"sentiment_window_end", "sentiment_model_version"} <= columns
        tables = {
            row.table_name
            for row in session.execute(
                "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,)
            )
        }
        assert {"sentiment_items", "sentiment_windows"} <= tables
        session.execute(f"DROP KEYSPACE {keyspace}", timeout=60)
    finally:
        cluster.shutdown()


def test_postgres_migration_adds_the_sentiment_columns_to_an_old_table(
    stack: Stack, settings: Settings, unique: str
) -> None:
    schema = f"it_schema_{unique}"
    with psycopg.connect(settings.postgres_dsn()) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(postgres.SCHEMA[0])  # dim_symbol
        conn.execute(
            "CREATE TABLE fact_prediction (symbol text NOT NULL REFERENCES dim_symbol(symbol), "
            "feature_ts timestamptz NOT NULL, horizon text NOT NULL, model_name text NOT NULL, "
            "model_version text NOT NULL, prob_up double precision, expected_return double precision, "
            "created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (symbol, feature_ts, horizon, model_name))"
        )
        postgres.migrate(conn)
        postgres.migrate(conn)
        columns = {
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                (schema, "fact_prediction"),
            )
        }
        assert {"sentiment_window_end", "sentiment_model_version"} <= columns
        (windows,) = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            (schema, "fact_sentiment_window"),
        ).fetchone()
        assert windows == 1
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.commit()
