"""Settings of a stack instance that runs beside the default one (tests, benchmarks): same layout, other ports."""

from __future__ import annotations

from marketpulse.config import (
    AirflowSettings,
    ApiSettings,
    CassandraSettings,
    DashboardSettings,
    IngestSettings,
    KafkaSettings,
    PostgresSettings,
    RedisSettings,
    S3Settings,
    Settings,
    StackSettings,
    StreamSettings,
)
from marketpulse.sections.text import SentimentSettings, SocialSettings


def side_by_side_settings(name: str, offset: int) -> Settings:
    """Instance `name`: data under .stack/<name>, every default port shifted by `offset`."""
    defaults = Settings(stack=StackSettings(name=name))
    return Settings(
        environment="test",
        stack=StackSettings(name=name),
        kafka=KafkaSettings(port=defaults.kafka.port + offset, controller_port=defaults.kafka.controller_port + offset),
        cassandra=CassandraSettings(
            port=defaults.cassandra.port + offset,
            storage_port=defaults.cassandra.storage_port + offset,
            jmx_port=defaults.cassandra.jmx_port + offset,
        ),
        redis=RedisSettings(port=defaults.redis.port + offset),
        postgres=PostgresSettings(port=defaults.postgres.port + offset),
        s3=S3Settings(port=defaults.s3.port + offset, internal_port=defaults.s3.internal_port + offset),
        stream=StreamSettings(metrics_port=defaults.stream.metrics_port + offset),
        ingest=IngestSettings(metrics_port=defaults.ingest.metrics_port + offset),
        api=ApiSettings(
            port=defaults.api.port + offset,
            alerts_metrics_port=defaults.api.alerts_metrics_port + offset,
            cors_origins=[f"http://{defaults.stack.host}:{defaults.dashboard.port + offset}"],
        ),
        dashboard=DashboardSettings(port=defaults.dashboard.port + offset),
        airflow=AirflowSettings(port=defaults.airflow.port + offset),
        social=SocialSettings(metrics_port=defaults.social.metrics_port + offset),
        sentiment=SentimentSettings(metrics_port=defaults.sentiment.metrics_port + offset),
    )
