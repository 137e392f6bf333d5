"""The settings sections the stores' writers and sinks take connect where the whole Settings does (issue 17 item 1).

A section alone lacks what it takes from other sections (the stack host its servers default to, s3.region for
Keyspaces' SigV4); `cassandra_section`, `postgres_section`, `redis_section` and `s3_section` fill that in, and the
section-level client forms must then give exactly what the whole-Settings forms give.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from marketpulse.config import CassandraSettings, PostgresSettings, RedisSettings, S3Settings, Settings, StackSettings
from marketpulse.errors import ConfigError
from marketpulse.stores.cassandra import cassandra_section, cluster_options, section_options
from marketpulse.stores.objectstore import s3_section, s3fs_options, section_s3fs_options
from marketpulse.stores.postgres import postgres_section
from marketpulse.stores.redis_store import redis_section


def _remote_host() -> Settings:
    return Settings(
        stack=StackSettings(host="10.9.8.7"),
        redis=RedisSettings(password=SecretStr("p@ss word/:"), username="mp", ssl_ca_location=Path("/ca.pem")),
        postgres=PostgresSettings(password=SecretStr("it's a \\secret")),
    )


def test_sections_take_the_stack_host_their_servers_default_to() -> None:
    settings = _remote_host()
    assert cassandra_section(settings).hosts == ["10.9.8.7"]
    assert postgres_section(settings).dsn() == settings.postgres_dsn()
    assert "host=10.9.8.7" in postgres_section(settings).dsn()
    assert redis_section(settings).client_url() == settings.redis_url
    assert settings.redis_url.startswith("redis://mp:p%40ss%20word%2F%3A@10.9.8.7:6379/0?ssl_ca_certs=")
    assert s3_section(settings).endpoint_url == "http://10.9.8.7:9000"
    assert section_s3fs_options(s3_section(settings)) == s3fs_options(settings)


def test_a_server_named_in_its_own_section_wins_over_the_stack_host() -> None:
    settings = Settings(
        stack=StackSettings(host="10.9.8.7"),
        postgres=PostgresSettings(host="db.internal"),
        redis=RedisSettings(url="rediss://cache.internal:6380/0", password=SecretStr("token")),
        s3=S3Settings(endpoint_url=""),  # the cloud's own endpoint
    )
    assert "host=db.internal" in postgres_section(settings).dsn()
    assert redis_section(settings).client_url() == "rediss://:token@cache.internal:6380/0"
    assert section_s3fs_options(s3_section(settings))["client_kwargs"]["endpoint_url"] is None


def test_keyspaces_sigv4_region_defaults_to_the_s3_region() -> None:
    settings = Settings(
        environment="test",
        cassandra=CassandraSettings(auth="sigv4", ssl=True, protocol_version=4),
        s3=S3Settings(region="eu-west-3"),
    )
    assert cassandra_section(settings).sigv4_region == "eu-west-3"
    assert cassandra_section(settings).hosts == ["127.0.0.1"]
    plain = Settings()
    assert section_options(cassandra_section(plain)).keys() == cluster_options(plain).keys()


def test_a_section_missing_what_it_takes_from_others_is_refused() -> None:
    settings = Settings()
    with pytest.raises(ConfigError, match=r"postgres\.host"):
        settings.postgres.dsn()
    with pytest.raises(ConfigError, match=r"redis\.url"):
        settings.redis.client_url()
    with pytest.raises(ConfigError, match="s3_section"):
        section_s3fs_options(settings.s3)
