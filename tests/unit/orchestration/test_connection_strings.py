"""Connection strings survive any password: libpq's conninfo quoting and SQLAlchemy URLs with percent-encoding."""

from __future__ import annotations

import os

import pytest
from psycopg.conninfo import conninfo_to_dict
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from marketpulse.config import PostgresSettings, Settings
from marketpulse.orchestration.airflow import metadata_dsn

pytestmark = pytest.mark.unit

HOSTILE = [
    "with space",
    "back\\slash\\",
    "p@ss/w:rd",
    'it\'s "quoted"',
    "100%",
    "%41%",
    "$HOME and ${PATH}",
    "~tilde",
    "#hash?query=1&x",
    "pässwörd ü",
    "p@ss/w:rd \\ 'q' \"dq\" 100% $HOME",
]


def _settings(password: str, user: str = "marketpulse") -> Settings:
    return Settings(postgres=PostgresSettings(user=user, password=SecretStr(password), port=15432))


@pytest.mark.parametrize("password", HOSTILE)
def test_libpq_conninfo_keeps_the_password_intact(password: str) -> None:
    parsed = conninfo_to_dict(_settings(password).postgres_dsn())

    assert parsed["password"] == password
    assert (parsed["host"], parsed["port"], parsed["user"], parsed["dbname"]) == (
        "127.0.0.1",
        "15432",
        "marketpulse",
        "marketpulse",
    )


def test_libpq_conninfo_quotes_user_and_database_too() -> None:
    parsed = conninfo_to_dict(_settings("x", user="mp user's").postgres_dsn("db name"))

    assert (parsed["user"], parsed["dbname"]) == ("mp user's", "db name")


@pytest.mark.parametrize("password", HOSTILE)
def test_airflow_url_keeps_password_host_and_database(password: str) -> None:
    url = make_url(metadata_dsn(_settings(password)))

    assert url.password == password
    assert (url.drivername, url.host, url.port, url.username, url.database) == (
        "postgresql+psycopg2",
        "127.0.0.1",
        15432,
        "marketpulse",
        "airflow",
    )


@pytest.mark.parametrize("password", HOSTILE)
def test_airflow_url_has_nothing_for_airflow_to_expand(password: str) -> None:
    # Airflow reads AIRFLOW__DATABASE__SQL_ALCHEMY_CONN through expand_env_var (expanduser + expandvars).
    dsn = metadata_dsn(_settings(password))

    assert os.path.expandvars(os.path.expanduser(dsn)) == dsn


def test_airflow_url_brackets_an_ipv6_host() -> None:
    settings = Settings(postgres=PostgresSettings(host="::1", password=SecretStr("p@ss")))

    url = make_url(metadata_dsn(settings))

    assert (url.host, url.password) == ("::1", "p@ss")
