"""No secret in any log the suite produced. Runs after every other test, wherever they live (tests/conftest.py
sorts it last by its name): it scans what this session wrote to its stack's logs (services, Airflow, apps) and
test-artifacts/ for every secret the session used (secret_scan.py)."""

from __future__ import annotations

import pytest

from marketpulse.config import Settings

from .secret_scan import log_files, log_roots, scan, secrets_of

pytestmark = pytest.mark.integration


def test_no_secret_in_any_log_of_this_session(settings: Settings) -> None:
    secrets = secrets_of(settings)
    assert {"postgres.password", "s3.secret_key", "airflow.admin_password"} <= set(secrets)

    findings = scan(log_files(log_roots(settings)), secrets)

    assert not findings, "secrets in the logs:\n" + "\n".join(map(str, findings[:50]))
