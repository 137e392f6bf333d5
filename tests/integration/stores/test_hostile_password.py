"""A PostgreSQL role whose password holds every character that broke hand-built connection strings logs in
through both strings the platform builds: libpq's (every store) and the SQLAlchemy URL (Airflow's metadata)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from marketpulse.config import Settings
from marketpulse.orchestration.airflow import metadata_dsn
from marketpulse.stack.manager import Stack

HOSTILE = "p@ss/w:rd \\ 'q' \"dq\" 100% $HOME ~x #y?z=1&"


@pytest.fixture
def hostile(stack: Stack, settings: Settings, unique: str) -> Iterator[Settings]:
    """Settings of a fresh login role with the hostile password, dropped afterwards."""
    role = f"mp_hostile_{unique}"
    with psycopg.connect(settings.postgres_dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(HOSTILE)))
    postgres = settings.postgres.model_copy(update={"user": role, "password": SecretStr(HOSTILE)})
    airflow = settings.airflow.model_copy(update={"database": settings.postgres.database})
    yield settings.model_copy(update={"postgres": postgres, "airflow": airflow})
    with psycopg.connect(settings.postgres_dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_libpq_string_logs_in_with_a_hostile_password(hostile: Settings) -> None:
    with psycopg.connect(hostile.postgres_dsn()) as conn:
        who = conn.execute("SELECT current_user, current_database()").fetchone()

    assert who == (hostile.postgres.user, hostile.postgres.database)


def test_airflow_url_logs_in_with_a_hostile_password(hostile: Settings) -> None:
    # Airflow's venv drives it with psycopg2; the URL is the same with psycopg 3, which this venv has.
    url = make_url(metadata_dsn(hostile)).set(drivername="postgresql+psycopg")
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            who = conn.execute(text("SELECT current_user, current_database()")).one()
    finally:
        engine.dispose()

    assert tuple(who) == (hostile.postgres.user, hostile.postgres.database)
