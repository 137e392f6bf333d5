"""The names Terraform provisions are the names the app uses; env files from outputs are valid Settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marketpulse.config import S3Settings, Settings
from marketpulse.contracts.topics import Topics
from marketpulse.deploy.catalog import load_catalog
from marketpulse.deploy.envfile import app_env_from_outputs, check_setting_name, write_env_file
from marketpulse.deploy.errors import TerraformError
from marketpulse.deploy.local_env import destructive_changes, local_variables
from marketpulse.deploy.paths import TerraformPaths, find_terraform_sources
from marketpulse.deploy.providers import KAFKA, provider_binary, write_cli_config
from marketpulse.stack.instances import side_by_side_settings

CATALOG = load_catalog(find_terraform_sources() / "modules" / "catalog" / "catalog.json")


def test_catalog_topics_are_the_contract_topics_and_their_dead_letter_topics() -> None:
    contract = {value for name, value in vars(Topics).items() if name.isupper() and isinstance(value, str)}
    names = set(CATALOG.topic_names())
    assert {name for name in names if not name.endswith(".dlq")} == contract
    # Every raw input the ingest validates has a dead-letter topic; the stream writes market.ticks.dlq.
    assert {Topics.dlq(Topics.TICKS), Topics.dlq(Topics.SOCIAL_POSTS), Topics.dlq(Topics.NEWS_ARTICLES)} <= names
    assert all(topic.retention_ms >= 24 * 3_600_000 for topic in CATALOG.topics)
    assert {t.name: t.dead_letter for t in CATALOG.topics}[Topics.dlq(Topics.TICKS)] is True


def test_catalog_buckets_are_the_settings_buckets() -> None:
    s3 = S3Settings(bucket_prefix="acme-mp")
    assert CATALOG.buckets("acme-mp") == s3.buckets


def test_topic_prefix_isolates_names() -> None:
    assert all(name.startswith("t.1.") for name in CATALOG.topic_names("t.1."))


def test_bad_catalog_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"topics": {"x": {"dlq": True}}}))
    with pytest.raises(TerraformError, match="not a valid topic/bucket catalog"):
        load_catalog(path)


def test_local_variables_follow_the_stack_settings() -> None:
    settings = side_by_side_settings("tfunit", 20000)
    variables = local_variables(settings, topic_prefix="p.")
    assert variables["kafka_bootstrap_servers"] == settings.kafka_bootstrap == "127.0.0.1:29092"
    assert variables["s3_port"] == 29000
    assert variables["kafka_partitions"] == settings.kafka.default_partitions
    assert variables["s3_secret_key"] == settings.s3.secret_key.get_secret_value()
    assert variables["topic_prefix"] == "p."
    local_tf = (find_terraform_sources() / "envs" / "local" / "variables.tf").read_text()
    assert all(f'variable "{name}"' in local_tf for name in variables)


@pytest.mark.parametrize(
    "name", ["MARKETPULSE_ENVIRONMENT", "MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS", "MARKETPULSE_S3__SECRET_KEY"]
)
def test_real_setting_names_pass(name: str) -> None:
    check_setting_name(name)


@pytest.mark.parametrize(
    "name", ["KAFKA_BOOTSTRAP", "MARKETPULSE_KAFKA__BOOTSTRAP", "MARKETPULSE_NOPE__PORT", "MARKETPULSE_ENVIRONMENT__X"]
)
def test_unknown_setting_names_are_rejected(name: str) -> None:
    with pytest.raises(TerraformError):
        check_setting_name(name)


def test_env_file_from_outputs_rebuilds_settings(tmp_path: Path) -> None:
    outputs = {
        "app_env": {
            # "local": outside local Settings demands every secret, and Postgres and Airflow are not provisioned here.
            "MARKETPULSE_ENVIRONMENT": "local",
            "MARKETPULSE_S3__ENDPOINT_URL": "https://storage.googleapis.com",
            "MARKETPULSE_S3__BUCKET_PREFIX": "acme-mp",
            "MARKETPULSE_CASSANDRA__HOSTS": '["10.0.0.5", "10.0.0.6"]',
            "MARKETPULSE_REDIS__URL": "rediss://10.1.2.3:6378/0",
        },
        "app_secrets": {
            "MARKETPULSE_S3__SECRET_KEY": 'hm"ac$secret',
            "MARKETPULSE_POSTGRES__PASSWORD": 'it\'s "pg" \\ $HOME',
        },
    }
    path = write_env_file(app_env_from_outputs(outputs), tmp_path / "gcp.env", environment="gcp")
    assert path.stat().st_mode & 0o777 == 0o600
    settings = Settings(_env_file=path)
    assert settings.environment == "local"
    assert settings.s3.secret_key.get_secret_value() == 'hm"ac$secret'
    assert settings.postgres.password.get_secret_value() == 'it\'s "pg" \\ $HOME'
    assert settings.s3.buckets["raw"] == "acme-mp-raw"
    assert settings.cassandra_hosts == ["10.0.0.5", "10.0.0.6"]
    assert settings.redis_url == "rediss://10.1.2.3:6378/0"


def test_outputs_without_env_maps_are_an_error() -> None:
    with pytest.raises(TerraformError, match="was the environment applied"):
        app_env_from_outputs({"buckets": {}})


def test_mirror_layout_and_cli_config(tmp_path: Path) -> None:
    paths = TerraformPaths(sources=find_terraform_sources(), cache=tmp_path)
    binary = provider_binary(paths.mirror, KAFKA)
    assert binary.relative_to(paths.mirror).parts[:4] == ("registry.terraform.io", "mongey", "kafka", "0.13.1")
    assert binary.name == "terraform-provider-kafka_v0.13.1"
    config = write_cli_config(paths).read_text()
    assert f'path    = "{paths.mirror.resolve()}"' in config
    assert "direct" not in config  # nothing may come from the registry
    local_versions = (paths.env_root("local") / "versions.tf").read_text()
    assert f'version = "{KAFKA.version}"' in local_versions


def test_unrepresentable_value_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TerraformError, match="cannot be written"):
        write_env_file({"MARKETPULSE_S3__SECRET_KEY": "it's ${HOME}"}, tmp_path / "x.env", environment="aws")


def test_infra_env_command_writes_the_env_file_from_saved_outputs(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from marketpulse.cli.main import app

    saved = tmp_path / "outputs.json"
    saved.write_text(
        json.dumps(
            {
                "app_env": {"sensitive": False, "value": {"MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS": "b-1.msk:9098"}},
                "app_secrets": {"sensitive": True, "value": {"MARKETPULSE_S3__SECRET_KEY": "s3cret"}},
                "buckets": {"sensitive": False, "value": {"raw": "x-raw"}},
            }
        )
    )
    out = tmp_path / "aws.env"
    result = CliRunner().invoke(app, ["infra", "env", "aws", "--out", str(out), "--outputs-json", str(saved)])
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[2:] == [
        "MARKETPULSE_KAFKA__BOOTSTRAP_SERVERS='b-1.msk:9098'",
        "MARKETPULSE_S3__SECRET_KEY='s3cret'",
    ]


def test_destructive_changes_are_the_deletes_and_replacements() -> None:
    plan = {
        "resource_changes": [
            {"address": "a", "change": {"actions": ["create"]}},
            {"address": "b", "change": {"actions": ["update"]}},
            {"address": "c", "change": {"actions": ["delete", "create"]}},
            {"address": "d", "change": {"actions": ["delete"]}},
            {"address": "e", "change": {"actions": ["no-op"]}},
        ]
    }
    assert destructive_changes(plan) == ["c", "d"]
