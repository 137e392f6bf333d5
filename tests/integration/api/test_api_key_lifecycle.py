"""API keys that expire and are rotated without downtime, and guessing limited per client address in the shared
Redis buckets (every API worker sees the same count), against the test stack's PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from marketpulse.api import create_app
from marketpulse.auth.keys import ApiKeyError, ApiKeyStore, generate_key
from marketpulse.config import Settings
from marketpulse.stack.manager import Stack

from .test_api_auth import _cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def app_settings(settings: Settings) -> Settings:
    # No verdict cache: a change of expiry is seen by the next request.
    return settings.model_copy(update={"api": settings.api.model_copy(update={"key_cache_ttl_s": 0.0})})


@pytest.fixture
def store(stack: Stack, app_settings: Settings) -> Iterator[ApiKeyStore]:
    store = ApiKeyStore(app_settings)
    yield store
    store.close()


@contextmanager
def _client(settings: Settings, address: str, failure_burst: int | None = None) -> Iterator[TestClient]:
    """One API process (its own app) whose requests come from `address`."""
    app = create_app(settings)
    if failure_burst is not None:
        app.state.authenticator.failure_burst = failure_burst  # the lifespan hands this burst to the Redis limiter
    with TestClient(app, client=(address, 40000)) as client:
        yield client


def _address() -> str:
    """A client address of this test alone: the failure buckets in Redis outlive a test."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def _expire_now(settings: Settings, key_id: str) -> None:
    """What the clock does at the end of a key's lifetime, without waiting for it."""
    with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
        conn.execute("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE key_id = %s", (key_id,))


def _get(client: TestClient, plain: str) -> tuple[int, str]:
    response = client.get("/v1/symbols", headers={"X-API-Key": plain})
    return response.status_code, response.json().get("error", {}).get("message", "") if response.is_error else ""


def test_a_key_with_an_expiry_works_until_then_and_is_refused_after(
    store: ApiKeyStore, app_settings: Settings, unique: str
) -> None:
    key, plain = store.create(f"expiring-{unique}", ["read"], expires_in=timedelta(days=30))
    assert key.expires_at is not None
    assert timedelta(days=29) < key.expires_at - datetime.now(UTC) <= timedelta(days=30)
    with _client(app_settings, _address()) as client:
        assert _get(client, plain) == (200, "")
        _expire_now(app_settings, key.key_id)
        status, message = _get(client, plain)
    assert status == 401
    assert message.startswith("the API key expired at ")
    assert store.verify(plain) is None  # local_key and every other caller see it as invalid too


def test_rotation_keeps_both_keys_working_through_the_overlap(
    store: ApiKeyStore, app_settings: Settings, unique: str
) -> None:
    old, old_plain = store.create(f"rotating-{unique}", ["read", "admin"], rate_limit_per_s=25.0)

    rotated, new, new_plain = store.rotate(old.key_id, overlap=timedelta(hours=2))

    assert (new.name, new.scopes, new.rate_limit_per_s) == (old.name, old.scopes, old.rate_limit_per_s)
    assert rotated.replaced_by == new.key_id and new.expires_at is None
    assert rotated.expires_at is not None
    assert timedelta(hours=1, minutes=59) < rotated.expires_at - datetime.now(UTC) <= timedelta(hours=2)
    with _client(app_settings, _address()) as client:
        # During the overlap a client still holding the old key and one already switched both get served.
        assert _get(client, old_plain) == (200, "")
        assert _get(client, new_plain) == (200, "")
        listed = client.get("/v1/admin/keys", headers={"X-API-Key": new_plain}).json()["items"]
        assert {item["key_id"] for item in listed} >= {old.key_id, new.key_id}
        _expire_now(app_settings, old.key_id)  # the overlap ends
        assert _get(client, old_plain)[0] == 401
        assert _get(client, new_plain) == (200, "")
    with pytest.raises(ApiKeyError, match="cannot be rotated"):
        store.rotate(old.key_id, overlap=timedelta(hours=1))  # an expired key has nothing left to hand over


def test_a_rotation_never_extends_an_earlier_expiry(store: ApiKeyStore, unique: str) -> None:
    old, _ = store.create(f"short-{unique}", ["read"], expires_in=timedelta(minutes=10))
    rotated, _, _ = store.rotate(old.key_id, overlap=timedelta(days=7))
    assert rotated.expires_at == old.expires_at


def test_guessing_is_limited_per_address_across_api_processes(app_settings: Settings, unique: str) -> None:
    guesser, bystander = _address(), _address()
    store = ApiKeyStore(app_settings)
    try:
        _, valid = store.create(f"bystander-{unique}", ["read"])
    finally:
        store.close()
    guesses = [generate_key()[2] for _ in range(6)]
    with (
        _client(app_settings, guesser, failure_burst=4) as first,
        _client(app_settings, guesser, failure_burst=4) as second,
    ):
        statuses = [_get(first, guess)[0] for guess in guesses[:3]] + [_get(second, guess)[0] for guess in guesses[3:]]
        limited = second.get("/v1/symbols", headers={"X-API-Key": guesses[0]})
        # The same address is refused by the other process too: the count lives in Redis, not in a worker.
        assert statuses == [401, 401, 401, 401, 429, 429]
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"
    with _client(app_settings, bystander, failure_burst=4) as client:
        assert _get(client, valid) == (200, "")  # another address is not affected
        assert _get(client, guesses[0])[0] == 401


def test_apikeys_cli_rotate_and_expiring_create(app_settings: Settings, unique: str) -> None:
    created = _cli(app_settings, "create", f"cli-rot-{unique}", "--expires-in", "30d")
    assert created.returncode == 0, created.stderr
    old_plain = created.stdout.strip()
    old_id = old_plain.split("_")[1]
    assert "expires 20" in created.stderr

    rotated = _cli(app_settings, "rotate", old_id, "--overlap", "2h")

    assert rotated.returncode == 0, rotated.stderr
    new_plain = rotated.stdout.strip()
    assert new_plain != old_plain and f"key {old_id} (cli-rot-{unique}) now expires" in rotated.stderr
    with _client(app_settings, _address()) as client:
        assert _get(client, old_plain) == (200, "") and _get(client, new_plain) == (200, "")
    listed = _cli(app_settings, "list")
    assert old_id in listed.stdout and new_plain.split("_")[1] in listed.stdout
    bad = _cli(app_settings, "rotate", old_id, "--overlap", "soon")
    assert bad.returncode == 1 and "not a duration" in bad.stderr
