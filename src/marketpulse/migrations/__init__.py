"""Versioned PostgreSQL schema: Alembic revisions of raw SQL, applied once by `marketpulse db migrate` and
`stack up` (docs/decisions/0011-schema-migrations.md). Modules never run DDL: they check the version and say
what to run when the database is behind.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from marketpulse.config import Settings
from marketpulse.errors import MarketPulseError

#: The newest revision this code needs. A unit test keeps it equal to Alembic's head; revision ids are 4 digits.
HEAD = "0002"
SCRIPTS = Path(__file__).parent
#: Alembic keeps its migration context in module globals: two upgrades in one process must not overlap
#: (across processes, the advisory lock in env.py serialises them).
_IN_PROCESS = threading.Lock()


class SchemaNotMigratedError(MarketPulseError):
    """The PostgreSQL schema is older than this code needs; the message says what to run."""

    http_status = 503


def sqlalchemy_url(settings: Settings, database: str | None = None) -> Any:
    """SQLAlchemy URL (psycopg 3 driver) of the platform's database; URL.create quotes every part."""
    from sqlalchemy.engine import URL

    pg = settings.postgres
    return URL.create(
        "postgresql+psycopg",
        username=pg.user,
        password=pg.password.get_secret_value(),
        host=settings.postgres_host,
        port=pg.port,
        database=database or pg.database,
    )


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    return config


def upgrade(settings: Settings) -> str:
    """Apply every revision the database lacks (a no-op at head); return the revision it is at afterwards."""
    from alembic import command
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(sqlalchemy_url(settings), connect_args={"connect_timeout": 10}, poolclass=NullPool)
    try:
        # One transaction for every revision: it commits when the block ends, or nothing is applied.
        with _IN_PROCESS, engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "head")
            return current_revision(connection.connection.driver_connection) or "none"
    finally:
        engine.dispose()


def current_revision(conn: Any) -> str | None:
    """The revision a psycopg connection's database is at; None before the first migration."""
    (table,) = conn.execute("SELECT to_regclass('alembic_version')").fetchone()
    if table is None:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return str(row[0]) if row else None


def require_schema(conn: Any, needed: str = HEAD) -> None:
    """Raise SchemaNotMigratedError unless the database is at revision `needed` or newer (psycopg connection)."""
    found = current_revision(conn)
    if found is None or int(found) < int(needed):
        raise SchemaNotMigratedError(
            f"the PostgreSQL schema is at revision {found or 'none'}, this code needs {needed}: "
            "run `marketpulse db migrate` (stack up and deploys run it)"
        )
