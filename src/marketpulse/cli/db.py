"""`marketpulse db migrate`: the schema of PostgreSQL (Alembic revisions + the data dictionary's comments) and
Cassandra's tables, applied once per `stack up` or deploy instead of by every process that writes."""

from __future__ import annotations

from typing import Annotated

import typer

from marketpulse.cli.console import console
from marketpulse.cli.settings import settings_of

app = typer.Typer(help="Database schemas: versioned PostgreSQL migrations and Cassandra tables.", no_args_is_help=True)


@app.command("migrate")
def db_migrate(
    ctx: typer.Context,
    cassandra: Annotated[bool, typer.Option(help="Also create Cassandra's tables (the keyspace must exist).")] = True,
) -> None:
    """Apply the schema migrations: PostgreSQL to the newest revision, then Cassandra's tables. Idempotent."""
    from marketpulse.stores.schema import migrate_all, migrate_postgres

    settings = settings_of(ctx)
    for line in migrate_all(settings) if cassandra else [migrate_postgres(settings)]:
        console.print(line)
