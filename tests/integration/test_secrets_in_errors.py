"""Error paths with a secret in play never show it: a wrong database password, a wrong object-store secret, a Redis
URL with its password when the server is away, the API while PostgreSQL refuses it, and the CLI with a misspelled secret
variable. Each secret is distinctive, so it is searched for verbatim in the error, the response and the log."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from marketpulse.api import create_app
from marketpulse.auth.keys import ApiKeyStore, generate_key
from marketpulse.config import Settings, settings_env
from marketpulse.migrations import upgrade
from marketpulse.stack.manager import Stack

from .secret_scan import log_files, scan

pytestmark = pytest.mark.integration


@pytest.fixture
def secret() -> str:
    return f"S3cr3t-{uuid.uuid4().hex}"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    # INFO and up, as the services log (some libraries' DEBUG records do not even format).
    with caplog.at_level(logging.INFO):
        yield caplog


def _failure(call: Any) -> str:
    """The text a caller sees or logs of the exception `call` raises: str, repr and its causes."""
    with pytest.raises(Exception) as raised:  # noqa: PT011 - any error; its text is what is checked
        call()
    parts, error = [], raised.value
    while error is not None:
        parts += [str(error), repr(error)]
        error = error.__cause__ or error.__context__
    return "\n".join(parts)


def test_a_wrong_database_password_is_not_in_errors_or_logs(
    stack: Stack, settings: Settings, secret: str, logs: pytest.LogCaptureFixture
) -> None:
    wrong = settings.model_copy(
        update={"postgres": settings.postgres.model_copy(update={"password": SecretStr(secret)})}
    )
    store = ApiKeyStore(wrong)
    texts = [_failure(store.list), _failure(lambda: upgrade(wrong))]
    store.close()

    assert "password authentication failed" in texts[0]  # the error says what is wrong...
    assert all(secret not in text for text in texts)  # ...without the password
    assert secret not in logs.text


def test_a_wrong_object_store_secret_is_not_in_errors_or_logs(
    stack: Stack, settings: Settings, secret: str, logs: pytest.LogCaptureFixture
) -> None:
    from marketpulse.stores.objectstore import s3_client

    wrong = settings.model_copy(update={"s3": settings.s3.model_copy(update={"secret_key": SecretStr(secret)})})
    text = _failure(lambda: s3_client(wrong, timeout_s=5).list_buckets())

    assert "SignatureDoesNotMatch" in text or "InvalidAccessKeyId" in text or "AccessDenied" in text
    assert secret not in text and secret not in logs.text


def test_a_redis_url_with_a_password_is_not_in_connection_errors_or_logs(
    settings: Settings, secret: str, logs: pytest.LogCaptureFixture
) -> None:
    from marketpulse.stores.redis_store import redis_client

    # The password travels inside redis_url (percent-quoted); nothing listens on port 1, so connecting fails.
    wrong = settings.model_copy(
        update={"redis": settings.redis.model_copy(update={"password": SecretStr(secret), "port": 1})}
    )
    assert secret in wrong.redis_url
    client = redis_client(wrong)
    text = _failure(client.ping)
    client.close()

    assert "Connection refused" in text or "Error" in text
    assert secret not in text and secret not in logs.text


def test_the_api_with_a_refused_database_password_shows_it_nowhere(
    stack: Stack, settings: Settings, secret: str, logs: pytest.LogCaptureFixture
) -> None:
    wrong = settings.model_copy(
        update={"postgres": settings.postgres.model_copy(update={"password": SecretStr(secret)})}
    )
    with TestClient(create_app(wrong), client=("10.77.0.1", 40000)) as client:
        keyed = client.get("/v1/symbols", headers={"X-API-Key": generate_key()[2]})
        bodies = [
            keyed.text,
            client.get("/healthz").text,
            client.get("/readyz").text,
            client.get("/metrics").text,
            client.get("/openapi.json").text,
        ]

    assert keyed.status_code == 503 and keyed.json()["error"]["code"] == "key_store_unavailable"
    assert all(secret not in body for body in bodies)
    assert secret not in logs.text


def test_the_cli_never_prints_a_misspelled_secret_variable(settings: Settings, secret: str) -> None:
    env = {**os.environ, **settings_env(settings), "MARKETPULSE_POSTGRES__PASSWROD": secret}
    result = subprocess.run(
        [sys.executable, "-m", "marketpulse", "apikeys", "list"], env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 2 and "postgres.passwrod" in result.stderr
    assert secret not in result.stderr and secret not in result.stdout


def test_the_log_scan_finds_every_kind_of_secret_and_nothing_else(tmp_path: Path) -> None:
    _, _, plain = generate_key()
    secrets = {"postgres.password": "marketpulse", "s3.secret_key": "marketpulse-secret-long"}
    log = tmp_path / "app.log"
    log.write_text(
        "\n".join(
            [
                f"GET /v1/ws?api_key={plain} 101",  # 1: a whole API key
                "webhook secret whsec_" + "A" * 32,  # 2
                "connecting with password=marketpulse",  # 3: a short secret in a password shape
                "url postgresql://marketpulse:marketpulse@127.0.0.1/db",  # 4
                "aws_secret_access_key: marketpulse-secret-long",  # 5: a distinctive secret anywhere
                'passwords file {"admin": "marketpulse"}',  # 6
                f"refused key id {plain[4:16]}, mpk_{plain[4:16]}_<redacted>",  # the redacted forms are fine
                "database marketpulse, user marketpulse, bucket marketpulse-raw",
            ]
        )
    )

    findings = scan(log_files([tmp_path]), secrets, since_start=False)

    assert [(f.line, f.what) for f in findings] == [
        (1, "API key"),
        (2, "webhook secret"),
        (3, "postgres.password"),
        (4, "postgres.password"),
        (5, "s3.secret_key"),
        (6, "postgres.password"),
    ]
