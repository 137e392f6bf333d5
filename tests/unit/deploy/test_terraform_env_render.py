"""`marketpulse infra env <cloud>` from recorded `terraform output -json`, loaded by the app's Settings loader.

The samples in terraform_outputs/ hold exactly the names the env roots output (checked against the HCL), with
values shaped like what each cloud returns. Each loads, and the managed-service settings (decision 0014) reach the
clients: Kafka SASL, Cassandra TLS/auth/consistency, the Redis CA, role credentials and ADLS for the lake.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import hcl2
import pytest
from typer.testing import CliRunner

from marketpulse.cli.main import app
from marketpulse.config import Settings
from marketpulse.deploy.paths import find_terraform_sources

SAMPLES = Path(__file__).parent / "terraform_outputs"


def _root_names(cloud: str) -> dict[str, set[str]]:
    """Names in the env root's app_env and app_secrets locals."""
    with (find_terraform_sources() / "envs" / cloud / "main.tf").open() as handle:
        parsed = hcl2.load(handle)
    local_values = {k: v for block in parsed["locals"] for k, v in block.items()}
    return {name: set(local_values[name]) - {"__is_block__"} for name in ("app_env", "app_secrets")}


def _render(cloud: str, tmp_path: Path) -> Path:
    out = tmp_path / f"{cloud}.env"
    saved = SAMPLES / f"{cloud}.json"
    result = CliRunner().invoke(app, ["infra", "env", cloud, "--out", str(out), "--outputs-json", str(saved)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Settings also reads MARKETPULSE_* from the environment and ./.env: only the rendered file may count.
    for name in [n for n in os.environ if n.startswith("MARKETPULSE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_samples_hold_exactly_what_the_env_root_outputs(cloud: str) -> None:
    sample = json.loads((SAMPLES / f"{cloud}.json").read_text())
    for output, names in _root_names(cloud).items():
        assert set(sample[output]["value"]) == names, f"{cloud} {output} drifted from envs/{cloud}/main.tf"
    assert sample["app_secrets"]["sensitive"] is True


@pytest.mark.parametrize("cloud", ["aws", "gcp"])
def test_rendered_env_file_loads_in_settings(cloud: str, tmp_path: Path) -> None:
    path = _render(cloud, tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    values = json.loads((SAMPLES / f"{cloud}.json").read_text())
    expected = {**values["app_env"]["value"], **values["app_secrets"]["value"]}

    settings = Settings(_env_file=path)

    assert settings.environment == cloud
    assert settings.kafka_bootstrap == expected["MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS"]
    assert settings.postgres_host == expected["MARKETPULSE_POSTGRES__HOST"]
    assert settings.postgres.password.get_secret_value() == expected["MARKETPULSE_POSTGRES__PASSWORD"]
    assert settings.redis_url == expected["MARKETPULSE_REDIS__URL"]
    assert settings.cassandra_hosts == json.loads(expected["MARKETPULSE_CASSANDRA__HOSTS"])
    assert settings.s3.secret_key.get_secret_value() == expected["MARKETPULSE_S3__SECRET_KEY"]
    assert settings.s3.buckets["checkpoints"] == "acme-marketpulse-prod-checkpoints"
    assert settings.checkpoint_location("market") == "s3a://acme-marketpulse-prod-checkpoints/streams/market"
    assert settings.spark.master == "k8s://https://kubernetes.default.svc"


def test_azure_env_file_loads_with_the_lake_on_adls(tmp_path: Path) -> None:
    path = _render("azure", tmp_path)
    settings = Settings(_env_file=path)
    assert settings.s3.backend == "adls" and settings.s3.adls_account == "acmemarketpulseprod"
    assert settings.s3.static_keys is None  # the workload identity, through azure-identity's default chain
    assert settings.kafka.sasl_username == "$ConnectionString"
    assert settings.kafka.sasl_password is not None
    assert settings.kafka.sasl_password.get_secret_value().startswith("Endpoint=sb://")
    assert settings.cassandra.ssl and settings.cassandra.auth == "password" and settings.cassandra.protocol_version == 4
    assert settings.cassandra.password is not None
    assert settings.cassandra.password.get_secret_value() == "Mi'adm\"in$pw"
    text = path.read_text()
    assert re.search(r"^MARKETPULSE_POSTGRES__PASSWORD='Zr8T", text, re.M)


def test_managed_service_settings_per_cloud(tmp_path: Path) -> None:
    aws = Settings(_env_file=_render("aws", tmp_path))
    assert (aws.kafka.security_protocol, aws.kafka.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
    assert aws.kafka.sasl_password is not None
    assert aws.kafka.sasl_password.get_secret_value() == 'k9 "scram" \\ pw'
    keyspaces = aws.cassandra
    assert (keyspaces.port, keyspaces.ssl, keyspaces.auth, keyspaces.protocol_version) == (9142, True, "sigv4", 4)
    assert keyspaces.write_consistency == "LOCAL_QUORUM" and keyspaces.local_dc == "eu-west-1"

    gcp = Settings(_env_file=_render("gcp", tmp_path))
    assert gcp.kafka.sasl_mechanism == "PLAIN" and gcp.s3.checksum_when_required
    assert gcp.redis_url.count("ssl_ca_certs=") == 1 and gcp.redis.ssl_ca_location == Path("/secrets/redis-ca/ca.pem")
    assert gcp.cassandra.auth == "password" and gcp.cassandra.username == "marketpulse"
