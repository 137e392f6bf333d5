"""Redis with AUTH and TLS, as managed caches offer it (Memorystore: server CA + AUTH string; ElastiCache/Azure: TLS +
token): a Redis of its own with a TLS port whose certificate comes from the stack's CA and a hostile password.
The app's one URL (Settings.redis_url: password quoted, CA as ssl_ca_certs) reaches it through redis_client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from pydantic import SecretStr

from integration.conftest import TEST_PORT_OFFSET, TEST_STACK_NAME, make_test_settings
from marketpulse.config import RedisSettings, Settings
from marketpulse.stack.manager import Stack
from marketpulse.stack.services import RedisService
from marketpulse.stores.redis_store import redis_client

PASSWORD = 'r3d "is" \\ p@ss/w:rd %20 ?#'


@pytest.fixture(scope="module")
def tls_settings() -> Iterator[Settings]:
    base = make_test_settings(f"{TEST_STACK_NAME}-redis-tls", TEST_PORT_OFFSET + 700)
    tls_port = base.redis.port + 1
    settings = base.model_copy(
        update={
            "redis": RedisSettings(
                port=base.redis.port,
                tls_port=tls_port,
                url=f"rediss://{base.stack.host}:{tls_port}/0",
                password=SecretStr(PASSWORD),
                ssl_ca_location=base.stack.run_dir / "redis" / "tls" / "ca.pem",
            )
        }
    )
    stack = Stack(settings, services=[RedisService(settings)])
    stack.up()  # its readiness check already goes through TLS with the password
    yield settings
    stack.down()


def test_the_app_client_speaks_tls_and_auth(tls_settings: Settings, unique: str) -> None:
    client = redis_client(tls_settings)
    try:
        client.set(f"it:tls:{unique}", "ok", ex=60)
        assert client.get(f"it:tls:{unique}") == "ok"
        assert client.connection_pool.connection_class.__name__ == "SSLConnection"
    finally:
        client.close()


def test_without_the_password_or_the_ca_it_is_refused(tls_settings: Settings) -> None:
    host, port = tls_settings.stack.host, tls_settings.redis.tls_port
    ca = str(tls_settings.redis.ssl_ca_location)
    no_password = redis.Redis(host=host, port=port, ssl=True, ssl_ca_certs=ca, socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        no_password.ping()
    # The system trust store does not know the stack's CA: the certificate is verified, not merely accepted.
    untrusted = redis.Redis(host=host, port=port, ssl=True, password=PASSWORD, socket_timeout=5)
    with pytest.raises(redis.ConnectionError):
        untrusted.ping()
