"""Dev stacks made before sentiment keep working: the new prediction columns are added idempotently.

PostgreSQL's side is a migration now: tests/integration/migrations/test_migrations.py."""

from __future__ import annotations

from marketpulse.config import Settings
from marketpulse.stack.manager import Stack
from marketpulse.stores import cassandra

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
