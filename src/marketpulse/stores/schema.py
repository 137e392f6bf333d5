"""Apply every store's schema: PostgreSQL's Alembic revisions with the data dictionary's comments, and Cassandra's
tables. `marketpulse db migrate` and `stack up` run it once, instead of every process that writes."""

from __future__ import annotations

import psycopg

from marketpulse.config import Settings
from marketpulse.migrations import upgrade
from marketpulse.stores.cassandra import cassandra_cluster, migrate
from marketpulse.stores.reporting import apply_comments


def migrate_postgres(settings: Settings) -> str:
    """Apply the PostgreSQL revisions, then the column comments Power BI shows; return a one-line summary."""
    revision = upgrade(settings)
    with psycopg.connect(settings.postgres_dsn()) as conn:
        comments = apply_comments(conn)
    where = f"{settings.postgres_host}:{settings.postgres.port}/{settings.postgres.database}"
    return f"PostgreSQL {where} at revision {revision}, {comments} comments"


def migrate_cassandra(settings: Settings) -> str:
    """Create Cassandra's tables and add newer columns in the configured keyspace (which must exist)."""
    cluster = cassandra_cluster(settings)
    try:
        migrate(cluster.connect(), settings.cassandra.keyspace)
    finally:
        cluster.shutdown()
    return f"Cassandra keyspace {settings.cassandra.keyspace}: tables up to date"


def migrate_all(settings: Settings) -> list[str]:
    """Both stores' schemas; idempotent, so a second run changes nothing."""
    return [migrate_postgres(settings), migrate_cassandra(settings)]
