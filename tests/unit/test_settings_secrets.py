"""Settings and secrets: a non-local environment refuses every default or well-known secret, wherever it is
configured (not only the three the platform always has), and a settings error never prints a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from marketpulse.config import Settings

pytestmark = pytest.mark.unit

REAL = {
    "MARKETPULSE_POSTGRES__PASSWORD": "pg-9f3e1c7a5b2d",
    "MARKETPULSE_S3__SECRET_KEY": "s3-4b8d2f6a1c9e",
    "MARKETPULSE_AIRFLOW__ADMIN_PASSWORD": "af-7c1e5a3d9b2f",
}


@pytest.fixture
def cloud_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name, value in REAL.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_real_secrets_start_a_cloud_environment(cloud_env: pytest.MonkeyPatch) -> None:
    assert Settings(environment="aws").environment == "aws"


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("MARKETPULSE_POSTGRES__PASSWORD", "postgres", "postgres.password"),
        ("MARKETPULSE_POSTGRES__PASSWORD", "", "postgres.password"),
        ("MARKETPULSE_AIRFLOW__ADMIN_PASSWORD", "Admin ", "airflow.admin_password"),
        ("MARKETPULSE_AIRFLOW__ADMIN_PASSWORD", "airflow", "airflow.admin_password"),
        ("MARKETPULSE_S3__SECRET_KEY", "minioadmin", "s3.secret_key"),
        ("MARKETPULSE_REDIS__PASSWORD", "changeme", "redis.password"),
        ("MARKETPULSE_CASSANDRA__PASSWORD", "marketpulse", "cassandra.password"),
    ],
)
def test_a_cloud_environment_refuses_a_default_or_well_known_secret(
    cloud_env: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    cloud_env.setenv(variable, value)
    if variable.startswith("MARKETPULSE_CASSANDRA"):
        cloud_env.setenv("MARKETPULSE_CASSANDRA__AUTH", "password")
        cloud_env.setenv("MARKETPULSE_CASSANDRA__USERNAME", "mp")
    with pytest.raises(ValidationError, match=rf"environment=gcp but {named} still hold the local default"):
        Settings(environment="gcp")


def test_local_and_test_environments_keep_their_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings(environment="local").postgres.password.get_secret_value() == "marketpulse"
    assert Settings(environment="test").airflow.admin_password.get_secret_value() == "marketpulse"


def test_a_settings_error_names_the_field_never_the_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    secret = "Hunter2-misplaced-secret-0b7e"
    # A misspelled variable and a secret pasted into the wrong field: both are errors, neither may echo the value.
    monkeypatch.setenv("MARKETPULSE_POSTGRES__PASSWROD", secret)
    with pytest.raises(ValidationError) as misspelled:
        Settings()
    monkeypatch.delenv("MARKETPULSE_POSTGRES__PASSWROD")
    monkeypatch.setenv("MARKETPULSE_POSTGRES__PORT", secret)
    with pytest.raises(ValidationError) as misplaced:
        Settings()

    for error in (misspelled.value, misplaced.value):
        assert secret not in str(error) and secret not in repr(error)
    assert "postgres.passwrod" in str(misspelled.value) and "postgres.port" in str(misplaced.value)
