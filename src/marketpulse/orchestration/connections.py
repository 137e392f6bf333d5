"""Airflow connections of the platform, derived from Settings (nothing is typed into the UI).

The ids are what the DAGs and the providers' hooks use; the format is `airflow connections import` JSON.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

from marketpulse.config import Settings
from marketpulse.kafka_config import librdkafka_security

KAFKA = "marketpulse_kafka"
SPARK = "marketpulse_spark"
POSTGRES = "marketpulse_postgres"
REDIS = "marketpulse_redis"
CASSANDRA = "marketpulse_cassandra"
S3 = "marketpulse_s3"


def airflow_connections(settings: Settings) -> dict[str, dict[str, Any]]:
    """conn_id -> connection fields for Kafka, Spark, Postgres, Redis, Cassandra and S3 (SeaweedFS locally)."""
    redis = urlparse(settings.redis_url)
    redis_extra: dict[str, Any] = {"db": int((redis.path or "/0").lstrip("/") or 0), "ssl": redis.scheme == "rediss"}
    if settings.redis.ssl_ca_location is not None:
        redis_extra["ssl_ca_certs"] = str(settings.redis.ssl_ca_location)
    return {
        KAFKA: {
            "conn_type": "kafka",
            "description": "Kafka of the MarketPulse stack (apache-kafka provider hooks)",
            # AWS_MSK_IAM is stored as OAUTHBEARER: the provider adds its MSK IAM token callback itself for an MSK
            # bootstrap address (apache-airflow-providers-apache-kafka with its `msk` extra).
            "extra": {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": "marketpulse-airflow",
                **librdkafka_security(settings),
            },
        },
        SPARK: {
            "conn_type": "spark",
            "description": "Spark master the stream jobs are submitted to (SparkSubmitOperator)",
            "host": settings.spark.master,
            "extra": {"deploy-mode": "client"},
        },
        POSTGRES: {
            "conn_type": "postgres",
            "description": "Reporting database (Power BI schema, data-quality results)",
            "host": settings.postgres_host,
            "port": settings.postgres.port,
            "login": settings.postgres.user,
            "password": settings.postgres.password.get_secret_value(),
            "schema": settings.postgres.database,
        },
        REDIS: {
            "conn_type": "redis",
            "description": "Online store: latest state, live fan-out, stream heartbeats",
            "host": redis.hostname or settings.stack.host,
            "port": redis.port or settings.redis.port,
            **_login(unquote(redis.username or "") or None, unquote(redis.password) if redis.password else None),
            "extra": redis_extra,
        },
        CASSANDRA: _cassandra(settings),
        S3: {
            "conn_type": "aws",
            "description": "Object storage: raw lake, model registry, checkpoints",
            # No static keys: the hook falls back to boto3's default chain (task role, pod identity).
            **_login(*(settings.s3.static_keys or (None, None))),
            "extra": _aws_extra(settings),
        },
    }


def _login(login: str | None, password: str | None) -> dict[str, str]:
    return {key: value for key, value in (("login", login), ("password", password)) if value is not None}


def _cassandra(settings: Settings) -> dict[str, Any]:
    """The provider's CassandraHook: protocol, TLS options and password auth (SigV4 it cannot do: the DAGs' tasks
    reach Keyspaces through the project's own stores, which can)."""
    cassandra = settings.cassandra
    extra: dict[str, Any] = {"protocol_version": cassandra.protocol_version}
    if cassandra.ssl:
        extra["ssl_options"] = {"ca_certs": str(cassandra.ssl_ca_location)} if cassandra.ssl_ca_location else {}
    if cassandra.local_dc:
        extra["load_balancing_policy"] = "DCAwareRoundRobinPolicy"
        extra["load_balancing_policy_args"] = {"local_dc": cassandra.local_dc}
    password = cassandra.password.get_secret_value() if cassandra.password else None
    return {
        "conn_type": "cassandra",
        "description": "History store (bars, indicators, predictions)",
        "host": ",".join(settings.cassandra_hosts),
        "port": cassandra.port,
        "schema": cassandra.keyspace,
        **(_login(cassandra.username, password) if cassandra.auth == "password" else {}),
        "extra": extra,
    }


def _aws_extra(settings: Settings) -> dict[str, Any]:
    s3 = settings.s3
    config_kwargs: dict[str, Any] = {"s3": {"addressing_style": "path"}}
    if s3.checksum_when_required:
        config_kwargs |= {
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        }
    extra: dict[str, Any] = {"region_name": s3.region, "config_kwargs": config_kwargs}
    if settings.s3_endpoint:
        extra["endpoint_url"] = settings.s3_endpoint
    return extra
