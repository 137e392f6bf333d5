"""`marketpulse db migrate`: the schema of PostgreSQL (Alembic revisions + the data dictionary's comments) and
Cassandra's tables, applied once per `stack up` or deploy instead of by every process that writes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from marketpulse.config import Settings

console = Console(stderr=True)

db_app = typer.Typer(
    help="Database schemas: versioned PostgreSQL migrations and Cassandra tables.", no_args_is_help=True
)


def migrate_postgres(settings: Settings) -> str:
    """Apply the PostgreSQL revisions, then the column comments Power BI shows; return a one-line summary."""
    import psycopg

    from marketpulse.migrations import upgrade
    from marketpulse.stores.reporting import apply_comments

    revision = upgrade(settings)
    with psycopg.connect(settings.postgres_dsn()) as conn:
        comments = apply_comments(conn)
    where = f"{settings.postgres_host}:{settings.postgres.port}/{settings.postgres.database}"
    return f"PostgreSQL {where} at revision {revision}, {comments} comments"


def migrate_cassandra(settings: Settings) -> str:
    """Create Cassandra's tables and add newer columns in the configured keyspace (which must exist)."""
    from marketpulse.stores.cassandra import cassandra_cluster, migrate

    cluster = cassandra_cluster(settings)
    try:
        migrate(cluster.connect(), settings.cassandra.keyspace)
    finally:
        cluster.shutdown()
    return f"Cassandra keyspace {settings.cassandra.keyspace}: tables up to date"


def migrate_all(settings: Settings) -> list[str]:
    """Both stores' schemas; idempotent, so a second run changes nothing."""
    return [migrate_postgres(settings), migrate_cassandra(settings)]


@db_app.command("migrate")
def db_migrate(
    ctx: typer.Context,
    cassandra: Annotated[bool, typer.Option(help="Also create Cassandra's tables (the keyspace must exist).")] = True,
) -> None:
    """Apply the schema migrations: PostgreSQL to the newest revision, then Cassandra's tables. Idempotent."""
    settings = ctx.obj
    assert isinstance(settings, Settings), "the root callback builds Settings"
    lines = migrate_all(settings) if cassandra else [migrate_postgres(settings)]
    for line in lines:
        console.print(line)
