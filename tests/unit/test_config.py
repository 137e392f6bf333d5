from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from marketpulse.config import AirflowSettings, PostgresSettings, S3Settings, Settings


def test_defaults_describe_a_local_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("MARKETPULSE_STACK__ROOT", raising=False)
    settings = Settings(stack={"root": ".stack"})
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.s3_endpoint == "http://127.0.0.1:9000"
    assert settings.stack.run_dir == tmp_path / ".stack" / "dev"
    assert settings.stack.root.is_absolute()
    assert settings.s3.buckets["models"] == "marketpulse-models"


def test_nested_environment_variables_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MARKETPULSE_KAFKA__PORT", "19092")
    monkeypatch.setenv("MARKETPULSE_STACK__NAME", "ci")
    monkeypatch.setenv("MARKETPULSE_CASSANDRA__HOSTS", '["10.0.0.1", "10.0.0.2"]')
    settings = Settings()
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.stack.run_dir.name == "ci"
    assert settings.cassandra_hosts == ["10.0.0.1", "10.0.0.2"]


def test_unknown_setting_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("MARKETPULSE_KAFKA__PROT=1\n")
    with pytest.raises(ValidationError, match=r"PROT|prot"):
        Settings()


def test_cloud_environment_refuses_local_default_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValidationError, match=r"postgres\.password, s3\.secret_key, airflow\.admin_password"):
        Settings(environment="aws")
    settings = Settings(
        environment="aws",
        postgres=PostgresSettings(password=SecretStr("a-long-real-one")),
        s3=S3Settings(secret_key=SecretStr("another-real-one")),
        airflow=AirflowSettings(admin_password=SecretStr("a-third-real-one")),
    )
    assert settings.environment == "aws"


def test_secrets_do_not_leak_into_repr(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(postgres=PostgresSettings(password=SecretStr("hunter2-hunter2")))
    assert "hunter2" not in repr(settings)
    assert "password=hunter2-hunter2" in settings.postgres_dsn()


def test_bad_instance_name_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings(stack={"name": "../escape"})
