"""Airflow connections of the platform, derived from Settings (nothing is typed into the UI).

The ids are what the DAGs and the providers' hooks use; the format is `airflow connections import` JSON.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from marketpulse.config import Settings

KAFKA = "marketpulse_kafka"
SPARK = "marketpulse_spark"
POSTGRES = "marketpulse_postgres"
REDIS = "marketpulse_redis"
CASSANDRA = "marketpulse_cassandra"
S3 = "marketpulse_s3"


def airflow_connections(settings: Settings) -> dict[str, dict[str, Any]]:
    """conn_id -> connection fields for Kafka, Spark, Postgres, Redis, Cassandra and S3 (SeaweedFS locally)."""
    redis = urlparse(settings.redis_url)
    s3 = settings.s3
    s3_extra: dict[str, Any] = {"region_name": s3.region, "config_kwargs": {"s3": {"addressing_style": "path"}}}
    if settings.s3_endpoint:
        s3_extra["endpoint_url"] = settings.s3_endpoint
    return {
        KAFKA: {
            "conn_type": "kafka",
            "description": "Kafka of the MarketPulse stack (apache-kafka provider hooks)",
            "extra": {"bootstrap.servers": settings.kafka_bootstrap, "group.id": "marketpulse-airflow"},
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
            "extra": {"db": int((redis.path or "/0").lstrip("/") or 0), "ssl": redis.scheme == "rediss"},
        },
        CASSANDRA: {
            "conn_type": "cassandra",
            "description": "History store (bars, indicators, predictions)",
            "host": ",".join(settings.cassandra_hosts),
            "port": settings.cassandra.port,
            "schema": settings.cassandra.keyspace,
            "extra": {"protocol_version": 5},
        },
        S3: {
            "conn_type": "aws",
            "description": "Object storage: raw lake, model registry, checkpoints",
            "login": s3.access_key,
            "password": s3.secret_key.get_secret_value(),
            "extra": s3_extra,
        },
    }
