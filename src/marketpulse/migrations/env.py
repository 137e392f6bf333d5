"""Alembic environment: run the revisions on the connection `marketpulse.migrations.upgrade` hands over.

The whole upgrade is one transaction (PostgreSQL's DDL is transactional) that first takes an advisory lock, so
two `stack up` or deploy jobs migrating at once run one after the other and the second finds nothing to do.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

#: pg_advisory_xact_lock key of schema migrations ('mpmigrat' as a number; any constant the app uses nowhere else).
MIGRATION_LOCK = 0x6D706D6967726174


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, transaction_per_migration=False)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) mode is not used: run `marketpulse db migrate` against the database")
run_migrations_online()
