"""Guessing API keys is limited per client address, refusals are logged without the key, and expired keys get a
clear 401: the Authenticator against a key store in memory (the shared Redis buckets are tested in
tests/integration/api/test_api_key_lifecycle.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from marketpulse.api.auth import FAILURE_BURST, Authenticator, RateLimitedError, UnauthenticatedError
from marketpulse.api.ratelimit import RateLimiter
from marketpulse.auth.keys import ApiKey, ApiKeyError, describe_presented, generate_key, parse_duration
from marketpulse.config import ApiSettings

pytestmark = pytest.mark.unit


class MemoryKeys:
    """ApiKeyStore's lookup over a dict of plain key -> ApiKey; counts the lookups (each one is a Postgres query)."""

    def __init__(self) -> None:
        self.keys: dict[str, ApiKey] = {}
        self.lookups = 0

    def add(self, *, expires_at: datetime | None = None, revoked: bool = False) -> tuple[ApiKey, str]:
        key_id, _, plain = generate_key()
        now = datetime.now(UTC)
        key = ApiKey(key_id, "k", ("read",), None, now, now if revoked else None, expires_at)
        self.keys[plain] = key
        return key, plain

    def lookup(self, plain: str) -> ApiKey | None:
        self.lookups += 1
        return self.keys.get(plain)


def _authenticator(store: MemoryKeys, burst: int = 3) -> Authenticator:
    authenticator = Authenticator(store, ApiSettings(key_cache_ttl_s=0.0))  # type: ignore[arg-type]
    authenticator.failure_burst = burst
    authenticator.failures = RateLimiter(burst)
    return authenticator


def _outcome(authenticator: Authenticator, plain: str, client: str) -> Any:
    try:
        return asyncio.run(authenticator.authenticate(plain, client))
    except (UnauthenticatedError, RateLimitedError) as exc:
        return exc


def test_an_address_guessing_keys_gets_429_before_the_store_is_asked() -> None:
    store = MemoryKeys()
    authenticator = _authenticator(store, burst=3)
    guesses = [generate_key()[2] for _ in range(6)]

    outcomes = [_outcome(authenticator, guess, "10.0.0.9") for guess in guesses]

    assert [type(o).__name__ for o in outcomes] == ["UnauthenticatedError"] * 3 + ["RateLimitedError"] * 3
    assert all(o.http_status == 429 and int(o.headers["Retry-After"]) >= 1 for o in outcomes[3:])
    assert store.lookups == 3  # the burst of refusals used up, later guesses never reach Postgres


def test_the_limit_is_per_address_and_never_slows_a_valid_cached_key() -> None:
    store = MemoryKeys()
    key, plain = store.add()
    authenticator = _authenticator(store, burst=2)
    authenticator.settings = ApiSettings(key_cache_ttl_s=60.0)
    assert asyncio.run(authenticator.authenticate(plain, "10.0.0.9")) == key  # verified and cached
    for _ in range(4):
        _outcome(authenticator, "mpk_nope", "10.0.0.9")

    assert isinstance(_outcome(authenticator, "mpk_other-guess", "10.0.0.9"), RateLimitedError)
    assert _outcome(authenticator, plain, "10.0.0.9") == key  # the cached valid key still goes through
    assert isinstance(_outcome(authenticator, "mpk_nope", "10.0.0.10"), UnauthenticatedError)  # another address


def test_the_failure_budget_refills_at_its_rate() -> None:
    limiter = RateLimiter(burst=2)
    assert limiter.peek("a", rate=0.5, now=0.0) == 0.0  # an unknown address has its whole burst
    assert [limiter.take("a", rate=0.5, now=0.0) for _ in range(2)] == [0.0, 0.0]
    assert limiter.peek("a", rate=0.5, now=0.0) == pytest.approx(2.0)
    assert limiter.peek("a", rate=0.5, now=1.0) == pytest.approx(1.0)  # peeking takes nothing
    assert limiter.peek("a", rate=0.5, now=2.0) == 0.0


def test_expired_and_revoked_keys_get_a_clear_401() -> None:
    store = MemoryKeys()
    expired_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    _, expired = store.add(expires_at=expired_at)
    _, revoked = store.add(revoked=True)
    live_key, live = store.add(expires_at=datetime.now(UTC) + timedelta(hours=1))
    authenticator = _authenticator(store, burst=FAILURE_BURST)

    refused = _outcome(authenticator, expired, "10.0.0.1")
    assert isinstance(refused, UnauthenticatedError) and refused.http_status == 401
    assert str(refused) == "the API key expired at 2026-01-02T03:04:05+00:00"
    assert str(_outcome(authenticator, revoked, "10.0.0.1")) == "the API key is revoked"
    assert str(_outcome(authenticator, generate_key()[2], "10.0.0.1")) == "the API key is unknown"
    assert _outcome(authenticator, live, "10.0.0.1") == live_key


def test_a_cached_key_that_expires_is_refused_at_once() -> None:
    store = MemoryKeys()
    key, plain = store.add(expires_at=datetime.now(UTC) + timedelta(seconds=0.3))
    authenticator = _authenticator(store)
    authenticator.settings = ApiSettings(key_cache_ttl_s=600.0)
    assert asyncio.run(authenticator.authenticate(plain, "10.0.0.1")) == key
    time.sleep(0.4)

    assert "expired at" in str(_outcome(authenticator, plain, "10.0.0.1"))
    assert store.lookups == 1  # the cached verdict was used, its expiry checked on use


def test_refusals_are_logged_with_the_key_id_and_address_never_the_key(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryKeys()
    key, plain = store.add(revoked=True)
    pasted_password = "hunter2-not-a-key-at-all-9f8e7d"
    authenticator = _authenticator(store, burst=10)
    with caplog.at_level(logging.WARNING, logger="marketpulse.api.auth"):
        _outcome(authenticator, plain, "10.1.2.3")
        _outcome(authenticator, pasted_password, "10.1.2.3")
        _outcome(authenticator, plain[:-3] + "AAA", "10.1.2.3")

    assert f"key id {key.key_id} from 10.1.2.3: the API key is revoked" in caplog.text
    assert f"a malformed key ({len(pasted_password)} characters) from 10.1.2.3" in caplog.text
    secret = plain.split("_", 2)[2]
    assert secret not in caplog.text and secret[:8] not in caplog.text
    assert "hunter2" not in caplog.text


def test_describe_presented_and_durations() -> None:
    key_id, _, plain = generate_key()
    assert describe_presented(plain) == f"key id {key_id}"
    assert describe_presented("Bearer abc") == "a malformed key (10 characters)"
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("15m") == parse_duration("15min") == timedelta(minutes=15)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    with pytest.raises(ApiKeyError, match="not a duration"):
        parse_duration("soon")
