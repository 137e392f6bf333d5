"""Settings for managed services -> each client's arguments: Kafka security, Cassandra TLS/auth/consistency,
Redis AUTH + CA, object storage credentials (issue 14 item 3). Local integration tests cover what the stack can
play (tests/integration/test_kafka_sasl_ssl.py); these pin the mapping for the rest."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from marketpulse.config import CassandraSettings, KafkaSettings, RedisSettings, S3Settings, Settings
from marketpulse.kafka_config import client_config, librdkafka_security, spark_kafka_options
from marketpulse.orchestration.connections import airflow_connections
from marketpulse.stores.cassandra import cluster_options, consistency
from marketpulse.stores.objectstore import s3_client, s3fs_options

HOSTILE = 'p@ss/w:rd "q" \\ x'


def _scram() -> Settings:
    return Settings(
        kafka=KafkaSettings(
            bootstrap_servers="b-1.msk:9096",
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="app",
            sasl_password=SecretStr(HOSTILE),
            ssl_ca_location=Path("/secrets/kafka-ca.pem"),
        )
    )


def test_default_kafka_is_plaintext_everywhere() -> None:
    settings = Settings()
    assert client_config(settings) == {"bootstrap.servers": "127.0.0.1:9092", "security.protocol": "PLAINTEXT"}
    assert spark_kafka_options(settings) == {
        "kafka.bootstrap.servers": "127.0.0.1:9092",
        "kafka.security.protocol": "PLAINTEXT",
    }


def test_scram_reaches_librdkafka_spark_and_airflow_alike() -> None:
    settings = _scram()
    assert client_config(settings, **{"group.id": "g"}) == {
        "bootstrap.servers": "b-1.msk:9096",
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": "/secrets/kafka-ca.pem",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "app",
        "sasl.password": HOSTILE,
        "group.id": "g",
    }
    spark = spark_kafka_options(settings)
    assert spark["kafka.ssl.truststore.type"] == "PEM"
    assert spark["kafka.ssl.truststore.location"] == "/secrets/kafka-ca.pem"
    assert spark["kafka.sasl.mechanism"] == "SCRAM-SHA-512"
    # JAAS quoting: backslash and double quote escaped, so the Java parser gives back the password unchanged.
    assert spark["kafka.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="app" '
        'password="p@ss/w:rd \\"q\\" \\\\ x";'
    )
    extra = airflow_connections(settings)["marketpulse_kafka"]["extra"]
    assert extra["sasl.password"] == HOSTILE and extra["security.protocol"] == "SASL_SSL"


def test_plain_for_event_hubs_and_oauthbearer_oidc() -> None:
    hubs = Settings(
        kafka=KafkaSettings(
            security_protocol="SASL_SSL",
            sasl_mechanism="PLAIN",
            sasl_username="$ConnectionString",
            sasl_password=SecretStr("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKey=k="),
        )
    )
    assert librdkafka_security(hubs)["sasl.username"] == "$ConnectionString"
    assert "PlainLoginModule" in spark_kafka_options(hubs)["kafka.sasl.jaas.config"]
    assert "ssl.ca.location" not in librdkafka_security(hubs)  # the system trust store

    oidc = Settings(
        kafka=KafkaSettings(
            security_protocol="SASL_SSL",
            sasl_mechanism="OAUTHBEARER",
            sasl_username="client",
            sasl_password=SecretStr("s3cret"),
            oauth_token_endpoint_url="https://idp.example/token",
            oauth_scope="kafka",
        )
    )
    rd = librdkafka_security(oidc)
    assert rd["sasl.oauthbearer.method"] == "oidc"
    assert rd["sasl.oauthbearer.client.secret"] == "s3cret"
    assert rd["sasl.oauthbearer.token.endpoint.url"] == "https://idp.example/token"
    java = spark_kafka_options(oidc)
    assert java["kafka.sasl.oauthbearer.token.endpoint.url"] == "https://idp.example/token"
    assert 'clientSecret="s3cret" scope="kafka";' in java["kafka.sasl.jaas.config"]


def test_msk_iam_signs_tokens_with_the_signer_and_the_java_module() -> None:
    settings = Settings(kafka=KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="AWS_MSK_IAM"))
    config = client_config(settings)
    assert config["sasl.mechanism"] == "OAUTHBEARER" and callable(config["oauth_cb"])
    assert "oauth_cb" not in librdkafka_security(settings)  # Airflow's provider adds its own MSK callback
    java = spark_kafka_options(settings)
    assert java["kafka.sasl.mechanism"] == "AWS_MSK_IAM"
    assert java["kafka.sasl.client.callback.handler.class"].endswith("IAMClientCallbackHandler")


@pytest.mark.parametrize(
    "kafka",
    [
        {"security_protocol": "SASL_SSL"},  # no mechanism
        {"sasl_mechanism": "PLAIN", "sasl_username": "u", "sasl_password": "p"},  # SASL over PLAINTEXT protocol
        {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256", "sasl_username": "u"},  # no password
        {"security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER", "sasl_username": "u", "sasl_password": "p"},
        {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "AWS_MSK_IAM"},
    ],
)
def test_incoherent_kafka_security_is_refused(kafka: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        KafkaSettings(**kafka)  # type: ignore[arg-type]


def test_keyspaces_settings_reach_the_driver(tmp_path: Path) -> None:
    settings = Settings(
        cassandra=CassandraSettings(
            hosts=["cassandra.eu-west-1.amazonaws.com"],
            port=9142,
            ssl=True,
            auth="sigv4",
            protocol_version=4,
            local_dc="eu-west-1",
            write_consistency="LOCAL_QUORUM",
        ),
        s3=S3Settings(region="eu-west-1"),
    )
    options = cluster_options(settings)
    from cassandra import ConsistencyLevel
    from cassandra.cluster import EXEC_PROFILE_DEFAULT
    from cassandra_sigv4.auth import SigV4AuthProvider

    assert options["port"] == 9142 and options["protocol_version"] == 4
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert isinstance(options["auth_provider"], SigV4AuthProvider)
    assert options["auth_provider"].session.region_name == "eu-west-1"
    profile = options["execution_profiles"][EXEC_PROFILE_DEFAULT]
    assert profile.consistency_level == ConsistencyLevel.LOCAL_ONE  # reads
    assert profile.load_balancing_policy._child_policy.local_dc == "eu-west-1"
    writer = cluster_options(settings, writer=True)["execution_profiles"][EXEC_PROFILE_DEFAULT]
    assert writer.consistency_level == ConsistencyLevel.LOCAL_QUORUM == consistency("LOCAL_QUORUM")


def test_cassandra_password_and_default_is_plain() -> None:
    from cassandra.auth import PlainTextAuthProvider

    plain = cluster_options(Settings())
    assert "ssl_context" not in plain and "auth_provider" not in plain and plain["protocol_version"] == 5
    options = cluster_options(
        Settings(cassandra=CassandraSettings(auth="password", username="app", password=SecretStr(HOSTILE), ssl=True))
    )
    provider = options["auth_provider"]
    assert isinstance(provider, PlainTextAuthProvider) and provider.password == HOSTILE
    with pytest.raises(ValidationError):
        CassandraSettings(auth="password")


def test_redis_password_and_ca_travel_in_the_url() -> None:
    import redis

    settings = Settings(
        redis=RedisSettings(
            url="rediss://10.0.0.3:6378/0", password=SecretStr(HOSTILE), ssl_ca_location=Path("/secrets/redis/ca.pem")
        )
    )
    kwargs = redis.Redis.from_url(settings.redis_url).connection_pool.connection_kwargs
    assert kwargs["password"] == HOSTILE
    assert kwargs["ssl_ca_certs"] == "/secrets/redis/ca.pem"
    assert (kwargs["host"], kwargs["port"]) == ("10.0.0.3", 6378)
    conn = airflow_connections(settings)["marketpulse_redis"]
    assert conn["password"] == HOSTILE and conn["extra"]["ssl"] and conn["extra"]["ssl_ca_certs"]


def test_object_storage_without_keys_uses_the_default_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETPULSE_S3__ACCESS_KEY", "")
    monkeypatch.setenv("MARKETPULSE_S3__SECRET_KEY", "")
    monkeypatch.setenv("MARKETPULSE_S3__CHECKSUM_WHEN_REQUIRED", "true")
    monkeypatch.setenv("MARKETPULSE_S3__ENDPOINT_URL", "https://storage.googleapis.com")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "from-the-chain")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "chain-secret")
    monkeypatch.setenv("MARKETPULSE_POSTGRES__PASSWORD", "x1")
    monkeypatch.setenv("MARKETPULSE_AIRFLOW__ADMIN_PASSWORD", "y1")
    settings = Settings(_env_file=None, environment="gcp")
    assert settings.s3.static_keys is None
    assert "key" not in s3fs_options(settings)
    assert s3fs_options(settings)["config_kwargs"]["request_checksum_calculation"] == "when_required"
    client = s3_client(settings)
    assert client._request_signer._credentials.access_key == "from-the-chain"
    assert client.meta.config.request_checksum_calculation == "when_required"
    conn = airflow_connections(settings)["marketpulse_s3"]
    assert "login" not in conn and "password" not in conn
    with pytest.raises(ValidationError):
        S3Settings(access_key="only-the-id", secret_key=None)


def test_adls_lake_through_adlfs() -> None:
    from adlfs import AzureBlobFileSystem

    from marketpulse.errors import ConfigError
    from marketpulse.stores.objectstore import adlfs_options, lake_filesystem

    settings = Settings(s3=S3Settings(backend="adls", adls_account="acmelake", access_key=None, secret_key=None))
    assert adlfs_options(settings) == {"account_name": "acmelake", "anon": False}
    assert isinstance(lake_filesystem(settings), AzureBlobFileSystem)
    with pytest.raises(ConfigError, match="no S3 API"):
        s3_client(settings)


def test_the_shipped_project_zip_holds_the_package_sources_and_is_named_by_them(tmp_path: Path) -> None:
    import zipfile

    from marketpulse.stream.session import is_local_master, project_zip

    first = project_zip(tmp_path)
    assert project_zip(tmp_path) == first  # same sources, same file: executors never see a half-written zip
    names = zipfile.ZipFile(first).namelist()
    assert "marketpulse/stream/market_job.py" in names and "marketpulse/contracts/__init__.py" in names
    assert not [name for name in names if not name.endswith(".py")]  # code only; weights stay on the driver
    assert is_local_master("local[2]") and is_local_master("local")
    assert not is_local_master("spark://10.0.0.5:7077") and not is_local_master("k8s://https://kubernetes.default.svc")


def test_the_model_registry_works_on_an_fsspec_filesystem_as_on_adls() -> None:
    """The registry's ADLS path (adlfs is an fsspec filesystem) exercised on fsspec's memory filesystem."""
    import fsspec

    from marketpulse.models.registry import ModelNotFoundError, ModelRegistry
    from marketpulse.stores.objectstore import ObjectBucket

    memory = fsspec.filesystem("memory", skip_instance_cache=True)
    settings = Settings(s3=S3Settings(backend="adls", adls_account="acmelake", access_key=None, secret_key=None))
    registry = ModelRegistry(settings, ObjectBucket(settings, "marketpulse-models", filesystem=memory))
    assert registry.client is None and registry.names() == [] and registry.production_version("price") is None
    first = registry.save("price", b"w1", {"auc": 0.6}, version="v1")
    registry.save("price", b"w2", {"auc": 0.7}, version="v2")
    registry.save("sentiment", b"s", {}, version="v1")
    assert registry.versions("price") == ["v1", "v2"] and registry.names() == ["price", "sentiment"]
    registry.promote("price", first)
    registry.promote("price", "v2")
    assert registry.load("price").weights == b"w2" and registry.load("price").meta["auc"] == 0.7
    assert registry.rollback("price") == "v1" and registry.production_version("price") == "v1"
    registry.put_bytes("models/price/reports/r.html", b"<html>", "text/html")
    assert registry.get_bytes("models/price/reports/r.html") == b"<html>"
    assert registry.list_keys("models/price/reports/") == ["models/price/reports/r.html"]
    with pytest.raises(ModelNotFoundError):
        registry.get_bytes("models/none")
    with pytest.raises(ModelNotFoundError):
        registry.load("price", "v9")
